/**
 * Reads of byte ranges of originals, before, during and after their download, in Buffers of our
 * own (never the caller's: a read may time out while we still wait for the network).
 *
 * Where a range comes from, first match wins:
 *   1. the final file, when the original is recorded complete (through an open handle, OpenFiles),
 *      or once a file found at its name without a record is adopted (Originals.adopt);
 *   2. a ranged GET of its own (RangeChunks), when the range starts far ahead of the shared download;
 *   3. the .part file of the shared download, as soon as the range is on disk;
 *   4. the final file again, when the download was renamed into place while we waited.
 * Handles are dropped whenever Originals says a file changed; a handle is opened for one version of
 * the file (Originals.versionOf, which moves with each record put or evicted), so it never serves the next.
 */
import { open } from 'node:fs/promises'
import type { MediaEntry } from '../catalog/types.js'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { abortable } from '../util/abort.js'
import { destWriteError, isEnoent } from '../util/fs-errors.js'
import { readFully } from '../util/fs.js'
import type { MediaSource } from './media-source.js'
import { OpenFiles } from './open-files.js'
import type { Originals, StoreStats } from './originals.js'
import { RangeChunks, type RangeChunksOptions } from './range-chunks.js'

const debug = createDebug('flickrfs:store')

export interface ReadPathOptions extends RangeChunksOptions {
  /** A read that starts this far past the downloaded bytes is served by its own ranged GET (default 4 MiB). */
  farReadBytes?: number
  /** A file in place up to this size is adopted by a read (default ADOPT_ON_READ_MAX_BYTES); a bigger one is not. */
  adoptOnReadMaxBytes?: number
}

/**
 * A read adopts a file found in place only up to this size: it waits for the whole file to be
 * hashed before its first byte, and a video of a gigabyte on a slow disk (30 MB/s over USB 2)
 * would outlast the read's deadline; 256 MiB hashes within ~9 s there. A bigger one is downloaded
 * and served as it comes, as before reads adopted (read-ahead and pin still adopt it, unhurried).
 */
export const ADOPT_ON_READ_MAX_BYTES = 256 * 1024 * 1024

export class ReadPath {
  private readonly openFiles = new OpenFiles()
  private readonly chunks: RangeChunks
  /**
   * Downloads in flight that a reader already waited on in vain, by key: the bytes they had when it gave up.
   * The kernel retries a failed read at once (page by page); while the download has not moved, the
   * retry fails at once too instead of waiting out another deadline on the same stalled server.
   */
  private readonly stalledAt = new Map<string, number>()

  constructor(private readonly originals: Originals, media: MediaSource, stats: StoreStats, private readonly options: ReadPathOptions = {}) {
    this.chunks = new RangeChunks(media, stats, options)
    originals.onFileChange((id) => this.openFiles.drop(id))
  }

