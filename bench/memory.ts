/**
 * Memory benchmark (issue 11 item 4): peak RSS of the real CLI at a big account served by the fake
 * Flickr (in its own process, so its memory is not counted).
 *
 *   npm run build && node --import tsx bench/memory.ts [--items 100000] [--sets 2000] [--runs 3] [--bin OTHER/bin/flickrfs]
 *     [--cache DIR] [--offline-only [--seed] | --sync-only | --refresh-only | --online-only [--seed [--unresolved N [--relisted]]] [--change [--edits E]] [--full]] [--node-args "--max-semi-space-size=2"] [--port N]
 *     [--ab OTHER/bin/flickrfs]
 *
 * Each run, with a fresh cache:
 *   first sync    `flickrfs mount --cache C` on an empty C, until "first catalog complete"; its
 *                 RSS then, and 10 s later (what the mount keeps: a big catalog is served lazily once saved)
 *   first ls      then `readdir(photostream)` of that mount (peak of the whole mount so far)
 *   refresh       a mount of the synced C, `flickrfs refresh MNT` with a full listing
 *                 (--full-listing-every 0): the refresh builds the next catalog beside the loaded one
 *   load: status  `flickrfs status C` (loads the catalog read-only, no mount; also with --offline-only)
 *   load: mount   `flickrfs mount --offline --cache C`, then `readdir(photostream)`; also the time
 *                 from spawn to that listing read whole, and from the mount being up (in the mount
 *                 table) to the first name `ls -f | head -1` shows (target ≤ 2 s at 1,000,000 items),
 *                 and from spawn to that name; the peak is read once the store is open (the mount
 *                 comes up before it is: service/loading-store.ts)
 * --online-only --port N --cache C (C synced by an earlier run with the same --port): an online mount
 * of C (incremental refreshes, --full-listing-every 7d): the time to its listing and the peak, then a
 * refresh that finds nothing changed (SIGHUP) and the peak through it. FLICKRFS_LAZY_CATALOG_FROM=0
 * makes the mount read the catalog lazily whatever its size.
 * --online-only --seed --port N --cache C: when C holds no catalog yet, the fake's own account is
 * saved into it as a first sync from that fake would leave it (catalog-state.ts syncedStateOf), and
 * each run mounts a fresh copy of C (~17 min at 1,000,000 items under load, against ~25 for a real
 * first sync). --change: before the SIGHUP, the fake's account changes once (bench-fake.ts CHANGE: 50 edits, 20
 * comments, 10 uploads, a set renamed; later runs see the same change), and the refresh measured is
 * the one that takes it in (lazily merged, or loaded whole); --edits E: it edits E random photos
 * rather than 50 (a bulk edit). --full: the mount lists everything at
 * each refresh (--full-listing-every 0), so the refresh measured is the weekly full listing (with
 * --change, of that change): merged (src/catalog/full-merge.ts) or loaded whole. --unresolved N
 * (with --seed): N photos whose originals the fake refuses (an HTML page) are seeded with no
 * original on record, so the refresh measured is the one items that failed call for (the
 * photostream listed whole: src/catalog/incremental.ts planFor); with --relisted, C is seeded as that
 * listing left it just now, so the refresh measured is one within the hour after it (the failed
 * items tried again, the photostream not listed: relistDue). --ab OTHER: the runs alternate between
 * the CLI and OTHER's (e.g. main's), with both medians and their ratio.
 * --offline-only --seed --cache C: when C holds no catalog yet, it is saved straight from the
 * generated account (with listing pages, as pin and mount save it) instead of by a first sync:
 * minutes less at 1,000,000 items. FLICKRFS_LAZY_CATALOG_FROM given to the bench reaches the
 * mounts (0: the offline mount reads any catalog lazily; default from 400,000 photos).
 * Peak RSS is the child's VmHWM from /proc (read just before it is stopped) or GNU time's %M for
 * `status`; CPU is the child's user+sys. Baselines in the same run:
 *   `node -e 0`                 the floor of any Node process
 *   `flickrfs --version`        Node plus the CLI's own code loaded, no catalog
 *   catalog.sqlite size         the catalog's data as stored (compact JSON): what "the records" weigh
 * and every peak is printed against the issue's target (300 MB at 100,000 items, 1 GB at 1,000,000).
 *
 *   node --import tsx bench/memory.ts --breakdown [--items 100000] [--sets 2000]
 * instead refreshes a catalog in-process (heap after gc after a first and a second refresh), then
 * loads it in a fresh process and takes it apart piece by piece: the heap each part keeps alive.
 * The API limiter is raised (FLICKRFS_API_RATE/BURST 100000): only memory is measured here.
 * glibc's MALLOC_* variables given to the bench reach every child (e.g. MALLOC_MMAP_THRESHOLD_=131072).
 * So does DEBUG (e.g. DEBUG=flickrfs:catalog,flickrfs:mount: the mount's lines date its phases, for a
 * sampler of its RSS; not `flickrfs*`, which turns on libfuse's request log), and with
 * BENCH_MOUNT_LOG=FILE the first sync's mount's stderr (and --online-only's) is appended to FILE once it is stopped.
 */
