/**
 * A pin into a big, complete mirror (issue 11 item 4: 1,000,000 items under 1 GB): peak RSS, CPU
 * and wall time of `flickrfs pin DEST` when nothing changed, and after a small change on Flickr,
 * for one build or several (--ab given more than once: three builds or more), alternating.
 *
 *   node --import tsx bench/pin-big.ts --dir DIR --port N [--items 1000000] [--sets 20000]
 *     [--runs 2] [--ab OTHER/bin/flickrfs ... | --bin OTHER/bin/flickrfs] [--first] [--empty] [--no-nochange] [--no-change] [--deletions K] [--edits E] [--full] [--node-args "ARGS"]
 *
 * The account is bench-fake.ts's benchAccount without videos (5% commented, 2 KB originals, --sets sets, 20
 * collections), served by the fake in its own process on --port N (the catalog holds the fake's
 * URLs: keep N for a DIR). DIR/seed is made once and kept: its catalog saved as a first sync from
 * that fake leaves it (catalog-state.ts syncedStateOf, as memory.ts --online-only --seed), then one
 * real `flickrfs pin DIR/seed` by this checkout's CLI (niced: it downloads every original and
 * writes the whole tree). Every run after it:
 * - no change: `flickrfs pin` of DIR/seed (it writes only the catalog's head and the run's state);
 * - change: the fake's account changes (bench-fake.ts CHANGE, as memory.ts's --change: 50 photos edited, 20 comments, 10
 *   uploads, a set renamed; a new change of that size before each run), then `flickrfs pin` of
 *   DIR/seed: the cron pin of a mirror the last pin left, as a user runs it. `--deletions K`: each
 *   change deletes K photos besides (kept in DIR/deletions: a DIR's changes are always made alike). `--edits E`: each change edits
 *   E photos rather than 50 (a bulk edit: more than one photo in 8 was more than a merge took
 *   until session 43, and the whole refresh ran; kept in DIR/edits as K is). Not of a copy: `cp -a`
 *   gives every file a new inode and ctime, so no sidecar would be trusted unread (manifest.ts) and
 *   the run would read and compare a million sidecars, which no cron pin does. The builds alternate
 *   on the one DEST, each run taking in the change since the run before (whichever build made it).
 *   The fake is made afresh by each bench: DIR/changed counts the changes DIR was pinned after, and
 *   the next bench's fake makes that many first (the same photos, sets and ids: bench-fake.ts
 *   changeAccount is seeded by the change's number, and made at the same times: Stamps), so a
 *   1,000,000-item DIR need not be seeded again (48 min). Each run is told its own change and the
 *   one before (a pin's hour of overlap); in a DIR changed before DIR/stamps was kept, every change
 *   made within the hour before, with their times new in each bench (Stamps says why).
 * --first: before those, a first pin of the seed's catalog into a DEST holding nothing else (DIR/first,
 *   removed after each run: what a mount leaves in its cache folder), every original downloaded.
 * --empty: before those, a first pin into an empty DEST (DIR/empty, removed after each run): the
 *   first sync from the fake, every original downloaded inside it (each sizes its original), then the
 *   tree: what a new user's first `flickrfs pin` does.
 * --full: each measured pin lists everything (--full-listing-every 0: the weekly full listing, merged
 * into a lazily read catalog by src/catalog/full-merge.ts, or read whole). --bin OTHER: the measured
 * runs are OTHER's alone (the seed is still this checkout's): for builds whose saves differ in what
 * the next run of the other can use (listing pages with record hashes or without), each on a DIR of
 * its own, where --ab would have each build take over the other's DEST.
 * Peak RSS is GNU time's %M (the largest process of the run), CPU its user + sys. Each run's output
 * is kept in DIR/run-N.log, the seed's in DIR/seed.log (DEBUG, FLICKRFS_LAZY_CATALOG_FROM and FLICKRFS_MEMORY_* given to the bench reach the runs: bench-fake.ts passedOn).
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN } from '../test/support/repo.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { benchArgs, median } from './measure.js'
import { benchAccount, CHANGE, changeAccount, passedOn, serveBenchFake, startBenchFake } from './bench-fake.js'
import { cliEnv, copyCatalogOnly } from '../test/pin/helpers.js'

const self = fileURLToPath(import.meta.url)
const { args, has, number, text, texts, words } = benchArgs()

/**
 * The benches' account without its 2% videos: syncedStateOf records a video's original as the
 * listing's URL and size, which are not what the fake's video download serves, so a pin of the seed
 * would fail them (a real first sync sizes them by their own requests). Each "change" is a new one.
 */
