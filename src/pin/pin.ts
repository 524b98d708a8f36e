/**
 * `flickrfs pin DEST`: refresh the catalog, download every original into DEST's store while the
 * listing and comment fetches go on, then make DEST's tree match the layout. One failing item never
 * stops the run: everything else completes and the failures come back in the report.
 */
import { resolve } from 'node:path'
import { stat } from 'node:fs/promises'
import createDebug from '../util/debug.js'
import { Catalog, acquireRootLock, catalogPath, nextTranscodeTry, type CatalogApi, type ListingMarks, type CatalogMedia, type CatalogOpenOptions, type RecordedAnswers, type RefreshProgress, type RefreshReport } from '../catalog/index.js'
import { FlickrfsError, isFlickrfsError } from '../errors/flickrfs-error.js'
import { PHOTO_METADATA_FORMAT, photoSidecarSizer } from '../layout/metadata.js'
import type { MediaSource, OriginalStore } from '../store/index.js'
import { destWriteError, errnoCode } from '../util/fs-errors.js'
import { isDamagedDb } from '../util/sqlite.js'
import { Confined } from '../util/confine.js'
import { STATE_DIR_NAME, STATE_REL, stateDir } from '../util/state-paths.js'
import { statTreeRecord, startTreeCheck, treeCheckOf, treeKey, type TreeCheck, type TreeCounts } from './tree-record.js'
import { claimEarlyCheck, type RecordFile } from './early-check.js'
import type { EntriesCheck } from './tree-check.js'
import { failedDownloads, readLastPin, recordPinResult } from './pin-state.js'
import type { WriteTreeReport } from './write-tree.js'
import type { TakeoverCleanup } from './takeover.js'
import { Handover } from '../util/handover.js'

const log = createDebug('flickrfs:pin')

export interface PinProgress {
  phase: 'listing' | 'downloading' | 'writing'
  queued: number
  done: number
  queuedBytes: number
  doneBytes: number
  /** Bytes really downloaded (doneBytes also counts originals that were already there). */
  fetchedBytes: number
  /**
   * Items the run will have queued once every original is sized, known once the photostream is
   * listed (downloads then go on while the rest is sized by their own GETs); absent before.
   */
  expected?: number
  /**
   * Originals queued and not under way yet: waiting for a download slot or an in-place check. What
   * the run bounds (`queueAhead`, plus a sweep's batch); a download past its slot that waits for its
   * record's commit (store/record-batch.ts, batches grow with the load) is under way.
   */
  waiting?: number
  /**
   * The catalog is being saved: the refresh's last step, after every original is sized (at
   * 1,000,000 items a first sync's save takes a minute or two, with nothing left to download).
   */
  saving?: boolean
  /**
   * The refresh's API work of this run once its listing is in: comments to fetch and sets to list.
   * A first sync fetches comments at the key's rate after the last original is down (hours on a
   * big account): what the pin is doing then, and how long it still takes.
   */
  apiWork?: ApiWork
}

/** Calls of a refresh counted as it goes (this run's: what an interrupted run fetched is not asked again). */
export interface ApiWork {
  commentsDone: number
  commentsTotal: number
  setsDone: number
  setsTotal: number
}

/** The comments and sets of a refresh's progress, as a pin tells them. */
export function apiWorkOf(p: RefreshProgress): ApiWork {
  return { commentsDone: p.commentsFetched, commentsTotal: p.commentsToFetch, setsDone: p.setsListed, setsTotal: p.sets }
}

