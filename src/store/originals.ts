/**
 * The originals on disk under a cache root, ROOT/photostream/<id>.<ext> byte for byte, with the
 * index of what each file is, and the getting of them: one shared Download per original, however
 * many callers want it, recorded when complete.
 *
 * Order of a completion (crash safety): bytes go to ROOT/.flickrfs/tmp/<id>_<secret>.part, are
 * counted against the announced size and fsynced (Download), then renamed to the final name, then
 * the directory is fsynced, and only then is the download recorded. The file of a replaced version
 * (another extension) is removed only after the new one is recorded.
 *
 * A file under its final name without a record (a catalog rebuilt after damage, a crash between the
 * rename and the record, a mirror made by another tool) is adopted instead of downloaded again
 * when its size is the one the catalog expects: it is hashed here and recorded (`adopt`). Where
 * the index still remembers the original (evicted, or found bad by verify), the file must also
 * hash to what was recorded; a file the index says is an older version is never adopted.
 *
 * Every change of a final file or its record happens here (completion, `evictFile`, `forget`), and
 * each one tells the `onFileChange` listeners, so no one keeps serving an inode that is no longer
 * the file's. A completion tells them before the rename.
 */
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { constants, lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type Keyv from 'keyv'
import { LRUCache } from 'lru-cache'
import createDebug from 'debug'
import type { MediaEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { abortable } from '../util/abort.js'
import { destWriteError, isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { catalogPath, STATE_REL, tmpDir as stateTmpDir } from '../util/state-paths.js'
import { Download, type DownloadedPart } from './download.js'
import { fileSize } from './file-size.js'
import type { MediaSource } from './media-source.js'
import type { Pins } from './pins.js'
import { safeExt, safeId, safeSecret } from './safe-names.js'
import { flickrmirrorerVideoName, mediaFileName } from '../layout/names.js'
import { openStoreKeyv, StoreIndex, type StoreRecord } from './store-index.js'

const debug = createDebug('flickrfs:store')

const DEFAULT_MAX_RESUMES = 3

export interface OriginalsOptions {
  /** The index; default: namespace "store" of ROOT/.flickrfs/catalog.sqlite (closed by `close()`). */
  index?: Keyv
  /** Clock for access times and completion stamps. */
  now?: () => number
  /** Web session cookies for video originals, passed to the media source. */
  cookies?: string
  /**
   * Requests after the first (resumes, and restarts from byte 0) before the download fails (default 3).
   * A body that stalls (the media client's 15 s idle deadline, or its minimum rate) twice in a row
   * fails the item sooner, in about 30 s; the .part file stays, and the next run resumes it.
   */
  maxResumes?: number
  resumeDelayMs?: (attempt: number) => number
  /**
   * A download whose body sends nothing for this long is dropped and resumed (default 20 s; the media
   * client's own idle deadline, 15 s, normally fires first and says more).
   */
  bodyIdleTimeoutMs?: number
  /**
   * How long a failed download is remembered by `recentFailure` (default 5 s): a failed read is
   * often retried at once, and a second full timeout against an unreachable host would double the
   * wait of whoever reads.
   */
  failureMemoryMs?: number
  /** How often batched access times are written to the index (default 10 s). */
  accessFlushMs?: number
  /**
   * Open the index without writing anything (a read-only DEST): no access times, no downloads, no
   * adoption; what is stored is served and verified as it is.
   */
  readOnly?: boolean
}

export interface EnsureOptions {
  /** The mtime to give the file, also when it is already stored. */
  mtimeMs?: number
  /** Stops waiting (the shared download goes on for other callers). */
  signal?: AbortSignal
}

export interface EnsureResult {
  path: string
  size: number
  sha256: string
  downloaded: boolean
  /** The file was already under its final name without a record, and was hashed and recorded. */
  adopted?: boolean
}

export interface StoreStats {
  /** Downloads that completed in this process. */
  downloads: number
  /** Bytes received from the network for full downloads (resumes fetch fewer). */
  fetchedBytes: number
  /** Ranged GETs made for far reads. */
  rangedGets: number
}

/** Where an original goes, its names checked against layout/names.ts's rules. */
export interface Target {
  id: string
  secret: string
  ext: string
  key: string
  path: string
  partPath: string
  /** `path` and `partPath` relative to the root: what the guard writes. */
  rel: string
  partRel: string
}

/** ROOT/photostream, relative to the root. */
const PHOTO_REL = 'photostream'

/** A download in flight; `done` settles once it is recorded (or failed). */
export interface Job {
  id: string
  download: Download
  done: Promise<StoreRecord>
}

export class Originals {
  private readonly photoDir: string
  private readonly tmpDir: string
  private index: StoreIndex | undefined
  /** Every write under the root goes through this guard (util/confine.ts). */
  private confined: Confined | undefined
  private keyv: Keyv | undefined
  private ownsKeyv = false
  private readonly jobs = new Map<string, Job>()
  private readonly adopting = new Map<string, Promise<StoreRecord | undefined>>()
  private readonly recentFailures = new LRUCache<string, { err: unknown; atMs: number }>({ max: 4096 })
  private readonly fileListeners: Array<(id: string) => void> = []
  private readonly recordListeners: Array<(record: StoreRecord) => void> = []
  private flushTimer: NodeJS.Timeout | undefined
  private readonly now: () => number

  constructor(
    private readonly root: string,
    private readonly media: MediaSource,
    private readonly pins: Pins,
    private readonly stats: StoreStats,
    private readonly options: OriginalsOptions = {},
  ) {
    this.photoDir = join(root, 'photostream')
    this.tmpDir = stateTmpDir(root)
    this.now = options.now ?? Date.now
    this.keyv = options.index
  }

  /** Reads the index into memory and starts the timer that writes access times. */
  async load(): Promise<void> {
    // A link or a file planted where the store writes is refused by each write, before its first byte.
    this.confined = await Confined.open(this.root, { create: this.options.readOnly !== true })
    if (!this.keyv) {
      this.keyv = await openStoreKeyv(this.root, { readOnly: this.options.readOnly })
      this.ownsKeyv = true
    }
    this.index = new StoreIndex(this.keyv)
    await this.index.load()
    if (this.options.readOnly === true) return
    const every = this.options.accessFlushMs ?? 10_000
    this.flushTimer = setInterval(() => { this.flush().catch((err: unknown) => debug('access flush failed: %O', err)) }, every)
    this.flushTimer.unref()
  }

  /** `listener(id)` runs whenever the file of `id` is replaced, evicted or forgotten. */
  onFileChange(listener: (id: string) => void): void {
    this.fileListeners.push(listener)
  }

  /** `listener(record)` runs after each download is recorded. */
  onRecorded(listener: (record: StoreRecord) => void): void {
    this.recordListeners.push(listener)
  }

  pathOf(m: Pick<MediaEntry, 'id' | 'ext'>): string {
    return join(this.photoDir, `${safeId(m.id)}.${safeExt(m.ext)}`)
  }

  fileOf(r: StoreRecord): string {
    return join(this.photoDir, `${r.id}.${r.ext}`)
  }

  /** ROOT/photostream/<name>; `name` must be a plain file name (SHA256SUMS's are checked by its parser). */
  pathOfName(name: string): string {
    if (name.includes('/') || name === '.' || name === '..') throw new FlickrfsError('INTERNAL', `not a file name: ${JSON.stringify(name)}`)
    return join(this.photoDir, name)
  }

  /** Size and sha256 of the stored original of (id, secret), without I/O. */
  info(id: string, secret: string): { size: number; sha256: string } | undefined {
    const r = this.idx().get(id)
    return r && r.secret === secret ? { size: r.size, sha256: r.sha256 } : undefined
  }

  /** The record of the original of (id, secret) as it was downloaded, also after it was evicted. */
  known(id: string, secret: string): StoreRecord | undefined {
    const r = this.idx().known(id)
    return r && r.secret === secret ? r : undefined
  }

  /** Moves whenever a record is added, replaced or evicted (what `known` answers may have changed). */
  get generation(): number {
    return this.idx().generation
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
    let adopted = false
    if (!record && !this.jobs.has(t.key)) {
      record = await this.adopt(m)
      adopted = record !== undefined
    }
    if (!record) {
      const job = this.start(m, t, opts.mtimeMs)
      record = await abortable(job.done, opts.signal)
      downloaded = true
    }
    // Access times only order eviction, which never takes a pinned original: a no-change pin of a
    // big account would otherwise rewrite every index row at its flush.
    if (!record.pinned) this.touch(t.id)
    if (opts.mtimeMs !== undefined) await this.setMtime(t.rel, opts.mtimeMs)
    return { path: t.path, size: record.size, sha256: record.sha256, downloaded, ...(adopted ? { adopted } : {}) }
  }

  /**
   * Records the file already under the final name of `m` (see the top of this file), hashing it
   * here; undefined when there is none, or it is not one to adopt. One hashing per original at a
   * time, however many callers ask; never while its download runs.
   */
  adopt(m: MediaEntry): Promise<StoreRecord | undefined> {
    const t = this.target(m)
    if (this.options.readOnly === true || m.size <= 0 || this.jobs.has(t.key)) return Promise.resolve(undefined)
    let running = this.adopting.get(t.key)
    if (!running) {
      running = this.adoptFile(m, t)
        .catch((err: unknown) => {
          // Adopting only saves a download: whatever stops it (a file where a folder belongs, an
          // unreadable file) is for the download to meet and report.
          debug('%s: not adopting the file at its name: %O', t.key, err)
          return undefined
        })
        .finally(() => this.adopting.delete(t.key))
      this.adopting.set(t.key, running)
    }
    return running
  }

  /**
   * A mirror of the original flickrmirrorer holds a video under `<id>_<secret>.<ext>`: when that is
   * a plain file of the right size, it also gets our name (a hard link: no copy, no download) and
   * the adoption below checks its bytes. Returns the tool's name when it did.
   */
  private async linkToolCopy(m: MediaEntry, t: Target): Promise<string | undefined> {
    const rel = join(PHOTO_REL, flickrmirrorerVideoName(t.id, t.secret, t.ext))
    const st = await lstat(this.guard().abs(rel)).catch(() => undefined)
    if (st === undefined || !st.isFile() || st.size !== m.size) return undefined
    try {
      await this.guard().link(rel, t.rel)
    } catch (err) {
      debug('%s: cannot give %s our name: %O', t.key, rel, err)
      return undefined
    }
    return rel
  }

  private async adoptFile(m: MediaEntry, t: Target): Promise<StoreRecord | undefined> {
    const size = await fileSize(t.path)
    if (size !== undefined) return size === m.size ? this.adoptAt(m, t) : undefined
    const tool = await this.linkToolCopy(m, t)
    if (tool === undefined) return undefined
    let record: StoreRecord | undefined
    try {
      record = await this.adoptAt(m, t)
    } finally {
      if (record === undefined) await this.guard().unlink(t.rel).catch(() => undefined)
    }
    // Not the bytes we want after all: our name went again (above), the tool's file stays as it was.
    if (record === undefined) return undefined
    // The tool's own name now points at ours, so its album links still work and a backup holds the bytes once.
    await this.guard().symlinkAtomic(tool, mediaFileName(t.id, t.ext), { tmpDir: STATE_REL.tmp })
      .catch((err: unknown) => debug('%s: kept %s as it was: %O', t.key, tool, err))
    return record
  }

  /** Records the file of size `m.size` at `t.path` once its bytes check out. */
  private async adoptAt(m: MediaEntry, t: Target): Promise<StoreRecord | undefined> {
    const known = this.idx().known(t.id)
    // The index describes the file at this name as another version: its bytes are not these.
    if (known && known.ext === t.ext && known.secret !== t.secret) return undefined
    const hashed = await hashFile(t.path)
    if (hashed === undefined || hashed.size !== m.size) return undefined
    if (known && known.ext === t.ext && known.sha256 !== hashed.sha256) {
      debug('%s: the file at its name is not the original recorded before; downloading it again', t.key)
      return undefined
    }
    // A download may have started meanwhile (a mount's read): it is the newer word.
    if (this.jobs.has(t.key)) return undefined
    const old = this.idx().get(t.id)
    const record = await this.putRecord(t, m, { size: hashed.size, sha256: hashed.sha256 }, old)
    debug('%s: adopted the %d bytes already at %s', t.key, hashed.size, t.path)
    // As after a download: the file of the version it replaces (another extension) goes now.
    if (old && old.ext !== t.ext) await this.guard().unlink(join(PHOTO_REL, `${old.id}.${old.ext}`)).catch(() => undefined)
    this.fileChanged(t.id)
    for (const listener of this.recordListeners) listener(record)
    return record
  }

  target(m: MediaEntry): Target {
    const id = safeId(m.id)
    const secret = safeSecret(m.secret)
    const ext = safeExt(m.ext)
    const key = mediaKey(id, secret)
    const rel = join(PHOTO_REL, `${id}.${ext}`)
    const partRel = join(STATE_REL.tmp, `${key}.part`)
    return { id, secret, ext, key, path: join(this.photoDir, `${id}.${ext}`), partPath: join(this.tmpDir, `${key}.part`), rel, partRel }
  }

  /** The record of `m` if it describes the same bytes (same secret, extension and, when known, size). */
  current(m: MediaEntry): StoreRecord | undefined {
    const r = this.idx().get(m.id)
    if (!r || r.secret !== m.secret || r.ext !== m.ext) return undefined
    if (m.size > 0 && r.size !== m.size) return undefined
    return r
  }

  /** The record of `id`; a new download puts a new object, so the object is the version. */
  record(id: string): StoreRecord | undefined {
    return this.idx().get(id)
  }

  records(): IterableIterator<StoreRecord> {
    return this.idx().all()
  }

  /** Ids with a download in flight. */
  busyIds(): Set<string> {
    return new Set([...this.jobs.values()].map((j) => j.id))
  }

  /** Notes a read of `id` (memory only; written in batches). */
  touch(id: string): void {
    if (this.options.readOnly === true) return
    this.idx().touch(id, this.now())
  }

  /** The failure of the last download of `key`, if it ended less than `failureMemoryMs` ago. */
  recentFailure(key: string): { err: unknown } | undefined {
    const failed = this.recentFailures.get(key)
    return failed && this.now() - failed.atMs < (this.options.failureMemoryMs ?? 5000) ? failed : undefined
  }

  /** The download of `m`: the one in flight, else a new one. */
  start(m: MediaEntry, t: Target, mtimeMs?: number): Job {
    const existing = this.jobs.get(t.key)
    if (existing) return existing
    if (this.options.readOnly === true) throw new FlickrfsError('DEST', `${this.root} is read-only: ${t.id}.${t.ext} is not stored there and cannot be fetched into it.`)
    const download = new Download({
      key: t.key,
      url: m.url,
      expectedSize: m.size > 0 ? m.size : 0,
      partPath: t.partPath,
      openPart: async () => {
        const confined = this.guard()
        await confined.mkdirp(PHOTO_REL)
        return confined.openForWrite(t.partRel, constants.O_RDWR | constants.O_CREAT, 0o644)
      },
      media: this.media,
      ...(this.options.cookies !== undefined ? { cookies: this.options.cookies } : {}),
      maxResumes: this.options.maxResumes ?? DEFAULT_MAX_RESUMES,
      bodyIdleTimeoutMs: this.options.bodyIdleTimeoutMs ?? 20_000,
      resumeDelayMs: this.options.resumeDelayMs ?? ((n) => Math.min(5000, 200 * 2 ** (n - 1))),
    })
    const done = this.complete(m, t, download, mtimeMs).finally(() => this.jobs.delete(t.key))
    // Callers may all have gone; the failure is still reported to anyone who awaits `done`.
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

  async setPinned(id: string): Promise<void> {
    await this.idx().setPinned(id, true)
  }

  /** Removes the file of `r` to make room; its size and sha256 stay known. False when it cannot be removed. */
  async evictFile(r: StoreRecord): Promise<boolean> {
    const path = this.fileOf(r)
    try {
      await this.guard().unlink(join(PHOTO_REL, `${r.id}.${r.ext}`))
    } catch (err) {
      debug('evict: cannot remove %s: %O', path, err)
      return false
    }
    await this.idx().markEvicted(r.id)
    this.fileChanged(r.id)
    return true
  }

  /**
   * The file of `id` is bad or gone: it no longer counts as stored, so the next `ensure` gets it
   * again. Its recorded size and sha256 are still those of the original as it was downloaded, so
   * they are kept (as for an evicted file): a file at its name is then adopted only if it hashes
   * to them, and a damaged one is downloaded again.
   */
  async forget(id: string): Promise<void> {
    await this.idx().markEvicted(id)
    this.fileChanged(id)
  }

  /** Writes batched access times to the index. */
  async flush(): Promise<void> {
    await this.index?.flush()
  }

  /** Stops downloads in flight (their .part files stay, to resume), writes access times, closes the index if we opened it. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer)
    for (const job of this.jobs.values()) job.download.cancel(new Error('store closed'))
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done))
    await this.flush()
    if (this.ownsKeyv) await this.keyv?.disconnect()
  }

  private guard(): Confined {
    if (!this.confined) throw new Error('OriginalStore used before load()')
    return this.confined
  }

  private idx(): StoreIndex {
    if (!this.index) throw new Error('OriginalStore used before load()')
    return this.index
  }

  private fileChanged(id: string): void {
    for (const listener of this.fileListeners) listener(id)
  }

  private async complete(m: MediaEntry, t: Target, download: Download, mtimeMs?: number): Promise<StoreRecord> {
    try {
      const part = await download.run()
      await this.moveIntoPlace(t, mtimeMs)
      const old = this.idx().get(t.id)
      const record = await this.putRecord(t, m, part, old)
      // Only now that the new file is in place and recorded may the old one (other extension) go.
      if (old && old.ext !== t.ext) {
        await this.guard().unlink(join(PHOTO_REL, `${old.id}.${old.ext}`)).catch((err: unknown) => {
          debug('%s: cannot remove replaced %s.%s: %O', t.key, old.id, old.ext, err)
        })
      }
      await this.removeStaleParts(t)
      this.stats.downloads += 1
      this.stats.fetchedBytes += part.fetchedBytes
      debug('%s: stored %d bytes (%d fetched, resumed from %d)', t.key, part.size, part.fetchedBytes, part.resumedFrom)
      for (const listener of this.recordListeners) listener(record)
      return record
    } finally {
      await download.release()
    }
  }

  private async moveIntoPlace(t: Target, mtimeMs: number | undefined): Promise<void> {
    try {
      const confined = this.guard()
      if (mtimeMs !== undefined) await confined.utimes(t.partRel, new Date(mtimeMs), new Date(mtimeMs))
      this.fileChanged(t.id)
      await confined.rename(t.partRel, t.rel)
      await confined.fsyncDir(PHOTO_REL)
    } catch (err) {
      throw destWriteError(err, t.path)
    }
  }

  private async putRecord(t: Target, m: MediaEntry, part: Pick<DownloadedPart, 'size' | 'sha256'>, old: StoreRecord | undefined): Promise<StoreRecord> {
    const now = this.now()
    const record: StoreRecord = {
      id: t.id,
      secret: t.secret,
      ext: t.ext,
      size: part.size,
      sha256: part.sha256,
      kind: m.kind,
      completedAt: now,
      pinned: this.pins.has(t.id) || old?.pinned === true,
      lastAccessMs: now,
    }
    if (record.pinned) this.pins.add(t.id)
    try {
      await this.idx().put(record)
    } catch (err) {
      throw destWriteError(err, catalogPath(this.root))
    }
    return record
  }

  /** Partial downloads of older versions of this id (replaced on Flickr since) will never be resumed. */
  private async removeStaleParts(t: Target): Promise<void> {
    const confined = this.guard()
    if (!(await confined.isDir(STATE_REL.tmp))) return
    const names = await readdir(confined.abs(STATE_REL.tmp)).catch(() => [] as string[])
    for (const name of names) {
      if (!name.startsWith(`${t.id}_`) || !name.endsWith('.part')) continue
      const key = name.slice(0, -'.part'.length)
      if (key === t.key || this.jobs.has(key) || key.slice(t.id.length + 1).includes('_')) continue
      await confined.unlink(join(STATE_REL.tmp, name)).catch(() => {})
    }
  }

  private async setMtime(rel: string, mtimeMs: number): Promise<void> {
    const confined = this.guard()
    try {
      const st = await lstat(confined.abs(rel))
      if (Math.abs(st.mtimeMs - mtimeMs) >= 1) await confined.utimes(rel, st.atime, new Date(mtimeMs))
    } catch (err) {
      throw destWriteError(err, confined.display(rel))
    }
  }
}

/** Size and sha256 of the file at `path` as read now; undefined when it is gone. */
async function hashFile(path: string): Promise<{ size: number; sha256: string } | undefined> {
  const hash = createHash('sha256')
  let size = 0
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
  }
  return { size, sha256: hash.digest('hex') }
}
