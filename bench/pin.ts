/**
 * Pin benchmark: `flickrfs pin DEST` next to the original tool (markdoliner/flickrmirrorer, run
 * unmodified through bench/flickrmirrorer-launcher.py) and next to the latency floor, all in the
 * same run against one fake Flickr with Flickr-like latency.
 *
 *   node --import tsx bench/pin.ts [--items 700] [--runs 3] [--api-latency 50] [--media-latency 20]
 *                                  [--original | --no-original] [--tiny] [--seed 700]
 *                                  [--keep DIR] [--no-floor] [--pin-args "--full-listing-every 0"]
 *                                  [--floor-api N] [--floor-downloads N] [--no-flickrfs] [--rm-between]
 *                                  [--trace-memory DIR [--trace-gc MS] [--trace-snapshots MS,MS]]
 *                                  [--node-args "--cpu-prof --cpu-prof-dir=DIR"]
 *                                  [--no-floor-disk] [--floor-fresh [--floor-wrap "strace -f -c -o F"]] [--dest-dir DIR]
 *
 * --keep DIR keeps flickrfs's DEST and config in DIR (and the fake's port in DIR/fake-port, since
 * the catalog holds the fake's URLs): the first run pins, every later run (and bench) measures
 * only the no-change run, which a 50,000-item first pin would otherwise precede by minutes.
 * After each no-change run, its REST calls (the fake's log) are replayed alone (replayCalls): the
 * run ÷ its calls alone is issue 11's measure of a no-change sync. They are replayed twice: from
 * this process, already started and warm (the calls' latency alone), and from a fresh Node process
 * that makes them and nothing else (replayCallsFresh, scripts/replay-calls.mjs), timed from spawn to
 * exit as the pin is: the floor of any Node program that makes those calls, its own start included.
 * Setting (bench/flickrmirrorer.ts mirrorerAccountOptions): 700 items = 694 photos + 6 videos,
 * ~51 MB, 24 sets, 5 collections, ~100 commented, scaled with --items; from 10,000 items (or with
 * --tiny) the originals are 1–4 KB. Plain titles and real dates: the original tool crashes on the
 * fake's hostile ones. The fake runs in its own process, with `namedVideoPaths` so the original tool
 * can name its videos.
 *
 * Per run, in alternating order:
 * - original: flickrmirrorer.py DEST into an empty DEST (first mirror), then again (no-change run).
 * - flickrfs: `node bin/flickrfs pin DEST` as a user runs it, first pin then no-change run, with
 *   FLICKRFS_API_RATE=1000 (the default 1 call/s after a 3000-call burst binds from ~20,000 items).
 * - floor: the request pattern of a first pin (the API calls flickrfs makes, one GET per original,
 *   API calls as many at a time as FlickrClient allows by default (DEFAULT_API_CONCURRENCY, or
 *   --floor-api N) and downloads as many as pin (DEFAULT_PIN_CONCURRENCY, or --floor-downloads N),
 *   downloads starting with the first photostream page) from this process, bodies read and dropped:
 *   nothing is written to disk. Media GETs go over node:http with kept-alive sockets, as pin's
 *   (fetch cost the floor ~0.4 s of CPU more at 700 items, more than pin's own client). Its CPU and RSS are this bench process's. The latency alone of that
 *   pattern is printed too. --no-flickrfs measures the floor (and the original tool) alone.
 * - floor with disk (--no-floor-disk leaves it out): the floor's requests plus the writes the
 *   durability rules of issue 12 ask for and nothing else (DiskFloor): what the disk itself costs
 *   on this machine, the part of a first pin's CPU that no code of ours can save.
 * --floor-fresh runs each floor in a fresh process (floorInChild), compiled and optimised during the
 * run as a pin is, rather than in this one, warm after its first floor, and with the pin's 16 libuv
 * pool threads (in this process it has the default 4). --floor-wrap "CMD ARGS" runs
 * that child as CMD ARGS node … (strace, perf record), to compare its system calls with a pin's
 * (bench/pin-ab.ts --wrap); its CPU figures are then the floor's under CMD.
 * --dest-dir DIR makes every DEST (both tools' and the floor with disk's) in DIR rather than the
 * system's temp folder: another filesystem (a journaled ext4, a tmpfs) changes what the disk costs.
 * DESTs are removed at the end of the bench, not between runs (--rm-between: right after each run):
 * ext4 without a journal (this machine's /tmp) skips inodes deleted in the last 1 to 6 minutes
 * when it allocates new ones (ialloc.c, recently_deleted), a check per skipped inode, so a first
 * mirror made just after the removal of the last one's ~2,400 files paid up to 0.5 ms of system
 * CPU per file it created, for either tool; a user's first pin does not follow such a removal.
 * --trace-memory DIR: each flickrfs run samples its own memory every 250 ms (scripts/memory-trace.mjs)
 * into DIR/<first|nochange>-<run>.jsonl, with its debug log of pin and catalog steps (timestamped)
 * in DIR/<first|nochange>-<run>.log, to line up what the run did with what it held. --trace-gc MS
 * also makes a full GC every MS ms and records the heap still used after it (slows the run down);
 * --trace-snapshots MS,… writes heap snapshots of each run that many ms after its start.
 * Both tools run under GNU time: CPU is user + system of the child, RSS its peak. Requests are the
 * fake's own counters. The original tool is skipped (and the bench says so) when its sequential
 * request latency alone would exceed 10 minutes, unless --original; or when it cannot be run (then
 * the figures recorded in issue 12 are printed as the reference instead).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { Agent as HttpAgent, get as httpGet, type IncomingMessage } from 'node:http'
import type { Readable, Writable } from 'node:stream'
import { closeSync, constants as fsConstants, fsync, mkdirSync, open as openCb, renameSync, symlinkSync, writeSync, writevSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateAccount, startFakeFlickr, type FakeCredentials, type RestCall } from '../src/fake-flickr/index.js'
import { PHOTO_EXTRAS } from '../src/catalog/index.js'
import { DEFAULT_API_CONCURRENCY, FlickrClient } from '../src/flickr/index.js'
import { DEFAULT_PIN_CONCURRENCY } from '../src/pin/pin.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { failureText, locateTool, mirrorerAccountOptions, runMirrorer, type FakeEndpoint, type Tool } from './flickrmirrorer.js'
import { benchArgs, median } from './measure.js'
import { cliEnv } from '../test/pin/helpers.js'
import { replay } from '../scripts/replay-calls.mjs'

const self = fileURLToPath(import.meta.url)
const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)))
const BIN = join(REPO, 'bin', 'flickrfs')
const { args, has, number, text, words } = benchArgs()

/** What issue 12 recorded (one run, same setting and latencies) for when the tool cannot run here. */
const REFERENCE = [
  'original tool, first mirror: 20.1 s, 31 API calls, 712 media GETs',
  'original tool, no-change run: 2.26 s, 31 API calls',
  'flickrfs then: first pin 9.0 s (137 API calls, 700 HEAD + 712 GET), no-change run 2.06 s (29 calls)',
]