export interface PinOptions {
  dest: string
  api: CatalogApi
  media: CatalogMedia & MediaSource
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  ignoreViews?: boolean
  deleteUnknown?: boolean
  /** --delete-unknown even when a refresh lost more of the account at once than MASS_DELETION allows. */
  forceDelete?: boolean
  /** Downloads in flight at once. */
  concurrency?: number
  /** Listing, comment and getSizes requests the refresh queues at once (the client still caps what is in flight). */
  apiConcurrency?: number
  /** HEAD requests (sizing originals) in flight at once during the refresh. */
  headConcurrency?: number
  /** `cookie_accid=…; cookie_epass=…` for video originals. */
  cookies?: string
  /** List the whole account when the last full listing is this old; in between, refreshes are incremental (absent or 0: always full). */
  fullListingEveryMs?: number
  /**
   * Runs before the catalog is loaded whole, under the lock (not in a pin that ends as a no-change
   * check, which reads only the catalog's head and a few chunks): the CLI moves a damaged catalog
   * aside here. True when it did (then the run starts from no catalog).
   */
  checkCatalog?: () => Promise<boolean>
  /**
   * A run with a small change to merge reads a saved catalog of at least this many photos lazily
   * (default PIN_LAZY_CATALOG_FROM_PHOTOS; 0: any), merging the change without loading it.
   */
  lazyCatalogFromPhotos?: number
  /**
   * Originals queued ahead of the download slots at most (default pin-run.ts
   * WAITING_DOWNLOADS_MAX): the rest wait for the sweep. For tests, which show the bound on a
   * small account.
   */
  queueAhead?: number
  /**
   * Told as the run starts, before DEST's record and catalog are opened: the calls follow (the
   * CLI's limiter leases their tokens meanwhile, FlickrClient.prepareCalls; leased any later, the
   * first calls waited on its file while the catalog's lists, read meanwhile, were parsed first).
   */
  prepareCalls?: () => void
  onProgress?: (p: PinProgress) => void
  /** A line worth telling under -v (each download, each removal). */
  onDetail?: (line: string) => void
  /** The wall clock (default Date.now): the run's duration, and the catalog's refresh and change times. */
  now?: () => number
}

export interface PinFailure {
  id: string
  what: string
  message: string
}

export interface PinReport {
  refresh: RefreshReport
  downloaded: number
  downloadedBytes: number
  alreadyPresent: number
  /** Of `alreadyPresent`: files found under their final name with no record (a mirror by another tool, a rebuilt catalog), hashed here instead of downloaded. */
  adopted: number
  failures: PinFailure[]
  transcodes: Array<{ id: string; label: string }>
  tree: WriteTreeReport
  durationMs: number
  /** Catalog items not asked for (--ignore-photos / --ignore-videos), by kind. */
  ignored: { photos: number; videos: number }
  /** --delete-unknown held back: the photos it would have deleted, of how many the last pin wrote. */
  deletionHeldBack?: { lost: string[]; total: number }
  /** --delete-unknown on a mirror flickrmirrorer wrote: what of the tool's went, and what stayed (takeover.ts). */
  flickrmirrorer?: TakeoverCleanup
  /**
   * Nothing changed, and DEST was checked against the last pin's record of its tree
   * (tree-record.ts) rather than against a layout built again.
   */
  checkedAgainstRecord: boolean
  /**
   * Of `failures`, those a fresh record may fix (originals that could not be had, downloads that
   * failed; not a file gone from DEST), and when a run lists their records afresh: the next one, or
   * the first from a time on (catalog/incremental.ts nextRelist). Every run tries them again.
   */
  relistable?: { count: number; next: 'next' | number }
  /**
   * Cookies were given and videos are still transcodes (Flickr refused their originals with those
   * cookies): from when the same cookies ask for them again (once a day; other cookies ask at once).
   */
  transcodesNext?: number
}

/**
 * Downloads in flight at once, by default. Media latency, not bandwidth, bounds a pin of small
 * originals: at 20 ms per request 6 in flight needed 2.3 s for 700 originals, 32 need 0.45 s, and
 * more brought nothing measurable on two cores (bench/pin.ts --floor-downloads). Each holds one
 * socket and one open .part file, so 32 keep the descriptors well bounded.
 */
export const DEFAULT_PIN_CONCURRENCY = 32

