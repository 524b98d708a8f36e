/**
 * The lstat check of a tree record (tree-record.ts): every recorded entry lstat'ed and compared
 * with its five recorded numbers (ino, size, mode, mtime, ctime).
 *
 * One lstat is a few microseconds of system time, and a no-change pin of 50,000 items makes
 * ~102,000 of them (its ~64,000 links are left to their folders: tree-record.ts linksVouchedFor):
 * more than its calls take. So a worker thread starts on them as soon as the record is read (while
 * this thread opens the catalog and sends the refresh's calls), and this thread joins in once the
 * calls are out, between their answers (a few hundred per turn of the event loop, so those answers
 * are not held up). The two take folders' chunks from one shared counter: whichever has the CPU
 * does more, so neither waits on the other when the machine is busy, or when the answers keep this
 * thread occupied. Both run the same function, `checkChunks`: the worker gets its source text (an
 * eval'd worker needs no module of its own, which neither tsx nor a build would have to provide),
 * so it must use nothing from outside.
 *
 * A folder of FIND_FROM recorded entries or more (photostream/) is listed by one GNU find instead
 * (tree-find.ts), started with the check, in its own process; without GNU find it is lstat'ed too.
 */
import { lstatSync, statfsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import createDebug from '../util/debug.js'
import { findFolder, type FolderListing } from './tree-find.js'

const log = createDebug('flickrfs:pin')

/** ino, size, mode, mtimeMs, ctimeMs. */
export const NUMBERS_PER_ENTRY = 5

/** Names per chunk of a record (the unit split between the two threads). */
export const CHUNK_NAMES = 4096

/** Entries checked before the event loop gets a turn (this thread's part). */
const CHECKS_PER_TURN = 512

/** Below this many entries the worker's start-up (~20 ms) costs more than it saves. */
const WORKER_FROM = 20_000

/**
 * Filesystems (statfs f_type) whose ctime is set by the kernel at every change of a file's bytes or
 * times and cannot be set by a user: ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ZFS, bcachefs. On others
 * (FAT and exFAT keep no such time, network filesystems take the server's) every sidecar is read.
 */
const CTIME_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x2fc12fc1, 0xca451a4e])

export function keepsCtime(path: string): boolean {
  try {
    return CTIME_FILESYSTEMS.has(statfsSync(path).type)
  } catch {
    return false
  }
}

/** Paths relative to DEST, by folder ('' is DEST itself's folder), at most CHUNK_NAMES names each, joined by '/'. */
export type Chunk = [dir: string, names: string]

/** The slot of the Int32Array shared by both threads (checkChunks) that says "stop". */
const STOP = 1

/**
 * Checks the chunks it claims from `shared` (slot 0: the next chunk, taken with the other thread;
 * slot 1, STOP: set once either found a difference or the answer is no longer wanted; `starts[i]`
 * is chunk i's first entry) against `numbers` (NUMBERS_PER_ENTRY each, in order: ino, size, mode,
 * mtimeMs, ctimeMs, as tree-record.ts writeTreeRecord records them): yields every `perTurn`
 * entries, returns the first entry that differs (or is missing) and sets STOP, or '' once no
 * chunk is left or the other thread has set STOP. Self-contained (see the top): everything it
 * uses is a parameter.
 */
function* checkChunks(
  lstat: typeof lstatSync, dest: string, chunks: readonly Chunk[], starts: Int32Array, numbers: Float64Array, shared: Int32Array, perTurn: number,
): Generator<void, string> {
  let done = 0
  for (;;) {
    const i = Atomics.add(shared, 0, 1)
    if (i >= chunks.length || Atomics.load(shared, 1) !== 0) return ''
    const [dir, joined] = chunks[i] as Chunk
    const base = dir === '' ? `${dest}/` : `${dest}/${dir}/`
    let at = (starts[i] as number) * 5
    for (const name of joined.split('/')) {
      let st
      try {
        st = lstat(base + name, { throwIfNoEntry: false })
      } catch {
        st = undefined
      }
      if (st === undefined || numbers[at] !== st.ino || numbers[at + 1] !== st.size || numbers[at + 2] !== st.mode ||
        numbers[at + 3] !== st.mtimeMs || numbers[at + 4] !== st.ctimeMs) {
        Atomics.store(shared, 1, 1)
        return base + name
      }
      at += 5
      if (++done % perTurn === 0) {
        yield
        if (Atomics.load(shared, 1) !== 0) return ''
      }
    }
  }
}

