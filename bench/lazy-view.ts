/**
 * The lazy view (src/catalog/lazy-view.ts) against the whole load, on one generated account
 * (bench/catalog-state.ts) saved by CatalogStore with listing pages (issue 11 item 4: at 1,000,000
 * items, photostream/ listed within 2 s and ≤ 1 GB):
 *
 *   node --import tsx bench/lazy-view.ts [--items 100000] [--sets N] [--saves 3] [--runs 3] [--full-runs N] [--dir DIR] [--ab OTHER]
 *
 *   save             a first save without listing pages and one with them (the layout's sidecar
 *                    JSON measured for every photo), interleaved, each into a fresh root: wall and
 *                    CPU time, and catalog.sqlite's size; then a no-change save after each of the last two
 *   first names      from the start of Catalog.open in a fresh process: the first 1,000 photostream
 *                    names (id + extension) and their sidecar sizes (full: none stored)
 *   listing columns  every photo's columns, its original and (lazy) its sidecar sizes, asked of the view
 *   peak RSS         VmHWM of the loading process, and its heap after a GC
 *   records          1,000 sidecars' record + comments at random, and 1,000 in photostream order
 *
 * Loads alternate whole/lazy, each a fresh process, on the very same file. `--ab OTHER` (a built
 * checkout of another flickrfs, such as main before a change): its own bench/lazy-view.ts loads the
 * same file lazily too, alternating with this checkout's lazy load, and the table gains its column.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Catalog } from '../src/catalog/index.js'
import { CatalogStore } from '../src/catalog/persist.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../src/layout/metadata.js'
import { stateOf } from './catalog-state.js'
import { benchArgs, median, ownRss } from './measure.js'

const self = fileURLToPath(import.meta.url)
const { args, number, text } = benchArgs()

/** The layout's sizer, as the writable openers pass it. */
const sizer = photoSidecarSizer

interface SaveFigures { wallS: number; cpuS: number; fileMB: number }

async function fileMB(root: string): Promise<number> {
  let bytes = 0
  for (const suffix of ['', '-wal']) bytes += (await stat(join(root, '.flickrfs', `catalog.sqlite${suffix}`)).catch(() => ({ size: 0 }))).size
  return bytes / 1e6
}

/** Saves the account `saves` times each way into fresh roots under `dir`; keeps the last root with pages as `dir`/load. */
async function make(dir: string, items: number, sets: number, saves: number): Promise<void> {
  const t0 = performance.now()
  const state = stateOf(items, sets)
  const genS = (performance.now() - t0) / 1000
  const out: Record<'plain' | 'pages', SaveFigures[]> = { plain: [], pages: [] }
  const unchanged: Partial<Record<'plain' | 'pages', SaveFigures>> = {}
  for (let r = 0; r < saves; r++) {
    const order: Array<'plain' | 'pages'> = r % 2 === 0 ? ['plain', 'pages'] : ['pages', 'plain']
    for (const kind of order) {
      const last = r === saves - 1
      const root = join(dir, last && kind === 'pages' ? 'load' : `${kind}-${r}`)
      const store = await CatalogStore.open(root)
      globalThis.gc?.()
      const c0 = process.cpuUsage()
      const w0 = performance.now()
      const head = await store.save(state, Date.now(), undefined, kind === 'pages' ? { sizer } : undefined)
      const wallS = (performance.now() - w0) / 1000
      const c = process.cpuUsage(c0)
      if (last) {
        const u0 = process.cpuUsage()
        const v0 = performance.now()
        await store.save(state, Date.now(), { state, head }, kind === 'pages' ? { sizer } : undefined)
        const u = process.cpuUsage(u0)
        unchanged[kind] = { wallS: (performance.now() - v0) / 1000, cpuS: (u.user + u.system) / 1e6, fileMB: 0 }
      }
      await store.close()
      out[kind].push({ wallS, cpuS: (c.user + c.system) / 1e6, fileMB: await fileMB(root) })
      if (!(last && kind === 'pages')) await rm(root, { recursive: true, force: true })
    }
  }
  process.stdout.write(JSON.stringify({ genS, ...out, unchanged }))
}