/**
 * From this many photos, a pin whose quick refresh found a change to merge opens the catalog lazily
 * (catalog.ts `LazyOpen`): the change is merged into the stored catalog (lazy-merge.ts) and the run
 * reads the listing pages and the reported photos' buckets, never the whole catalog (2–3 GB at
 * 1,000,000 photos); so does a full listing due (full-merge.ts), and the photostream listing that
 * items which failed last time call for (full-merge.ts mergeRelisted). What the merges do not take
 * (many photos changed) loads it whole, as before. Since buckets hold 128 photos (persist.ts), the merge costs
 * less than the whole load from ~10,000 photos: at 20,000, 50,000 and 200,000 a pin after a small
 * change took 0.82×, 0.79× and 0.52× the time and 0.95×, 0.78× and 0.57× the memory of a whole
 * one; at 2,000 the same time at first, then up to 1.4× as the photos reported grew to a quarter
 * of the account (bench/RESULTS.md, "Session 24"). The mount keeps its own line
 * (LAZY_CATALOG_FROM_PHOTOS): a lazy mount parses a bucket at each sidecar's first read.
 */
export const PIN_LAZY_CATALOG_FROM_PHOTOS = 20_000


export async function pin(opts: PinOptions): Promise<PinReport> {
  const now = opts.now ?? Date.now
  const started = now()
  opts.prepareCalls?.()
  const dest = resolve(opts.dest)
  await prepareDest(dest)
  const lock = await acquireRootLock(dest, 'pin')
  return closing(lock.release.bind(lock), dest, async () => {
    const quick = await tryNoChangePin(dest, opts, started, now)
    if (quick.report !== undefined) return quick.report
    // A catalog moved aside: what the check found of the old one is of no use.
    const fresh = (await opts.checkCatalog?.()) === true
    // The whole run's modules (the layout, the store, the tree writer) are loaded only for it.
    const [{ OriginalStore, pinEverything }, { PinRun }] = await Promise.all([import('../store/index.js'), import('./pin-run.js')])
    const catalog = await Catalog.open(dest, catalogOptions(!fresh && (quick.answered !== undefined || quick.fullListing === true || quick.refresh !== undefined), opts))
    return closing(() => catalog.close(), dest, async () => {
      // reads: false: pin downloads and records, never reads ranges (its read path is not loaded).
      const store = await OriginalStore.open(dest, opts.media, { pins: pinEverything, cookies: opts.cookies, reads: false })
      // The answers go to the run's refresh alone (Handover): `quick` and `run` stay alive to the run's end.
      if (fresh) quick.answered?.take()
      const run = { dest, catalog, store, opts, started, now, recordTree: true, ...(fresh ? {} : { refresh: quick.refresh, answered: quick.answered }) }
      return closing(() => store.close(), dest, () => new PinRun(run).run())
    })
  })
}

/**
 * How the whole run opens the catalog: lazily (`merging`) when the no-change check made the calls:
 * a change to merge (the answers of the quick refresh, also after a run with failures, or a full
 * listing due, which Catalog.refresh merges into a lazy catalog when it can: lazy-merge.ts,
 * full-merge.ts), or nothing changed while DEST differs from its record, or has none (a first pin
 * of a catalog a mount made: loaded whole, a million photos held ~1.1 GB before a download). Whole
 * otherwise (no catalog yet, or one moved aside). The no-change check opens it with the same
 * options and deferLoad.
 */
function catalogOptions(merging: boolean, opts: PinOptions): CatalogOpenOptions {
  const base: CatalogOpenOptions = { sidecarSizer: photoSidecarSizer, ...(opts.now !== undefined ? { now: opts.now } : {}) }
  if (!merging) return base
  return { ...base, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: opts.lazyCatalogFromPhotos ?? PIN_LAZY_CATALOG_FROM_PHOTOS } }
}

/**
 * noChangePin on the catalog opened for it alone (deferLoad: its head and a few chunks are read,
 * never the whole of it). A catalog that cannot be read as one (damaged) is left to the whole run,
 * which moves it aside first (PinOptions.checkCatalog).
 */
