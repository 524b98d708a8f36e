/**
 * The originals on disk under a cache root, ROOT/photostream/<id>.<ext> byte for byte, with the
 * index of what each file is, and the getting of them: one shared Download per original, however
 * many callers want it, recorded when complete.
 *
 * Order of a completion (crash safety): bytes go to ROOT/.flickrfs/tmp/<id>_<secret>.part, are
 * counted against the announced size and fsynced (Download), then renamed to the final name; the
 * directory is fsynced once for a batch of such renames, and only then is the batch recorded, in one
 * sqlite transaction (RecordBatch). The file of a replaced version (another extension) is removed
 * only after the new one is recorded.
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
import { createReadStream, lstatSync, type Stats } from 'node:fs'
import { createHash } from 'node:crypto'
import { constants, lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type Keyv from 'keyv'
import { LRUCache } from 'lru-cache'
import createDebug from '../util/debug.js'
import type { MediaEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { abortable } from '../util/abort.js'
import { destWriteError, isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { catalogPath, STATE_REL, tmpDir as stateTmpDir } from '../util/state-paths.js'
import { Download, type DownloadedPart } from './download.js'
import { fileSize } from './file-size.js'
import type { MediaResponse, MediaSource } from './media-source.js'
import type { Pins } from './pins.js'
import { RecordBatch } from './record-batch.js'
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
  /** Called once the bytes are in (or the download failed), before the record is committed: pin frees the download slot. */
  onFetched?: () => void
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

/** What the first answer to a download says about the original. */
export interface MediaAnswer {
  /** The whole original's size (-1 when the host does not state it; the download then fails). */
  size: number
  finalUrl: string
  filename: string | null
}

/** A download started before its size and name are known (`Originals.fetchUnsized`). */
export interface UnsizedJob {
  /** The first answer, before its body is read; rejects when the download fails before one. */
  answer: Promise<MediaAnswer>
  /** The entry (sized from `answer`) to record the download as; resolves once it is recorded. */
  settle(m: MediaEntry, mtimeMs?: number, onFetched?: () => void): Promise<EnsureResult>
  /** Stops the download and removes its .part. */
  abandon(): Promise<void>
}

/** ROOT/photostream, relative to the root. */
const PHOTO_REL = 'photostream'

/** A download in flight; `done` settles once it is recorded (or failed). */
export interface Job {
  id: string
  download: Download
  done: Promise<StoreRecord>
  /**
   * Only read-ahead has asked for it so far: it may be cancelled when the walk moves on, and its
   * failure is not remembered (`recentFailure`), so the reader's own read fetches again. Any other
   * caller of `start` clears it.
   */
  background: boolean
  /** The mtime the file gets before its rename, when the one who started the download gave one. */
  mtimeMs?: number | undefined
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
  private readonly idleListeners: Array<(id: string) => void> = []
  /** Ids read-ahead has fetched (or is fetching) for a reader about to come: never evicted meanwhile. */
  private readonly held = new Map<string, number>()
  private flushTimer: NodeJS.Timeout | undefined
  private readonly now: () => number
  /** See partNames(). */
  private parts: Promise<PartsById> | undefined
  private readonly batch = new RecordBatch<StoreRecord>((records) => this.commitRecords(records))

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

  /**
   * `listener(record)` runs after each download (or adoption) is recorded. A download's job is
   * still in flight then (in `busyIds`): it ends after the listeners, once its .part handle is
   * closed, and `onIdle` says when.
   */
  onRecorded(listener: (record: StoreRecord) => void): void {
    this.recordListeners.push(listener)
  }

  /**
   * `listener(id)` runs whenever `id` leaves `busyIds`: its download ended (recorded or failed), or
   * its last read-ahead hold was released.
   */
  onIdle(listener: (id: string) => void): void {
    this.idleListeners.push(listener)
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
    // One lstat both checks the recorded file and gives its mtime (setMtime below).
    let st = record ? await lstatFile(t.path) : undefined
    if (record && st?.size !== record.size) {
      debug('%s: recorded but missing or wrong size on disk; downloading again', t.key)
      record = undefined
      st = undefined
    }
    let downloaded = false
    let adopted = false
    if (!record && !this.jobs.has(t.key)) {
      record = await this.adopt(m)
      adopted = record !== undefined
    }
    let jobMtime: number | undefined
    if (!record) {
      const job = this.start(m, t, opts.mtimeMs)
      jobMtime = job.mtimeMs
      if (opts.onFetched) void job.download.ran.then(opts.onFetched)
      record = await abortable(job.done, opts.signal)
      downloaded = true
    }
    // Access times only order eviction, which never takes a pinned original: a no-change pin of a
    // big account would otherwise rewrite every index row at its flush.
    if (!record.pinned) this.touch(t.id)
    // A download in this call got its mtime before its rename (unless it was a reader's, without one).
    if (opts.mtimeMs !== undefined && !(downloaded && jobMtime === opts.mtimeMs)) await this.setMtime(t.rel, opts.mtimeMs, downloaded || adopted ? undefined : st)
    return { path: t.path, size: record.size, sha256: record.sha256, downloaded, ...(adopted ? { adopted } : {}) }
  }