  /**
   * Bytes [position, position+length) of the original: from the final file when complete;
   * otherwise from the shared download as soon as the range is on disk, or, for a range far ahead
   * of the download, from a ranged GET of its own.
   */
  async read(m: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const t = this.originals.target(m)
    const record = this.originals.current(m)
    if (record) {
      if (position >= record.size || length <= 0) return Buffer.alloc(0)
      const version = this.originals.versionOf(t.id)
      const buf = await this.openFiles.read(t.id, version, t.path, position, Math.min(length, record.size - position))
      if (buf) {
        this.originals.touch(t.id)
        return buf
      }
      // Someone else may have replaced the record meanwhile (a finished download): look again.
      if (this.originals.versionOf(t.id) !== version) return this.read(m, position, length, signal)
      debug('%s: recorded file vanished; downloading again', t.key)
      await this.originals.forget(t.id)
    }
    const failed = this.originals.recentFailure(t.key)
    if (failed) throw failed.err
    // A file already at its name without a record (a catalog set aside and rebuilt, another tool's
    // mirror) is hashed and recorded, as read-ahead and `ensure` do, and served from: not fetched
    // again. Readers of it at once share one hashing (Originals.adopt); one that gives up at its
    // deadline leaves it running, for the kernel's retry to join. Not adopted (another size, not
    // the bytes the index remembers, a download already running, a file too big to hash within a
    // read's deadline on a slow disk): fetched as before.
    if (m.size <= (this.options.adoptOnReadMaxBytes ?? ADOPT_ON_READ_MAX_BYTES) && this.originals.mayAdopt(m) && (await abortable(this.originals.adopt(m), signal)) !== undefined && this.originals.current(m) !== undefined) {
      return this.read(m, position, length, signal)
    }
    const job = this.originals.start(m, t)
    const d = job.download
    const size = d.size > 0 ? d.size : m.size
    if (position >= size || length <= 0) return Buffer.alloc(0)
    const end = Math.min(position + length, size)
    if (end > d.validBytes && position > d.validBytes + (this.options.farReadBytes ?? 4 << 20)) {
      const ranged = await this.chunks.read({ key: t.key, url: m.url, size }, position, end, signal)
      if (ranged) return ranged
    }
    if (end > d.validBytes && this.stalledAt.get(t.key) === d.validBytes) {
      throw new FlickrfsError('TIMEOUT', `The media server has stopped sending ${t.key} at byte ${d.validBytes}; an earlier read ` +
        'already waited in vain. Try again later.')
    }
    try {
      await d.waitFor(end, signal)
    } catch (err) {
      if (signal?.aborted === true) {
        // What the download had when this reader gave up; until it moves, the next reader gives up at once.
        if (!this.stalledAt.has(t.key)) void job.done.catch(() => undefined).finally(() => this.stalledAt.delete(t.key))
        this.stalledAt.set(t.key, d.validBytes)
      }
      throw err
    }
    const fromPart = await d.readPart(position, end - position)
    if (fromPart) return fromPart
    await abortable(job.done, signal)
    const fromFinal = await readFile(t.path, position, end - position)
    if (!fromFinal) throw destWriteError(Object.assign(new Error('file vanished after download'), { code: 'ENOENT' }), t.path)
    return fromFinal
  }

  /**
   * The fast path for a complete original whose file is already open (after its first read):
   * starts the read without a promise or a signal and returns true; `done` is called once, later,
   * with a Buffer of our own (short only where the file ends early). Returns false, calling
   * nothing, in every other case; `read()` then does the work. A read from local disk cannot be
   * aborted; the caller still keeps its deadline.
   */
  readLocal(m: MediaEntry, position: number, length: number, done: (err: Error | null, data: Buffer | undefined) => void): boolean {
    const record = this.originals.current(m)
    if (!record || position >= record.size || length <= 0) return false
    return this.openFiles.readOpen(record.id, this.originals.versionOf(record.id), position, Math.min(length, record.size - position), (err, data) => {
      if (!err) this.originals.touch(record.id)
      done(err, data)
    })
  }

  /**
   * Opens the file of a complete original in the background, so that its first read takes the
   * fast path (`readLocal`) instead of the promise path: read-ahead, once an original it fetched
   * is recorded. Nothing happens when it is not complete.
   */
  warm(m: MediaEntry): void {
    const record = this.originals.current(m)
    if (record) this.openFiles.warm(record.id, this.originals.versionOf(record.id), this.originals.fileOf(record))
  }

  /**
   * The synchronous path, for a mount that asks for it (an offline one, mount.ts `syncLocalReads`):
   * bytes of a complete original read with readSync straight into `into`, opening its file with
   * openSync on first use. No thread-pool round trip, no promise; the price is that this thread
   * waits for the disk (see src/fs/README.md). Undefined, having read nothing, when the original
   * is not complete on disk (or its file has gone): `read()` then does the work.
   */
  readLocalSync(m: MediaEntry, position: number, length: number, into: Buffer): number | undefined {
    const record = this.originals.current(m)
    if (!record) return undefined
    if (position >= record.size || length <= 0) return 0
    const n = this.openFiles.readSyncInto(record.id, this.originals.versionOf(record.id), () => this.originals.fileOf(record), position, Math.min(length, record.size - position), into)
    if (n !== undefined) this.originals.touch(record.id)
    return n
  }

  /** Ends the ranged GETs in flight and closes the open handles. */
  close(): void {
    this.chunks.close()
    this.openFiles.clear()
  }
}

async function readFile(path: string, position: number, length: number): Promise<Buffer | undefined> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
  }
  try {
    return await readFully(fh, position, length)
  } finally {
    await fh.close()
  }
}
