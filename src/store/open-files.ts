/**
 * Open handles on complete originals, kept across reads: an original is read in many small pieces
 * (128 KiB), and an open + close around each one costs as much as the read. A handle is tied to one version of an
 * id's file (its index record's, Originals.versionOf); the store drops it whenever that id's file is replaced,
 * re-downloaded or evicted, so a handle never serves an inode that is no longer the file's.
 *
 * Handles are plain fds read with callback `fs.read`: a FileHandle read costs a promise and its
 * async bookkeeping per call, which a stream of 128 KiB reads measurably pays for.
 */
import { close, closeSync, open, openSync, read } from 'node:fs'
import { LRUCache } from 'lru-cache'
import { isEnoent } from '../util/fs-errors.js'
import { readFullySync } from '../util/fs.js'

interface Entry {
  version: number
  opening: Promise<number>
  /** Set once the open has succeeded: reads can then start without waiting. */
  fd: number | undefined
  refs: number
  dropped: boolean
  /**
   * Opened by `readSyncInto` (an offline mount): closed with closeSync too, which for a read-only
   * fd on a local disk costs less than the thread-pool round trip of `close` (one per original read).
   */
  sync?: boolean
}

export type ReadDone = (err: Error | null, data: Buffer | undefined) => void

export class OpenFiles {
  private readonly cache: LRUCache<string, Entry>

  /**
   * `maxHandles`: 128, room for read-ahead's window (48 originals opened ahead, src/fs/walk-ahead.ts)
   * next to the files being read: with 64, a walk's handles opened ahead were closed before their
   * reader came (as many reads as opens ahead in between) and opened a second time.
   */
  constructor(maxHandles = 128) {
    this.cache = new LRUCache<string, Entry>({
      max: maxHandles,
      dispose: (entry) => {
        entry.dropped = true
        if (entry.refs === 0) closeEntry(entry)
      },
    })
  }

  /** Bytes from the file of `id` at `path`; undefined when the file is not there. */
  async read(id: string, version: number, path: string, position: number, length: number): Promise<Buffer | undefined> {
    const entry = this.entryFor(id, version, path)
    entry.refs += 1
    try {
      const fd = await entry.opening
      return await new Promise<Buffer>((resolve, reject) => preadFully(fd, position, length, (err, data) => (err ? reject(err) : resolve(data as Buffer))))
    } catch (err) {
      if (this.cache.get(id) === entry) this.cache.delete(id)
      if (isEnoent(err)) return undefined
      throw err
    } finally {
      this.release(entry)
    }
  }

  /**
   * Opens the file of `id` at `version` in the background, if no handle is open or opening, so
   * that its first read takes `readOpen` (read-ahead: the reader is expected soon). A file that is
   * not there is forgotten again; its reader's `read()` finds out why.
   */
  warm(id: string, version: number, path: string): void {
    const entry = this.entryFor(id, version, path)
    entry.opening.catch(() => {
      if (this.cache.get(id) === entry) this.cache.delete(id)
    })
  }

  /** The handle of `id` at `version`, opened (asynchronously) when there is none yet. */
  private entryFor(id: string, version: number, path: string): Entry {
    const entry = this.cache.get(id)
    if (entry && entry.version === version) return entry
    if (entry) this.cache.delete(id)
    const opened: Entry = {
      version,
      opening: new Promise<number>((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd)))),
      fd: undefined,
      refs: 0,
      dropped: false,
    }
    // A rejected open is handled by whoever awaits it; this keeps it from being "unhandled".
    opened.opening.then((fd) => (opened.fd = fd), () => {})
    this.cache.set(id, opened)
    return opened
  }

  /**
   * Starts reading from the already open file of `id` at `version` and returns true; `done` is
   * then called once, later (never synchronously), with a Buffer of our own, shorter than `length`
   * only at the end of the file. Returns false, and never calls `done`, when no such handle is
   * open yet (`read()` opens it).
   */
  readOpen(id: string, version: number, position: number, length: number, done: ReadDone): boolean {
    const entry = this.cache.get(id)
    if (!entry || entry.version !== version || entry.fd === undefined) return false
    entry.refs += 1
    preadFully(entry.fd, position, length, (err, data) => {
      if (err && this.cache.get(id) === entry) this.cache.delete(id)
      this.release(entry)
      done(err, data)
    })
    return true
  }

  /**
   * Reads synchronously into `into`: from the open handle of `id` at `version`, else from the file
   * at `pathOf()` opened now (openSync) and kept like `read()`'s. The path is asked for only then:
   * a 128 KiB read of a file already open needs none (a path join per read was 2% of a tar).
   * Returns the bytes read (fewer than `length` only at the end of the file), or undefined when the
   * file is not there; other errors throw.
   */
  readSyncInto(id: string, version: number, pathOf: () => string, position: number, length: number, into: Buffer): number | undefined {
    let entry = this.cache.get(id)
    if (entry && (entry.version !== version || entry.fd === undefined)) {
      // Another version, or an open still in flight: readSync cannot wait for it.
      if (entry.version === version) return undefined
      this.cache.delete(id)
      entry = undefined
    }
    if (!entry) {
      let fd: number
      try {
        fd = openSync(pathOf(), 'r')
      } catch (err) {
        if (isEnoent(err)) return undefined
        throw err
      }
      entry = { version, opening: Promise.resolve(fd), fd, refs: 0, dropped: false, sync: true }
      this.cache.set(id, entry)
    }
    try {
      return readFullySync(entry.fd as number, into, position, length)
    } catch (err) {
      if (this.cache.get(id) === entry) this.cache.delete(id)
      throw err
    }
  }

  drop(id: string): void {
    this.cache.delete(id)
  }

  clear(): void {
    this.cache.clear()
  }

  private release(entry: Entry): void {
    entry.refs -= 1
    if (entry.dropped && entry.refs === 0) closeEntry(entry)
  }
}

function closeEntry(entry: Entry): void {
  if (entry.sync === true && entry.fd !== undefined) {
    try {
      closeSync(entry.fd)
    } catch {
      // Nothing to do about a failed close of a file only read.
    }
    return
  }
  entry.opening.then((fd) => close(fd, () => {}), () => {})
}

/** Reads `length` bytes at `position` into a new Buffer, fewer only at end of file. */
function preadFully(fd: number, position: number, length: number, done: ReadDone): void {
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  const next = (): void => {
    read(fd, buf, got, length - got, position + got, (err, n) => {
      if (err) return done(err, undefined)
      got += n
      if (n === 0 || got === length) return done(null, got === length ? buf : buf.subarray(0, got))
      next()
    })
  }
  next()
}