interface Shape extends FakeEndpoint {
  items: number
  videos: number
  bytes: number
  sets: number
  collections: number
  commented: number
}

async function serve(items: number, apiLatencyMs: number, mediaLatencyMs: number, tiny: boolean, seed: number, port: number): Promise<void> {
  const account = generateAccount(mirrorerAccountOptions(items, { tiny, seed }))
  const fake = await startFakeFlickr({ account, namedVideoPaths: true, port })
  fake.faults.apiLatencyMs = apiLatencyMs
  fake.faults.mediaLatencyMs = mediaLatencyMs
  const u = account.user
  const ids = account.photostream
  const shape: Shape = {
    origin: fake.origin,
    credentials: fake.credentials,
    user: { id: u.id, username: u.username, fullname: u.fullname },
    items: ids.length,
    videos: ids.filter((id) => account.requirePhoto(id).media === 'video').length,
    bytes: ids.reduce((n, id) => n + account.requirePhoto(id).bytes, 0),
    sets: account.sets.length,
    collections: account.collections.length,
    commented: account.commented().length,
  }
  process.stdout.write(`${JSON.stringify(shape)}\n`)
  // One command per line on stdin: "reset", "counts", "log-start" (record REST calls from now) or
  // "log" (the calls recorded since, and stop); the end of stdin stops the server.
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (cmd) => {
    if (cmd === 'log') {
      process.stdout.write(`${JSON.stringify(fake.restLog ?? [])}\n`)
      fake.restLog = undefined
      return
    }
    if (cmd === 'reset') fake.resetCounts()
    if (cmd === 'log-start') fake.restLog = []
    process.stdout.write(`${JSON.stringify(fake.counts())}\n`)
  })
  await new Promise<void>((r) => rl.on('close', r))
  await fake.close()
}

class FakeProcess {
  private readonly lines: Interface
  private readonly waiting: Array<(line: string) => void> = []

  constructor(readonly proc: ChildProcessByStdio<Writable, Readable, null>) {
    this.lines = createInterface({ input: proc.stdout })
    this.lines.on('line', (l) => this.waiting.shift()?.(l))
  }

  next(): Promise<string> {
    return new Promise((r) => this.waiting.push(r))
  }

  /** The fake's counters since the last take(), which resets them. */
  async take(): Promise<Record<string, number>> {
    const counts = await this.ask('counts')
    await this.ask('reset')
    return counts
  }

  /** The REST calls the fake answered between "log-start" and now. */
  async log(): Promise<RestCall[]> {
    const reply = this.next()
    this.proc.stdin.write('log\n')
    return JSON.parse(await reply) as RestCall[]
  }

  async ask(cmd: 'reset' | 'counts' | 'log-start'): Promise<Record<string, number>> {
    const reply = this.next()
    this.proc.stdin.write(`${cmd}\n`)
    return JSON.parse(await reply) as Record<string, number>
  }

  async close(): Promise<void> {
    this.proc.stdin.end()
    await new Promise((r) => this.proc.on('exit', r))
  }
}

interface Measured {
  ms: number
  /** user + system of the child (for the floor: of this process). */
  cpuMs: number
  userMs: number
  sysMs: number
  maxRssKb: number
  api: number
  get: number
  head: number
  play: number
  byMethod: Record<string, number>
  /** The REST calls the fake answered (a no-change run's, for its replay). */
  calls?: RestCall[]
}

function tally(counts: Record<string, number>, u: { wallMs: number; userMs: number; sysMs: number; maxRssKb: number }): Measured {
  const byMethod = Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith('flickr.')))
  return {
    ms: u.wallMs,
    cpuMs: u.userMs + u.sysMs,
    userMs: u.userMs,
    sysMs: u.sysMs,
    maxRssKb: u.maxRssKb,
    api: Object.values(byMethod).reduce((n, v) => n + v, 0),
    get: counts['media:GET'] ?? 0,
    head: counts['media:HEAD'] ?? 0,
    play: counts['media:play'] ?? 0,
    byMethod,
  }
}

function check(what: string, u: ChildUsage): void {
  if (u.code !== 0) throw new Error(`${what} failed, ${failureText(u)}`)
}

async function countOriginals(dir: string): Promise<number> {
  // Besides <id>.<ext> and <id>.<ext>.metadata: the tool's `tmp`, flickrfs's `metadata` and `SHA256SUMS`.
  return (await readdir(dir)).filter((n) => /^\d+(_[0-9a-f]+)?\.[a-z0-9]+$/.test(n)).length
}

