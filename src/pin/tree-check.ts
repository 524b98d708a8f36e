/**
 * The lstat check of a tree record (tree-record.ts): every recorded entry lstat'ed and compared
 * with its five recorded numbers (ino, size, mode, mtime, ctime).
 *
 * One lstat is a few microseconds of system time, and a no-change pin of 50,000 items makes
 * ~102,000 of them (its ~64,000 links are left to their folders: tree-record.ts linksVouchedFor):
 * more than its calls take. So a worker thread (WORKERS) is started as soon as the pin has found
 * the record: it reads and parses the record itself (this thread is opening the catalog and making
 * the calls) and starts its lstats once the refresh's calls are out (`gated`, go()). This thread
 * joins in once the calls are answered (pin.ts RecordCheck), reading the record only if chunks are
 * left then, a hundred or
 * so per turn of the event loop: while the calls are out this thread only handles their answers, at
 * once, since each answer sends the call that follows it (getList's next page, the sets to list);
 * a small tree without a worker is checked here from the start. All take folders' chunks from one
 * shared counter: whichever has the CPU does more, so none waits on another when the machine is
 * busy. All run the same functions, `checkChunks` and `parseRecordBytes`: a worker gets their
 * source text (an eval'd worker needs no module of its own, which neither tsx nor a build would
 * have to provide), so they must use nothing from outside.
 */
import { lstatSync, statfsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
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

/**
 * The slots of the Int32Array shared by the threads: NEXT, the next chunk to claim (checkChunks);
 * STOP, set once one found a difference or the answer is no longer wanted; GO, set when the
 * workers may start their lstats (a worker started early parses its record and waits for it);
 * CHUNKS, how many chunks the record has, once a worker has parsed it (0 before).
 */
const NEXT = 0
const STOP = 1
const GO = 2
const CHUNKS = 3
const SLOTS = 4

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

/** A record as checked: its chunks and numbers, and its header's other fields (tree-record.ts reads the key and counts). */
export interface ParsedRecord {
  fields: Record<string, unknown>
  chunks: readonly Chunk[]
  numbers: Float64Array
}

/**
 * The record in a file's bytes (tree-record.ts writeTreeRecord: a 4-byte length, a JSON header of
 * its key, counts, number of entries and chunks, padding to 8 bytes, then NUMBERS_PER_ENTRY float64
 * per entry), or undefined when they are not one. The numbers are copied onto a SharedArrayBuffer
 * (the file's buffer need not be aligned for a Float64Array view). Self-contained, as checkChunks:
 * a worker reads the record itself.
 */
export function parseRecordBytes(file: Uint8Array): ParsedRecord | undefined {
  try {
    const length = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(0, true)
    const start = Math.ceil((4 + length) / 8) * 8
    // 5 float64 an entry (NUMBERS_PER_ENTRY: a literal, for the worker's copy of this function).
    const bytes = file.byteLength - start
    if (bytes < 0 || bytes % 40 !== 0) return undefined
    const header = JSON.parse(new TextDecoder().decode(file.subarray(4, 4 + length))) as { chunks?: unknown; entries?: unknown } & Record<string, unknown>
    if (typeof header !== 'object' || header === null || !Array.isArray(header.chunks) || header.entries !== bytes / 40) return undefined
    const numbers = new Float64Array(new SharedArrayBuffer(bytes))
    new Uint8Array(numbers.buffer).set(file.subarray(start))
    const { chunks, ...fields } = header
    return { fields, chunks: chunks as Chunk[], numbers }
  } catch {
    return undefined
  }
}

/** Each chunk's first entry, for checkChunks. Self-contained, as checkChunks. */
function chunkStarts(chunks: readonly Chunk[]): Int32Array {
  const starts = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, chunks.length)))
  for (let i = 0, at = 0; i < chunks.length; i++) {
    starts[i] = at
    const joined = (chunks[i] as Chunk)[1]
    at++
    for (let j = joined.indexOf('/'); j !== -1; j = joined.indexOf('/', j + 1)) at++
  }
  return starts
}

