/**
 * The store of originals under a cache root: one object made of four parts, each in its own file.
 *   - Originals (originals.ts): the files and their index, and downloading and recording them.
 *   - ReadPath (read-path.ts): byte ranges of originals, before, during and after their download.
 *   - Evictor (evictor.ts): pins, and removing unpinned originals beyond a byte bound.
 *   - verifyOriginals (verify.ts): checking every recorded file against its size and sha256.
 * Behaviour is composed, not switched: `pins` says what is pinned besides `pin()` (`pinEverything`),
 * `afterDownload` runs after each recorded download (`evictAfterDownload`).
 *
 * Rules that hold across the parts:
 *   - One download per (id, secret) at a time; `ensure` and every reader share it.
 *   - A record is written only after its file is in place (Originals' completion order), so a
 *     record always describes a complete file.
 *   - Only Originals changes files and records, and it tells ReadPath, which drops its handle on
 *     the file (before a rename; after an eviction or a forget).
 *   - Evictions run one at a time and never take an original with a download in flight; one that
 *     had to pass over such originals and ended over the bound runs again when one of them ends.
 *   - Access times live in memory and reach the index every `accessFlushMs`, before each eviction,
 *     and at `close()`.
 */
import type { MediaEntry } from '../catalog/types.js'
import createDebug from '../util/debug.js'
import type { MediaSource } from './media-source.js'
import { Evictor, type EvictOptions, type EvictReport } from './evictor.js'
import { Originals, type Job, type EnsureOptions, type EnsureResult, type OriginalsOptions, type StoreStats, type UnsizedJob } from './originals.js'
import { Pins, type PinPolicy } from './pins.js'
import type { ReadPath, ReadPathOptions } from './read-path.js'
import type { StoreRecord } from './store-index.js'
import { eachLimit } from '../util/pool.js'
import type { VerifyOptions, VerifyReport } from './verify.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'

const debug = createDebug('flickrfs:store')

/** Runs after each download is recorded. */
export type AfterDownload = (store: OriginalStore, record: StoreRecord) => void

/**
 * For a bounded cache: evict after each download, keeping it and the downloads recorded since (their
 * own eviction runs later and keeps them, but this one may run after they are recorded and would
 * take the newest first).
 */
export const evictAfterDownload: AfterDownload = (store, record) => {
  store.evict({ protect: [record.id], protectCompletedSince: record.completedAt }).catch((err: unknown) => debug('evict after download failed: %O', err))
}

export interface OriginalStoreOptions extends OriginalsOptions, ReadPathOptions {
  /** Unpinned originals beyond this many bytes are evicted by `evict()`, least recently read first. */
  maxBytes?: number
  /** Originals pinned besides those named by `pin()`; `pinEverything` pins every original stored. */
  pins?: PinPolicy
  afterDownload?: AfterDownload
  /** `prefetch` fetches (default true; an offline mount says false: nothing could be fetched). */
  readAhead?: boolean
  /**
   * false: nothing reads byte ranges through this store (pin downloads and records, never reads):
   * the read path's modules (read-path, open-files, range-chunks) are not even loaded, and read,
   * readLocal, readLocalSync and prefetch are not for use. Default true.
   */
  reads?: boolean
}

export class OriginalStore {
  readonly stats: StoreStats
  /** The bound on unpinned originals (`maxBytes`), for read-ahead to stay well inside it. */
  readonly cacheMaxBytes: number | undefined

  private constructor(
    private readonly originals: Originals,
    /** Undefined with `reads: false`. */
    private readonly reads: ReadPath | undefined,
    private readonly evictor: Evictor,
    stats: StoreStats,
    private readonly options: OriginalStoreOptions,
  ) {
    this.stats = stats
    this.cacheMaxBytes = options.maxBytes
  }