import { spawn } from 'node:child_process'
import { appendFile, cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Catalog, catalogPath } from '../src/catalog/index.js'
import { CatalogStore } from '../src/catalog/persist.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { buildLayout, photoSidecarSizer, type Layout, type LayoutDir } from '../src/layout/index.js'
import type { FakeCredentials } from '../src/fake-flickr/index.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason, isMounted } from '../test/support/mounts.js'
import { waitUntil } from '../test/support/wait.js'
import type { CliProc } from '../test/support/cli.js'
import { BIN } from '../test/support/repo.js'
import { runMeasured, usageOf } from './child-usage.js'
import { benchArgs, median } from './measure.js'
import { stateOf } from './catalog-state.js'
import { benchAccount, CHANGE, changeAccount, passedOn, serveBenchFake, startBenchFake } from './bench-fake.js'
import { cliEnv } from '../test/pin/helpers.js'

const self = fileURLToPath(import.meta.url)
const { args, has, number, text, words } = benchArgs()
const MB = 1024 * 1024

/** The fake's process: bench-fake.ts's, whose "change" changes the account once (later runs see the same changed account). */
async function serve(items: number, sets: number): Promise<void> {
  const account = benchAccount(items, sets)
  let changed = false
  await serveBenchFake(account, number('port', 0), () => {
    if (!changed) changeAccount(account, 0, 0, number('edits', CHANGE.edited))
    changed = true
  }, { unresolved: number('unresolved', 0), relisted: has('relisted') })
}

/** How long after the first sync its mount's RSS is read again (`firstSyncSettledRss`). */
const SETTLE_MS = 10_000

async function originalsIn(mnt: string): Promise<number> {
  const names = await readdir(join(mnt, 'photostream'))
  return names.filter((n) => n !== 'metadata' && n !== 'SHA256SUMS' && !n.endsWith('.metadata')).length
}

type Row = Record<string, number>

/** What the bench asks of the fake's process: --change's change (once), before the refresh it measures. */
const fake: { change?: () => Promise<void> } = {}
const seeded = has('seed') && has('online-only')

async function run(items: number, sets: number, lab: MountLab, env: NodeJS.ProcessEnv, i: number): Promise<Row> {
  const cache = cacheArg ?? join(lab.dir, `cache-${i}`)
  const mnt = await lab.mkdir(`mnt-${i}`)
  const row: Row = {}
  const expectAll = async (): Promise<void> => {
    const n = await originalsIn(mnt)
    // --unresolved: those photos have no original to show.
    if (n !== items - number('unresolved', 0)) throw new Error(`photostream lists ${n} originals, expected ${items - number('unresolved', 0)}`)
  }
  if (refreshOnly) {
    await refreshPhase(lab, env, cache, mnt, row)
    return row
  }
  if (onlineOnly) {
    // --seed: each run on a fresh copy of the seeded cache (a refresh saves into it).
    let runCache = cache
    if (seeded) {
      runCache = join(lab.dir, `cache-${i}`)
      await cp(cache, runCache, { recursive: true })
    }
    try {
      await onlinePhase(lab, env, runCache, mnt, row, expectAll, fake.change)
    } finally {
      if (seeded) await rm(runCache, { recursive: true, force: true })
    }
    return row
  }
  if (!offlineOnly) await syncPhases(items, lab, env, cache, mnt, row, expectAll)
  if (!syncOnly) await offlinePhase(lab, env, cache, mnt, row, expectAll)
  if (offlineOnly) await statusPhase(lab, env, cache, row)
  return row
}