/**
 * The worker's program: the record read and parsed when it was given as a file (its fields but
 * the chunks are sent back at once: `{ fields }`, or `{ invalid: true }` when it is not a record),
 * then, once GO is set, checkChunks over it, and the answer (`{ answer }`).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { lstatSync, readFileSync } = require('node:fs')
const checkChunks = ${checkChunks.toString()}
const parseRecordBytes = ${parseRecordBytes.toString()}
const chunkStarts = ${chunkStarts.toString()}
const { dest, shared } = workerData
let { chunks, numbers, starts } = workerData
let invalid = false
if (workerData.file !== undefined) {
  let record
  try {
    // The descriptor when given: the very file whose identity the pin compares once it holds the lock (early-check.ts).
    record = parseRecordBytes(readFileSync(workerData.fd ?? workerData.file))
  } catch {}
  invalid = record === undefined
  chunks = record?.chunks ?? []
  numbers = record?.numbers ?? new Float64Array(0)
  starts = chunkStarts(chunks)
  Atomics.store(shared, ${CHUNKS}, chunks.length)
  parentPort.postMessage(invalid ? { invalid: true } : { fields: record.fields })
}
Atomics.wait(shared, ${GO}, 0)
const run = checkChunks(lstatSync, dest, chunks, starts, numbers, shared, Infinity)
let r = run.next()
while (r.done !== true) r = run.next()
// Not a record: as a difference (DEST itself).
parentPort.postMessage({ answer: invalid ? dest : r.value })
`

/** A check under way (startCheck). */
export interface EntriesCheck {
  /**
   * This thread joins in (pin.ts calls it once the refresh's calls are answered, or at once when
   * there is no worker); resolves to the path of the first entry that is not as recorded, or ''
   * when all are. Never rejects: a worker that fails answers "differs".
   */
  finish(): Promise<string>
  /** The workers may start their lstats (startCheck's `gated`); finish() and cancel() imply it. */
  go(): void
  /** Nothing more is checked (the answer is not wanted); resolves once every thread has stopped. */
  cancel(): Promise<void>
  /** The workers' answer for the chunks they took ('' when there is no worker): all of them when this thread has not joined yet. */
  readonly worker: Promise<string>
  /** Worker threads started (none for a small tree: this thread checks it alone, from `finish()`). */
  readonly workers: number
  /** The workers keep the process alive from now on (startCheck's `unref`: they did not before). */
  ref(): void
  /**
   * A record given as a file: its header's fields but the chunks, as a worker read them (or this
   * thread, for a small record or when the workers failed); undefined when it is not a record.
   * Given as chunks: undefined.
   */
  readonly fields: Promise<Record<string, unknown> | undefined>
}

/**
 * What a check is made of: the record's chunks and numbers, or the record file (`size`: its size
 * in bytes), which the workers read and parse themselves: this thread, which has the refresh's
 * calls to make, reads it only to join in while chunks are left, or when it has no worker. `fd`:
 * the file open already, which the workers read instead of `file` (the caller closes it once
 * `fields` has settled: they have read it then).
 */
export type CheckSource = { chunks: readonly Chunk[]; numbers: Float64Array } | { file: string; size: number; fd?: number }

/**
 * Starts the check of every entry of `source` (see the top): in `workers` worker threads at once
 * (WORKERS) when there are enough entries, here only from `finish()`. Given chunks, `numbers`
 * should be on a SharedArrayBuffer (each worker gets a copy otherwise). `gated`: the workers
 * start, read the record and wait until go() (a pin starts them before it knows whether it will
 * make its calls). `unref`: the workers do not keep the process alive until ref() (a check started
 * before the command knows it will want it: early-check.ts). `workerFrom`: the number of entries from which workers are used (WORKER_FROM;
 * tests force it; for a file, its size is the measure: an entry is 40 bytes of it and more).
 */
