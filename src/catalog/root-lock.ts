/**
 * ROOT/.flickrfs/lock: one writer per cache root at a time (a pin and a mount of the same folder, or
 * two pins). Created with O_EXCL so two processes cannot both win; it records the holder's pid so a
 * lock left by a process that died is taken over instead of blocking forever. Within one process
 * the lock is re-entrant (the CLI may hold it for a whole pin while the catalog refreshes inside).
 */
import { hostname } from 'node:os'
import { readFile, stat, unlink } from 'node:fs/promises'
import { constants } from 'node:fs'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { confineState } from '../util/confine.js'
import { lockPath, STATE_REL } from '../util/state-paths.js'
import { pidAlive } from '../util/process.js'

const debug = createDebug('flickrfs:catalog')

interface LockInfo {
  pid: number
  host: string
  purpose: string
  sinceMs: number
}

export interface RootLock {
  readonly path: string
  release(): Promise<void>
}

const heldHere = new Map<string, { count: number }>()

export async function acquireRootLock(root: string, purpose: string): Promise<RootLock> {
  const path = lockPath(root)
  const mine = heldHere.get(path)
  if (mine !== undefined) {
    mine.count++
    return releaser(path, mine)
  }
  // The state folder is checked (a planted link is refused) and made; O_EXCL never follows a link.
  const confined = await confineState(root)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await confined.openForWrite(STATE_REL.lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL)
      const info: LockInfo = { pid: process.pid, host: hostname(), purpose, sinceMs: Date.now() }
      await handle.writeFile(JSON.stringify(info))
      await handle.sync()
      await handle.close()
      const held = { count: 1 }
      heldHere.set(path, held)
      debug('locked %s for %s', path, purpose)
      return releaser(path, held)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const other = await readLockInfo(path)
    if (other === undefined && (await isFresh(path))) {
      // Just created by another process that has not written its pid yet.
      throw new FlickrfsError('LOCKED', `${root} is being locked by another flickrfs right now (${path}). Wait for it to finish or stop it.`)
    }
    if (other !== undefined && (other.host !== hostname() || pidAlive(other.pid))) {
      throw new FlickrfsError(
        'LOCKED',
        `${root} is in use by another flickrfs (pid ${other.pid} on ${other.host}, ${other.purpose}, since ${new Date(other.sinceMs).toISOString()}). ` +
          `Wait for it to finish or stop it; if no such process runs, delete ${path}.`,
      )
    }
    // The holder died (or left an unreadable file mid-write): take the lock over.
    debug('removing stale lock %s (%o)', path, other)
    await confined.unlink(STATE_REL.lock)
  }
  throw new FlickrfsError('LOCKED', `Could not take the lock ${path}: other processes keep taking it. Try again.`)
}

function releaser(path: string, held: { count: number }): RootLock {
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      held.count--
      if (held.count > 0) return
      heldHere.delete(path)
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
      debug('unlocked %s', path)
    },
  }
}

async function readLockInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as Partial<LockInfo>
    if (typeof info.pid === 'number' && typeof info.host === 'string') {
      return { pid: info.pid, host: info.host, purpose: String(info.purpose ?? 'unknown'), sinceMs: Number(info.sinceMs ?? 0) }
    }
  } catch {
    // missing or half-written: treated as stale below
  }
  return undefined
}

async function isFresh(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs < 10_000
  } catch {
    return false
  }
}