// --cache DIR: the runs' cache is DIR, kept after the bench (a later `--offline-only --cache DIR`
// measures only the offline mount of it, e.g. alternating two CLIs with --bin on one synced cache).
const cacheArg = has('cache') ? resolve(text('cache') as string) : undefined
const offlineOnly = has('offline-only')
// --sync-only: the first sync (and its ls) into --cache DIR, nothing else (for 1,000,000 items, where each phase takes minutes).
const syncOnly = has('sync-only')
// --refresh-only: only the refresh of a loaded catalog, on --cache DIR, a cache an earlier run synced with the same
// --port N (the fake's fixed port): its records name the fake's origin, so against another port every record changes.
const refreshOnly = has('refresh-only')
const onlineOnly = has('online-only')

async function syncPhases(items: number, lab: MountLab, env: NodeJS.ProcessEnv, cache: string, mnt: string, row: Row, expectAll: () => Promise<void>): Promise<void> {
  // (a) first sync, then (c) its first full listing.
  const p: CliProc = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env, 3_600_000)
  let u = await usageOf(p.pid)
  row.firstSyncPeak = u.peak
  row.firstSyncCpu = u.cpuMs
  row.firstSyncRss = u.rss
  // What the mount keeps once the sync is over: V8 gives freed pages back some seconds after its
  // collections, so the RSS read as the sync ends still holds part of what went.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  row.firstSyncSettledRss = (await usageOf(p.pid)).rss
  await expectAll()
  u = await usageOf(p.pid)
  row.firstLsPeak = u.peak
  await lab.stop(p, mnt)
  await keepMountLog(p.err)
  row.catalogBytes = (await stat(join(cache, '.flickrfs', 'catalog.sqlite'))).size
  if (syncOnly) return

  await refreshPhase(lab, env, cache, mnt, row)
  await statusPhase(lab, env, cache, row)
}

/** (b) load without a mount: `flickrfs status C`. */
async function statusPhase(lab: MountLab, env: NodeJS.ProcessEnv, cache: string, row: Row): Promise<void> {
  const st = await runMeasured(process.execPath, [...lab.nodeArgs, lab.bin, 'status', cache], { env, timeoutMs: 600_000 })
  if (st.code !== 0 && st.code !== 1) throw new Error(`flickrfs status exited ${st.code}: ${st.stderr}`)
  row.statusPeak = st.maxRssKb * 1024
  row.statusCpu = st.userMs + st.sysMs
  row.statusWall = st.wallMs
}

/** (a') a refresh of a loaded catalog: two catalogs at once. */
async function refreshPhase(lab: MountLab, env: NodeJS.ProcessEnv, cache: string, mnt: string, row: Row): Promise<void> {
  // The catalog's debug line "refreshed: …" says when the refresh is saved (a quiet refresh logs nothing else).
  const p = await lab.mount(mnt, ['--cache', cache, '--refresh', '0', '--full-listing-every', '0'], { ...env, DEBUG: 'flickrfs:catalog' }, 600_000)
  const before = await usageOf(p.pid)
  row.loadedMountRss = before.rss
  p.child.kill('SIGHUP') // what `flickrfs refresh MNT` sends
  await waitUntil('the refresh is saved', () => {
    if (p.exit) throw new Error(`the mount exited during its refresh: ${p.err}`)
    return Promise.resolve(/flickrfs:catalog refreshed: /.test(p.err))
  }, 3_600_000, 50)
  const u = await usageOf(p.pid)
  row.refreshPeak = u.peak
  row.refreshCpu = u.cpuMs - before.cpuMs
  await lab.stop(p, mnt)

}