async function tryNoChangePin(dest: string, opts: PinOptions, started: number, now: () => number): Promise<NoChangeOutcome> {
  // For the debug log's timeline: the process's start-up (node, the modules) is before `started`.
  if (log.enabled) log('no-change check: pin started %d ms after the process', Math.round(performance.now() - (now() - started)))
  const record = await statTreeRecord(dest)
  // The check the process started for this record before the lock (early-check.ts), if it read this very file.
  const early = await claimEarlyCheck(dest, record)
  const last = await readLastPin(dest).catch(() => undefined)
  // No catalog, or an empty file (damage the whole run names and moves aside: opening it to write would make it a database).
  if (((await stat(catalogPath(dest)).catch(() => undefined))?.size ?? 0) === 0) {
    await early?.cancel()
    return {}
  }
  // A failure last time (such a run writes no record), or no record of a clean last run (a first
  // pin of a catalog a mount made, or a run that stopped): no tree to check, but the refresh's
  // calls are made here all the same, for the whole run to take, which then reads a big catalog
  // lazily. A failed run's items are sized and downloaded again by that run, whose refresh lists
  // the photostream whole for them (catalog/incremental.ts planFor), merged.
  const failed = last !== undefined && last.failures.length > 0
  const unrecorded = record === undefined || last === undefined
  if (failed || unrecorded) await early?.cancel()
  const checking = failed || unrecorded ? undefined : new RecordCheck(dest, record, started, now, early)
  try {
    let catalog: Catalog
    try {
      catalog = await Catalog.open(dest, { ...catalogOptions(false, opts), deferLoad: true })
    } catch (err) {
      if (damaged(err)) return {}
      throw err
    }
    try {
      return await noChangePin(dest, checking, catalog, opts, started, now, failedDownloads(last))
    } catch (err) {
      if (damaged(err)) return {}
      throw err
    } finally {
      await catalog.close()
    }
  } finally {
    // No check left running past this run's end, however it ended (a no-op once it has answered).
    await checking?.cancel()
  }
}

/**
 * The check of DEST against its tree record. Its worker thread is started as soon as the run has
 * found the record, and reads and parses it while this thread opens the catalog; its
 * lstats wait until the refresh's calls are out (`start`): they are the no-change pin's longest
 * wait, so they go first, and the lstats (in the worker, and on this thread between the calls'
 * answers: tree-check.ts) fill it. When no call is made (a full listing is due: the whole run
 * follows) nothing is lstat'ed, and the worker is stopped. Or the check is `early`: the one the
 * process started as it started (early-check.ts), taken because it read this very record file;
 * its worker is lstat'ing already.
 */
class RecordCheck {
  readonly #check: TreeCheck
  #answer: Promise<boolean> | undefined

  constructor(
    dest: string,
    record: RecordFile,
    private readonly started: number,
    private readonly now: () => number,
    early: EntriesCheck | undefined,
  ) {
    this.#check = early !== undefined ? treeCheckOf(early) : startTreeCheck(dest, record.size, { gated: true })
    const { workers } = this.#check
    if (early !== undefined) log('tree check: %d worker threads started as the process started', workers)
    else log('tree check: %d worker threads started at %d ms', workers, this.now() - this.started)
    if (workers > 0) {
      void this.#check.record.then(() => log('tree record read (by a worker) at %d ms', this.now() - this.started))
      void this.#check.worker.then(() => log('tree check: workers done at %d ms', this.now() - this.started))
    }
  }