// ---------- loading, each in a fresh process ----------

interface LoadFigures {
  openS: number
  firstNamesS: number
  listingS: number
  hwmMB: number
  heapMB: number
  randomMs: number
  orderMs: number
  photos: number
}

function heapAfterGcMB(): number {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

async function load(root: string, lazy: boolean): Promise<void> {
  const t0 = performance.now()
  const catalog = await Catalog.open(root, lazy ? { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } } : { readOnly: true })
  const view = catalog.view()
  const openS = (performance.now() - t0) / 1000
  const names: string[] = []
  let sidecarBytes = 0
  for (let pos = 0; pos < Math.min(1000, view.photostreamLength); pos++) {
    const id = view.photostreamId(pos)
    const p = view.photo(id)
    const m = p && view.media(id, p.secret)
    names.push(`${id}.${m?.ext ?? ''}`)
    sidecarBytes += view.sidecarSize(id, false) ?? 0
  }
  const firstNamesS = (performance.now() - t0) / 1000
  let sum = 0
  for (let pos = 0; pos < view.photostreamLength; pos++) {
    const id = view.photostreamId(pos)
    const p = view.photo(id)
    if (p === undefined) continue
    sum += p.changedAtMs + (view.media(id, p.secret)?.size ?? 0) + (view.sidecarSize(id, false) ?? 0)
  }
  const listingS = (performance.now() - t0) / 1000
  const heapMB = heapAfterGcMB()
  const hwmMB = ownRss().hwm / 1024 / 1024
  if (sum === 0 || (lazy && sidecarBytes === 0)) throw new Error('nothing listed')
  const reads = async (n: number, random: boolean): Promise<number> => {
    let a = 7
    const t = performance.now()
    let bytes = 0
    for (let i = 0; i < n; i++) {
      a = (a * 1103515245 + 12345) >>> 0
      const id = view.photostreamId(random ? a % view.photostreamLength : (Math.floor(view.photostreamLength / 2) + i) % view.photostreamLength)
      const [record, comments] = await Promise.all([view.record(id), view.comments(id)])
      bytes += JSON.stringify(record?.raw).length + JSON.stringify(comments ?? []).length
    }
    if (bytes === 0) throw new Error('no record read')
    return (performance.now() - t) / n
  }
  const randomMs = await reads(1000, true)
  const orderMs = await reads(1000, false)
  const figures: LoadFigures = { openS, firstNamesS, listingS, hwmMB, heapMB, randomMs, orderMs, photos: view.photoCount }
  await catalog.close()
  process.stdout.write(JSON.stringify(figures))
}

// ---------- the parent ----------

/** Runs this script (or the same script of the checkout `other`, under its own tsx) with `extra`. */
function child<T>(extra: string[], other?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const script = other === undefined ? self : join(other, 'bench', 'lazy-view.ts')
    const p = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', script, ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(other === undefined ? {} : { cwd: other }),
    })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`child ${extra.join(' ')} exited ${code}`))))
  })
}