async function originalRuns(fake: FakeProcess, shape: Shape, tool: Tool): Promise<[Measured, Measured]> {
  const dest = await mkdtemp(join(destDir(), 'flickrfs-bench-original-'))
  try {
    await fake.ask('reset')
    const first = await runMirrorer(tool, shape, dest)
    check('original tool, first mirror', first)
    const a = tally(await fake.take(), first)
    const n = await countOriginals(join(dest, 'photostream'))
    if (n !== shape.items) throw new Error(`original tool wrote ${n} of ${shape.items} originals`)
    const again = await runMirrorer(tool, shape, dest)
    check('original tool, no-change run', again)
    return [a, tally(await fake.take(), again)]
  } finally {
    await leaveForLater(dest)
  }
}

/** Folders the bench made, removed at its end (see the top of this file); at once with --rm-between. */
const leftovers: string[] = []
async function leaveForLater(dir: string): Promise<void> {
  if (has('rm-between')) await rm(dir, { recursive: true, force: true })
  else leftovers.push(dir)
}

function flickrfsEnv(shape: Shape, config: string): NodeJS.ProcessEnv {
  return cliEnv(shape, config, { LANG: 'C.UTF-8' })
}

/** --dest-dir DIR: where the DESTs of every tool and of the floor with disk are made (default: the system's temp folder). */
const destDir = (): string => (has('dest-dir') ? resolve(text('dest-dir') ?? '') : tmpdir())

/** --keep DIR, resolved; undefined without it. */
const keepDir = (): string | undefined => (has('keep') ? resolve(text('keep') ?? '') : undefined)

/** --trace-memory DIR, resolved; undefined without it. */
const traceDir = (): string | undefined => (has('trace-memory') ? resolve(text('trace-memory') ?? '') : undefined)
const traced = { first: 0, nochange: 0 }

/** --pin-args "…": more flags for every `flickrfs pin` run (e.g. "--full-listing-every 0"). */
const pinArgs = (): string[] => words('pin-args')

/** --node-args "…": node flags for every `flickrfs pin` child (e.g. "--cpu-prof --cpu-prof-dir=DIR" to profile it). */
const nodeArgs = (): string[] => words('node-args')

/** The floor's whole-process CPU, for its run line (FloorWork.process). */
const wholeProcess = (f: Pick<FloorWork, 'process'>): string =>
  f.process === undefined ? '' : `; whole process: user ${s(f.process.userMs)}, sys ${s(f.process.sysMs)}`

/** --floor-wrap "CMD ARGS": the command the floor's own process (--floor-fresh) runs under, e.g. "strace -f -c -o FILE". */
const floorWrap = (): string[] => words('floor-wrap')

/**
 * A first pin then a no-change run. With --keep DIR, flickrfs's config and DEST live in DIR and
 * stay: when DIR already holds a pin of this account (same --items and --seed), the first pin is
 * skipped and only the no-change run is measured (the first is then undefined).
 */
async function flickrfsRuns(fake: FakeProcess, shape: Shape): Promise<[Measured | undefined, Measured]> {
  const keep = keepDir()
  const work = keep ?? (await mkdtemp(join(destDir(), 'flickrfs-bench-pin-')))
  const dest = join(work, 'dest')
  const env = flickrfsEnv(shape, join(work, 'config'))
  const pin = async (what: 'first' | 'nochange'): Promise<ChildUsage> => {
    const trace = traceDir()
    if (trace === undefined) return runMeasured(process.execPath, [...nodeArgs(), BIN, 'pin', ...pinArgs(), dest], { env, cwd: REPO })
    await mkdir(trace, { recursive: true })
    const name = join(trace, `${what}-${++traced[what]}`)
    const traceEnv = { ...env, NODE_OPTIONS: `--import ${join(REPO, 'scripts', 'memory-trace.mjs')}`, FLICKRFS_MEMORY_TRACE: `${name}.jsonl`, DEBUG: 'flickrfs:pin,flickrfs:catalog',
      ...(has('trace-gc') ? { FLICKRFS_MEMORY_TRACE_GC_MS: String(number('trace-gc', 2000)) } : {}),
      ...(has('trace-snapshots') ? { FLICKRFS_MEMORY_SNAPSHOTS: text('trace-snapshots') } : {}) }
    const u = await runMeasured(process.execPath, [...nodeArgs(), BIN, 'pin', ...pinArgs(), dest], { env: traceEnv, cwd: REPO })
    await writeFile(`${name}.log`, u.stderr)
    return u
  }
  try {
    let a: Measured | undefined
    const pinned = keep !== undefined && (await readdir(join(dest, '.flickrfs')).then(() => true, () => false))
    if (!pinned) {
      await fake.ask('reset')
      const first = await pin('first')
      check('flickrfs pin, first', first)
      a = tally(await fake.take(), first)
      const n = await countOriginals(join(dest, 'photostream'))
      if (n !== shape.items) throw new Error(`flickrfs pin wrote ${n} of ${shape.items} originals`)
    }
    await fake.ask('reset')
    await fake.ask('log-start')
    const again = await pin('nochange')
    check('flickrfs pin, no-change run', again)
    const b = tally(await fake.take(), again)
    b.calls = await fake.log()
    return [a, b]
  } finally {
    if (keep === undefined) await leaveForLater(work)
  }
}

/** `fn` over `items`, at most `limit` at once. */
async function eachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]()
  const worker = async (): Promise<void> => {
    for (let n = it.next(); n.done !== true; n = it.next()) await fn(n.value)
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

/** Kept-alive sockets for the floor's media GETs, as pin's media client keeps them (src/flickr/media-http.ts). */
const floorAgent = new HttpAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: 'lifo' })

