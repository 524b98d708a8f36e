/**
 * What the first listing of photostream/ costs the mount in memory and CPU at a big account (issue
 * 11 item 4), measured on the listing step alone: the mount's RSS peaks there at 1,000,000 items,
 * and the step is too small a part of a whole mount's run for that run's noise (±60 MB) to show a
 * change of it.
 *
 *   npm run build && node --import tsx bench/listing-memory.ts ROOT [--runs N] [--ab OTHER]
 *
 * ROOT holds a saved catalog with listing pages (memory.ts --seed's cache, or pin-big.ts's seed).
 * Each run is a fresh child process: it opens the catalog lazily and builds the layout as the mount
 * does (with this checkout's code), then lists photostream/ as the mount's readdir does
 * (dist/fs/dir-listing.js: `DirListingCache.get`, then `wireStats`, the two arrays fuse-native gets),
 * and reads each entry's stat by index as fuse-native's C loop does (here from JS: the napi calls'
 * own cost is not in it, and is the same for any build but for what each element costs to make). It
 * prints the RSS before the step, the step's peak (VmHWM, reset just before it through
 * /proc/self/clear_refs) and its CPU. libfuse's own copy of the entries (its readdir buffer, the
 * same for any build) is not in it.
 * --ab OTHER: the runs alternate between this checkout's dir-listing and OTHER's (a built checkout,
 * e.g. main before a change: OTHER/dist/fs/dir-listing.js), over the same layout code; medians and
 * the ratio are printed. Without it the baseline is the step's floor: the names alone, as the
 * layout hands them out, in an array of the listing's length.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { benchArgs, median, ownRss, resetPeak } from './measure.js'

const MB = 1024 * 1024
const self = fileURLToPath(import.meta.url)
const here = resolve(self, '../..')

interface StepFigures {
  entries: number
  rssBeforeMB: number
  peakMB: number
  cpuMs: number
}

/** The figures of one listing step, in this process (the child). `impl` is a dir-listing.js to use, or 'floor'. */
async function child(root: string, impl: string): Promise<StepFigures> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('the child runs with --expose-gc')
  const { Catalog } = await import('../src/catalog/index.js')
  const { buildLayout, PHOTO_METADATA_FORMAT } = await import('../src/layout/index.js')
  const catalog = await Catalog.open(root, { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: 0 } })
  const layout = buildLayout(catalog.view(), { hashes: { generation: () => 1, hashOf: () => undefined, kept: () => [] } })
  const dir = layout.root.children.get('photostream')
  if (dir?.kind !== 'dir') throw new Error(`${root}: the layout has no photostream/`)
  gc()
  const mod = impl === 'floor' ? undefined : ((await import(pathToFileURL(impl).href)) as typeof import('../src/fs/dir-listing.js'))
  const before = ownRss().rss
  resetPeak()
  const cpu = process.cpuUsage()
  let entries: number
  if (mod === undefined) {
    const names = new Array<string>(dir.children.size + 2)
    let at = 2
    dir.eachChild?.((name) => {
      names[at++] = name
    })
    entries = at
  } else {
    const listing = new mod.DirListingCache().get(dir, layout.root.ino)
    const stats = mod.wireStats(listing)
    // As fuse-native's C loop reads them: entry by entry, each stat's words read before the next is asked for.
    let read = 0
    for (let i = 0; i < stats.length; i++) {
      const st = stats[i] as DataView
      read += st.getUint32(0, true) === 0 ? 0 : 1
      read += st.getUint32(28, true) === 0 ? 0 : 1
    }
    if (read === 0) throw new Error('no stat read')
    entries = stats.length
  }
  const used = process.cpuUsage(cpu)
  const peak = ownRss().hwm
  await catalog.close()
  return { entries, rssBeforeMB: before / MB, peakMB: peak / MB, cpuMs: (used.user + used.system) / 1000 }
}

function runChild(root: string, impl: string): Promise<StepFigures> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', self, '--child', root, impl], { stdio: ['ignore', 'pipe', 'inherit'], cwd: here })
    let out = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.on('error', fail)
    p.on('close', (code) => (code === 0 ? done(JSON.parse(out.trim().split('\n').pop() as string) as StepFigures) : fail(new Error(`child exited ${code}`))))
  })
}

async function main(): Promise<void> {
  const { args, number, text } = benchArgs()
  if (args[0] === '--child') {
    console.log(JSON.stringify(await child(args[1] as string, args[2] as string)))
    return
  }
  const root = args[0]
  if (root === undefined || root.startsWith('--')) throw new Error('usage: bench/listing-memory.ts ROOT [--runs N] [--ab OTHER]')
  const runs = number('runs', 3)
  const other = text('ab')
  const mine = resolve(here, 'dist/fs/dir-listing.js')
  const base = other !== undefined ? resolve(other, 'dist/fs/dir-listing.js') : 'floor'
  const got: Record<'A' | 'B', StepFigures[]> = { A: [], B: [] }
  for (let i = 0; i < runs; i++) {
    for (const [side, impl] of (i % 2 === 0 ? [['A', mine], ['B', base]] : [['B', base], ['A', mine]]) as Array<['A' | 'B', string]>) {
      const f = await runChild(resolve(root), impl)
      got[side].push(f)
      console.log(`run ${i + 1} ${side}: ${f.entries} entries, RSS before ${f.rssBeforeMB.toFixed(0)} MB, peak ${f.peakMB.toFixed(0)} MB (+${(f.peakMB - f.rssBeforeMB).toFixed(0)}), CPU ${f.cpuMs.toFixed(0)} ms`)
    }
  }
  const med = (side: 'A' | 'B', pick: (f: StepFigures) => number): number => median(got[side].map(pick))
  console.log(`A: ${mine}\nB: ${base === 'floor' ? 'the floor (the names alone, in an array of their length)' : base}`)
  const row = (what: string, pick: (f: StepFigures) => number, unit: string): void => {
    const [a, b] = [med('A', pick), med('B', pick)]
    console.log(`${what.padEnd(28)} A ${a.toFixed(0).padStart(6)} ${unit}  B ${b.toFixed(0).padStart(6)} ${unit}  A/B ${(a / b).toFixed(2)}`)
  }
  row('the step (peak - before)', (f) => f.peakMB - f.rssBeforeMB, 'MB')
  row('peak', (f) => f.peakMB, 'MB')
  row('CPU of the step', (f) => f.cpuMs, 'ms')
}

await main()