  /** The calls are out: the lstats start (once), in the workers, or on this thread when it has none. */
  start(): void {
    if (this.#answer !== undefined) return
    log('the refresh\'s calls are out at %d ms', this.now() - this.started)
    this.#check.go()
    // A small tree has no worker: this thread checks it at once, between the answers.
    if (this.#check.workers === 0) void this.#join()
  }

  /** This thread joins the check (once): the answer, whether every entry is as recorded. */
  #join(): Promise<boolean> {
    return (this.#answer ??= this.#check.finish().then((same) => {
      log('tree check done at %d ms: %s', this.now() - this.started, same ? 'as recorded' : 'differs')
      return same
    }))
  }

  /**
   * Whether DEST is the tree its record names, made with `key` (treeKey): call once the calls are
   * answered (this thread joins the workers then); false when the record is not one.
   */
  async same(key: string): Promise<boolean> {
    if (!(await this.#join())) return false
    return (await this.#check.record)?.key === key
  }

  /** What the record counts (once `same` has answered). */
  async counts(): Promise<TreeCounts | undefined> {
    return (await this.#check.record)?.counts
  }

  async cancel(): Promise<void> {
    await this.#check.cancel()
  }
}

/** A damaged catalog file, as sqlite or the catalog's own error says. */
function damaged(err: unknown): boolean {
  return isDamagedDb(err) || (err instanceof Error && isDamagedDb(err.cause))
}

/** How a no-change check ended: the run's report, or what the whole run can take from it. */
interface NoChangeOutcome {
  report?: PinReport
  /** The catalog was refreshed (nothing changed), but DEST differs from the record. */
  refresh?: RefreshReport
  /** The refresh's calls were made and found something to merge. */
  answered?: Handover<RecordedAnswers>
  /** No call was made: a full listing is due (or the head lacks what the quick refresh needs). */
  fullListing?: true
}

/**
 * A pin in which nothing changed, checked without the layout, the loaded catalog or the store: the
 * refresh decides "nothing changed" from the catalog's head (Catalog.refreshIfUnchanged) while
 * every entry DEST's tree record names is lstat'ed (RecordCheck, once the calls are out). When
 * the catalog is the very one the record's tree was made from, with the same options, and every
 * entry is as recorded, the run is over: `report`. Otherwise the whole run follows, with `refresh`
 * when the catalog was refreshed here already (it found nothing to change: not asked again).
 */
async function noChangePin(
  dest: string, checking: RecordCheck | undefined, catalog: Catalog, opts: PinOptions, started: number, now: () => number, resolveAgain: ReadonlySet<string>,
): Promise<NoChangeOutcome> {
  const quick = await catalog.refreshIfUnchanged(opts.api, {
    cookies: opts.cookies,
    resolveAgain,
    onAsking: () => checking?.start(),
    ...(opts.fullListingEveryMs !== undefined ? { fullListingEveryMs: opts.fullListingEveryMs } : {}),
    ...(opts.apiConcurrency !== undefined ? { apiConcurrency: opts.apiConcurrency } : {}),
  })
  log('quick refresh done at %d ms: %s', now() - started, quick?.unchanged !== undefined ? 'nothing changed' : 'something to merge')
  if (quick === undefined) return { fullListing: true }
  if (quick.unchanged === undefined) return quick.answers === undefined ? {} : { answered: new Handover(quick.answers) }
  const { unchanged } = quick
  if (checking === undefined) return { refresh: unchanged.report }
  const same = await checking.same(treeKey(unchanged.contentKey, opts))
  const counts = await checking.counts()
  if (!same || counts === undefined) {
    log('no-change pin: DEST or what it is made from differs from the last pin; checking the whole tree')
    return { refresh: unchanged.report }
  }
  const report: PinReport = {
    refresh: unchanged.report,
    downloaded: 0,
    downloadedBytes: 0,
    alreadyPresent: counts.originals,
    adopted: 0,
    failures: [],
    transcodes: unchanged.report.media.transcodes,
    ...transcodesAskedAgain(unchanged.listing, opts.cookies, unchanged.report.media.transcodes.length),
    tree: { written: 0, unchanged: counts.files, trusted: counts.files, sealed: 0, removed: 0, missingOriginals: [], manifestUnchanged: true },
    durationMs: now() - started,
    ignored: counts.ignored,
    checkedAgainstRecord: true,
  }
  opts.onProgress?.({ phase: 'writing', queued: counts.originals, done: counts.originals, queuedBytes: 0, doneBytes: 0, fetchedBytes: 0 })
  await recordPinResult(dest, { ...report, ignorePhotos: opts.ignorePhotos === true, ignoreVideos: opts.ignoreVideos === true }, now())
  return { report }
}

/**
 * A pin into a root whose lock, catalog and store another part already holds open: a running
 * mount that `flickrfs pin` handed the job to (cli/pin-handoff.ts). The same run as `pin()`.
 */
export async function pinOpenRoot(root: { dest: string; catalog: Catalog; store: OriginalStore }, opts: PinOptions): Promise<PinReport> {
  const now = opts.now ?? Date.now
  const dest = resolve(root.dest)
  const started = now()
  try {
    await prepareDest(dest)
    // Asked first whether anything changed, as a pin of its own asks (noChangePin), not refreshed
    // whole at once: a whole refresh builds its snapshot beside the one the mount serves loaded,
    // which made a pin handed to a mount at 100,000 items peak the mount at ~410 MB, against
    // <= 300 for its first sync or a pin of its own (bench/RESULTS.md "Session 51, handed").
    const quick = await root.catalog.refreshIfUnchanged(opts.api, {
      cookies: opts.cookies,
      resolveAgain: failedDownloads(await readLastPin(dest).catch(() => undefined)),
      ...(opts.fullListingEveryMs !== undefined ? { fullListingEveryMs: opts.fullListingEveryMs } : {}),
      ...(opts.apiConcurrency !== undefined ? { apiConcurrency: opts.apiConcurrency } : {}),
    })
    log('handed pin: quick refresh done at %d ms: %s', now() - started, quick === undefined ? 'a full listing is due' : quick.unchanged !== undefined ? 'nothing changed' : 'something to merge')
    const refreshed = quick?.unchanged !== undefined ? { refresh: quick.unchanged.report } : quick?.answers !== undefined ? { answered: new Handover(quick.answers) } : {}
    const { PinRun } = await import('./pin-run.js')
    return await new PinRun({ dest, catalog: root.catalog, store: root.store, opts, started, now, ...refreshed }).run()
  } catch (err) {
    throw asDestError(err, dest)
  }
}

/**
 * Runs `body`, then `close`. A failure to close after a failed body is only logged: the body's
 * error is the one worth telling (a full disk makes both fail, and the first says why). A failure
 * to close after a good run is the run's error, as one clear FlickrfsError.
 */
async function closing<T>(close: () => Promise<void>, dest: string, body: () => Promise<T>): Promise<T> {
  let result: T
  try {
    result = await body()
  } catch (err) {
    await close().catch((closeErr: unknown) => log('closing after a failure also failed: %O', closeErr))
    throw asDestError(err, dest)
  }
  try {
    await close()
  } catch (err) {
    throw asDestError(err, dest)
  }
  return result
}

/** Our errors pass; a raw filesystem or sqlite failure under DEST becomes the one line the user sees. */
function asDestError(err: unknown, dest: string): unknown {
  if (isFlickrfsError(err)) return err
  const code = errnoCode(err)
  if (code === 'SQLITE_FULL') {
    return new FlickrfsError('NO_SPACE', `No space left while writing ${stateDir(dest)}. Free some space and run the same command again; it resumes where it stopped.`, { cause: err })
  }
  if (code !== undefined && (/^E[A-Z]+$/.test(code) || code.startsWith('SQLITE_'))) return destWriteError(err, dest)
  return err
}

/**
 * Makes DEST (when missing) and its state folders, through the guard of every write under DEST: a
 * link or a file planted at .flickrfs, .flickrfs/tmp or photostream is refused here, in one line,
 * before anything is written or downloaded.
 */
async function prepareDest(dest: string): Promise<void> {
  const confined = await Confined.open(dest, { create: true })
  for (const rel of [STATE_DIR_NAME, STATE_REL.tmp, 'photostream']) await confined.isDir(rel)
  await confined.mkdirp(STATE_REL.tmp)
}

/**
 * With cookies given and transcodes left: when the same cookies next ask for their originals
 * (PinReport.transcodesNext; catalog/incremental.ts transcodeTry).
 */
export function transcodesAskedAgain(marks: ListingMarks | undefined, cookies: string | undefined, transcodes: number): Pick<PinReport, 'transcodesNext'> {
  if (cookies === undefined || transcodes === 0) return {}
  const next = nextTranscodeTry(marks)
  return next === undefined ? {} : { transcodesNext: next }
}
