/**
 * `flickrfs pin` of a big mirror, and a first pin, runs in a child given glibc's malloc setting
 * (below), which glibc reads only as a process starts (node has no mallopt): bin/flickrfs asks
 * `relaunchPin` first, and when it says so, waits for the child and exits as it did. Only for a
 * mirror whose last manifest says it is big (BIG_MANIFEST_BYTES), or that has none yet (its first
 * pin, however big the account: the first sync and the whole tree's write, where a first pin of
 * 300,000 items peaked 9% lower with the setting and wrote its tree with 15% less; bench/RESULTS.md
 * "Session 41"): the child's start costs ~50 ms, a share of a small mirror's no-change pin (issue
 * 11 item 7), nothing at a million photos, where the setting took ~140 MB off the peak of a pin
 * after a small change (bench/RESULTS.md, "Session 21, lead"). A variable of the user's own is
 * kept, and means no child.
 *
 * The setting is the background mount's, the mmap threshold fixed (util/malloc-env.ts): at
 * 1,000,000 photos the tree write's ~100 MB manifest, its 78 MB SHA256SUMS and the store's index
 * come and go as large blocks, and so do the catalog's rows through the sqlite driver; by default
 * each one freed raised the threshold, and the next ones stayed in the arenas. MALLOC_ARENA_MAX=2
 * as well took off ~20 MB more, within the runs' noise: not set. The variable the child is given is
 * also what keeps it from relaunching itself.
 *
 * The child dies with its parent: it holds the read end of a pipe (its fd 3) whose other end only
 * the parent holds, and kills itself (SIGKILL, as its parent was, most likely) when that end closes.
 * A pin killed with SIGKILL (a user's kill -9, an OOM kill, the resume tests) must not leave its
 * child downloading behind it, holding DEST's lock.
 */
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { Socket } from 'node:net'
import { resolve } from 'node:path'
import { legacyManifestPath, manifestPath } from '../util/state-paths.js'
import { MALLOC_RETURNS_LARGE_BLOCKS } from '../util/malloc-env.js'
import { destOfPinArgs } from './early-pin.js'

/** A manifest this large (~55 bytes a photostream entry, two a photo) is a mirror of ~150,000 photos or more. */
export const BIG_MANIFEST_BYTES = 16 * 1024 * 1024

/** Set in the child's environment: the fd of its end of the pipe to its parent. */
const PARENT_PIPE_ENV = 'FLICKRFS_PIN_PARENT_PIPE'

/**
 * For `argv` (node, bin, 'pin', …) of a big mirror or a first pin: runs the same command in a child with
 * the setting, the signals that stop a pin passed on to it, and resolves with the exit it should
 * have (a code, or the signal that ended it). Undefined when the pin should run here: at once for
 * a small mirror, or once the child could not be started (the pin then runs as it would have).
 */
export function relaunchPin(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | NodeJS.Signals | undefined> | undefined {
  const pipe = env[PARENT_PIPE_ENV]
  if (pipe !== undefined) {
    // This is the child: it runs the pin, and ends with its parent.
    delete env[PARENT_PIPE_ENV]
    dieWithParent(Number(pipe))
    return undefined
  }
  if (process.platform !== 'linux' || Object.keys(MALLOC_RETURNS_LARGE_BLOCKS).some((k) => env[k] !== undefined)) return undefined
  const dest = destOfPinArgs(argv.slice(3))
  if (dest === undefined || dest === '') return undefined
  const bytes = manifestBytes(dest)
  // A first pin: no manifest of either format (DEST was never pinned to the end).
  const first = bytes === undefined && !existsSync(legacyManifestPath(resolve(dest)))
  if (!first && (bytes ?? 0) < BIG_MANIFEST_BYTES) return undefined
  const child = spawn(process.execPath, [...process.execArgv, '--', ...argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...env, ...MALLOC_RETURNS_LARGE_BLOCKS, [PARENT_PIPE_ENV]: '3' },
  })
  // A terminal's ^C reaches both (one process group); a pin stops at the first, so a second is harmless.
  const pass = (signal: NodeJS.Signals): void => {
    child.kill(signal)
  }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of signals) process.on(s, pass)
  return new Promise((done) => {
    let started = false
    const settle = (exit: number | NodeJS.Signals | undefined): void => {
      for (const s of signals) process.off(s, pass)
      done(exit)
    }
    child.once('spawn', () => (started = true))
    child.once('error', () => {
      if (!started) settle(undefined)
    })
    child.once('exit', (code, signal) => settle(signal ?? code ?? 1))
  })
}

/**
 * In the child: SIGKILL itself once the pipe's other end closes, which it does when the parent
 * ends, however it ends (the parent waits for the child, so only a death comes first). The pipe is
 * unref'd: it keeps the child from ending no more than it would without one.
 */
function dieWithParent(fd: number): void {
  let parent: Socket
  try {
    parent = new Socket({ fd, readable: true, writable: false })
  } catch {
    // No such pipe (not started by relaunchPin): nothing to watch.
    return
  }
  const die = (): void => void process.kill(process.pid, 'SIGKILL')
  parent.once('end', die)
  parent.once('close', die)
  parent.once('error', die)
  parent.resume()
  parent.unref()
}

/**
 * The size of DEST's last manifest, undefined when there is none (its pin holds a first sync or
 * writes the whole tree); 0 when it cannot be seen (pin says why, if it matters).
 */
function manifestBytes(dest: string): number | undefined {
  try {
    return statSync(manifestPath(resolve(dest)), { throwIfNoEntry: false })?.size
  } catch {
    return 0
  }
}
