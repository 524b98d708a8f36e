/**
 * One download of one original into its `.part` file, shared by everyone who wants those bytes:
 * `ensure` callers wait for the end, readers wait only until their range is on disk.
 *
 * The `.part` file is written at explicit positions and `validBytes` only grows after a write has
 * returned, so any byte below `validBytes` can be read back through the same file handle at once.
 * A body that ends early or breaks is resumed with a ranged GET from `validBytes`; a 200 answer to a
 * ranged GET starts over (overwriting in place, never truncating under a reader).
 */
import { createHash, type Hash } from 'node:crypto'
import { fchmodSync, fstatSync, futimesSync, writevSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { asError, errorMessage, sleep } from '../util/abort.js'
import { destWriteError } from '../util/fs-errors.js'
import { readFully, SYNC_WRITE_MAX } from '../util/fs.js'
import type { BodyChunks, MediaResponse, MediaSource } from './media-source.js'

const debug = createDebug('flickrfs:store')

export interface DownloadSpec {
  key: string
  url: string
  /** Expected size of the whole original; 0 when unknown (then the server's size is taken). */
  expectedSize: number
  partPath: string
  /**
   * Opens `partPath` for reading and writing, created if missing and never truncated, through the
   * root's guard (util/confine.ts) so that a planted link is refused.
   */
  openPart: () => Promise<FileHandle>
  media: MediaSource
  cookies?: string
  /** Retries of a bad answer per request (flickr/media-client.ts MediaTry; default the client's). */
  retries?: number
  /** How many requests after the first (resumes and restarts from 0 alike) before giving up. */
  maxResumes: number
  /** A body that sends nothing for this long is dropped and resumed. */
  bodyIdleTimeoutMs: number
  /** Backoff before resume attempt n (1-based), ms. */
  resumeDelayMs: (attempt: number) => number
  /**
   * Called once, with the first answer whose size checks out, before its body is read: a download
   * that starts with `expectedSize` 0 learns the original's size (and name) here.
   */
  onFirstAnswer?: (res: MediaResponse) => void
}

export interface DownloadedPart {
  size: number
  sha256: string
  /** Bytes that came over the network in this run (a resumed download fetches fewer). */
  fetchedBytes: number
  resumedFrom: number
}

interface Waiter {
  end: number
  resolve: () => void
  reject: (err: Error) => void
}

/** Where one run of a download stands between its requests. */
interface Progress {
  /** Where the next request starts: bytes [0, offset) are in the .part file and in `hash`. */
  offset: number
  hash: Hash
  /** Bytes that came over the network in this run. */
  fetchedBytes: number
  /** Requests made so far; each one after the first is a restart. */
  restarts: number
  /**
   * Stalls in a row. A server that stalled (or trickled) on two fresh connections in a row will do
   * so again: a broken connection is worth the whole budget, a stalled server is not.
   */
  stalls: number
  /** Why the last request ended short; undefined when its body just ended early. */
  broken: unknown
}

const READ_CHUNK = 1 << 20
/** Body bytes gathered before one write into the .part file (when no reader waits for them). */
const WRITE_BATCH = 1 << 18
const MAX_STALLS_IN_A_ROW = 2

/** A body that sent nothing for too long, or too little per second (the media client's MediaBodyError). */
function isStall(err: unknown): boolean {
  return (err as { reason?: unknown } | null)?.reason === 'stalled'
}

export class Download {
  /** Bytes [0, validBytes) of the original are in the .part file. */
  validBytes = 0
  /** Size of the whole original, once known. */
  size: number
  private fh: FileHandle | undefined
  private readers = 0
  private closing = false
  private drained: (() => void) | undefined
  private failure: Error | undefined
  private readonly waiters = new Set<Waiter>()
  private readonly abort = new AbortController()
  private reader: BodyChunks | undefined
  private answered = false
  /** The .part held bytes before this run or a request started over: it may be longer than the original. */
  private mayBeLonger = false

  constructor(private readonly spec: DownloadSpec) {
    this.size = spec.expectedSize
  }

  cancel(reason: unknown): void {
    this.abort.abort(reason)
    // Aborting the request alone does not always end a pending body read (seen with a body whose
    // last byte had arrived): cancel the reader too.
    this.reader?.cancel(reason)
  }

  /** Downloads the whole original into the .part file and fsyncs it. The handle stays open for readers until `release()`. */
  async run(): Promise<DownloadedPart> {
    try {
      return await this.fetchAll()
    } catch (err) {
      this.fail(err)
      throw err
    } finally {
      this.ranOut()
    }
  }

  private ranOut: () => void = () => undefined
  /** Settles once the last byte is in (before the fsync), or when `run()` has failed: the network part is over (recording may follow). */
  readonly ran = new Promise<void>((resolve) => { this.ranOut = resolve })

  /**
   * The download loop: the first GET, then restarts until the whole original is in the .part file.
   * Every request after the first is a restart and counts against the budget, whether it resumes
   * (206) or starts over (a 200 to a Range request, a range not asked for): a server that ignores
   * Range and breaks off every time must not look like progress forever.
   */
  private async fetchAll(): Promise<DownloadedPart> {
    const fh = await this.openPartFile()
    const p = await this.resumePoint(fh)
    const resumedFrom = p.offset
    while (this.size === 0 || p.offset < this.size) {
      this.abort.signal.throwIfAborted()
      if (p.restarts > 0) await this.beforeRestart(p)
      p.restarts += 1
      p.broken = undefined
      if (await this.attempt(fh, p)) break
    }
    // The network part is over: the slot of a transfer is free again while the fsync waits for the disk.
    this.ranOut()
    try {
      // A restart may have left bytes past the end from an older, longer attempt.
      if ((this.mayBeLonger || p.restarts > 1) && (await fh.stat()).size !== this.size) await fh.truncate(this.size)
      await fh.sync()
    } catch (err) {
      throw destWriteError(err, this.spec.partPath)
    }
    return { size: this.size, sha256: p.hash.digest('hex'), fetchedBytes: p.fetchedBytes, resumedFrom }
  }

  private async openPartFile(): Promise<FileHandle> {
    try {
      // Created if missing, never truncated: an existing .part is what we resume from.
      this.fh = await this.spec.openPart()
      // Every stored original has this mode, whatever the umask. Through the open descriptor, at
      // once: a metadata call on an inode just opened does not wait for the disk, and each
      // asynchronous one costs a thread-pool round trip per original.
      fchmodSync(this.fh.fd, 0o644)
      return this.fh
    } catch (err) {
      throw destWriteError(err, this.spec.partPath)
    }
  }

  /** Hashes what an earlier run left in the .part file (if it can be part of this original) and starts from its end. */
  private async resumePoint(fh: FileHandle): Promise<Progress> {
    const p: Progress = { offset: 0, hash: createHash('sha256'), fetchedBytes: 0, restarts: 0, stalls: 0, broken: undefined }
    const existing = fstatSync(fh.fd).size
    this.mayBeLonger = existing > 0
    if (existing > 0 && (this.size === 0 || existing <= this.size)) {
      p.offset = await hashPrefix(fh, existing, p.hash)
      debug('%s: resuming from %d bytes in %s', this.spec.key, p.offset, this.spec.partPath)
    }
    this.grow(p.offset)
    return p
  }

  /** Gives up when the server stalled too often in a row or the restart budget is spent; otherwise backs off. */
  private async beforeRestart(p: Progress): Promise<void> {
    const { key } = this.spec
    debug('%s: body ended at %d of %d bytes (%s); restart %d', key, p.offset, this.size, p.broken ?? 'early end', p.restarts)
    const why = p.broken === undefined ? 'it ended early' : errorMessage(p.broken).replace(/\.$/, '')
    if (p.stalls >= MAX_STALLS_IN_A_ROW) {
      throw new FlickrfsError('MEDIA', `The download of ${key} stalled ${p.stalls} times in a row (${p.offset} of ${this.size} ` +
        `bytes; last: ${why}). The partial file is kept; run again to resume.`, { cause: p.broken })
    }
    if (p.restarts > this.spec.maxResumes) {
      throw new FlickrfsError('MEDIA', `The download of ${key} kept breaking off (${p.offset} of ${this.size} bytes after ` +
        `${p.restarts} tries; last: ${why}). The partial file is kept; run again to resume.`, { cause: p.broken })
    }
    await sleep(this.spec.resumeDelayMs(p.restarts), this.abort.signal)
  }

  /** One request from `p.offset` and its body into the .part file. True once the original is complete. */
  private async attempt(fh: FileHandle, p: Progress): Promise<boolean> {
    let res: MediaResponse
    try {
      res = await this.spec.media.get(this.spec.url, {
        // Range even from byte 0: a 206 states the whole file's size in Content-Range, a second word
        // on it (checked against the catalog's) at no extra request, and where the size is not known
        // yet (pin sizing by this GET) the word that sizes it, which a short Content-Length cannot fake.
        start: p.offset,
        signal: this.abort.signal,
        ...(this.spec.cookies !== undefined ? { cookies: this.spec.cookies } : {}),
        ...(this.spec.retries !== undefined ? { retries: this.spec.retries } : {}),
      })
    } catch (err) {
      // Size unknown and a .part from an earlier run as long as the file (or longer): nothing is
      // past its end, so the host answers 416. Start over from byte 0, which states the size.
      if (this.size !== 0 || p.offset === 0 || statusOf(err) !== 416) throw err
      debug('%s: no bytes past %d (416): starting over', this.spec.key, p.offset)
      p.offset = 0
      p.hash = createHash('sha256')
      this.validBytes = 0
      p.broken = 'the server had no bytes past the partial file'
      return false
    }
    this.checkSize(res)
    if (!this.answered) {
      this.answered = true
      this.spec.onFirstAnswer?.(res)
    }
    if (!this.takeAnswer(res, p)) return false
    const before = p.offset
    p.broken = await this.consumeOrBreak(res, fh, p)
    p.stalls = isStall(p.broken) ? p.stalls + 1 : 0
    // validBytes moves with the hash, chunk by chunk, also when the body broke off.
    p.offset = this.validBytes
    p.fetchedBytes += p.offset - before
    return p.offset === this.size
  }

  /**
   * Starts over from 0 when the answer does not continue where we asked (a 200 to a Range request,
   * or another range). False when its body is of no use (a range not asked for): then ask again.
   */
  private takeAnswer(res: MediaResponse, p: Progress): boolean {
    if (res.start === p.offset && !(p.offset > 0 && res.status !== 206)) return true
    debug('%s: asked for bytes %d-, got status %d from %d: starting over', this.spec.key, p.offset, res.status, res.start)
    p.offset = 0
    p.hash = createHash('sha256')
    this.validBytes = 0
    if (res.start === 0) return true
    cancelBody(res)
    p.broken = `the server answered with bytes from ${res.start}`
    return false
  }

  /**
   * Reads the body into the .part file. Returns why it broke off (undefined when it just ended) for a
   * resume; throws what no resume can mend: a cancel, our own errors, a body longer than announced.
   */
  private async consumeOrBreak(res: MediaResponse, fh: FileHandle, p: Progress): Promise<unknown> {
    try {
      await this.consume(res, fh, p.offset, p.hash)
      return undefined
    } catch (err) {
      if (this.abort.signal.aborted || err instanceof FlickrfsError) throw err
      // A body longer than announced will be so again: no use resuming it.
      if ((err as { permanent?: unknown } | null)?.permanent === true) {
        throw new FlickrfsError('MEDIA', `The download of ${this.spec.key} failed: ${errorMessage(err)}`, { cause: err })
      }
      return err
    }
  }

  private checkSize(res: MediaResponse): void {
    if (this.size === 0 && res.size > 0) {
      this.size = res.size
      return
    }
    if (res.size < 0 && this.size === 0) {
      cancelBody(res)
      throw new FlickrfsError('MEDIA', `The media server did not say how big ${this.spec.key} is, so a complete download cannot be told from a broken one. Try again later.`)
    }
    // A server that does not state the size (-1) is checked against the catalog's size instead.
    if (res.size >= 0 && res.size !== this.size) {
      cancelBody(res)
      throw new FlickrfsError('MEDIA', `The media server says ${this.spec.key} has ${res.size} bytes, but the catalog says ${this.size}. Refresh the catalog and try again.`)
    }
  }

  /**
   * The body into the .part file. Chunks are gathered and written together (one write per
   * WRITE_BATCH bytes, or per original for most photos, instead of one per network chunk: each write
   * is a round trip through the thread pool), except while a reader waits for bytes, which are then
   * written as they come. A chunk is hashed once written, so `hash` always covers [0, validBytes);
   * what came before a body broke off is written before the break is passed on.
   */
  private async consume(res: MediaResponse, fh: FileHandle, start: number, hash: Hash): Promise<void> {
    const reader = chunksOf(res)
    this.reader = reader
    let offset = start
    let held: Uint8Array[] = []
    let heldBytes = 0
    const flush = async (): Promise<void> => {
      if (heldBytes === 0) return
      const chunks = held
      held = []
      const bytes = heldBytes
      heldBytes = 0
      try {
        await writeAllAt(fh, chunks, bytes, offset)
      } catch (err) {
        // Keep the .part resumable: bytes after `offset` may be half-written.
        await fh.truncate(offset).catch(() => {})
        throw destWriteError(err, this.spec.partPath)
      }
      for (const c of chunks) hash.update(c)
      offset += bytes
      this.grow(offset)
    }
    // A connection that stays open but sends nothing would hold every reader of this file forever.
    let idle: NodeJS.Timeout | undefined
    const armIdle = (): void => {
      clearTimeout(idle)
      idle = setTimeout(() => reader.cancel(new Error('body idle')), this.spec.bodyIdleTimeoutMs)
    }
    try {
      for (;;) {
        armIdle()
        let value: Uint8Array | undefined
        try {
          value = await reader.read()
        } catch (err) {
          // What came before the break is good: kept, for the resume to start after it.
          await flush()
          throw err
        }
        if (value === undefined) return await flush()
        if (offset + heldBytes + value.byteLength > this.size) {
          throw new FlickrfsError('MEDIA', `The media server sent more than the ${this.size} bytes it announced for ${this.spec.key}.`)
        }
        held.push(value)
        heldBytes += value.byteLength
        // Everything announced is here: do not wait for the stream's end (a kept-alive
        // connection may signal it late).
        const complete = offset + heldBytes === this.size
        if (complete || heldBytes >= WRITE_BATCH || this.waiters.size > 0) await flush()
        if (complete) return
      }
    } finally {
      clearTimeout(idle)
      this.reader = undefined
      reader.cancel()
    }
  }

  private grow(valid: number): void {
    this.validBytes = valid
    for (const w of this.waiters) {
      if (w.end <= valid) {
        this.waiters.delete(w)
        w.resolve()
      }
    }
  }

  private fail(err: unknown): void {
    const failure = asError(err)
    this.failure = failure
    for (const w of this.waiters) w.reject(failure)
    this.waiters.clear()
  }

  /** Resolves once bytes [0, end) are in the .part file; rejects if the download fails or `signal` aborts. */
  async waitFor(end: number, signal?: AbortSignal): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    if (end <= this.validBytes) return
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(waiter)
        reject(asError(signal?.reason))
      }
      const waiter: Waiter = {
        end,
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) },
      }
      this.waiters.add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Reads from the .part file into a fresh Buffer. Returns undefined when the handle is already
   * released (the file then lives under its final name).
   */
  async readPart(position: number, length: number): Promise<Buffer | undefined> {
    const fh = this.fh
    if (this.closing || fh === undefined) return undefined
    this.readers += 1
    try {
      return await readFully(fh, position, length)
    } finally {
      this.readers -= 1
      if (this.readers === 0) this.drained?.()
    }
  }

  /** Sets the times of the .part file through its open handle (before its rename). */
  setTimes(atime: Date, mtime: Date): void {
    if (this.fh === undefined) throw new FlickrfsError('INTERNAL', `${this.spec.key}: the .part file is not open`)
    futimesSync(this.fh.fd, atime, mtime)
  }

  /** Closes the .part handle once no reader is using it. */
  async release(): Promise<void> {
    this.closing = true
    if (this.readers > 0) await new Promise<void>((resolve) => { this.drained = resolve })
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => {})
  }
}