async function offlinePhase(lab: MountLab, env: NodeJS.ProcessEnv, cache: string, mnt: string, row: Row, expectAll: () => Promise<void>): Promise<void> {
  // (b+c) an offline mount from the cache, and how soon its photostream lists.
  const { p, listMs, mountedMs, afterMountedMs, firstNameMs } = await mountAndList(lab, { ...env, DEBUG: [env.DEBUG, 'flickrfs:store,flickrfs:mount'].filter((d) => d).join(',') }, ['mount', mnt, '--cache', cache, '--offline'], mnt)
  row.offlineListMs = listMs
  row.offlineMountedMs = mountedMs
  row.offlineListAfterMountedMs = afterMountedMs
  row.offlineFirstNameMs = firstNameMs
  await expectAll()
  await storeLoaded(p)
  const u = await usageOf(p.pid)
  row.offlineMountPeak = u.peak
  row.offlineMountCpu = u.cpuMs
  await lab.stop(p, mnt)
}

/** BENCH_MOUNT_LOG=FILE: a stopped mount's stderr appended to FILE (its debug lines date its phases). */
async function keepMountLog(stderr: string): Promise<void> {
  const file = process.env.BENCH_MOUNT_LOG
  if (file !== undefined && file !== '') await appendFile(file, stderr)
}

/** --online-only: an online mount of the synced cache, its listing, then a refresh that finds nothing changed (or, with `change`, takes the change in). */
async function onlinePhase(lab: MountLab, env: NodeJS.ProcessEnv, cache: string, mnt: string, row: Row, expectAll: () => Promise<void>, change?: () => Promise<void>): Promise<void> {
  const flags = ['mount', mnt, '--cache', cache, '--refresh', '0', '--full-listing-every', has('full') ? '0' : '7d']
  const { p, listMs, mountedMs, afterMountedMs, firstNameMs } = await mountAndList(lab, { ...env, DEBUG: 'flickrfs:catalog,flickrfs:store,flickrfs:mount' }, flags, mnt)
  row.onlineListMs = listMs
  row.onlineMountedMs = mountedMs
  row.onlineListAfterMountedMs = afterMountedMs
  row.onlineFirstNameMs = firstNameMs
  await expectAll()
  await storeLoaded(p)
  const listed = await usageOf(p.pid)
  row.onlineMountPeak = listed.peak
  row.onlineMountCpu = listed.cpuMs
  // With --change the refresh must take the change in; without, it must find nothing.
  const expected = change === undefined
    ? { what: 'the quiet refresh is done', done: /refreshed: \d+ items, nothing changed/, wrong: /Refreshed: /, why: 'the account changed under the bench' }
    : { what: 'the refresh of the change is done', done: /Refreshed: /, wrong: /nothing changed/, why: 'the refresh found nothing changed' }
  await change?.()
  const said = p.err.length
  const t0 = performance.now()
  p.child.kill('SIGHUP') // what `flickrfs refresh MNT` sends
  await waitUntil(expected.what, () => {
    if (p.exit) throw new Error(`the mount exited during its refresh: ${p.err}`)
    const after = p.err.slice(said)
    if (expected.wrong.test(after)) throw new Error(`${expected.why}: ${after}`)
    return Promise.resolve(expected.done.test(after))
  }, 3_600_000, 50)
  row.onlineRefreshMs = performance.now() - t0
  const u = await usageOf(p.pid)
  row.onlineRefreshPeak = u.peak
  row.onlineRefreshCpu = u.cpuMs - listed.cpuMs
  row.onlineRefreshRss = u.rss
  if (change !== undefined || number('unresolved', 0) > 0) row.merged = /merged \d+ (reported|listed changed) photos|full listing merged/.test(p.err.slice(said)) ? 1 : 0
  await lab.stop(p, mnt)
  await keepMountLog(p.err)
}

/**
 * A mount's store is open: since the mount comes up before it is (service/loading-store.ts: its
 * DEBUG=flickrfs:mount line "store open"), its peak and CPU are read only after that, so the store's
 * open is in them. A mount that opens its store first (main before this branch) says "index
 * loaded" (DEBUG=flickrfs:store) before it mounts.
 */
async function storeLoaded(p: CliProc): Promise<void> {
  await waitUntil('the store is open', () => {
    if (p.exit) throw new Error(`the mount exited: ${p.err}`)
    return Promise.resolve(/flickrfs:mount store open|index loaded: [^\n]*\n[\s\S]*flickrfs: mounted /.test(p.err))
  }, 600_000, 20)
}

/**
 * The mount spawned; from spawn: `mountedMs` to the mount being up, `listMs` to the whole of
 * photostream/ read, `firstNameMs` to `ls`'s first name; `afterMountedMs` from the mount being up
 * to that first name.
 */