export function startCheck(dest: string, source: CheckSource, opts: { workerFrom?: number; workers?: number; gated?: boolean; unref?: boolean } = {}): EntriesCheck {
  const total = 'chunks' in source ? source.numbers.length / NUMBERS_PER_ENTRY : source.size / (NUMBERS_PER_ENTRY * 8)
  const shared = new Int32Array(new SharedArrayBuffer(4 * SLOTS))
  const go = (): void => {
    Atomics.store(shared, GO, 1)
    Atomics.notify(shared, GO)
  }
  if (opts.gated !== true) go()
  const count = total >= (opts.workerFrom ?? WORKER_FROM) ? (opts.workers ?? WORKERS) : 0
  // This thread's record: given, or the file read here when it is wanted (once).
  let mine: Promise<ParsedRecord | undefined> | undefined
  const record = (): Promise<ParsedRecord | undefined> => (mine ??= 'chunks' in source
    ? Promise.resolve({ fields: {}, chunks: source.chunks, numbers: source.numbers })
    : readFile(source.file).then(parseRecordBytes, () => undefined))
  const data: WorkerData = 'chunks' in source
    ? { dest, shared, chunks: source.chunks, numbers: source.numbers, starts: chunkStarts(source.chunks) }
    : { dest, shared, file: source.file, ...(source.fd !== undefined ? { fd: source.fd } : {}) }
  const spawned = Array.from({ length: count }, () => inWorker(data, opts.unref === true))
  // The first difference any worker found ('' when none did), once all have stopped.
  const theirs = Promise.all(spawned.map((w) => w.answer)).then((all) => all.find((a) => a !== '') ?? '')
  const fields = 'chunks' in source
    ? Promise.resolve(undefined)
    : Promise.all(spawned.map((w) => w.fields)).then(async (all) => {
      const read = all.find((f) => f !== null)
      return read !== undefined ? read : (await record())?.fields
    })
  let joined: Promise<string> | undefined
  const finish = async (): Promise<string> => {
    go()
    // Every chunk claimed by the workers already: nothing for this thread (not even reading the record).
    const left = count === 0 || Atomics.load(shared, CHUNKS) === 0 || Atomics.load(shared, NEXT) < Atomics.load(shared, CHUNKS)
    let differs = ''
    if (left) {
      const own = await record()
      // Not a record: as a difference (DEST itself, as a worker answers).
      if (own === undefined) differs = dest
      else {
        const run = checkChunks(lstatSync, dest, own.chunks, chunkStarts(own.chunks), own.numbers, shared, CHECKS_PER_TURN)
        for (let r = run.next(); ; r = run.next()) {
          if (r.done === true) {
            differs = r.value
            break
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
    }
    // The worker's answer too, whatever this part found: nothing is left running past the check.
    const other = await theirs
    return differs !== '' ? differs : other
  }
  return {
    worker: theirs,
    workers: count,
    fields,
    go,
    ref: () => spawned.forEach((w) => w.worker?.ref()),
    finish: () => (joined ??= finish()),
    async cancel(): Promise<void> {
      Atomics.store(shared, STOP, 1)
      go()
      await Promise.all([theirs, joined])
    },
  }
}

type WorkerData = { dest: string; shared: Int32Array } & ({ chunks: readonly Chunk[]; numbers: Float64Array; starts: Int32Array } | { file: string; fd?: number })

/**
 * One worker: its answer (the worker's data.dest when it fails: "differs") and the header's fields
 * it read (undefined: not a record; null when it failed before: this thread reads it then);
 * `unref`: it does not keep the process alive (until `worker.ref()`).
 */
function inWorker(data: WorkerData, unref: boolean): { answer: Promise<string>; fields: Promise<Record<string, unknown> | null | undefined>; worker?: Worker } {
  let answer!: (value: string) => void
  let read!: (value: Record<string, unknown> | null | undefined) => void
  const answered = new Promise<string>((resolve) => (answer = resolve))
  const fields = new Promise<Record<string, unknown> | null | undefined>((resolve) => (read = resolve))
  const fail = (): void => {
    read(null)
    answer(data.dest)
  }
  let worker: Worker | undefined
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data })
    worker.on('message', (value: { fields?: Record<string, unknown>; invalid?: true; answer?: unknown }) => {
      if (value.invalid === true) read(undefined)
      if (value.fields !== undefined) read(value.fields)
      if ('answer' in value) answer(typeof value.answer === 'string' ? value.answer : data.dest)
    })
    worker.once('error', fail)
    worker.once('exit', fail)
    // After the listeners: adding a 'message' listener refs the worker's port again.
    if (unref) worker.unref()
  } catch {
    fail()
  }
  return { answer: answered, fields, ...(worker !== undefined ? { worker } : {}) }
}