async function main(): Promise<void> {
  const items = number('items', 100_000)
  const sets = number('sets', Math.max(1, Math.round(items / 50)))
  const saves = number('saves', 3)
  const runs = number('runs', 3)
  const fullRuns = number('full-runs', runs)
  const given = text('dir') ?? ''
  const other = text('ab') ?? ''
  const dir = given !== '' ? given : await mkdtemp(join(tmpdir(), 'flickrfs-lazy-'))
  const root = join(dir, 'load')
  try {
    type Made = { genS: number; plain: SaveFigures[]; pages: SaveFigures[]; unchanged: Record<'plain' | 'pages', SaveFigures> }
    const made = await child<Made>(['--make', dir, String(items), String(sets), String(saves)])
    console.log(`made ${items} items, ${sets} sets (generated in ${made.genS.toFixed(1)} s)`)
    for (const kind of ['plain', 'pages'] as const) console.log(`save ${kind}: ${JSON.stringify(made[kind])}`)
    console.log(`no-change saves: ${JSON.stringify(made.unchanged)}`)
    const results: Record<'full' | 'lazy' | 'other', LoadFigures[]> = { full: [], lazy: [], other: [] }
    for (let r = 0; r < Math.max(runs, fullRuns); r++) {
      const each: Array<'full' | 'lazy' | 'other'> = other === '' ? ['full', 'lazy'] : ['full', 'lazy', 'other']
      const kinds = (r % 2 === 0 ? each : [...each].reverse()).filter((k) => r < (k === 'full' ? fullRuns : runs))
      for (const kind of kinds) {
        const f = await child<LoadFigures>([`--load-${kind === 'full' ? 'full' : 'lazy'}`, root], kind === 'other' ? other : undefined)
        if (f.photos !== items) throw new Error(`${kind} loaded ${f.photos} photos, expected ${items}`)
        results[kind].push(f)
        console.log(`run ${r + 1} ${kind}: ${JSON.stringify(f)}`)
      }
    }
    const m = (xs: number[]): number => median(xs)
    const saveRow = (label: string, key: keyof SaveFigures, unit: string, digits: number): void => {
      const a = m(made.plain.map((f) => f[key]))
      const b = m(made.pages.map((f) => f[key]))
      console.log(`| ${label} | ${a.toFixed(digits)} ${unit} | ${b.toFixed(digits)} ${unit} | +${(b - a).toFixed(digits)} ${unit} (${(b / a).toFixed(3)}) |`)
    }
    console.log(`\n${items} items, ${sets} sets; first saves: medians of ${saves}`)
    console.log('| first save | without pages (main\'s save) | with pages | extra (ratio) |')
    console.log('|---|---|---|---|')
    saveRow('wall', 'wallS', 's', 2)
    saveRow('CPU', 'cpuS', 's', 2)
    saveRow('catalog.sqlite', 'fileMB', 'MB', 1)
    const u = made.unchanged
    console.log(`| a no-change save after it (wall / CPU) | ${u.plain.wallS.toFixed(2)} / ${u.plain.cpuS.toFixed(2)} s | ${u.pages.wallS.toFixed(2)} / ${u.pages.cpuS.toFixed(2)} s | ${(u.pages.cpuS / u.plain.cpuS).toFixed(3)} (CPU) |`)
    const row = (label: string, key: keyof LoadFigures, unit: string, digits: number): void => {
      const a = m(results.full.map((f) => f[key]))
      const b = m(results.lazy.map((f) => f[key]))
      const c = other === '' ? '' : (() => {
        const o = m(results.other.map((f) => f[key]))
        return ` ${o.toFixed(digits)} ${unit} | ${(b / o).toFixed(3)} |`
      })()
      console.log(`| ${label} | ${a.toFixed(digits)} ${unit} | ${b.toFixed(digits)} ${unit} | ${(b / a).toFixed(3)} |${c}`)
    }
    console.log(`\nloads: medians of ${fullRuns} whole, ${runs} lazy (each a fresh process)${other === '' ? '' : `; OTHER: ${other}`}`)
    console.log(`| measure | Catalog.open (whole) | lazy | lazy ÷ whole |${other === '' ? '' : ' OTHER lazy | lazy ÷ OTHER |'}`)
    console.log(`|---|---|---|---|${other === '' ? '' : '---|---|'}`)
    row('Catalog.open returned', 'openS', 's', 3)
    row('first 1,000 photostream names, from the start of the open', 'firstNamesS', 's', 3)
    row('every photo\'s listing columns asked', 'listingS', 's', 3)
    row('peak RSS (VmHWM)', 'hwmMB', 'MB', 0)
    row('heap after GC, listed', 'heapMB', 'MB', 0)
    row('one sidecar\'s record + comments, at random (1,000)', 'randomMs', 'ms', 3)
    row('the same in photostream order (1,000)', 'orderMs', 'ms', 3)
  } finally {
    if (given === '') await rm(dir, { recursive: true, force: true })
  }
}

if (args[0] === '--make') await make(args[1] as string, Number(args[2]), Number(args[3]), Number(args[4]))
else if (args[0] === '--load-full') await load(args[1] as string, false)
else if (args[0] === '--load-lazy') await load(args[1] as string, true)
else await main()
