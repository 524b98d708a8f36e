/**
 * The lstat check of a tree record (tree-record.ts): every recorded entry lstat'ed and compared
 * with its five recorded numbers (ino, size, mode, mtime, ctime).
 *
 * One lstat is a few microseconds of system time, and a no-change pin of 50,000 items makes
 * ~102,000 of them (its ~64,000 links are left to their folders: tree-record.ts linksVouchedFor):
 * more than its calls take. So a worker thread (WORKERS) starts on them once the refresh's calls
 * are out, and this thread joins in once the calls are answered (pin.ts RecordCheck), a hundred or
 * so per turn of the event loop: while the calls are out this thread only handles their answers, at
 * once, since each answer sends the call that follows it (getList's next page, the sets to list);
 * a small tree without a worker is checked here from the start. All take folders' chunks from one
 * shared counter: whichever has the CPU does more, so none waits on another when the machine is
 * busy. All run the same function, `checkChunks`: a worker gets its source text (an eval'd worker
 * needs no module of its own, which neither tsx nor a build would have to provide), so it must use
 * nothing from outside.
 */
import { lstatSync, statfsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'

/** ino, size, mode, mtimeMs, ctimeMs. */
export const NUMBERS_PER_ENTRY = 5

/** Names per chunk of a record (the unit split between the two threads). */
export const CHUNK_NAMES = 4096

/** Entries checked before the event loop gets a turn (this thread's part: ~1 ms). */
const CHECKS_PER_TURN = 128

/** Below this many entries the worker's start-up (~20 ms) costs more than it saves. */
const WORKER_FROM = 20_000

/**
 * Worker threads for a big tree. One: this thread is wanted free while the refresh's calls are out
 * (pin.ts joins it in only once they are answered: an answer handled late holds up the call that
 * follows it), so the worker does the lstats then, and this thread helps with what is left. A second
 * worker (`workers: 2`) would use both cores while the calls are out, but on this project's 2-core
 * machine it cost ~0.2 s more CPU at 50,000 items for no wall time measurable under load
 * (bench/RESULTS.md "nochange-7").
 */
const WORKERS = 1

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
   * This thread joins in (pin.ts calls it once the refresh's calls are answered, or at once when
   * there is no worker); resolves to the path of the first entry that is not as recorded, or ''
   * when all are. Never rejects: a worker that fails answers "differs".
   */
  finish(): Promise<string>
  /** Nothing more is checked (the answer is not wanted); resolves once every thread has stopped. */
  cancel(): Promise<void>
  /** The workers' answer for the chunks they took ('' when there is no worker): all of them when this thread has not joined yet. */
  readonly worker: Promise<string>
  /** Worker threads started (none for a small tree: this thread checks it alone, from `finish()`). */
  readonly workers: number
}

/**
 * Starts the check of every entry of `chunks` (see the top): in `workers` worker threads at once
 * (WORKERS) when there are enough entries, here only from `finish()`. `numbers` should be
 * on a SharedArrayBuffer (the record's are: tree-record.ts parseTreeRecord), or each worker gets a
 * copy. `workerFrom`: the number of entries from which workers are used (WORKER_FROM; tests force it).
 */
export function startCheck(dest: string, chunks: readonly Chunk[], numbers: Float64Array, opts: { workerFrom?: number; workers?: number } = {}): EntriesCheck {
  const total = numbers.length / NUMBERS_PER_ENTRY
  const starts = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, chunks.length)))
  for (let i = 0, at = 0; i < chunks.length; i++) {
    starts[i] = at
    at += countNames((chunks[i] as Chunk)[1])
  }
  const shared = new Int32Array(new SharedArrayBuffer(8))
  const count = total >= (opts.workerFrom ?? WORKER_FROM) ? (opts.workers ?? WORKERS) : 0
  const answers = Array.from({ length: count }, () => inWorker({ dest, chunks, starts, numbers, shared }))
  // The first difference any worker found ('' when none did), once all have stopped.
  const theirs = Promise.all(answers).then((all) => all.find((a) => a !== '') ?? '')
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
    workers: count,
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