async function serve(items: number, sets: number, port: number, made: number, deletions: number, edits: number, stamps: Stamps): Promise<void> {
  const account = benchAccount(items, sets, { videos: false })
  let changes = 0
  const change = (): void => {
    if (stamps === 'fixed') account.clock = () => CHANGES_FROM_SEC + changes * CHANGE_EVERY_SEC
    changeAccount(account, changes++, deletions, edits)
  }
  while (changes < made) change()
  await serveBenchFake(account, port, change)
}

/**
 * When a change's edits, comments and uploads are made, on Flickr's clock (`lastupdate`). A pin asks
 * recentlyUpdated for what changed from an hour before the newest edit it saw, so with the wall
 * clock (`wall`: DIRs changed before session 46) every change made within the hour before a run was
 * reported to it again, and each run of an A/B was told more than the one before (the reported
 * photos grew run by run). `fixed`: change n is made at CHANGES_FROM_SEC + n x CHANGE_EVERY_SEC,
 * after every generated photo's times and long before now (an edit from the future would make a
 * pin ask from its own clock, for ever), so each run is told its own change and the one before
 * (the hour of overlap), the same for every build, and a fake made afresh makes a DIR's earlier
 * changes again at the very times its catalog saw them.
 */
type Stamps = 'fixed' | 'wall'
const CHANGES_FROM_SEC = Date.UTC(2025, 0, 1) / 1000
const CHANGE_EVERY_SEC = 2 * 3600

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false)

/**
 * A DIR's changes are always made alike: `--NAME` as `given` must be what DIR/NAME says its earlier
 * changes were made with (`old` for a DIR changed before NAME was kept; a DIR not changed yet takes
 * any). The caller then writes it there.
 */
async function madeAlike(dir: string, name: string, did: string, given: number, made: number, old: number): Promise<void> {
  const file = join(dir, name)
  const before = (await exists(file)) ? Number((await readFile(file, 'utf8')).trim()) : made === 0 ? given : old
  if (before !== given) throw new Error(`${dir}'s changes ${did} ${before} photos each: give --${name} ${before}, or seed another DIR`)
}

interface Row { bin: string; kind: 'nochange' | 'change' | 'first' | 'empty'; peakMb: number; cpuS: number; wallS: number; line: string }

function rowOf(bin: string, kind: Row['kind'], u: ChildUsage): Row {
  if (u.code !== 0) throw new Error(`pin (${kind}, ${bin}) exited ${u.code}: ${u.stderr.slice(-2000)}`)
  const line = u.stdout.trim().split('\n').filter((l) => l !== '').slice(-3).join(' | ')
  return { bin, kind, peakMb: u.maxRssKb / 1024, cpuS: (u.userMs + u.sysMs) / 1000, wallS: u.wallMs / 1000, line }
}

