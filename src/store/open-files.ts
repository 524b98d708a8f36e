/**
 * Open handles on complete originals, kept across reads: a FUSE read arrives every 128 KiB, and an
 * open + close around each one costs as much as the read. A handle is tied to one (id, secret, ext);
 * the store drops it whenever that id's file is replaced, re-downloaded or evicted, so a handle
 * never serves an inode that is no longer the file's.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { LRUCache } from 'lru-cache'
import { readFully } from './download.js'
import { isEnoent } from '../util/fs-errors.js'

interface Entry {
  version: string
  handle: Promise<FileHandle>
  refs: number
  dropped: boolean
}

export class OpenFiles {
  private readonly cache: LRUCache<string, Entry>

  constructor(maxHandles = 64) {
    this.cache = new LRUCache<string, Entry>({
      max: maxHandles,
      dispose: (entry) => {
        entry.dropped = true
        if (entry.refs === 0) closeEntry(entry)
      },
    })
  }

  /** Bytes from the file of `id` at `path`; undefined when the file is not there. */
  async read(id: string, version: string, path: string, position: number, length: number): Promise<Buffer | undefined> {
    let entry = this.cache.get(id)
    if (entry && entry.version !== version) {
      this.cache.delete(id)
      entry = undefined
    }
    if (!entry) {
      entry = { version, handle: open(path, 'r'), refs: 0, dropped: false }
      // A rejected open is handled by whoever awaits it below; this keeps it from being "unhandled".
      entry.handle.catch(() => {})
      this.cache.set(id, entry)
    }
    entry.refs += 1
    try {
      const fh = await entry.handle
      return await readFully(fh, position, length)
    } catch (err) {
      if (this.cache.get(id) === entry) this.cache.delete(id)
      if (isEnoent(err)) return undefined
      throw err
    } finally {
      entry.refs -= 1
      if (entry.dropped && entry.refs === 0) closeEntry(entry)
    }
  }

  drop(id: string): void {
    this.cache.delete(id)
  }

  clear(): void {
    this.cache.clear()
  }
}

function closeEntry(entry: Entry): void {
  entry.handle.then((fh) => fh.close(), () => {}).catch(() => {})
}
