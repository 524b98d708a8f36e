/**
 * A no-change pin's tree check (tree-check.ts), started as the process starts rather than once
 * pin's modules are loaded and the lock is held.
 *
 * At 50,000 items the check's worker thread takes ~0.3 s of its own before its first lstat (Node's
 * start in a thread, the record's 6 MB read and parsed), and the lstats ~0.7 s of CPU after the
 * refresh's calls are out: started by pin(), it ended after the calls' answers, the last part of
 * the run. Node and the modules a pin loads take ~0.25–0.4 s on the other core before pin() starts:
 * started here, the worker does its own start-up then (bin/flickrfs starts it for `pin DEST`, the
 * DEST of the command line: cli/early-pin.ts).
 *
 * Its lstats start as soon as the worker has parsed the record, on the other core while this
 * thread loads and opens the rest, not once the refresh's calls are out as a check pin starts
 * itself does (pin.ts RecordCheck): the lstats are the no-change pin's longest part (~0.7 s of CPU
 * at 50,000 items, more than its calls), so they end before the answers are in on two cores.
 * The price: a pin that makes no call (a full listing is due) or finds a change has lstat'ed for
 * nothing, on a core the rest of its run (seconds to minutes) would otherwise have had.
 *
 * Nothing changes in what the check proves. Before the lock it only reads: it opens the record,
 * its worker reads that open file, and lstats the entries it names. pin takes it
 * (claimEarlyCheck) only when it is the check of the same DEST and of the very record file pin
 * finds once it holds the lock (the same device, inode, size, mtime and ctime): every pin that may
 * write into DEST removes the record under the lock before it writes, and writes a new one (a new
 * file, renamed into place) last, so a record that is still the same file was not rewritten since
 * the tree it names was checked; an entry changed by anything else is seen as by pin's own
 * check, which also lstats each entry once, at some point during the run. The verdict still needs
 * the record's key to be the catalog's (read under the lock). Otherwise the check is stopped and
 * pin starts its own. Until taken its worker does not keep the process alive: a command that
 * never takes it (a pin handed to a mount, a usage error) ends without waiting for it.
 */
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs'
import { resolve } from 'node:path'
import { treeRecordPath } from '../util/state-paths.js'
import { startCheck, type EntriesCheck } from './tree-check.js'

/** Which record file, as stat'ed: its size for the check, the rest to know it is the same file. */
export interface RecordFile {
  size: number
  dev: number
  ino: number
  mtimeMs: number
  ctimeMs: number
}

export function recordFile(st: Stats): RecordFile {
  return { size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs }
}

function sameFile(a: RecordFile, b: RecordFile): boolean {
  return a.size === b.size && a.dev === b.dev && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs
}

let early: { dest: string; file: RecordFile; check: EntriesCheck } | undefined

/** Early checks pin has taken in this process (for tests: pin's own check and a taken one answer alike). */
export let earlyChecksTaken = 0

/**
 * Starts the check of `dest`'s record (its workers unref'd) when there is a record big enough for
 * a worker; nothing otherwise (a small tree is checked by pin's own thread, at once). Never throws:
 * the check is only an early start of what pin would do anyway. `workerFrom`, `gated`: as
 * startCheck's (tests start one for a small tree, or one that waits for its go()).
 */
export function startEarlyCheck(dest: string, opts: { workerFrom?: number; gated?: boolean } = {}): void {
  if (early !== undefined) return
  const abs = resolve(dest)
  let fd: number
  try {
    fd = openSync(treeRecordPath(abs), 'r')
  } catch {
    return
  }
  try {
    const file = recordFile(fstatSync(fd))
    const check = startCheck(abs, { file: treeRecordPath(abs), size: file.size, fd }, { unref: true, ...opts })
    if (check.workers === 0) {
      closeSync(fd)
      return
    }
    // Once the workers have read it (or failed to).
    void check.fields.finally(() => closeSync(fd))
    early = { dest: abs, file, check }
  } catch {
    closeSync(fd)
  }
}

/** Whether a check was started and not yet claimed (for tests). */
export function earlyCheckStarted(): boolean {
  return early !== undefined
}

/**
 * The early check of `dest`'s record, when there is one and `file` (the record as pin stat'ed it,
 * under the lock) is the file it read; undefined otherwise. Called once by pin, with or without a
 * record (`file` undefined): an early check it does not take is stopped.
 */
export async function claimEarlyCheck(dest: string, file: RecordFile | undefined): Promise<EntriesCheck | undefined> {
  const e = early
  early = undefined
  if (e === undefined) return undefined
  if (file !== undefined && e.dest === resolve(dest) && sameFile(e.file, file)) {
    e.check.ref()
    earlyChecksTaken++
    return e.check
  }
  await e.check.cancel()
  return undefined
}