async function main(): Promise<void> {
  const items = number('items', 1_000_000)
  const sets = number('sets', 20_000)
  const port = number('port', 0)
  if (args[0] === '--serve') return serve(items, sets, port, number('made', 0), number('deletions', 0), number('edits', CHANGE.edited), text('stamps') === 'wall' ? 'wall' : 'fixed')
  const dirArg = text('dir')
  if (dirArg === undefined || port === 0) throw new Error('--dir DIR and --port N are needed (the seed holds the fake\'s URLs)')
  const dir = resolve(dirArg)
  const seed = join(dir, 'seed')
  const changedFile = join(dir, 'changed')
  let made = (await exists(changedFile)) ? Number((await readFile(changedFile, 'utf8')).trim() || 'NaN') : 0
  if (!Number.isInteger(made)) throw new Error(`${changedFile} does not say how many changes ${dir} was pinned after: remove ${dir} and seed again`)
  const deletions = number('deletions', 0)
  const edits = number('edits', CHANGE.edited)
  await madeAlike(dir, 'deletions', 'deleted', deletions, made, 0)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'deletions'), String(deletions))
  await madeAlike(dir, 'edits', 'edited', edits, made, CHANGE.edited)
  await writeFile(join(dir, 'edits'), String(edits))
  // A DIR changed before DIR/stamps was kept had its changes made on the wall clock: it goes on so.
  const stampsFile = join(dir, 'stamps')
  const stamps: Stamps = (await exists(stampsFile)) ? ((await readFile(stampsFile, 'utf8')).trim() === 'wall' ? 'wall' : 'fixed') : made === 0 ? 'fixed' : 'wall'
  await writeFile(stampsFile, stamps)
  const runs = number('runs', 2)
  const others = texts('ab')
  const only = text('bin')
  const bins = others.length > 0 ? [BIN, ...others.map((o) => resolve(o))] : only !== undefined ? [resolve(only)] : [BIN]
  const full = has('full') ? ['--full-listing-every', '0'] : []
  const { proc: fakeProc, origin, credentials, ask } = await startBenchFake(['--import', 'tsx', self, '--serve', '--items', String(items), '--sets', String(sets), '--port', String(port), '--made', String(made), '--deletions', String(deletions), '--edits', String(edits), '--stamps', stamps])
  const config = join(dir, 'config')
  const env = cliEnv({ origin, credentials }, config, { LANG: 'C.UTF-8', FLICKRFS_API_RATE: '100000', FLICKRFS_API_BURST: '100000', ...passedOn() })
  let runNo = 0
  // e.g. --node-args "--cpu-prof --cpu-prof-dir=DIR": for the measured runs, not the seed's.
  const nodeArgs = words('node-args')
  // Each run's stderr (DEBUG=flickrfs:pin,flickrfs:catalog given to the bench reaches the runs) in DIR/run-N.log.
  const pin = async (bin: string, dest: string): Promise<ChildUsage> => {
    const u = await runMeasured(process.execPath, [...nodeArgs, bin, 'pin', '--statistics', ...full, dest], { env })
    await writeFile(join(dir, `run-${++runNo}.log`), `${bin}\n${u.stdout}\n${u.stderr}`)
    return u
  }
  try {
    // --empty alone (with --no-nochange --no-change) needs no seed.
    const seeded = has('first') || !has('no-nochange') || !has('no-change')
    if (seeded && !(await exists(join(seed, '.flickrfs', 'tree-record')))) {
      await ask(`seed ${seed}`, 'seeded')
      const t0 = performance.now()
      const u = await runMeasured('nice', ['-n', '10', process.execPath, BIN, 'pin', '--statistics', seed], { env })
      await writeFile(join(dir, 'seed.log'), `${u.stdout}\n${u.stderr}`)
      const r = rowOf(BIN, 'nochange', u)
      console.error(`seed pin: ${r.wallS.toFixed(0)} s, CPU ${r.cpuS.toFixed(0)} s, peak ${r.peakMb.toFixed(0)} MB (${((performance.now() - t0) / 1000).toFixed(0)} s): ${r.line}`)
      if (!(await exists(join(seed, '.flickrfs', 'tree-record')))) throw new Error('the seed pin left no tree record')
    }
    const rows: Row[] = []
    const report = (r: Row): void => {
      rows.push(r)
      console.error(`${r.kind} ${r.bin}: peak ${r.peakMb.toFixed(0)} MB, CPU ${r.cpuS.toFixed(1)} s, wall ${r.wallS.toFixed(1)} s: ${r.line}`)
    }
    // --first: a first pin of the seed's catalog into a DEST holding nothing else (what a mount
    // leaves in its cache folder): every original downloaded, every file written. Removed after.
    if (has('first')) {
      for (let i = 0; i < runs; i++) {
        for (const bin of bins) {
          const dest = join(dir, 'first')
          await rm(dest, { recursive: true, force: true })
          await copyCatalogOnly(seed, dest)
          report(rowOf(bin, 'first', await pin(bin, dest)))
          await rm(dest, { recursive: true, force: true })
        }
      }
    }
    if (has('empty')) {
      for (let i = 0; i < runs; i++) {
        for (const bin of bins) {
          const dest = join(dir, 'empty')
          await rm(dest, { recursive: true, force: true })
          await mkdir(dest)
          report(rowOf(bin, 'empty', await pin(bin, dest)))
          await rm(dest, { recursive: true, force: true })
        }
      }
    }
    // A DIR pinned after changes meets them made again with new times: its first pin is not one of no change.
    if (!has('no-nochange') && made === 0) {
      for (let i = 0; i < runs; i++) for (const bin of bins) report(rowOf(bin, 'nochange', await pin(bin, seed)))
    }
    if (!has('no-change')) {
      for (let i = 0; i < runs; i++) {
        for (const bin of bins) {
          await ask('change', 'changed')
          await writeFile(changedFile, String(++made))
          report(rowOf(bin, 'change', await pin(bin, seed)))
        }
      }
    }
    console.log(`pin-big: ${items} items, ${sets} sets${seeded ? `, ${(await readdir(join(seed, 'photostream'))).length} entries in photostream/` : ''}`)
    for (const kind of ['empty', 'first', 'nochange', 'change'] as const) {
      for (const bin of bins) {
        const mine = rows.filter((r) => r.kind === kind && r.bin === bin)
        if (mine.length === 0) continue
        const m = (k: 'peakMb' | 'cpuS' | 'wallS'): string => `${median(mine.map((r) => r[k])).toFixed(k === 'peakMb' ? 0 : 2)} (${mine.map((r) => r[k].toFixed(k === 'peakMb' ? 0 : 1)).join(', ')})`
        console.log(`${kind.padEnd(8)} ${bin}: peak MB ${m('peakMb')}; CPU s ${m('cpuS')}; wall s ${m('wallS')}`)
      }
    }
  } finally {
    fakeProc.stdin.end()
    await new Promise((r) => fakeProc.on('exit', r))
  }
}

await main()