/**
 * A media GET over node:http, as pin makes them (not fetch, whose web streams cost more CPU per
 * request than pin's own client): redirects followed (a video's play URL), the answer's body unread.
 */
async function mediaGet(url: string, hops = 5): Promise<IncomingMessage> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url, { agent: floorAgent }, resolve).on('error', reject))
  const location = res.headers.location
  if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location !== undefined && hops > 0) {
    res.resume()
    return mediaGet(new URL(location, url).href, hops - 1)
  }
  return res
}

/** A queue of downloads that runs `limit` at once and accepts work while it runs. */
class DownloadQueue {
  private readonly waiting: Array<{ url: string; name: string }> = []
  private running = 0
  private idle: (() => void) | undefined
  private readonly writes: Array<Promise<unknown>> = []
  failures = 0

  /** `sink`: where each body goes once read whole (floor with disk); without it, dropped. */
  constructor(private readonly limit: number, private readonly sink?: (name: string, body: Uint8Array[]) => Promise<void>) {}

  /** `name`: the original's file name, for the sink. */
  add(url: string, name = ''): void {
    this.waiting.push({ url, name })
    this.pump()
  }

  private pump(): void {
    while (this.running < this.limit && this.waiting.length > 0) {
      const { url, name } = this.waiting.shift() as { url: string; name: string }
      this.running++
      void this.fetchOne(url, name).finally(() => {
        this.running--
        this.pump()
        if (this.running === 0 && this.waiting.length === 0) this.idle?.()
      })
    }
  }

  private async fetchOne(url: string, name: string): Promise<void> {
    try {
      const res = await mediaGet(url)
      // Read to the last byte; dropped, or kept for the sink.
      const body: Uint8Array[] = []
      for await (const chunk of res) if (this.sink !== undefined) body.push(chunk as Uint8Array)
      if (res.statusCode !== 200) this.failures++
      // The slot is for the transfer (as in pin): the write and its fsync go on outside it.
      else if (this.sink !== undefined) this.writes.push(this.sink(name, body).catch(() => void this.failures++))
    } catch {
      this.failures++
    }
  }

  async drained(): Promise<void> {
    if (this.running !== 0 || this.waiting.length !== 0) await new Promise<void>((r) => (this.idle = r))
    await Promise.all(this.writes)
  }
}

// Flickr's JSON, read for a handful of fields the fake is known to send.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>

const floorDownloads = (): number => number('floor-downloads', DEFAULT_PIN_CONCURRENCY)
const floorApi = (): number => number('floor-api', DEFAULT_API_CONCURRENCY)

/**
 * The calls alone of a run: the REST calls it made (the fake's log), asked again from this process
 * with nothing else done, as scripts/replay-calls.mjs asks them from a fresh one (its `replay`: as
 * many at a time as FlickrClient allows by default, DEFAULT_API_CONCURRENCY, and each only once every
 * call answered before it was asked in the run is answered again, so a set's members still wait for
 * the set list, as in the run). Wall time, and the fake's count of the calls.
 */
async function replayCalls(fake: FakeProcess, shape: Shape, calls: readonly RestCall[]): Promise<{ ms: number; api: number }> {
  const api = new FlickrClient({ ...shape.credentials, apiOrigin: shape.origin, ratePerSec: 1000 })
  await fake.ask('reset')
  const t0 = performance.now()
  await replay(api, calls)
  const ms = performance.now() - t0
  const counts = await fake.take()
  return { ms, api: Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0) }
}

/**
 * The same calls alone from a fresh Node process (scripts/replay-calls.mjs: node, flickrfs's
 * client from dist/, the calls, nothing else), timed from spawn to exit as a pin run is: the
 * floor of any Node program making them, its start included. Wall time, and the fake's count.
 */
async function replayCallsFresh(fake: FakeProcess, shape: Shape, calls: readonly RestCall[]): Promise<{ ms: number; api: number }> {
  await fake.ask('reset')
  const env = { PATH: process.env.PATH, FLICKRFS_BENCH_REPLAY: JSON.stringify({ origin: shape.origin, credentials: shape.credentials, calls }) }
  const run = await runMeasured(process.execPath, [join(REPO, 'scripts', 'replay-calls.mjs')], { env, cwd: REPO })
  if (run.code !== 0) throw new Error(`replaying the calls in a fresh process failed (exit ${run.code}): ${run.stderr.slice(-500)}`)
  const counts = await fake.take()
  return { ms: run.wallMs, api: Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0) }
}

const openFd = promisify(openCb) as (path: string, flags: number, mode: number) => Promise<number>
const fsyncFd = promisify(fsync)

/**
 * The floor with disk: the writes issue 12's durability rules ask of a first pin, and nothing else.
 * Each original and sidecar: a temp file (O_EXCL), its bytes, an fsync and a rename to its final
 * name; photostream/ fsynced once per batch of originals (batched as store/record-batch.ts batches
 * a pin's records: the first waits 50 ms for company, what comes during an fsync waits for the next);
 * each set member and each photo in no set a symlink; each set a folder and its metadata file. Made the
 * cheapest way Node allows: only the open (which creates an inode) and the fsync (which waits for the
 * disk) go through the thread pool; the write into the page cache, the close, the rename, mkdir and
 * symlink are made at once on the main thread. No times, modes, hashes, sqlite, catalog or manifest.
 */
class DiskFloor {
  private seq = 0
  private pending: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  private running = false
  private lingering = false
  /** What was made: files (each temp + write + fsync + rename), symlinks, folders, directory fsyncs (one per batch). */
  readonly made = { files: 0, links: 0, dirs: 2, dirSyncs: 0 }

  constructor(readonly dest: string) {
    mkdirSync(join(dest, '.tmp'), { recursive: true })
    mkdirSync(join(dest, 'photostream'))
  }