  static async open(root: string, media: MediaSource, options: OriginalStoreOptions = {}): Promise<OriginalStore> {
    const stats: StoreStats = { downloads: 0, fetchedBytes: 0, rangedGets: 0 }
    const pins = new Pins(options.pins)
    const originals = new Originals(root, media, pins, stats, options)
    await originals.load()
    pins.load(originals.pinnedIds())
    // Loaded only for a store that serves reads: a pin's start-up spares its modules.
    const reads = options.reads === false ? undefined : new (await import('./read-path.js')).ReadPath(originals, media, stats, options)
    const store = new OriginalStore(originals, reads, new Evictor(originals, pins, options.maxBytes), stats, options)
    const after = options.afterDownload
    if (after) originals.onRecorded((record) => after(store, record))
    return store
  }

  pathOf(m: Pick<MediaEntry, 'id' | 'ext'>): string {
    return this.originals.pathOf(m)
  }

  /** Size and sha256 of the stored original of (id, secret), without I/O. */
  info(id: string, secret: string): { size: number; sha256: string } | undefined {
    return this.originals.info(id, secret)
  }

  /** The records of every original stored now (not those evicted), without I/O. */
  storedRecords(): IterableIterator<StoreRecord> {
    return this.originals.records()
  }

  /** The record of the original of `id` stored now (any version), without I/O. */
  recordOf(id: string): StoreRecord | undefined {
    return this.originals.record(id)
  }

  /** The record of the original of (id, secret) as it was downloaded, also after it was evicted; without I/O. */
  knownRecord(id: string, secret: string): StoreRecord | undefined {
    return this.originals.known(id, secret)
  }

  /** Moves whenever a record is added, replaced or evicted: photostream/SHA256SUMS is made again then. */
  get generation(): number {
    return this.originals.generation
  }

  /** Present under its final name, with the right secret and size. */
  has(m: MediaEntry): Promise<boolean> {
    return this.originals.has(m)
  }

  /** `ensure` when it has nothing to do, checked with one synchronous lstat; else undefined (see Originals.inPlaceSync). */
  inPlaceSync(m: MediaEntry, mtimeMs: number): EnsureResult | undefined {
    return this.originals.inPlaceSync(m, mtimeMs)
  }

  /** Makes sure the original is on disk, downloading it (once, however many callers ask) when missing or stale. */
  ensure(m: MediaEntry, opts: EnsureOptions = {}): Promise<EnsureResult> {
    return this.originals.ensure(m, opts)
  }

  /**
   * Starts the download of (id, secret) from `url` before its size and name are known: its first
   * answer sizes it, and `settle` records it under the catalog entry made from that answer.
   * Undefined when that original is being downloaded already.
   */
  fetchUnsized(o: { id: string; secret: string; url: string; retries?: number }): UnsizedJob | undefined {
    return this.originals.fetchUnsized(o)
  }

  /**
   * Records the originals of `entries` that are already under their final names without a record
   * and have the size the catalog expects, hashing them locally instead of downloading them (a
   * catalog rebuilt after damage, a mirror made by another tool). Entries already recorded, or
   * whose file is missing, of another size or not the original the index remembers, are left for
   * `ensure`. `concurrency` files are hashed at once (default 2: the disk is the limit).
   */
  async adoptExisting(entries: Iterable<MediaEntry>, opts: { concurrency?: number; onAdopted?: (record: StoreRecord) => void } = {}): Promise<{ adopted: number; bytes: number }> {
    const out = { adopted: 0, bytes: 0 }
    const todo = [...entries].filter((m) => this.originals.current(m) === undefined)
    await eachLimit(todo, opts.concurrency ?? 2, async (m) => {
      const record = await this.originals.adopt(m)
      if (record === undefined) return
      out.adopted++
      out.bytes += record.size
      opts.onAdopted?.(record)
    })
    return out
  }