/** The worker's program: checkChunks over what it is given, then the answer. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { lstatSync } = require('node:fs')
const checkChunks = ${checkChunks.toString()}
const { dest, chunks, starts, numbers, shared } = workerData
const run = checkChunks(lstatSync, dest, chunks, starts, numbers, shared, Infinity)
let r = run.next()
while (r.done !== true) r = run.next()
parentPort.postMessage(r.value)
`

/** A check under way (startCheck). */
export interface EntriesCheck {
  /**
   * This thread joins in (call it once the refresh's calls are out); resolves to the path of the
   * first entry that is not as recorded, or '' when all are. Never rejects: a worker that fails
   * answers "differs".
   */
  finish(): Promise<string>
  /** Nothing more is checked (the answer is not wanted); resolves once both threads have stopped. */
  cancel(): Promise<void>
  /** The worker's answer for the chunks it took ('' when there is no worker): all of them when this thread has not joined yet. */
  readonly worker: Promise<string>
}

/**
 * Starts the check of every entry of `chunks` (see the top): the folders of at least `findFrom`
 * recorded entries (FIND_FROM; photostream/) by one GNU find each (tree-find.ts), at once; the rest
 * by lstat, in a worker thread at once when there are enough of them, here only from `finish()`. A
 * folder find cannot list (no GNU find, any failure) is lstat'ed instead, as the rest.
 * `numbers` should be on a SharedArrayBuffer (the record's are: tree-record.ts readTreeRecord), or
 * the worker gets a copy. `workerFrom`, `findFrom`: tests force them; `find`: the program.
 */
export function startCheck(
  dest: string, chunks: readonly Chunk[], numbers: Float64Array, opts: { workerFrom?: number; findFrom?: number; find?: string } = {},
): EntriesCheck {
  const starts: number[] = []
  const counts = new Map<string, number>()
  for (let i = 0, at = 0; i < chunks.length; i++) {
    const [dir, joined] = chunks[i] as Chunk
    const n = countNames(joined)
    starts.push(at)
    at += n
    counts.set(dir, (counts.get(dir) ?? 0) + n)
  }
  const findFrom = opts.findFrom ?? FIND_FROM
  const big = new Set([...counts].filter(([, n]) => n >= findFrom).map(([dir]) => dir))
  const rest = part(chunks, starts, (dir) => !big.has(dir))
  const workerFrom = opts.workerFrom ?? WORKER_FROM
  const lstats = lstatCheck(dest, rest.chunks, rest.starts, numbers, workerFrom)
  const finds = [...big].map((dir) => findCheck(dest, dir, part(chunks, starts, (d) => d === dir), numbers, workerFrom, opts.find))
  const all = [lstats, ...finds]
  const first = async (answers: Array<Promise<string>>): Promise<string> => {
    // The first difference stops the other parts (nothing is left running past the check).
    const found = await Promise.all(answers.map((a) => a.then((differs) => {
      if (differs !== '') void Promise.all(all.map((c) => c.cancel()))
      return differs
    })))
    return found.find((d) => d !== '') ?? ''
  }
  let mine: Promise<string> | undefined
  return {
    worker: lstats.worker,
    finish: () => (mine ??= first(all.map((c) => c.finish()))),
    async cancel(): Promise<void> {
      await Promise.all(all.map((c) => c.cancel()))
    },
  }
}

/** Below this many recorded entries in a folder, one find process (~10 ms to start) costs more than the lstats it saves. */
const FIND_FROM = 10_000

/** The chunks of the folders `keep` takes, with their first entries' indexes. */
function part(chunks: readonly Chunk[], starts: readonly number[], keep: (dir: string) => boolean): { chunks: Chunk[]; starts: Int32Array } {
  const kept: Chunk[] = []
  const at: number[] = []
  chunks.forEach((chunk, i) => {
    if (!keep(chunk[0])) return
    kept.push(chunk)
    at.push(starts[i] as number)
  })
  const shared = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, at.length)))
  shared.set(at)
  return { chunks: kept, starts: shared }
}