async function mountAndList(lab: MountLab, env: NodeJS.ProcessEnv, argv: string[], mnt: string): Promise<{ p: CliProc; listMs: number; mountedMs: number; afterMountedMs: number; firstNameMs: number }> {
  const t0 = performance.now()
  const p = lab.spawn(argv, env)
  lab.track(mnt)
  // When the mount is up (in the mount table), then how soon after it the first listing answers.
  await waitUntil('the mount is up', async () => {
    if (p.exit) throw new Error(`the mount exited: ${p.err}`)
    return isMounted(mnt)
  }, 600_000, 20)
  const mountedMs = performance.now() - t0
  // The first name, as a user's `ls` shows it: libfuse answers the first getdents once our readdir
  // has handed it every entry (fuse-native 2.2.6 gives no offset), so this is the listing's start.
  const first = await runMeasured('bash', ['-c', 'ls -f "$1/photostream" | head -1', 'ls', mnt], { env, timeoutMs: 600_000 })
  if (first.code !== 0 || first.stdout.trim() === '') throw new Error(`ls of the mount's photostream/ failed: ${first.stderr}`)
  const afterMountedMs = first.wallMs
  const firstNameMs = performance.now() - t0
  let firstListMs = NaN
  await waitUntil('photostream lists', async () => {
    if (p.exit) throw new Error(`the mount exited: ${p.err}`)
    try {
      const n = await originalsIn(mnt)
      if (n > 0) firstListMs = performance.now() - t0
      return n > 0
    } catch {
      return false
    }
  }, 600_000, 20)
  return { p, listMs: firstListMs, mountedMs, afterMountedMs, firstNameMs }
}