  /**
   * Read-ahead: gets the original onto disk in the background for a reader expected soon, and
   * keeps it from eviction until `signal` aborts. Aborting also cancels its download if no reader
   * has joined it (the .part stays, to resume). A failure is not remembered for readers, whose own
   * read fetches again and reports it; the promise settles when the file is stored, failed or
   * abandoned, and never rejects. Nothing happens on a read-only store or with `readAhead: false`.
   * `onFetched` runs once the bytes are in the .part file (or nothing is to be fetched, or the
   * fetch failed), before the fsync, the rename and the batched record (which waits up to
   * RecordBatch's linger): what holds a download slot is the network, not the disk.
   */
  async prefetch(m: MediaEntry, signal: AbortSignal, onFetched?: () => void): Promise<void> {
    let fetched = false
    const networkDone = (): void => {
      if (fetched) return
      fetched = true
      onFetched?.()
    }
    if (!this.prefetches || signal.aborted) return networkDone()
    const t = this.originals.target(m)
    this.originals.hold(t.id)
    let job: Job | undefined
    const stop = (): void => {
      if (job?.background === true) job.download.cancel(new Error('read-ahead stopped'))
    }
    signal.addEventListener('abort', stop, { once: true })
    try {
      if (this.originals.current(m) !== undefined) return
      // A file already at its name (a rebuilt catalog) is hashed instead; a download in flight is
      // joined. Whether there is such a file is checked without a thread-pool round trip (a fresh
      // cache has none, and this runs for every original a walk reads).
      if (this.originals.mayAdopt(m) && ((await this.originals.adopt(m)) !== undefined || signal.aborted)) return
      if (this.originals.current(m) !== undefined) return
      job = this.originals.start(m, t, undefined, true)
      void job.download.ran.then(networkDone)
      await job.done
      // Its reader is expected soon: its first read then finds the file open. Not when a reader
      // joined the download (it read from the .part, and may be done with the file already).
      if (!signal.aborted && job.background) this.reads?.warm(m)
    } catch (err) {
      debug('%s: read-ahead failed: %O', t.key, err)
    } finally {
      networkDone()
      signal.removeEventListener('abort', stop)
      if (signal.aborted) this.originals.unhold(t.id)
      else signal.addEventListener('abort', () => this.originals.unhold(t.id), { once: true })
    }
  }

  /** False when `prefetch` does nothing (read-only, or `readAhead: false`): the mount then plans no read-ahead. */
  get prefetches(): boolean {
    return this.options.readOnly !== true && this.options.readAhead !== false && this.reads !== undefined
  }

  /** The read path; a store opened with `reads: false` has none (a bug of its caller, said in one line). */
  private readPath(): ReadPath {
    if (this.reads === undefined) throw new FlickrfsError('INTERNAL', 'this store was opened without its read path (reads: false)')
    return this.reads
  }

  /** Bytes [position, position+length) of the original, in a Buffer of our own (ReadPath). */
  read(m: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return this.readPath().read(m, position, length, signal)
  }

  /** The fast path for an original already open: true when the read started (ReadPath). */
  readLocal(m: MediaEntry, position: number, length: number, done: (err: Error | null, data: Buffer | undefined) => void): boolean {
    return this.readPath().readLocal(m, position, length, done)
  }

  /** The synchronous path for a complete original, straight into `into` (ReadPath). */
  readLocalSync(m: MediaEntry, position: number, length: number, into: Buffer): number | undefined {
    return this.readPath().readLocalSync(m, position, length, into)
  }

  /** Marks originals as pinned: never evicted. Ids not yet stored are pinned when they arrive. */
  pin(ids: Iterable<string>): Promise<void> {
    return this.evictor.pin(ids)
  }

  /** Removes unpinned originals, least recently read first, until they fit in `maxBytes`. */
  evict(opts: EvictOptions = {}): Promise<EvictReport> {
    return this.evictor.evict(opts)
  }

  /** The owner of the root removed these originals (pin --delete-unknown): their records go too. */
  async forget(ids: Iterable<string>): Promise<void> {
    for (const id of ids) await this.originals.forget(id)
  }

  /** Re-reads every recorded original and compares it with its recorded size and sha256. */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    // Loaded when used: only `flickrfs verify` and a mount's check ask for it.
    const { verifyOriginals } = await import('./verify.js')
    return verifyOriginals(this.originals, opts)
  }

  /** Writes batched access times to the index. */
  flush(): Promise<void> {
    return this.originals.flush()
  }

  /**
   * Ends ranged GETs and open handles, lets an eviction in progress end (and starts no owed one),
   * then stops downloads in flight (their .part files stay, to resume), writes access times, closes
   * the index if we opened it.
   */
  async close(): Promise<void> {
    this.reads?.close()
    await this.evictor.close()
    await this.originals.close()
  }
}