/**
 * The entries of `dir`'s chunks checked against one find of it (tree-find.ts): each recorded name
 * must be listed with its five numbers. When find cannot list it, they are lstat'ed (lstatCheck).
 */
function findCheck(dest: string, dir: string, own: { chunks: Chunk[]; starts: Int32Array }, numbers: Float64Array, workerFrom: number, program?: string): EntriesCheck {
  const find = findFolder(`${dest}/${dir}`, program)
  let stopped = false
  let fallback: EntriesCheck | undefined
  const answer = find.listing.then((listing) => {
    if (stopped) return ''
    if (listing !== undefined) {
      log('tree check: find listed %d entries of %s', listing.index.size, dir)
      return compareListing(dest, own, numbers, listing)
    }
    log('tree check: find did not list %s; lstat of each entry', dir)
    fallback = lstatCheck(dest, own.chunks, own.starts, numbers, workerFrom)
    return fallback.finish()
  })
  return {
    worker: Promise.resolve(''),
    finish: () => answer,
    async cancel(): Promise<void> {
      stopped = true
      find.stop()
      await fallback?.cancel()
      await answer
    },
  }
}

/** The path of the first entry of `own` that `listing` lacks or lists with other numbers, or ''. */
function compareListing(dest: string, own: { chunks: Chunk[]; starts: Int32Array }, numbers: Float64Array, listing: FolderListing): string {
  const { index, numbers: listed } = listing
  for (let i = 0; i < own.chunks.length; i++) {
    const [dir, joined] = own.chunks[i] as Chunk
    let at = (own.starts[i] as number) * NUMBERS_PER_ENTRY
    for (const name of joined.split('/')) {
      const j = index.get(name)
      const l = j === undefined ? -1 : j * NUMBERS_PER_ENTRY
      if (l === -1 || listed[l] !== numbers[at] || listed[l + 1] !== numbers[at + 1] || listed[l + 2] !== numbers[at + 2] ||
        listed[l + 3] !== numbers[at + 3] || listed[l + 4] !== numbers[at + 4]) return `${dest}/${dir}/${name}`
      at += NUMBERS_PER_ENTRY
    }
  }
  return ''
}

/**
 * The lstat check of `chunks` (their first entries at `starts`): in a worker thread at once when
 * they hold `workerFrom` entries or more, here from `finish()`, both taking chunks from one counter.
 */
function lstatCheck(dest: string, chunks: readonly Chunk[], starts: Int32Array, numbers: Float64Array, workerFrom: number): EntriesCheck {
  let total = 0
  for (const [, joined] of chunks) total += countNames(joined)
  const shared = new Int32Array(new SharedArrayBuffer(8))
  const theirs = chunks.length > 0 && total >= workerFrom ? inWorker({ dest, chunks, starts, numbers, shared }) : Promise.resolve('')
  let mine: Promise<string> | undefined
  const finish = async (): Promise<string> => {
    const run = checkChunks(lstatSync, dest, chunks, starts, numbers, shared, CHECKS_PER_TURN)
    let differs = ''
    for (let r = run.next(); ; r = run.next()) {
      if (r.done === true) {
        differs = r.value
        break
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    // The worker's answer too, whatever this part found: nothing is left running past the check.
    const other = await theirs
    return differs !== '' ? differs : other
  }
  return {
    worker: theirs,
    finish: () => (mine ??= finish()),
    async cancel(): Promise<void> {
      Atomics.store(shared, STOP, 1)
      await Promise.all([theirs, mine])
    },
  }
}

interface WorkerData {
  dest: string
  chunks: readonly Chunk[]
  starts: Int32Array
  numbers: Float64Array
  shared: Int32Array
}

function inWorker(data: WorkerData): Promise<string> {
  return new Promise((resolve) => {
    let answered = false
    const answer = (value: string): void => {
      if (answered) return
      answered = true
      resolve(value)
    }
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data })
      worker.once('message', (value: unknown) => answer(typeof value === 'string' ? value : data.dest))
      worker.once('error', () => answer(data.dest))
      worker.once('exit', () => answer(data.dest))
    } catch {
      answer(data.dest)
    }
  })
}

function countNames(joined: string): number {
  let n = 1
  for (let i = joined.indexOf('/'); i !== -1; i = joined.indexOf('/', i + 1)) n++
  return n
}
