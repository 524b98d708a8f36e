/**
 * The originals on disk under a cache root (a `pin` destination or the mount's cache folder):
 * ROOT/photostream/<id>.<ext>, byte for byte, with an index of what each file is.
 *
 * Crash safety comes from the order of steps: bytes go to ROOT/.flickrfs/tmp/<id>_<secret>.part,
 * are counted against the announced size and fsynced, then renamed to the final name, then the
 * directory is fsynced, and only then is the download recorded. A file under its final name without
 * a matching record is simply downloaded again.
 */
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type Keyv from 'keyv'
import { LRUCache } from 'lru-cache'
import createDebug from 'debug'
import type { MediaEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { Download } from './download.js'
import { abortable } from '../util/abort.js'
import { destWriteError, isEnoent } from '../util/fs-errors.js'
import { fsyncDir, readFully } from '../util/fs.js'
import { catalogPath, tmpDir as stateTmpDir } from '../util/state-paths.js'
import { makeDir } from './make-dir.js'
import { OpenFiles } from './open-files.js'
import type { MediaSource } from './media-source.js'
import { safeExt, safeId, safeSecret } from './safe-names.js'
import { eachLimit } from '../util/pool.js'
import { openStoreKeyv, StoreIndex, type StoreRecord } from './store-index.js'

const debug = createDebug('flickrfs:store')

export interface OriginalStoreOptions {
  /** The index; default: namespace "store" of ROOT/.flickrfs/catalog.sqlite (closed by `close()`). */
  index?: Keyv
  /** Unpinned originals beyond this many bytes are evicted by `evict()`, least recently used first. */
  maxBytes?: number
  /** Run `evict()` after each completed download (for the mount cache). */
  evictAfterDownload?: boolean
  /** Pin mode (`flickrfs pin`): every original stored is pinned. */
  pinAll?: boolean
  /** Clock for access times and completion stamps. */
  now?: () => number
  /** Web session cookies for video originals, passed to the media source. */
  cookies?: string
  /** Times a body that breaks off is resumed before the download fails (default 5). */
  maxResumes?: number
  resumeDelayMs?: (attempt: number) => number
  /** A download whose body sends nothing for this long is dropped and resumed (default 60 s). */
  bodyIdleTimeoutMs?: number
  /** A read that starts this far past the downloaded bytes is served by its own ranged GET (default 4 MiB). */
  farReadBytes?: number
  /** Size of the ranged GETs for far reads (default 1 MiB), and how many bytes of them to keep in memory (default 32 MiB). */
  rangeChunkBytes?: number
  rangeCacheBytes?: number
  /**
   * A download that failed is not started again for this long (default 5 s): the kernel retries a
   * failed read at once, and a second full timeout against an unreachable Flickr would double the
   * wait of the program reading.
   */
  failureMemoryMs?: number
  /** How often batched access times are written to the index (default 10 s). */
  accessFlushMs?: number
}

export interface EnsureOptions {
  /** The layout's mtime for this file, so pin and the mount show the same. */
  mtimeMs?: number
  /** Stops waiting (the shared download goes on for other callers). */
  signal?: AbortSignal
}

export interface EnsureResult {
  path: string
  size: number
  sha256: string
  downloaded: boolean
}

export type VerifyStatus = 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch'

export interface VerifyResult {
  id: string
  secret: string
  path: string
  status: VerifyStatus
  expectedSize: number
  actualSize?: number
  expectedSha256: string
  actualSha256?: string
}

export interface VerifyReport {
  checked: number
  ok: number
  missing: number
  sizeMismatch: number
  hashMismatch: number
  results: VerifyResult[]
}

export interface EvictReport {
  removed: string[]
  freedBytes: number
  /** Unpinned bytes still held afterwards. */
  unpinnedBytes: number
}

export interface StoreStats {
  /** Downloads that completed in this process. */
  downloads: number
  /** Bytes received from the network for full downloads (resumes fetch fewer). */
  fetchedBytes: number
  /** Ranged GETs made for far reads. */
  rangedGets: number
}

interface Target {
  id: string
  secret: string
  ext: string
  key: string
  path: string
  partPath: string
}

interface Job {
  id: string
  download: Download
  done: Promise<StoreRecord>
}

export class OriginalStore {
  readonly root: string
  readonly stats: StoreStats = { downloads: 0, fetchedBytes: 0, rangedGets: 0 }
  private readonly photoDir: string
  private readonly tmpDir: string
  private index: StoreIndex | undefined
  private ownsKeyv = false
  private keyv: Keyv | undefined
  private readonly jobs = new Map<string, Job>()
  private readonly pinnedIds = new Set<string>()
  private readonly chunks: LRUCache<string, Buffer>
  private readonly recentFailures = new LRUCache<string, { err: unknown; atMs: number }>({ max: 4096 })
  private readonly chunkFetches = new Map<string, Promise<Buffer | undefined>>()
  private readonly openFiles = new OpenFiles()
  private readonly closed = new AbortController()
  private evicting: Promise<unknown> = Promise.resolve()
  private flushTimer: NodeJS.Timeout | undefined
  private readonly now: () => number

  static async open(root: string, media: MediaSource, options: OriginalStoreOptions = {}): Promise<OriginalStore> {
    const store = new OriginalStore(root, media, options)
    await store.load()
    return store
  }

  constructor(root: string, private readonly media: MediaSource, private readonly options: OriginalStoreOptions = {}) {
    this.root = root
    this.photoDir = join(root, 'photostream')
    this.tmpDir = stateTmpDir(root)
    this.now = options.now ?? Date.now
    this.keyv = options.index
    this.chunks = new LRUCache<string, Buffer>({
      maxSize: options.rangeCacheBytes ?? 32 << 20,
      sizeCalculation: (b) => Math.max(1, b.length),
    })
  }

  /** Reads the index into memory; `open()` does this. */
  async load(): Promise<void> {
    if (!this.keyv) {
      this.keyv = await openStoreKeyv(this.root)
      this.ownsKeyv = true
    }
    this.index = new StoreIndex(this.keyv)
    await this.index.load()
    for (const r of this.index.all()) if (r.pinned) this.pinnedIds.add(r.id)
    const every = this.options.accessFlushMs ?? 10_000
    this.flushTimer = setInterval(() => { this.flush().catch((err: unknown) => debug('access flush failed: %O', err)) }, every)
    this.flushTimer.unref()
  }

  pathOf(m: Pick<MediaEntry, 'id' | 'ext'>): string {
    return join(this.photoDir, `${safeId(m.id)}.${safeExt(m.ext)}`)
  }

  /** Size and sha256 of the stored original of (id, secret), without I/O. */
  info(id: string, secret: string): { size: number; sha256: string } | undefined {
    const r = this.idx().get(id)
    return r && r.secret === secret ? { size: r.size, sha256: r.sha256 } : undefined
  }

  /**
   * Size and sha256 of the original of (id, secret) as it was downloaded, also after it was
   * evicted: what a sidecar may show without the file being here.
   */
  knownHash(id: string, secret: string): { size: number; sha256: string } | undefined {
    const r = this.idx().known(id)
    return r && r.secret === secret ? { size: r.size, sha256: r.sha256 } : undefined
  }

  /**
   * The download of (id, secret) when every byte has arrived and only its fsync, rename and record
   * remain; undefined otherwise. A sidecar read right after its original (rsync, tar, cp read in
   * that order) waits for it, so it shows the sha256 rather than the same JSON without it.
   */
  finishing(id: string, secret: string): Promise<unknown> | undefined {
    const job = this.jobs.get(mediaKey(id, secret))
    if (!job) return undefined
    const d = job.download
    return d.size > 0 && d.validBytes >= d.size ? job.done : undefined
  }

  /** Present under its final name, with the right secret and size. */
  async has(m: MediaEntry): Promise<boolean> {
    const t = this.target(m)
    const r = this.current(m)
    return r !== undefined && (await fileSize(t.path)) === r.size
  }

  /** Makes sure the original is on disk, downloading it (once, however many callers ask) when missing or stale. */
  async ensure(m: MediaEntry, opts: EnsureOptions = {}): Promise<EnsureResult> {
    const t = this.target(m)
    let record = this.current(m)
    if (record && (await fileSize(t.path)) !== record.size) {
      debug('%s: recorded but missing or wrong size on disk; downloading again', t.key)
      record = undefined
    }
    let downloaded = false
    if (!record) {
      const job = this.startDownload(m, t, opts.mtimeMs)
      record = await abortable(job.done, opts.signal)
      downloaded = true
    }
    this.idx().touch(t.id, this.now())
    if (opts.mtimeMs !== undefined) await this.setMtime(t.path, opts.mtimeMs)
    return { path: t.path, size: record.size, sha256: record.sha256, downloaded }
  }

  /**
   * Bytes [position, position+length) of the original, in a Buffer of our own (never the caller's:
   * a FUSE read may time out while we still wait for the network). Served from the final file when
   * complete; otherwise from the shared download as soon as the range is on disk, or, for a range far
   * ahead of the download, from a ranged GET of its own.
   */
  async read(m: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const t = this.target(m)
    const record = this.current(m)
    if (record) {
      if (position >= record.size || length <= 0) return Buffer.alloc(0)
      // The record object is the version: a new download puts a new one (and drops the handle).
      const buf = await this.openFiles.read(t.id, record, t.path, position, Math.min(length, record.size - position))
      if (buf) {
        this.idx().touch(t.id, this.now())
        return buf
      }
      // Someone else may have replaced the record meanwhile (a finished download): look again.
      if (this.idx().get(t.id) !== record) return this.read(m, position, length, signal)
      debug('%s: recorded file vanished; downloading again', t.key)
      this.openFiles.drop(t.id)
      await this.idx().remove(t.id)
    }
    const failed = this.recentFailures.get(t.key)
    if (failed && this.now() - failed.atMs < (this.options.failureMemoryMs ?? 5000)) throw failed.err
    const job = this.startDownload(m, t)
    const size = job.download.size > 0 ? job.download.size : m.size
    if (position >= size || length <= 0) return Buffer.alloc(0)
    const end = Math.min(position + length, size)
    const d = job.download
    if (end > d.validBytes && position > d.validBytes + (this.options.farReadBytes ?? 4 << 20)) {
      const ranged = await this.readRanged(m, t, size, position, end, signal)
      if (ranged) return ranged
    }
    await d.waitFor(end, signal)
    const fromPart = await d.readPart(position, end - position)
    if (fromPart) return fromPart
    await abortable(job.done, signal)
    const fromFinal = await readFile(t.path, position, end - position)
    if (!fromFinal) throw destWriteError(Object.assign(new Error('file vanished after download'), { code: 'ENOENT' }), t.path)
    return fromFinal
  }

  /**
   * The mount's fast path for a complete original whose file is already open (after its first
   * read): starts the read without a promise or a signal and returns true; `done` is called once,
   * later, with a Buffer of our own (short only where the file ends early). Returns false, calling
   * nothing, in every other case; `read()` then does the work. A read from local disk cannot be
   * aborted; the caller still keeps its deadline.
   */
  readLocal(m: MediaEntry, position: number, length: number, done: (err: Error | null, data: Buffer | undefined) => void): boolean {
    const record = this.current(m)
    if (!record || position >= record.size || length <= 0) return false
    return this.openFiles.readOpen(record.id, record, position, Math.min(length, record.size - position), (err, data) => {
      if (!err) this.idx().touch(record.id, this.now())
      done(err, data)
    })
  }

  /** Marks originals as pinned: never evicted. Ids not yet stored are pinned when they arrive. */
  async pin(ids: Iterable<string>): Promise<void> {
    for (const id of ids) {
      this.pinnedIds.add(safeId(id))
      await this.idx().setPinned(id, true)
    }
  }

  async unpin(ids: Iterable<string>): Promise<void> {
    for (const id of ids) {
      this.pinnedIds.delete(id)
      await this.idx().setPinned(id, false)
    }
  }

  /** Removes unpinned originals, least recently used first, until they fit in `maxBytes`. */
  async evict(opts: { protect?: Iterable<string>; protectCompletedSince?: number } = {}): Promise<EvictReport> {
    const run = this.evicting.then(() => this.evictNow(new Set(opts.protect ?? []), opts.protectCompletedSince ?? Infinity))
    this.evicting = run.catch(() => {})
    return run
  }

  private async evictNow(protect: Set<string>, protectCompletedSince: number): Promise<EvictReport> {
    const index = this.idx()
    await index.flush()
    const unpinned = [...index.all()].filter((r) => !r.pinned && !this.pinnedIds.has(r.id))
    let unpinnedBytes = unpinned.reduce((sum, r) => sum + r.size, 0)
    const report: EvictReport = { removed: [], freedBytes: 0, unpinnedBytes }
    const max = this.options.maxBytes
    if (max === undefined || unpinnedBytes <= max) return report
    const busy = new Set([...this.jobs.values()].map((j) => j.id))
    unpinned.sort((a, b) => a.lastAccessMs - b.lastAccessMs)
    for (const r of unpinned) {
      if (unpinnedBytes <= max) break
      if (protect.has(r.id) || busy.has(r.id) || r.completedAt >= protectCompletedSince) continue
      const path = join(this.photoDir, `${r.id}.${r.ext}`)
      try {
        await unlink(path)
      } catch (err) {
        if (!isEnoent(err)) {
          debug('evict: cannot remove %s: %O', path, err)
          continue
        }
      }
      await index.markEvicted(r.id)
      this.openFiles.drop(r.id)
      unpinnedBytes -= r.size
      report.removed.push(r.id)
      report.freedBytes += r.size
    }
    report.unpinnedBytes = unpinnedBytes
    debug('evicted %d originals, %d bytes', report.removed.length, report.freedBytes)
    return report
  }

  /** Re-reads every recorded original and compares it with its recorded size and sha256. */
  async verify(opts: {
    concurrency?: number
    onResult?: (r: VerifyResult) => void
    signal?: AbortSignal
    /** Drop the records of originals that failed, so the next `ensure` downloads them again. */
    forgetBad?: boolean
  } = {}): Promise<VerifyReport> {
    const records = [...this.idx().all()].sort((a, b) => a.id.localeCompare(b.id))
    const results = new Array<VerifyResult>(records.length)
    // verifyOne reports a bad file as a result, not a throw: every file is checked. Only an abort
    // or an unexpected error stops the run (no new file starts; the ones in flight finish).
    await eachLimit(records.map((r, i) => [r, i] as const), opts.concurrency ?? 2, async ([record, i]) => {
      opts.signal?.throwIfAborted()
      const result = await this.verifyOne(record)
      results[i] = result
      if (opts.forgetBad && result.status !== 'ok') {
        await this.idx().remove(result.id)
        this.openFiles.drop(result.id)
      }
      opts.onResult?.(result)
    })
    const count = (s: VerifyStatus): number => results.filter((r) => r.status === s).length
    return {
      checked: results.length,
      ok: count('ok'),
      missing: count('missing'),
      sizeMismatch: count('size-mismatch'),
      hashMismatch: count('hash-mismatch'),
      results,
    }
  }

  private async verifyOne(r: StoreRecord): Promise<VerifyResult> {
    const path = join(this.photoDir, `${r.id}.${r.ext}`)
    const base = { id: r.id, secret: r.secret, path, expectedSize: r.size, expectedSha256: r.sha256 }
    const actualSize = await fileSize(path)
    if (actualSize === undefined) return { ...base, status: 'missing' }
    if (actualSize !== r.size) return { ...base, status: 'size-mismatch', actualSize }
    const hash = createHash('sha256')
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
    } catch (err) {
      if (isEnoent(err)) return { ...base, status: 'missing' }
      throw err
    }
    const actualSha256 = hash.digest('hex')
    return { ...base, status: actualSha256 === r.sha256 ? 'ok' : 'hash-mismatch', actualSize, actualSha256 }
  }

  /** Writes batched access times to the index. */
  async flush(): Promise<void> {
    await this.index?.flush()
  }

  /** Stops downloads in flight (their .part files stay, to resume), writes access times, closes the index if we opened it. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer)
    this.closed.abort(new Error('store closed'))
    for (const job of this.jobs.values()) job.download.cancel(new Error('store closed'))
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done))
    await this.flush()
    this.openFiles.clear()
    if (this.ownsKeyv) await this.keyv?.disconnect()
  }

  private idx(): StoreIndex {
    if (!this.index) throw new Error('OriginalStore used before load()')
    return this.index
  }

  private target(m: MediaEntry): Target {
    const id = safeId(m.id)
    const secret = safeSecret(m.secret)
    const ext = safeExt(m.ext)
    const key = mediaKey(id, secret)
    return { id, secret, ext, key, path: join(this.photoDir, `${id}.${ext}`), partPath: join(this.tmpDir, `${key}.part`) }
  }

  /** The record of `m` if it describes the same bytes (same secret, extension and, when known, size). */
  private current(m: MediaEntry): StoreRecord | undefined {
    const r = this.idx().get(m.id)
    if (!r || r.secret !== m.secret || r.ext !== m.ext) return undefined
    if (m.size > 0 && r.size !== m.size) return undefined
    return r
  }

  private startDownload(m: MediaEntry, t: Target, mtimeMs?: number): Job {
    const existing = this.jobs.get(t.key)
    if (existing) return existing
    const download = new Download({
      key: t.key,
      url: m.url,
      expectedSize: m.size > 0 ? m.size : 0,
      partPath: t.partPath,
      media: this.media,
      ...(this.options.cookies !== undefined ? { cookies: this.options.cookies } : {}),
      maxResumes: this.options.maxResumes ?? 5,
      bodyIdleTimeoutMs: this.options.bodyIdleTimeoutMs ?? 60_000,
      resumeDelayMs: this.options.resumeDelayMs ?? ((n) => Math.min(5000, 200 * 2 ** (n - 1))),
    })
    const done = this.complete(m, t, download, mtimeMs).finally(() => this.jobs.delete(t.key))
    // Readers may all have gone; the failure is still reported to anyone who awaits `done`.
    done.then(
      () => this.recentFailures.delete(t.key),
      (err: unknown) => {
        this.recentFailures.set(t.key, { err, atMs: this.now() })
        debug('%s: download failed: %O', t.key, err)
      },
    )
    const job = { id: t.id, download, done }
    this.jobs.set(t.key, job)
    return job
  }

  private async complete(m: MediaEntry, t: Target, download: Download, mtimeMs?: number): Promise<StoreRecord> {
    try {
      await makeDir(this.tmpDir)
      await makeDir(this.photoDir)
      const part = await download.run()
      try {
        if (mtimeMs !== undefined) await utimes(t.partPath, new Date(mtimeMs), new Date(mtimeMs))
        this.openFiles.drop(t.id)
        await rename(t.partPath, t.path)
        await fsyncDir(this.photoDir)
      } catch (err) {
        throw destWriteError(err, t.path)
      }
      const old = this.idx().get(t.id)
      const now = this.now()
      const record: StoreRecord = {
        id: t.id,
        secret: t.secret,
        ext: t.ext,
        size: part.size,
        sha256: part.sha256,
        kind: m.kind,
        completedAt: now,
        pinned: this.options.pinAll === true || this.pinnedIds.has(t.id) || old?.pinned === true,
        lastAccessMs: now,
      }
      if (record.pinned) this.pinnedIds.add(t.id)
      try {
        await this.idx().put(record)
      } catch (err) {
        throw destWriteError(err, catalogPath(this.root))
      }
      // Only now that the new file is in place and recorded may the old one (other extension) go.
      if (old && old.ext !== t.ext) {
        await unlink(join(this.photoDir, `${old.id}.${old.ext}`)).catch((err: unknown) => {
          if (!isEnoent(err)) debug('%s: cannot remove replaced %s.%s: %O', t.key, old.id, old.ext, err)
        })
      }
      await this.removeStaleParts(t)
      this.stats.downloads += 1
      this.stats.fetchedBytes += part.fetchedBytes
      debug('%s: stored %d bytes (%d fetched, resumed from %d)', t.key, part.size, part.fetchedBytes, part.resumedFrom)
      if (this.options.evictAfterDownload) {
        // Downloads that finished after this one are kept too: their own eviction runs later and
        // keeps them, but this one may run after they are recorded and would take the newest first.
        this.evict({ protect: [t.id], protectCompletedSince: record.completedAt }).catch((err: unknown) => debug('evict after download failed: %O', err))
      }
      return record
    } finally {
      await download.release()
    }
  }

  /** Partial downloads of older versions of this id (replaced on Flickr since) will never be resumed. */
  private async removeStaleParts(t: Target): Promise<void> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[])
    for (const name of names) {
      if (!name.startsWith(`${t.id}_`) || !name.endsWith('.part')) continue
      const key = name.slice(0, -'.part'.length)
      if (key === t.key || this.jobs.has(key) || key.slice(t.id.length + 1).includes('_')) continue
      await unlink(join(this.tmpDir, name)).catch(() => {})
    }
  }

  private async readRanged(m: MediaEntry, t: Target, size: number, position: number, end: number, signal?: AbortSignal): Promise<Buffer | undefined> {
    const chunk = this.options.rangeChunkBytes ?? 1 << 20
    const first = Math.floor(position / chunk)
    const last = Math.floor((end - 1) / chunk)
    const parts: Buffer[] = []
    for (let i = first; i <= last; i++) {
      const b = await abortable(this.fetchChunk(m, t, size, i, chunk), signal)
      if (!b) return undefined
      parts.push(b)
    }
    const all = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)
    const from = position - first * chunk
    // A copy, so the cached chunk is never handed out to be written into.
    return Buffer.from(all.subarray(from, from + (end - position)))
  }

  private fetchChunk(m: MediaEntry, t: Target, size: number, index: number, chunk: number): Promise<Buffer | undefined> {
    const key = `${t.key}:${chunk}:${index}`
    const cached = this.chunks.get(key)
    if (cached) return Promise.resolve(cached)
    let pending = this.chunkFetches.get(key)
    if (pending) return pending
    const start = index * chunk
    const length = Math.min(chunk, size - start)
    pending = (async () => {
      try {
        this.stats.rangedGets += 1
        const res = await this.media.get(m.url, {
          start,
          signal: this.closed.signal,
          ...(this.options.cookies !== undefined ? { cookies: this.options.cookies } : {}),
        })
        if (res.status !== 206 || res.start !== start || res.size !== size) {
          await res.body.cancel().catch(() => {})
          return undefined
        }
        const buf = await readExactly(res.body, length)
        if (buf) this.chunks.set(key, buf)
        return buf
      } catch (err) {
        // The shared download reports real failures; a far read just falls back to waiting for it.
        debug('%s: ranged read at %d failed: %O', t.key, start, err)
        return undefined
      } finally {
        this.chunkFetches.delete(key)
      }
    })()
    this.chunkFetches.set(key, pending)
    return pending
  }

  private async setMtime(path: string, mtimeMs: number): Promise<void> {
    try {
      const st = await stat(path)
      if (Math.abs(st.mtimeMs - mtimeMs) >= 1) await utimes(path, st.atime, new Date(mtimeMs))
    } catch (err) {
      throw destWriteError(err, path)
    }
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path)
    return st.isFile() ? st.size : undefined
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
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

async function readExactly(body: ReadableStream<Uint8Array>, length: number): Promise<Buffer | undefined> {
  const reader = body.getReader()
  const out = Buffer.allocUnsafe(length)
  let got = 0
  try {
    while (got < length) {
      const { done, value } = await reader.read()
      if (done) return undefined
      const n = Math.min(value.byteLength, length - got)
      out.set(value.subarray(0, n), got)
      got += n
    }
    return out
  } finally {
    void reader.cancel().catch(() => {})
  }
}