  /**
   * What `ensure(m, { mtimeMs })` gives when it has nothing to do: the original is recorded, no
   * download or adoption of it runs, and its file is under its final name with the record's size
   * and the mtime `mtimeMs`, as one synchronous lstat says. Undefined otherwise (then `ensure`).
   * For a caller checking thousands of originals in a row (a no-change pin), to whom a promise and
   * a thread-pool round trip per file cost more than the lstat itself; never for a process serving
   * FUSE from its event loop in a tight loop (the store is a local folder, so it cannot deadlock,
   * but the caller should give the loop a turn every few hundred).
   */
  inPlaceSync(m: MediaEntry, mtimeMs: number): EnsureResult | undefined {
    const record = this.current(m)
    if (record === undefined) return undefined
    // target(m), less what is not needed here (its four path joins were a third of this check).
    const id = safeId(m.id)
    const key = mediaKey(id, safeSecret(m.secret))
    if (this.jobs.has(key) || this.adopting.has(key)) return undefined
    // photoDir is absolute and normalized, and a safe id and extension are plain names: as join() makes it.
    const path = `${this.photoDir}/${id}.${safeExt(m.ext)}`
    let st: Stats | undefined
    try {
      st = lstatSync(path, { throwIfNoEntry: false })
    } catch {
      return undefined
    }
    if (st?.isFile() !== true || st.size !== record.size || Math.abs(st.mtimeMs - mtimeMs) >= 1) return undefined
    if (!record.pinned) this.touch(id)
    return { path, size: record.size, sha256: record.sha256, downloaded: false }
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
   * Whether `adopt(m)` may find something to adopt, asked with synchronous lstats of our name and
   * the original tool's (a few microseconds each on a local disk) instead of its two thread-pool
   * round trips: false when neither name holds a file and no adoption of it runs. For read-ahead,
   * which asks this of every original a walk is about to read, nearly always in a cache that has
   * none of them. Any doubt (an lstat error other than a missing file) says true.
   */
  mayAdopt(m: MediaEntry): boolean {
    const t = this.target(m)
    if (this.options.readOnly === true || m.size <= 0 || this.jobs.has(t.key)) return false
    if (this.adopting.has(t.key)) return true
    try {
      return lstatSync(t.path, { throwIfNoEntry: false }) !== undefined ||
        lstatSync(join(this.photoDir, flickrmirrorerVideoName(t.id, t.secret, t.ext)), { throwIfNoEntry: false }) !== undefined
    } catch {
      return true
    }
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
    const record = await this.putRecord(t, m, { size: hashed.size, sha256: hashed.sha256 }, old, true)
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

  /** The record of `id` (a copy of the caller's own). */
  record(id: string): StoreRecord | undefined {
    return this.idx().get(id)
  }

  /** The version of the file of `id`: moves when a new download or adoption is recorded, or it is evicted or forgotten. */
  versionOf(id: string): number {
    return this.idx().version(id)
  }

  records(): IterableIterator<StoreRecord> {
    return this.idx().all()
  }

  /** The stored originals not recorded pinned (the evictor's candidates). */
  unpinnedRecords(): IterableIterator<StoreRecord> {
    return this.idx().unpinned()
  }

  pinnedIds(): IterableIterator<string> {
    return this.idx().pinnedIds()
  }

  /** Ids with a download in flight, or held for read-ahead (`hold`). */
  busyIds(): Set<string> {
    return new Set([...[...this.jobs.values()].map((j) => j.id), ...this.held.keys()])
  }

  /** Keeps `id` from eviction until as many `unhold` calls (read-ahead: the walk is about to read it). */
  hold(id: string): void {
    this.held.set(id, (this.held.get(id) ?? 0) + 1)
  }

  unhold(id: string): void {
    const n = (this.held.get(id) ?? 0) - 1
    if (n > 0) this.held.set(id, n)
    else if (this.held.delete(id)) this.becameIdle(id)
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

  /** The download of `m`: the one in flight, else a new one (`background`: for read-ahead only, see Job). */
  start(m: MediaEntry, t: Target, mtimeMs?: number, background = false): Job {
    const existing = this.jobs.get(t.key)
    if (existing) {
      if (!background) existing.background = false
      return existing
    }
    const download = this.newDownload(t.key, m.url, m.size > 0 ? m.size : 0, t.partPath, t.partRel)
    const job = this.track(t.id, t.key, download, this.complete(download, () => Promise.resolve({ m, t, mtimeMs })), background)
    job.mtimeMs = mtimeMs
    return job
  }

  /**
   * The download of (id, secret) from `url` before anyone knows the original's size or name: the
   * GET's answer tells them (`answer`, before the body is read), and the catalog entry made from
   * that answer is handed back with `settle`, which records the download under the entry's name once
   * complete. pin sizes new originals this way, one request each instead of a HEAD and a GET.
   * Undefined when a download of the same key is already in flight (a mount's read, next to a pin
   * handed to it): the caller sizes it another way.
   */
  fetchUnsized(o: { id: string; secret: string; url: string; retries?: number }): UnsizedJob | undefined {
    const id = safeId(o.id)
    const key = mediaKey(id, safeSecret(o.secret))
    if (this.jobs.has(key)) return undefined
    let tellAnswer!: (a: MediaAnswer) => void
    let failAnswer!: (err: unknown) => void
    const answer = new Promise<MediaAnswer>((resolve, reject) => { tellAnswer = resolve; failAnswer = reject })
    let name!: (n: { m: MediaEntry; mtimeMs?: number | undefined }) => void
    let refuse!: (err: unknown) => void
    const named = new Promise<{ m: MediaEntry; mtimeMs?: number | undefined }>((resolve, reject) => { name = resolve; refuse = reject })
    named.catch(() => undefined)
    const partRel = join(STATE_REL.tmp, `${key}.part`)
    const download = this.newDownload(key, o.url, 0, join(this.tmpDir, `${key}.part`), partRel, (res) => {
      tellAnswer({ size: res.size, finalUrl: res.finalUrl ?? o.url, filename: res.filename ?? null })
    }, o.retries)
    const job = this.track(id, key, download, this.complete(download, async () => {
      const { m, mtimeMs } = await named
      const t = this.target(m)
      if (t.key !== key) throw new FlickrfsError('INTERNAL', `${key} settled as ${t.key}`)
      return { m, t, mtimeMs }
    }))
    // Before its answer, a failed download is the answer's failure (a refused URL, a host that does not size it).
    job.done.catch((err: unknown) => failAnswer(err))
    answer.catch(() => undefined)
    return {
      answer,
      settle: async (m, mtimeMs, onFetched) => {
        if (onFetched) void download.ran.then(onFetched)
        name({ m, mtimeMs })
        const record = await job.done
        return { path: this.fileOf(record), size: record.size, sha256: record.sha256, downloaded: true }
      },
      abandon: async () => {
        refuse(new FlickrfsError('INTERNAL', `${key}: download abandoned`))
        download.cancel(new FlickrfsError('INTERNAL', `${key}: download abandoned`))
        await job.done.catch(() => undefined)
        // Its bytes are of no original anyone named: not worth resuming as whatever is asked next.
        await this.guard().unlink(partRel).catch(() => undefined)
      },
    }
  }

  private newDownload(
    key: string, url: string, expectedSize: number, partPath: string, partRel: string, onFirstAnswer?: (res: MediaResponse) => void, retries?: number,
  ): Download {
    if (this.options.readOnly === true) throw new FlickrfsError('DEST', `${this.root} is read-only: ${key} is not stored there and cannot be fetched into it.`)
    void this.parts?.then((parts) => addPart(parts, `${key}.part`))
    return new Download({
      key,
      url,
      expectedSize,
      partPath,
      openPart: async () => {
        const confined = this.guard()
        await confined.mkdirp(PHOTO_REL)
        return confined.openForWrite(partRel, constants.O_RDWR | constants.O_CREAT, 0o644)
      },
      media: this.media,
      ...(this.options.cookies !== undefined ? { cookies: this.options.cookies } : {}),
      maxResumes: this.options.maxResumes ?? DEFAULT_MAX_RESUMES,
      bodyIdleTimeoutMs: this.options.bodyIdleTimeoutMs ?? 20_000,
      resumeDelayMs: this.options.resumeDelayMs ?? ((n) => Math.min(5000, 200 * 2 ** (n - 1))),
      ...(onFirstAnswer !== undefined ? { onFirstAnswer } : {}),
      ...(retries !== undefined ? { retries } : {}),
    })
  }

  /** Registers a download in flight until its completion settles. */
  private track(id: string, key: string, download: Download, completion: Promise<StoreRecord>, background = false): Job {
    const done = completion.finally(() => {
      this.jobs.delete(key)
      this.becameIdle(id)
    })
    const job: Job = { id, download, done, background }
    // Callers may all have gone; the failure is still reported to anyone who awaits `done`.
    done.then(
      () => this.recentFailures.delete(key),
      (err: unknown) => {
        if (!job.background) this.recentFailures.set(key, { err, atMs: this.now() })
        debug('%s: download failed: %O', key, err)
      },
    )
    this.jobs.set(key, job)
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

  /** Tells the `onIdle` listeners, unless `id` is still busy (another version's download, a hold). */
  private becameIdle(id: string): void {
    if (this.busyIds().has(id)) return
    for (const listener of this.idleListeners) listener(id)
  }

  /** Waits for the bytes, then for the entry they are recorded as (`naming`), then puts them in place. */
  private async complete(download: Download, naming: () => Promise<{ m: MediaEntry; t: Target; mtimeMs?: number | undefined }>): Promise<StoreRecord> {
    try {
      const part = await download.run()
      const { m, t, mtimeMs } = await naming()
      if (m.size > 0 && part.size !== m.size) {
        throw new FlickrfsError('MEDIA', `${t.key}: ${part.size} bytes arrived, but the catalog says ${m.size}. Refresh the catalog and try again.`)
      }
      const replacesFound = await this.replacesFoundFile(t)
      await this.moveIntoPlace(t, download, mtimeMs)
      const old = this.idx().get(t.id)
      const record = await this.putRecord(t, m, part, old, replacesFound)
      // Only now that the new file is in place and recorded may the old one (other extension) go.
      if (old && old.ext !== t.ext) {
        await this.guard().unlink(join(PHOTO_REL, `${old.id}.${old.ext}`)).catch((err: unknown) => {
          debug('%s: cannot remove replaced %s.%s: %O', t.key, old.id, old.ext, err)
        })
      }
      await this.removeStaleParts(t, old !== undefined && old.secret !== t.secret)
      this.stats.downloads += 1
      this.stats.fetchedBytes += part.fetchedBytes
      debug('%s: stored %d bytes (%d fetched, resumed from %d)', t.key, part.size, part.fetchedBytes, part.resumedFrom)
      for (const listener of this.recordListeners) listener(record)
      return record
    } finally {
      await download.release()
    }
  }

  /**
   * Whether the download of `t` is about to replace a file found at its name that the index knows
   * nothing of: one of a pinned folder whose index went with a set-aside catalog (cut short, or
   * over the size a read adopts), or of another tool's mirror. Its replacement is recorded pinned,
   * as an adopted file is: eviction takes only what the cache put there itself. One lstat, and only
   * for an original not pinned already.
   */
  private async replacesFoundFile(t: Target): Promise<boolean> {
    if (this.pins.has(t.id) || this.idx().known(t.id) !== undefined) return false
    return (await lstatFile(t.path).catch(() => undefined)) !== undefined
  }

  private async moveIntoPlace(t: Target, download: Download, mtimeMs: number | undefined): Promise<void> {
    try {
      // Through the .part's own handle, still open: no path is followed, no second open.
      if (mtimeMs !== undefined) download.setTimes(new Date(mtimeMs), new Date(mtimeMs))
      this.fileChanged(t.id)
      // The directory is fsynced once per batch of records, before the batch is written (RecordBatch).
      await this.guard().rename(t.partRel, t.rel)
    } catch (err) {
      throw destWriteError(err, t.path)
    }
  }

  /**
   * `found`: the file was found in place, not put there by the cache (adopted, or downloaded again
   * over a file found without a record: replacesFoundFile). It is recorded pinned: eviction (a
   * mount's --cache-size) removes only what the cache fetched itself, never a file of a pinned
   * mirror whose index was lost with a set-aside catalog, nor one of another tool's mirror.
   */
  private async putRecord(t: Target, m: MediaEntry, part: Pick<DownloadedPart, 'size' | 'sha256'>, old: StoreRecord | undefined, found = false): Promise<StoreRecord> {
    const now = this.now()
    // The same bytes again (a damaged file repaired, a lost record adopted): SHA256SUMS's line for it
    // is unchanged, so it keeps its time, and the list's mtime (its newest line's) does not move.
    const same = old !== undefined && old.secret === t.secret && old.ext === t.ext && old.size === part.size && old.sha256 === part.sha256
    const record: StoreRecord = {
      id: t.id,
      secret: t.secret,
      ext: t.ext,
      size: part.size,
      sha256: part.sha256,
      kind: m.kind,
      completedAt: same ? old.completedAt : now,
      pinned: found || this.pins.has(t.id) || old?.pinned === true,
      lastAccessMs: now,
    }
    if (record.pinned) this.pins.add(t.id)
    await this.batch.add(record)
    return record
  }

  /** One batch of records: the renames made durable (one directory fsync), then one sqlite transaction. */
  private async commitRecords(records: StoreRecord[]): Promise<void> {
    try {
      await this.guard().fsyncDir(PHOTO_REL)
    } catch (err) {
      throw destWriteError(err, this.photoDir)
    }
    try {
      await this.idx().putMany(records)
    } catch (err) {
      throw destWriteError(err, catalogPath(this.root))
    }
    debug('recorded a batch of %d', records.length)
  }

  /**
   * Partial downloads of older versions of this id (replaced on Flickr since) will never be resumed.
   * The folder is read once, and again for a replaced original (`replaced`); the parts this process
   * starts are added as they start, so a plain completion costs no listing.
   */
  private async removeStaleParts(t: Target, replaced: boolean): Promise<void> {
    const confined = this.guard()
    if (replaced) this.parts = undefined
    const parts = await this.partNames()
    // Only this id's parts: a lookup, not a pass over every part in flight per completion.
    const keys = parts.get(t.id)
    if (keys === undefined) return
    keys.delete(t.key)
    for (const key of keys) {
      if (this.jobs.has(key)) continue
      keys.delete(key)
      await confined.unlink(join(STATE_REL.tmp, `${key}.part`)).catch(() => {})
    }
    if (keys.size === 0) parts.delete(t.id)
  }

  /** The parts in the tmp folder as read at the first completion, plus the parts started since. */
  private partNames(): Promise<PartsById> {
    this.parts ??= (async () => {
      const confined = this.guard()
      const parts: PartsById = new Map()
      if (!(await confined.isDir(STATE_REL.tmp))) return parts
      for (const name of await readdir(confined.abs(STATE_REL.tmp)).catch(() => [] as string[])) addPart(parts, name)
      return parts
    })()
    return this.parts
  }

  /** `known`: the file's lstat just taken, if any. */
  private async setMtime(rel: string, mtimeMs: number, known?: Stats): Promise<void> {
    const confined = this.guard()
    try {
      const st = known ?? await lstat(confined.abs(rel))
      if (Math.abs(st.mtimeMs - mtimeMs) >= 1) await confined.utimes(rel, st.atime, new Date(mtimeMs))
    } catch (err) {
      throw destWriteError(err, confined.display(rel))
    }
  }
}

/**
 * The keys (`<id>_<secret>`) of the .part files in the tmp folder, by id. A secret has no `_` in
 * a part's name (an id may), so the id is what comes before the last one; a name with `_` in its
 * secret, or not ending in .part, is not a part of ours to remove (removeStaleParts).
 */
type PartsById = Map<string, Set<string>>

function addPart(parts: PartsById, name: string): void {
  if (!name.endsWith('.part')) return
  const key = name.slice(0, -'.part'.length)
  const cut = key.lastIndexOf('_')
  if (cut <= 0) return
  const id = key.slice(0, cut)
  const keys = parts.get(id)
  if (keys === undefined) parts.set(id, new Set([key]))
  else keys.add(key)
}

/** The lstat of the regular file at `path`; undefined when there is none (or something else is there). */
async function lstatFile(path: string): Promise<Stats | undefined> {
  try {
    const st = await lstat(path)
    return st.isFile() ? st : undefined
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
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