/** The HTTP status of a media error (MediaHttpError itself, or the cause of the client's final error). */
function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; cause?: { status?: unknown } } | null
  const status = e?.status ?? e?.cause?.status
  return typeof status === 'number' ? status : undefined
}

/**
 * Writes `chunks` (`bytes` in all) at `position`: one writev, then the rest of a short write. Up to
 * SYNC_WRITE_MAX bytes at once (util/fs.ts), as Confined.writeFileAtomic does.
 */
async function writeAllAt(fh: FileHandle, chunks: Uint8Array[], bytes: number, position: number): Promise<void> {
  const bytesWritten = bytes <= SYNC_WRITE_MAX ? writevSync(fh.fd, chunks, position)
    : (chunks.length === 1 ? await fh.write(chunks[0] as Uint8Array, 0, bytes, position) : await fh.writev(chunks, position)).bytesWritten
  if (bytesWritten === bytes) return
  const all = Buffer.concat(chunks, bytes)
  let done = bytesWritten
  while (done < bytes) {
    const r = await fh.write(all, done, bytes - done, position + done)
    done += r.bytesWritten
  }
}

async function hashPrefix(fh: FileHandle, length: number, hash: Hash): Promise<number> {
  let pos = 0
  while (pos < length) {
    const chunk = await readFully(fh, pos, Math.min(READ_CHUNK, length - pos))
    if (chunk.length === 0) break
    hash.update(chunk)
    pos += chunk.length
  }
  return pos
}

/** The body of `res` to read: its chunks where the source offers them (no web stream), else its stream's reader. */
function chunksOf(res: MediaResponse): BodyChunks {
  if (res.chunks !== undefined) return res.chunks
  const reader = res.body.getReader()
  return {
    read: async () => {
      const { done, value } = await reader.read()
      return done ? undefined : value
    },
    cancel: (reason) => void reader.cancel(reason).catch(() => {}),
  }
}

/** Lets go of a body not read (and of its connection). */
function cancelBody(res: MediaResponse): void {
  if (res.chunks !== undefined) res.chunks.cancel()
  else void res.body.cancel().catch(() => {})
}
