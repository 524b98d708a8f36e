/**
 * The lstat check of a tree record (tree-record.ts): every recorded entry lstat'ed and compared
 * with its five recorded numbers (ino, size, mode, mtime, ctime).
 *
 * One lstat is a few microseconds of system time, and a no-change pin of 50,000 items makes
 * ~102,000 of them (its ~64,000 links are left to their folders: tree-record.ts linksVouchedFor):
 * more than its calls take. So the entries are split: a worker thread checks
 * part of them on the other core while this thread checks the rest between the refresh's answers
 * (a few hundred per turn of the event loop, so those answers are not held up). Both run the same
 * function, `checkChunks`: the worker gets its source text (an eval'd worker needs no module of its
 * own, which neither tsx nor a build would have to provide), so it must use nothing from outside.
 */
import { lstatSync, statfsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'

/** ino, size, mode, mtimeMs, ctimeMs. */
export const NUMBERS_PER_ENTRY = 5

/** Names per chunk of a record (the unit split between the two threads). */
export const CHUNK_NAMES = 4096

/** Entries checked before the event loop gets a turn (this thread's part). */
const CHECKS_PER_TURN = 512

/** Below this many entries the worker's start-up (~20 ms) costs more than it saves. */
const WORKER_FROM = 20_000

/** The worker's share of the entries: this thread also parses the refresh's answers meanwhile. */
const WORKER_SHARE = 0.6

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
 * Checks the entries of `chunks` against `numbers` (NUMBERS_PER_ENTRY each, in order: ino, size,
 * mode, mtimeMs, ctimeMs, as tree-record.ts writeTreeRecord records them): yields every
 * `perTurn` entries, returns the first entry that differs (or is missing), or '' when none does.
 * Self-contained (see the top): everything it uses is a parameter.
 */
function* checkChunks(lstat: typeof lstatSync, dest: string, chunks: readonly Chunk[], numbers: Float64Array, perTurn: number): Generator<void, string> {
  let at = 0
  let done = 0
  for (const [dir, joined] of chunks) {
    const base = dir === '' ? `${dest}/` : `${dest}/${dir}/`
    for (const name of joined.split('/')) {
      let st
      try {
        st = lstat(base + name, { throwIfNoEntry: false })
      } catch {
        st = undefined
      }
      if (st === undefined || numbers[at] !== st.ino || numbers[at + 1] !== st.size || numbers[at + 2] !== st.mode ||
        numbers[at + 3] !== st.mtimeMs || numbers[at + 4] !== st.ctimeMs) return base + name
      at += 5
      if (++done % perTurn === 0) yield
    }
  }
  return ''
}

/** The worker's program: checkChunks over what it is given, then the answer. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { lstatSync } = require('node:fs')
const checkChunks = ${checkChunks.toString()}
const run = checkChunks(lstatSync, workerData.dest, workerData.chunks, workerData.numbers, Infinity)
let r = run.next()
while (r.done !== true) r = run.next()
parentPort.postMessage(r.value)
`

/**
 * Checks every entry of `chunks` (see the top); resolves to the path of the first one that is not
 * as recorded, or '' when all are. Never rejects: a worker that fails answers "differs".
 */
export async function checkEntries(dest: string, chunks: readonly Chunk[], numbers: Float64Array): Promise<string> {
  const total = numbers.length / NUMBERS_PER_ENTRY
  let split = chunks.length
  if (total >= WORKER_FROM) {
    // The last chunks, about WORKER_SHARE of the entries, to the worker.
    let mine = 0
    for (split = 0; split < chunks.length && mine < total * (1 - WORKER_SHARE); split++) mine += countNames((chunks[split] as Chunk)[1])
  }
  const mineCount = countAll(chunks, split)
  const theirs = split < chunks.length ? inWorker(dest, chunks.slice(split), numbers.slice(mineCount * NUMBERS_PER_ENTRY)) : Promise.resolve('')
  const run = checkChunks(lstatSync, dest, chunks.slice(0, split), numbers, CHECKS_PER_TURN)
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

function inWorker(dest: string, chunks: Chunk[], numbers: Float64Array): Promise<string> {
  return new Promise((resolve) => {
    let answered = false
    const answer = (value: string): void => {
      if (answered) return
      answered = true
      resolve(value)
    }
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dest, chunks, numbers }, transferList: [numbers.buffer as ArrayBuffer] })
      worker.once('message', (value: unknown) => answer(typeof value === 'string' ? value : dest))
      worker.once('error', () => answer(dest))
      worker.once('exit', () => answer(dest))
    } catch {
      answer(dest)
    }
  })
}

function countNames(joined: string): number {
  let n = 1
  for (let i = joined.indexOf('/'); i !== -1; i = joined.indexOf('/', i + 1)) n++
  return n
}

function countAll(chunks: readonly Chunk[], end: number): number {
  let n = 0
  for (let i = 0; i < end; i++) n += countNames((chunks[i] as Chunk)[1])
  return n
}