  /** `rel` (below DEST) made whole under its final name: temp file, write, fsync, close, rename. */
  async file(rel: string, body: readonly Uint8Array[]): Promise<void> {
    const tmp = join(this.dest, '.tmp', `${++this.seq}.part`)
    const fd = await openFd(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644)
    try {
      const bytes = body.reduce((n, c) => n + c.byteLength, 0)
      const wrote = body.length === 1 ? writeSync(fd, body[0] as Uint8Array) : writevSync(fd, body)
      if (wrote !== bytes) throw new Error(`short write of ${rel}: ${wrote} of ${bytes} bytes`)
      await fsyncFd(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, join(this.dest, rel))
    this.made.files++
  }

  /** An original: file() into photostream/, done once the batch its rename falls in has fsynced the folder. */
  async original(name: string, body: readonly Uint8Array[]): Promise<void> {
    await this.file(join('photostream', name), body)
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.kick()
    })
  }

  private kick(): void {
    if (this.running || this.lingering || this.pending.length === 0) return
    this.lingering = true
    setTimeout(() => {
      this.lingering = false
      this.start()
    }, 50)
  }

  private start(): void {
    if (this.running || this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    this.running = true
    this.made.dirSyncs++
    void (async () => {
      const fd = await openFd(join(this.dest, 'photostream'), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY, 0)
      try {
        await fsyncFd(fd)
      } finally {
        closeSync(fd)
      }
    })().then(() => batch.forEach((b) => b.resolve()), (err: unknown) => batch.forEach((b) => b.reject(err))).finally(() => {
      this.running = false
      this.start()
    })
  }

  /**
   * After the downloads, as pin writes its tree: a sidecar per photo (its listing record and
   * comments), then each set's folder, metadata and numbered links, and the links of photos in no
   * set; 16 at a time, as write-tree.ts.
   */
  async tree(photos: ReadonlyArray<{ name: string; rec: Rec }>, comments: ReadonlyMap<string, Rec>, sets: ReadonlyArray<{ rec: Rec; members: string[] }>): Promise<void> {
    const nameOf = new Map(photos.map((p) => [String(p.rec.id), p.name]))
    await eachLimit(photos, 16, async ({ name, rec }) => {
      const sidecar = { ...rec, ...(comments.has(String(rec.id)) ? { comments: comments.get(String(rec.id)) } : {}) }
      await this.file(join('photostream', `${name}.metadata`), [Buffer.from(JSON.stringify(sidecar, null, 2))])
    })
    const inASet = new Set<string>()
    // Numbered in a set (`<n>_<id>.<ext>`), plain in Not in any set (docs/LAYOUT.md).
    const linkAll = (dir: string, ids: readonly string[], numbered: boolean): void => {
      const width = String(ids.length).length
      ids.forEach((id, i) => {
        const name = nameOf.get(id)
        const link = numbered ? `${String(i + 1).padStart(width, '0')}_${name}` : name
        if (name === undefined) return
        symlinkSync(`../photostream/${name}`, join(this.dest, dir, link as string))
        this.made.links++
      })
    }
    await eachLimit(sets, 16, async ({ rec, members }) => {
      const dir = `Set ${String(rec.id)}`
      mkdirSync(join(this.dest, dir))
      this.made.dirs++
      await this.file(join(dir, 'metadata'), [Buffer.from(JSON.stringify({ ...rec, photos: members }, null, 2))])
      linkAll(dir, members, true)
      members.forEach((id) => inASet.add(id))
    })
    mkdirSync(join(this.dest, 'Not in any set'))
    this.made.dirs++
    linkAll('Not in any set', photos.map((p) => String(p.rec.id)).filter((id) => !inASet.has(id)), false)
  }
}

/**
 * The latency floor: the API calls of a first pin and one GET per original, overlapped as pin can
 * overlap them (16 API calls and 32 downloads in flight by default), with nothing written anywhere;
 * with `disk` (a folder to make DEST in), the floor with disk: the same, plus the writes of
 * DiskFloor (each original as its body is in, the sidecars and set links once all are).
 */
async function floorRun(fake: FakeProcess, shape: Shape, disk?: string): Promise<Measured & Pick<FloorWork, 'made' | 'process'>> {
  const dest = disk === undefined ? undefined : await mkdtemp(join(disk, 'flickrfs-bench-floor-'))
  await fake.ask('reset')
  let w: FloorWork
  try {
    w = has('floor-fresh') ? await floorInChild(shape, dest) : await floorWork(shape, dest)
  } finally {
    if (dest !== undefined) await leaveForLater(dest)
  }
  const m = tally(await fake.take(), w)
  return { ...m, ...(w.made === undefined ? {} : { made: w.made }), ...(w.process === undefined ? {} : { process: w.process }) }
}

interface FloorWork {
  wallMs: number
  userMs: number
  sysMs: number
  maxRssKb: number
  made?: DiskFloor['made']
  /**
   * The floor's whole process (--floor-fresh): its CPU from node's start to the end of its work,
   * tsx's loading and compiling of bench/ and src/ included. userMs/sysMs count from the floor's
   * start only, while a pin's CPU (GNU time) is its whole process, start-up included: compare a
   * pin with the floor between these two.
   */
  process?: { userMs: number; sysMs: number }
}

/**
 * --floor-fresh: the floor (with disk when `dest` is given) in a process of its own, as a pin runs
 * in one: its code is compiled and optimised during the run (the first run in this process pays
 * that, the later ones do not). Its CPU is still counted from the floor's start, after its modules
 * are loaded; its RSS is the whole child's.
 */