/** In a child with --expose-gc: the first refresh of ROOT in-process, and the heap it leaves. */
async function syncChild(root: string, origin: string, credentials: FakeCredentials): Promise<void> {
  const client = new FlickrClient({ ...credentials, apiOrigin: origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
  // As the mount opens it: a writable catalog saves its sidecars' lengths.
  const catalog = await Catalog.open(root, { sidecarSizer: photoSidecarSizer })
  // The largest RSS seen, with the heap and outside-heap parts of that moment and the refresh phase.
  let phase = 'open'
  let top = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0, phase }
  const sampler = setInterval(() => {
    const u = process.memoryUsage()
    if (u.rss > top.rss) top = { rss: u.rss, heapTotal: u.heapTotal, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers, phase }
    byPhase[phase] = Math.max(byPhase[phase] ?? 0, u.rss)
  }, 20)
  const byPhase: Record<string, number> = {}
  const onProgress = (p: { phase: string }): void => {
    phase = p.phase
  }
  await catalog.refresh(client, new MediaClient({ origins: [origin] }), { apiConcurrency: 32, mediaConcurrency: 64, onProgress })
  const firstTop = top
  phase = 'second'
  top = { ...top, rss: 0 }
  const afterFirst = heapNow()
  await catalog.refresh(client, new MediaClient({ origins: [origin] }), { apiConcurrency: 32, mediaConcurrency: 64, fullListingEveryMs: 0 })
  const afterSecond = heapNow()
  clearInterval(sampler)
  await catalog.close()
  process.stdout.write(JSON.stringify({ afterFirst, afterSecond, peakRss: await peakOfSelf(), firstTop, secondTop: top, byPhase }))
}

function heapNow(): number {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

async function peakOfSelf(): Promise<number> {
  return (await usageOf(process.pid)).peak
}

/**
 * In a child with --expose-gc: where the heap of a loaded catalog and its layout goes, by taking
 * parts away one at a time (each delta is what that part alone keeps alive).
 */
async function breakdownChild(root: string): Promise<void> {
  const parts: Array<[string, number]> = []
  let last = heapNow()
  const step = (what: string): void => {
    const now = heapNow()
    parts.push([what, now - last])
    last = now
  }
  const catalog = await Catalog.open(root, { readOnly: true })
  step('catalog loaded (snapshot + commentsFetchedAt)')
  const snap = catalog.snapshot()
  const mediaCount = snap.media.size
  let layout: Layout | undefined = buildLayout(snap)
  step('layout built')
  let sidecars = 0
  for (const node of (layout.lookup('/photostream') as LayoutDir).children.values()) if (node.kind === 'file') sidecars += node.size > 0 ? 1 : 0
  step('every photostream file sized (as a listing with stat does)')
  // Used after that step, so the layout is alive through it (V8 may free a local it sees no more use of).
  sidecars += layout.stats.photos * 0
  let rawJson = 0
  for (const p of snap.photos.values()) rawJson += JSON.stringify(p.raw).length
  let commentJson = 0
  for (const c of snap.comments.values()) commentJson += JSON.stringify(c).length
  layout = undefined
  step('layout dropped')
  ;(snap.comments as Map<string, unknown>).clear()
  step('comments dropped')
  for (const p of snap.photos.values()) (p as { raw: unknown }).raw = {}
  step('raw photo records dropped')
  ;(snap as { media: unknown }).media = new Map()
  step('media entries dropped')
  ;(snap.photos as Map<string, unknown>).clear()
  step('PhotoEntry objects and the photos map dropped')
  ;(snap as { sets: unknown }).sets = []
  ;(snap as { photostream: unknown }).photostream = []
  step('sets and photostream order dropped')
  process.stdout.write(JSON.stringify({ parts, files: sidecars, media: mediaCount, rawJson, commentJson, peakRss: await peakOfSelf() }))
  await catalog.close()
}

async function breakdown(items: number, sets: number, origin: string, credentials: FakeCredentials): Promise<void> {
  // With --cache DIR (a cache an earlier run synced), only the load breakdown of DIR's catalog.
  const root = cacheArg ?? (await mkdtemp(join(tmpdir(), 'flickrfs-bench-memory-breakdown-')))
  try {
    const node = (mode: string[]): Promise<string> => new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, ...mode], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      p.stdout.on('data', (d: Buffer) => (out += d.toString()))
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${mode[0]} exited ${code}`))))
    })
    if (cacheArg === undefined) {
      const sync = JSON.parse(await node(['--sync-child', root, origin, JSON.stringify(credentials)])) as Record<string, number> & Record<'firstTop' | 'secondTop' | 'byPhase', Record<string, number | string>>
      const mbs = (o: Record<string, number | string>): string => Object.entries(o).map(([k, v]) => `${k} ${typeof v === 'number' ? (v / MB).toFixed(0) : v}`).join(', ')
      console.log(`largest RSS by refresh phase (first refresh, then 'second' for all of the second): ${mbs(sync.byPhase)}`)
      console.log(`at the largest RSS sampled during the first refresh: ${mbs(sync.firstTop)}; during the second: ${mbs(sync.secondTop)}`)
      console.log(`heap after a first refresh (gc) ${(sync.afterFirst! / MB).toFixed(0)} MB; after a second, full one ${(sync.afterSecond! / MB).toFixed(0)} MB; peak RSS of that process ${(sync.peakRss! / MB).toFixed(0)} MB`)
    }
    const b = JSON.parse(await node(['--breakdown-child', root])) as { parts: Array<[string, number]>; files: number; media: number; rawJson: number; commentJson: number; peakRss: number }
    console.log(`heap breakdown at ${items} items, ${sets} sets (${b.files} files in photostream/, ${b.media} originals known; each line: what that part keeps alive):`)
    for (const [what, delta] of b.parts) console.log(`  ${what.padEnd(60)} ${(delta / MB).toFixed(1).padStart(7)} MB`)
    console.log(`  baseline: the raw photo records as compact JSON ${(b.rawJson / MB).toFixed(1)} MB, comments ${(b.commentJson / MB).toFixed(1)} MB`)
  } finally {
    if (cacheArg === undefined) await rm(root, { recursive: true, force: true })
  }
}

/**
 * --seed: a cache whose catalog is saved straight from the generated account (bench/catalog-state.ts,
 * with listing pages, as pin and mount save it) instead of by a first sync through the fake: a
 * minute or two at 1,000,000 items instead of 13 or more. No original is stored (an offline mount
 * lists them all; none is read here). Kept when DIR already holds a catalog.
 */
async function seedCache(dir: string, items: number, sets: number): Promise<void> {
  if (await stat(catalogPath(dir)).then(() => true, () => false)) return
  const t0 = performance.now()
  const store = await CatalogStore.open(dir)
  try {
    await store.save(stateOf(items, sets), Date.now(), undefined, { sizer: photoSidecarSizer })
  } finally {
    await store.close()
  }
  console.error(`seeded ${dir} with ${items} items, ${sets} sets in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

async function main(): Promise<void> {
  if (args[0] === '--serve') return serve(number('items', 100_000), number('sets', 2000))
  if (args[0] === '--sync-child') return syncChild(args[1] as string, args[2] as string, JSON.parse(args[3] as string) as FakeCredentials)
  if (args[0] === '--breakdown-child') return breakdownChild(args[1] as string)
  if ((offlineOnly || refreshOnly || onlineOnly) && cacheArg === undefined) throw new Error('--offline-only, --refresh-only and --online-only need --cache DIR (a cache an earlier run synced)')
  if (has('seed') && !seeded) {
    if (!offlineOnly || cacheArg === undefined) throw new Error('--seed needs --offline-only or --online-only, and --cache DIR')
    await seedCache(resolve(cacheArg), number('items', 100_000), number('sets', 2000))
  }
  const skip = has('breakdown') ? undefined : await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const items = number('items', 100_000)
  const sets = number('sets', 2000)
  const runs = number('runs', 3)
  const target = items >= 1_000_000 ? 1024 * MB : 300 * MB
  // An offline mount asks nothing of Flickr: no fake (at 1,000,000 items it takes minutes and a GB to make).
  const fakeArgs = offlineOnly ? ['-e', `process.stdout.write('{"origin":"http://127.0.0.1:9","credentials":{"apiKey":"k","apiSecret":"s","oauthToken":"t","oauthTokenSecret":"ts"}}\\n'); process.stdin.resume()`]
    : ['--import', 'tsx', self, '--serve', '--items', String(items), '--sets', String(sets), '--port', String(number('port', 0)), '--unresolved', String(number('unresolved', 0)), '--edits', String(number('edits', CHANGE.edited)), ...(has('relisted') ? ['--relisted'] : [])]
  const { proc: fakeProc, origin, credentials, ask } = await startBenchFake(fakeArgs)
  if (seeded && cacheArg !== undefined) await ask(`seed ${cacheArg}`, 'seeded')
  if (has('change')) fake.change = () => ask('change', 'changed')
  const lab = await MountLab.create('flickrfs-bench-memory-')
  // --bin: another checkout's built CLI (e.g. main's, for a before/after on one machine state).
  const bin = has('bin') ? resolve(text('bin') as string) : BIN
  lab.bin = bin
  // --node-args "…": node flags for every flickrfs child (e.g. "--max-semi-space-size=2"); `node -e 0` and --version get none.
  if (has('node-args')) lab.nodeArgs = words('node-args')
  try {
    const config = await lab.mkdir('config')
    const env = cliEnv({ origin, credentials }, config, {
      XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000', FLICKRFS_API_BURST: '100000', ...passedOn(),
    })
    if (has('breakdown')) return await breakdown(items, sets, origin, credentials)
    const bare = await runMeasured(process.execPath, ['-e', '0'], { env })
    const cli = await runMeasured(process.execPath, [bin, '--version'], { env })
    const rows: Row[] = []
    // --ab OTHER/bin/flickrfs: runs alternate between --bin's CLI (even runs) and OTHER (odd runs), each row tagged `ab` 0 or 1.
    const other = has('ab') ? resolve(text('ab') as string) : undefined
    for (let i = 0; i < runs; i++) {
      lab.bin = other !== undefined && i % 2 === 1 ? other : bin
      const row = await run(items, sets, lab, env, i)
      if (other !== undefined) row.ab = i % 2
      rows.push(row)
      console.error(`run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k.endsWith('Peak') || k.endsWith('Rss') || k.endsWith('Bytes') ? Math.round(v / MB) : Math.round(v)])))}`)
    }
    if (other !== undefined) {
      const of = (ab: number, k: string): number => median(rows.filter((r) => r.ab === ab).map((r) => r[k] as number))
      console.log(`A: ${bin}\nB: ${other}`)
      for (const k of [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((key) => key !== 'ab')) {
        const [a, b] = [of(0, k), of(1, k)]
        const show = (v: number): string => (k.endsWith('Peak') || k.endsWith('Rss') || k.endsWith('Bytes') ? `${(v / MB).toFixed(0)} MB` : k === 'merged' ? String(v) : `${(v / 1000).toFixed(2)} s`)
        console.log(`${k.padEnd(20)} A ${show(a).padStart(9)}  B ${show(b).padStart(9)}  A/B ${(a / b).toFixed(2)}`)
      }
    }
    // With --ab, the lines below are A's runs alone (B's are in the table above).
    const mine = other === undefined ? rows : rows.filter((r) => r.ab === 0)
    const m = (k: string): number => median(mine.map((r) => r[k] as number))
    const mb = (b: number): string => `${(b / MB).toFixed(0)} MB`
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
    const line = (what: string, peak: string, cpu?: string): void => {
      if (Number.isNaN(m(peak))) return
      const extra = cpu === undefined ? '' : `  CPU ${s(m(cpu))}`
      console.log(`${what.padEnd(34)} ${mb(m(peak)).padStart(8)}  ÷ target ${(m(peak) / target).toFixed(2)}  ÷ CLI baseline ${(m(peak) / (cli.maxRssKb * 1024)).toFixed(1)}${extra}`)
    }
    console.log(`CLI: ${bin}`)
    console.log(`memory bench: ${items} items, ${sets} sets, median of ${mine.length} runs${other === undefined ? '' : ' (A\'s)'}; target peak RSS ${mb(target)}`)
    console.log(`baselines: node -e 0 ${mb(bare.maxRssKb * 1024)}; flickrfs --version ${mb(cli.maxRssKb * 1024)}${offlineOnly || refreshOnly || onlineOnly ? '' : `; catalog.sqlite ${mb(m('catalogBytes'))}`}`)
    if (refreshOnly) line('refresh of a loaded catalog', 'refreshPeak', 'refreshCpu')
    else if (!offlineOnly) {
      line('first sync (mount, fresh cache)', 'firstSyncPeak', 'firstSyncCpu')
      line('  + first ls photostream', 'firstLsPeak')
      line('refresh of a loaded catalog', 'refreshPeak', 'refreshCpu')
    }
    line('load: flickrfs status', 'statusPeak', 'statusCpu')
    line('load: offline mount + ls', 'offlineMountPeak', 'offlineMountCpu')
    if (!offlineOnly && !syncOnly && !refreshOnly && !onlineOnly) console.log(`RSS of a mount after load, before refresh ${mb(m('loadedMountRss'))}; after the first sync ${mb(m('firstSyncRss'))}`)
    if (!offlineOnly && !refreshOnly && !onlineOnly) console.log(`RSS of the mount once its first sync is complete: ${mb(m('firstSyncRss'))} at once, ${mb(m('firstSyncSettledRss'))} ${SETTLE_MS / 1000} s later`)
    if (onlineOnly) {
      line('online mount + ls', 'onlineMountPeak', 'onlineMountCpu')
      const refreshed = fake.change === undefined ? 'a refresh of no change' : 'a refresh that merges --change'
      line(`  + ${has('full') ? `${refreshed}, a full listing` : refreshed}`, 'onlineRefreshPeak', 'onlineRefreshCpu')
      console.log(`online mount: up ${s(m('onlineMountedMs'))} after spawn, photostream read whole ${s(m('onlineListMs'))} after spawn, \`ls\` showed its first name ${s(m('onlineListAfterMountedMs'))} after the mount was up (${s(m('onlineFirstNameMs'))} after spawn); the refresh took ${s(m('onlineRefreshMs'))}, RSS after it ${mb(m('onlineRefreshRss'))}`)
      return
    }
    if (!syncOnly && !refreshOnly) console.log(`offline mount: up ${s(m('offlineMountedMs'))} after spawn, photostream read whole ${s(m('offlineListMs'))} after spawn, \`ls\` showed its first name ${s(m('offlineListAfterMountedMs'))} after the mount was up (${s(m('offlineFirstNameMs'))} after spawn; target 2 s at 1,000,000 items); status wall ${s(m('statusWall'))}`)
  } finally {
    await lab.cleanup()
    fakeProc.stdin.end()
    await new Promise((r) => fakeProc.on('exit', r))
  }
}

await main()