async function floorInChild(shape: Shape, dest: string | undefined): Promise<FloorWork> {
  const pass = ['--floor-api', String(floorApi()), '--floor-downloads', String(floorDownloads())]
  const [cmd, ...wrapArgs] = [...floorWrap(), process.execPath]
  const child = spawn(cmd, [...wrapArgs, '--import', 'tsx', self, '--floor-child', ...pass], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // The same libuv pool as `flickrfs pin` gets (bin/flickrfs): the floor with disk's fsyncs share
    // journal commits as the pin's do, so the floor says what the disk costs a pin, not a 4-thread one.
    env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16', FLICKRFS_BENCH_FLOOR: JSON.stringify({ shape, dest }) },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | null>((r) => child.on('close', r))
  if (code !== 0) throw new Error(`floor in a child process failed (exit ${code})`)
  return JSON.parse(out) as FloorWork
}

/** The floor's work itself (floorRun), in this process: its wall time and this process's CPU over it. */
async function floorWork(shape: Shape, dest: string | undefined): Promise<FloorWork> {
  const creds: FakeCredentials = shape.credentials
  const api = new FlickrClient({ ...creds, apiOrigin: shape.origin, ratePerSec: 1000, concurrency: floorApi() })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const out = dest === undefined ? undefined : new DiskFloor(dest)
  const downloads = new DownloadQueue(floorDownloads(), out === undefined ? undefined : (name, body) => out.original(name, body))
  const photos: Array<{ name: string; rec: Rec }> = []
  const comments = new Map<string, Rec>()
  const setMembers: Array<{ rec: Rec; members: string[] }> = []
  const apiWork: Array<Promise<void>> = []
  const photoPage = async (page: number): Promise<Rec> => {
    const rsp: Rec = await api.call('flickr.people.getPhotos', { user_id: 'me', extras: PHOTO_EXTRAS.join(','), per_page: '500', page: String(page) })
    for (const p of rsp.photos.photo as Rec[]) {
      const id = String(p.id)
      if (Number(p.count_comments ?? 0) > 0) {
        apiWork.push(api.call('flickr.photos.comments.getList', { photo_id: id }).then((c: Rec) => {
          if (out !== undefined) comments.set(id, c.comments?.comment ?? [])
        }))
      }
      if (p.media === 'video') {
        const name = `${id}.mp4`
        if (out !== undefined) photos.push({ name, rec: p })
        apiWork.push(api.call('flickr.photos.getSizes', { photo_id: id }).then((s: Rec) => {
          const orig = (s.sizes.size as Rec[]).find((z) => z.label === 'Video Original')
          if (orig !== undefined) downloads.add(String(orig.source), name)
        }))
      } else {
        const name = `${id}.${String(p.originalformat ?? 'jpg').toLowerCase()}`
        if (out !== undefined) photos.push({ name, rec: p })
        downloads.add(String(p.url_o), name)
      }
    }
    return rsp
  }
  const login: Rec = await api.call('flickr.test.login')
  const userId = String(login.user.id)
  const first = await photoPage(1)
  const pages = Number(first.photos.pages)
  const rest = Array.from({ length: Math.max(0, pages - 1) }, (_, i) => i + 2)
  const sets = (async () => {
    const list: Rec = await api.call('flickr.photosets.getList', { per_page: '500', page: '1' })
    const all: Rec[] = [...(list.photosets.photoset as Rec[])]
    for (let p = 2; p <= Number(list.photosets.pages); p++) {
      const more: Rec = await api.call('flickr.photosets.getList', { per_page: '500', page: String(p) })
      all.push(...(more.photosets.photoset as Rec[]))
    }
    await eachLimit(all, 8, async (s) => {
      const members: string[] = []
      let page = 1
      for (let pages = 1; page <= pages; page++) {
        const r: Rec = await api.call('flickr.photosets.getPhotos', { photoset_id: String(s.id), user_id: userId, per_page: '500', page: String(page) })
        pages = Number(r.photoset.pages)
        if (out !== undefined) for (const m of r.photoset.photo as Rec[]) members.push(String(m.id))
      }
      if (out !== undefined) setMembers.push({ rec: s, members })
    })
  })()
  const tree = api.call('flickr.collections.getTree')
  await Promise.all([...rest.map(photoPage), sets, tree])
  // apiWork grows while pages arrive; all pages are in by now.
  await Promise.all(apiWork)
  await downloads.drained()
  if (out !== undefined && downloads.failures === 0) await out.tree(photos, comments, setMembers)
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (downloads.failures > 0) throw new Error(`floor: ${downloads.failures} downloads failed`)
  const all = process.resourceUsage()
  const w: FloorWork = {
    wallMs: ms, userMs: cpu.user / 1000, sysMs: cpu.system / 1000, maxRssKb: all.maxRSS,
    process: { userMs: all.userCPUTime / 1000, sysMs: all.systemCPUTime / 1000 },
  }
  return out === undefined ? w : { ...w, made: out.made }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const per = (n: number, items: number): string => (n / items).toFixed(3).replace(/\.?0+$/, '') || '0'

function summary(label: string, ms: Measured[], items: number, base?: number): string {
  const wall = median(ms.map((m) => m.ms))
  const cpu = median(ms.map((m) => m.cpuMs))
  const rss = median(ms.map((m) => m.maxRssKb))
  const m = ms[ms.length - 1] as Measured
  const ratio = base === undefined ? '' : ` | ${(base / wall).toFixed(1)}×`
  const user = median(ms.map((m) => m.userMs)) / items
  const sys = median(ms.map((m) => m.sysMs)) / items
  return `| ${label} | ${s(wall)} (${ms.map((x) => (x.ms / 1000).toFixed(2)).join(', ')}) | ${(cpu / items).toFixed(2)} ms (${user.toFixed(2)} / ${sys.toFixed(2)}) | ` +
    `${Number.isNaN(rss) ? '?' : (rss / 1024).toFixed(0)} MB | ${m.api} (${per(m.api, items)}) | ` +
    `${m.get} / ${m.head} / ${m.play} (${per(m.get, items)} / ${per(m.head, items)} / ${per(m.play, items)})${ratio} |`
}

async function main(): Promise<void> {
  const items = number('items', 700)
  const apiLatency = number('api-latency', 50)
  const mediaLatency = number('media-latency', 20)
  const tiny = has('tiny') || items >= 10_000
  const seed = number('seed', 700)
  if (args[0] === '--serve') return serve(items, apiLatency, mediaLatency, tiny, seed, number('port', 0))
  if (args[0] === '--floor-child') {
    const { shape, dest } = JSON.parse(process.env.FLICKRFS_BENCH_FLOOR ?? '{}') as { shape: Shape; dest?: string }
    process.stdout.write(JSON.stringify(await floorWork(shape, dest)))
    return
  }
  const runs = number('runs', 3)
  // A kept DEST's catalog holds the fake's URLs (url_o): the fake answers on the same port every
  // time, or a full listing would find every record changed.
  const portFile = keepDir() === undefined ? undefined : join(keepDir() as string, 'fake-port')
  const port = portFile === undefined ? 0 : Number(await readFile(portFile, 'utf8').catch(() => '0'))
  const proc = spawn(process.execPath, ['--import', 'tsx', self, '--serve', '--items', String(items), '--api-latency', String(apiLatency),
    '--media-latency', String(mediaLatency), '--seed', String(seed), '--port', String(port), ...(tiny ? ['--tiny'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] })
  const fake = new FakeProcess(proc)
  const shape = JSON.parse(await fake.next()) as Shape
  if (portFile !== undefined) {
    await mkdir(keepDir() as string, { recursive: true })
    await writeFile(portFile, new URL(shape.origin).port)
  }
  console.log(`account: ${shape.items} items (${shape.items - shape.videos} photos, ${shape.videos} videos), ${(shape.bytes / 1e6).toFixed(1)} MB, ` +
    `${shape.sets} sets, ${shape.collections} collections, ${shape.commented} commented; latency API ${apiLatency} ms, media ${mediaLatency} ms`)

  // The original tool waits for every request in turn: at least one API call per set and per 500
  // items, and one media request per original.
  const sequentialMs = (Math.ceil(shape.items / 500) * 2 + shape.sets + 3) * apiLatency + (shape.items + 3 * shape.videos) * mediaLatency
  let tool: Tool | undefined
  if (has('no-original')) console.log('original tool: skipped (--no-original)')
  else if (sequentialMs > 600_000 && !has('original')) {
    console.log(`original tool: skipped, its request latency alone is ${(sequentialMs / 60_000).toFixed(0)} min per first mirror (--original runs it anyway)`)
  } else {
    const found = await locateTool()
    if ('unavailable' in found) {
      console.log(`original tool: cannot be run here (${found.unavailable}). Reference figures from issue 12 (700 items, same latencies):`)
      for (const line of REFERENCE) console.log(`  ${line}`)
    } else {
      tool = found
      console.log(`original tool: ${tool.origin}`)
    }
  }

  const orig: [Measured[], Measured[]] = [[], []]
  const ours: [Measured[], Measured[]] = [[], []]
  const floor: Measured[] = []
  const floorDisk: Array<Measured & Pick<FloorWork, 'made' | 'process'>> = []
  const callsAlone: number[] = []
  const callsFresh: number[] = []
  try {
    for (let r = 0; r < runs; r++) {
      const steps: Array<'original' | 'flickrfs' | 'floor' | 'floor-disk'> = r % 2 === 0
        ? ['original', 'flickrfs', 'floor', 'floor-disk']
        : ['floor-disk', 'floor', 'flickrfs', 'original']
      for (const step of steps) {
        if (step === 'original') {
          if (tool === undefined) continue
          const [a, b] = await originalRuns(fake, shape, tool)
          orig[0].push(a)
          orig[1].push(b)
          console.log(`run ${r + 1} original  first ${s(a.ms)} (CPU ${s(a.cpuMs)}), ${a.api} API, ${a.get} GET ${a.head} HEAD ${a.play} play; no-change ${s(b.ms)}, ${b.api} API, ${b.get + b.head + b.play} media`)
        } else if (step === 'flickrfs') {
          if (has('no-flickrfs')) continue
          const [a, b] = await flickrfsRuns(fake, shape)
          if (a !== undefined) ours[0].push(a)
          ours[1].push(b)
          const alone = await replayCalls(fake, shape, b.calls ?? [])
          callsAlone.push(alone.ms)
          console.log(`run ${r + 1} no-change run's ${alone.api} calls alone (replayed): ${s(alone.ms)}; the run ÷ its calls: ${(b.ms / alone.ms).toFixed(2)}`)
          const fresh = await replayCallsFresh(fake, shape, b.calls ?? [])
          callsFresh.push(fresh.ms)
          console.log(`run ${r + 1} no-change run's ${fresh.api} calls alone from a fresh Node process: ${s(fresh.ms)}; the run ÷ those: ${(b.ms / fresh.ms).toFixed(2)}`)
          const firstText = a === undefined ? 'first: kept DEST' : `first ${s(a.ms)} (CPU ${s(a.cpuMs)}: user ${s(a.userMs)}, sys ${s(a.sysMs)}), ${a.api} API, ${a.get} GET ${a.head} HEAD ${a.play} play`
          console.log(`run ${r + 1} flickrfs  ${firstText}; no-change ${s(b.ms)} (CPU ${s(b.cpuMs)}), ${b.api} API, ${b.get + b.head + b.play} media`)
        } else if (step === 'floor-disk') {
          if (has('no-floor') || has('no-floor-disk')) continue
          const f = await floorRun(fake, shape, destDir())
          floorDisk.push(f)
          console.log(`run ${r + 1} floor+disk ${s(f.ms)} (CPU ${s(f.cpuMs)}: user ${s(f.userMs)}, sys ${s(f.sysMs)}), ${f.api} API, ${f.get} GET ${f.head} HEAD ${f.play} play; made ${f.made?.files} files, ${f.made?.links} links, ${f.made?.dirs} folders, ${f.made?.dirSyncs} directory fsyncs${wholeProcess(f)}`)
        } else {
          if (has('no-floor')) continue
          const f = await floorRun(fake, shape)
          floor.push(f)
          console.log(`run ${r + 1} floor     ${s(f.ms)} (CPU ${s(f.cpuMs)}: user ${s(f.userMs)}, sys ${s(f.sysMs)}), ${f.api} API, ${f.get} GET ${f.head} HEAD ${f.play} play${wholeProcess(f)}`)
        }
      }
    }
  } finally {
    await fake.close()
    await tool?.cleanup()
    for (const dir of leftovers) await rm(dir, { recursive: true, force: true })
  }

  const n = shape.items
  console.log(`\nmedians of ${runs} (${new Date().toISOString().slice(0, 16)}Z, load ${(await loadAvg()).join(' ')}); requests per original in parentheses`)
  console.log('| measure | wall (runs) | CPU per item (user / sys) | peak RSS | API calls | media GET / HEAD / play redirects | original ÷ this |')
  console.log('|---|---|---|---|---|---|---|')
  const o0 = orig[0].length > 0 ? median(orig[0].map((m) => m.ms)) : undefined
  const o1 = orig[1].length > 0 ? median(orig[1].map((m) => m.ms)) : undefined
  if (o0 !== undefined) console.log(summary('original tool, first mirror', orig[0], n, o0))
  if (ours[0].length > 0) console.log(summary('flickrfs pin, first', ours[0], n, o0))
  if (floor.length > 0) console.log(summary('latency floor (no disk)', floor, n, o0))
  if (floorDisk.length > 0) console.log(summary('floor with disk (minimal durable writes)', floorDisk, n, o0))
  if (o1 !== undefined) console.log(summary('original tool, no-change run', orig[1], n, o1))
  if (ours[1].length > 0) console.log(summary('flickrfs pin, no-change run', ours[1], n, o1))
  const f = median(floor.map((m) => m.ms))
  const fl = floor[floor.length - 1]
  const waitMs = fl === undefined ? NaN : Math.max(fl.api * apiLatency / floorApi(), (fl.get + fl.play) * mediaLatency / floorDownloads())
  if (floor.length > 0 && ours[0].length > 0) {
    console.log(`flickrfs first pin ÷ floor: ${(median(ours[0].map((m) => m.ms)) / f).toFixed(2)}; ` +
      `the floor's latency alone (${floorApi()} API calls, ${floorDownloads()} downloads in flight): ${s(waitMs)}`)
  }
  if (floorDisk.length > 0) {
    const cpu = (ms: Measured[]): number => median(ms.map((m) => m.cpuMs)) / n
    const disk = cpu(floorDisk) - (floor.length > 0 ? cpu(floor) : NaN)
    console.log(`floor with disk: ${cpu(floorDisk).toFixed(2)} ms of CPU per item, of which the writes ${disk.toFixed(2)} ms (against the floor without disk, same run); ` +
      `DEST on ${destDir()}` + (ours[0].length > 0 ? `; flickrfs first pin − floor with disk: ${(cpu(ours[0]) - cpu(floorDisk)).toFixed(2)} ms per item` : ''))
    const whole = floorDisk.flatMap((m) => (m.process === undefined ? [] : [m.process]))
    if (whole.length > 0) {
      const user = median(whole.map((p) => p.userMs)) / n
      const sys = median(whole.map((p) => p.sysMs)) / n
      console.log(`floor with disk, its whole process (tsx start-up included; a pin's CPU is its whole process too): ${(user + sys).toFixed(2)} ms per item (${user.toFixed(2)} / ${sys.toFixed(2)})`)
    }
  }
  if (callsAlone.length > 0) {
    const ncMs = median(ours[1].map((m) => m.ms))
    console.log(`flickrfs no-change run ${s(ncMs)} ÷ its calls alone ${s(median(callsAlone))} (median of ${callsAlone.length}, replayed in the same run): ${(ncMs / median(callsAlone)).toFixed(2)}`)
    console.log(`flickrfs no-change run ${s(ncMs)} ÷ its calls alone from a fresh Node process ${s(median(callsFresh))} (median of ${callsFresh.length}, same run): ${(ncMs / median(callsFresh)).toFixed(2)}`)
  }
  const nc = ours[1][ours[1].length - 1]
  if (nc !== undefined) console.log(`API calls by method, flickrfs no-change run: ${Object.entries(nc.byMethod).map(([k, v]) => `${k.replace('flickr.', '')} ${v}`).join(', ')}`)
  const a = ours[0][ours[0].length - 1]
  const b = floor[floor.length - 1]
  if (a !== undefined && b !== undefined) {
    const methods = [...new Set([...Object.keys(a.byMethod), ...Object.keys(b.byMethod)])].sort()
    console.log(`API calls by method, flickrfs / floor: ${methods.map((k) => `${k.replace('flickr.', '')} ${a.byMethod[k] ?? 0}/${b.byMethod[k] ?? 0}`).join(', ')}`)
  }
  const c = orig[0][orig[0].length - 1]
  if (c !== undefined) console.log(`API calls by method, original tool: ${Object.entries(c.byMethod).map(([k, v]) => `${k.replace('flickr.', '')} ${v}`).join(', ')}`)
}

async function loadAvg(): Promise<string[]> {
  const { loadavg } = await import('node:os')
  return loadavg().map((x) => x.toFixed(1))
}

await main()
