/**
 * The whole pin run (pin.ts `pin` when a no-change check did not end it, and `pinOpenRoot`):
 * refresh the catalog, download every original into DEST's store while the listing and comment
 * fetches go on, then make DEST's tree match the layout, and record it. A module of its own so that
 * a no-change pin never loads the layout, the store or the tree writer.
 */
import type { Stats } from 'node:fs'
import { setImmediate as nextTurn } from 'node:timers/promises'
import createDebug from '../util/debug.js'
import { nextRelist, type Catalog, type RecordedAnswers, type RefreshProgress, type RefreshReport } from '../catalog/index.js'
import type { CollectionEntry, MediaEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { withMediaOnly, type CatalogView, type PhotoColumns } from '../catalog/view.js'
import { FlickrfsError, isFlickrfsError } from '../errors/flickrfs-error.js'
import { buildLayout, mediaFileName, mediaMtimeMs, METADATA_SUFFIX, parseMediaFileName, parseSidecarName, PHOTO_METADATA_FORMAT, type OriginalHashes } from '../layout/index.js'
import type { OriginalStore } from '../store/index.js'
import { ManifestWriter, readManifest, type Manifest } from './manifest.js'
import { forgetTreeRecord, treeKey, TreeEntries, writeTreeRecord } from './tree-record.js'
import { writeTree, type Lookup, type WriteTreeReport } from './write-tree.js'
import { failedDownloads, readLastPin, recordPinResult } from './pin-state.js'
import { Semaphore } from '../util/semaphore.js'
import { GetSizer, type SizedDownload } from './get-sizer.js'
import { errorMessage } from '../util/abort.js'
import { Confined } from '../util/confine.js'
import type { TakeoverCleanup } from './takeover.js'
import { STATE_REL } from '../util/state-paths.js'
import { collectGarbageNow, FIRST_SYNC_OLD_GROWTH_PERCENT, growOldGenerationByWhile } from '../util/old-generation.js'
import type { Handover } from '../util/handover.js'
import { apiWorkOf, DEFAULT_PIN_CONCURRENCY, transcodesAskedAgain, type PinFailure, type PinOptions, type PinProgress, type PinReport } from './pin.js'

const log = createDebug('flickrfs:pin')

/**
 * --delete-unknown removes only what a refresh could plausibly have lost: more than this fraction of
 * the photos the last pin wrote (and more than `minPhotos`) vanishing at once looks like a listing
 * that came back short, another account's token, or a bug, and must not empty a backup. `--force`
 * deletes anyway.
 */
export const MASS_DELETION = { fraction: 0.05, minPhotos: 10 }

/** The ids of the originals the last pin wrote. */
function writtenIds(previous: Manifest): Set<string> {
  const ids = new Set<string>()
  for (let i = 0; i < previous.size; i++) {
    const media = parseMediaFileName(previous.name(i))
    if (media) ids.add(media.id)
  }
  return ids
}

/** The photo ids the last pin wrote that are no longer on Flickr. */
function goneIds(previous: Manifest, alive: Lookup): string[] {
  return [...writtenIds(previous)].filter((id) => !alive.has(id))
}

/** The photo ids of `previous` that are no longer alive, when there are more than MASS_DELETION allows. */
export function massDeletion(previous: Manifest, alive: Lookup): { lost: string[]; total: number } | undefined {
  const total = writtenIds(previous).size
  const lost = goneIds(previous, alive)
  const allowed = Math.max(MASS_DELETION.minPhotos, MASS_DELETION.fraction * total)
  return lost.length > allowed ? { lost, total } : undefined
}

/** Originals checked in place (store.inPlaceSync) before the event loop gets a turn: a few ms of lstats. */
const IN_PLACE_CHECKS_PER_TURN = 256
/**
 * Downloads waiting for a slot before the final sweep waits for room. A first pin queued every
 * original at once, each a suspended download holding its photo: 3.7 GB at 1,000,000 photos
 * (bench/RESULTS.md, "Session 33").
 */
export const WAITING_DOWNLOADS_MAX = 2048
function wanted(photo: PhotoColumns, opts: PinOptions): boolean {
  return !(photo.media === 'photo' ? opts.ignorePhotos : opts.ignoreVideos)
}

/** Originals to check in place in one turn (PinRun.#checkInPlace), and one promise for all of them. */
interface InPlaceBatch {
  items: Array<{ photo: PhotoColumns; m: MediaEntry; key: string }>
  done: Promise<void>
  settle: (p: Promise<void> | void) => void
}

/** What one pin run works on, once DEST is locked and its catalog and store are open. */
export interface PinContext {
  dest: string
  catalog: Catalog
  store: OriginalStore
  opts: PinOptions
  /** When the run began (`now()`), for durationMs. */
  started: number
  now: () => number
  /** The refresh, when made already (noChangePin's, which found nothing to change). */
  refresh?: RefreshReport
  /**
   * The answers of the calls noChangePin made, for the refresh to take (it found something to
   * merge); taken, they are the refresh's alone, and let go with it.
   */
  answered?: Handover<RecordedAnswers>
  /** Record DEST's tree after a clean run (tree-record.ts): only a run holding the catalog alone (not a mount's). */
  recordTree?: boolean
}

/**
 * One pin, in the order it runs: refresh the catalog (downloads start as originals become known),
 * queue what the refresh did not, wait for the downloads, write the tree, record the result.
 */
export class PinRun {
  readonly #ctx: PinContext
  readonly #failures: PinFailure[] = []
  readonly #progress: PinProgress = { phase: 'listing', queued: 0, done: 0, queuedBytes: 0, doneBytes: 0, fetchedBytes: 0 }
  #downloaded = 0
  #downloadedBytes = 0
  #alreadyPresent = 0
  #adopted = 0
  #deletionHeldBack: { lost: string[]; total: number } | undefined
  #takeover: TakeoverCleanup | undefined
  /** The refresh listed everything (not from what changed): the tree write then checks every link, sealed or not. */
  #fullListing = true
  /** A full disk fails every later write too: the first NO_SPACE stops the downloads and the run. */
  #noSpace: FlickrfsError | undefined
  // Downloads start as soon as the catalog knows an original, so they overlap the listing and the
  // comment fetches; an original queued twice (a refresh event, then the final sweep) is fetched once.
  #queued = new QueuedOriginals()
  /**
   * The keys queued whose original is not on disk (yet): under way, failed or abandoned. The photos
   * written into the tree are those queued and not in here (#onDisk): a set of the few not stored
   * rather than a second set of every key (~30 MB at 1,000,000 originals).
   */
  #unstored = new Set<string>()
  /**
   * What is queued and not settled yet (a download, or a batch of in-place checks). Only these are
   * waited for: a promise kept per original, and one Promise.all over them all, was a spike of
   * ~1 KB an original at the end of a first pin's downloads (bench/RESULTS.md, "Session 33").
   */
  readonly #unsettled = new Set<Promise<void>>()
  readonly #slots: Semaphore
  /** Sizes new originals by their download's GET instead of a HEAD (get-sizer.ts). */
  readonly #sizer: GetSizer
  /** Originals queued for their in-place check (#checkInPlace), one batch per turn, each with one promise for all of it. */
  readonly #inPlaceBatches: InPlaceBatch[] = []
  /** Where each local hour starts (layout/times.ts): a time zone lookup per hour, not two per original. Lives for this run. */
  readonly #hourCache = new Map<number, number>()
  /** Downloads waiting for a slot (#download), and the sweep waiting for them to be fewer (#downloadAll). */
  #waitingForSlot = 0
  #room: (() => void) | undefined

  constructor(ctx: PinContext) {
    this.#ctx = ctx
    this.#slots = new Semaphore(this.#concurrency)
    this.#sizer = new GetSizer({
      dest: ctx.dest,
      store: ctx.store,
      media: ctx.opts.media,
      slots: this.#slots,
      wanted: (photo) => wanted(photo, ctx.opts),
      stopped: () => this.#noSpace,
    })
  }

  get #queueAhead(): number {
    return Math.max(1, this.#ctx.opts.queueAhead ?? WAITING_DOWNLOADS_MAX)
  }

  get #concurrency(): number {
    return Math.max(1, this.#ctx.opts.concurrency ?? DEFAULT_PIN_CONCURRENCY)
  }

  async run(): Promise<PinReport> {
    // Before anything is written into DEST: a run that does not complete cleanly leaves no record.
    await forgetTreeRecord(this.#ctx.dest)
    // The rows' versions before the refresh: a merge (lazy-merge.ts) keeps every row it was not
    // reported, so their sidecars are the same content under the bucket's new version.
    const before = this.#ctx.catalog.photoVersions()
    // A first pin holds its whole first catalog until its tree is written, and its memory peaks
    // as that write starts: the old generation grows less until then, not only through the refresh.
    const growBack = this.#ctx.catalog.generation === '' ? growOldGenerationByWhile(FIRST_SYNC_OLD_GROWTH_PERCENT) : undefined
    try {
      return await this.#run(before)
    } finally {
      growBack?.()
    }
  }

  async #run(before: ReturnType<Catalog['photoVersions']>): Promise<PinReport> {
    const { dest, now, started } = this.#ctx
    const refresh = this.#ctx.refresh ?? (await this.#refreshCatalog())
    this.#fullListing = refresh.listing.mode === 'full'
    const view = this.#ctx.catalog.view()
    // In the same turn as the view: a mount's refresh (a pin handed to it) may swap both later.
    const versions = this.#ctx.catalog.photoVersions()
    const contentKey = this.#ctx.catalog.contentKey()
    const merged = refresh.merged === true ? this.#ctx.catalog.rowsMerged() : undefined
    const kept = merged !== undefined ? { before, reported: merged } : undefined
    await this.#downloadAll(view, refresh)
    // On disk as the tree is written (TreeEntries); its part file goes whether or not a record is written.
    const entries = this.#ctx.recordTree === true && contentKey !== undefined ? await TreeEntries.open(dest) : undefined
    let tree: WriteTreeReport
    let ignored: ReturnType<typeof ignoredCounts>
    try {
      tree = await this.#writeTree(view, { now: versions, ...(kept !== undefined ? { kept } : {}) }, entries)
      for (const name of tree.missingOriginals) {
        const id = parseMediaFileName(name)?.id ?? name
        if (!this.#failures.some((f) => f.id === id)) this.#failures.push({ id, what: 'original', message: `${name} is not in DEST` })
      }
      ignored = ignoredCounts(view, this.#ctx.opts)
      // Folders of flickrmirrorer's kept under --delete-unknown are outside the tree: a record would not see them emptied.
      const takeoverPending = (this.#takeover?.kept.length ?? 0) > 0
      if (entries !== undefined && contentKey !== undefined && this.#failures.length === 0 && this.#deletionHeldBack === undefined && !takeoverPending) {
        // Last of the run's writes into DEST: the next pin checks DEST against it (tree-record.ts).
        const counts = { originals: this.#alreadyPresent + this.#downloaded, files: tree.written + tree.unchanged, ignored }
        const recordStart = now()
        await writeTreeRecord(dest, treeKey(contentKey, this.#ctx.opts), entries, counts)
        log('tree record written in %d ms', now() - recordStart)
      }
    } finally {
      await entries?.discard()
    }
    const relistable = refresh.media.unavailable.length + this.#failures.filter((f) => f.what === 'download').length
    const report: PinReport = {
      refresh,
      downloaded: this.#downloaded,
      downloadedBytes: this.#downloadedBytes,
      alreadyPresent: this.#alreadyPresent,
      adopted: this.#adopted,
      failures: this.#failures,
      transcodes: refresh.media.transcodes,
      tree,
      durationMs: now() - started,
      ignored,
      checkedAgainstRecord: false,
      ...(this.#deletionHeldBack ? { deletionHeldBack: this.#deletionHeldBack } : {}),
      ...(relistable > 0 ? { relistable: { count: relistable, next: nextRelist(this.#ctx.catalog.listingMarks(), relistable, now()) } } : {}),
      ...transcodesAskedAgain(this.#ctx.catalog.listingMarks(), this.#ctx.opts.cookies, refresh.media.transcodes.length),
      ...(this.#takeover && (this.#takeover.removed.length > 0 || this.#takeover.kept.length > 0) ? { flickrmirrorer: this.#takeover } : {}),
    }
    const { opts } = this.#ctx
    await recordPinResult(dest, { ...report, ignorePhotos: opts.ignorePhotos === true, ignoreVideos: opts.ignoreVideos === true }, now())
    return report
  }

  /**
   * Once the photostream is listed, the count of items is known while originals are still being
   * sized (by their downloads): from then on it is the downloading phase, out of that count.
   * Runs that leave kinds out keep the listing phase until the end of the refresh.
   */
  #listed(p: RefreshProgress): void {
    const { opts } = this.#ctx
    const moved = this.#countApiWork(p)
    if (p.phase === 'saving' && this.#progress.phase === 'downloading') {
      this.#progress.saving = true
      return this.#tell()
    }
    if (this.#progress.phase !== 'listing' || opts.ignorePhotos === true || opts.ignoreVideos === true) {
      // A comment fetched or a set listed after the downloads began: told (the sizes, one per
      // original, are not: the downloads tell their own progress).
      if (moved) this.#tell()
      return
    }
    // Shown from the start: a long listing (a big account, Flickr's limit) is not a frozen screen.
    if (p.phase !== 'details' && p.phase !== 'saving') return this.#tell()
    this.#progress.expected = p.photos
    this.#tell('downloading')
  }

  /** The refresh's comments and sets counted into the progress; whether either count moved. */
  #countApiWork(p: RefreshProgress): boolean {
    const was = this.#progress.apiWork
    const now = apiWorkOf(p)
    const same = was === undefined
      ? now.commentsTotal === 0 && now.setsTotal === 0
      : was.commentsDone === now.commentsDone && was.commentsTotal === now.commentsTotal && was.setsDone === now.setsDone && was.setsTotal === now.setsTotal
    // A new object each time: the copies told before keep their counts.
    if (!same) this.#progress.apiWork = now
    return !same
  }

  #tell(phase?: PinProgress['phase']): void {
    if (phase !== undefined) this.#progress.phase = phase
    this.#progress.waiting = this.#backlog()
    this.#ctx.opts.onProgress?.({ ...this.#progress })
  }

  /** The catalog refresh, queueing each original's download as soon as the refresh knows it. */
  async #refreshCatalog(): Promise<RefreshReport> {
    const { catalog, opts, dest } = this.#ctx
    // An original whose download failed last time is sized again: the size it was listed with may be what failed.
    const lastFailed = failedDownloads(await readLastPin(dest).catch(() => undefined))
    const answered = this.#ctx.answered?.take()
    try {
      // New originals are sized by the GET of their download (the sizer), not by a HEAD each.
      return await catalog.refresh(opts.api, this.#sizer, {
        cookies: opts.cookies,
        resolveAgain: lastFailed,
        ...(answered !== undefined ? { answered } : {}),
        ...(opts.fullListingEveryMs !== undefined ? { fullListingEveryMs: opts.fullListingEveryMs } : {}),
        ...(opts.apiConcurrency !== undefined ? { apiConcurrency: opts.apiConcurrency } : {}),
        // Each sizing holds a download slot until its answer: never fewer sizings than slots.
        mediaConcurrency: Math.max(opts.headConcurrency ?? 16, this.#concurrency),
        onMedia: (ev) => this.#enqueue(ev.photo, ev.media, true),
        onProgress: (p) => this.#listed(p),
      })
    } catch (err) {
      // Nothing half-done is left behind: wait for the downloads already started, then report.
      await this.#sizer.abandonAll()
      await Promise.allSettled(this.#unsettled)
      throw err
    } finally {
      delete this.#progress.saving
      // Sized, but refused a name (or the refresh stopped): those downloads are of no use.
      await this.#sizer.done()
    }
  }

  /** The final sweep: every photostream original not queued yet, then all downloads to the end. */
  async #downloadAll(view: CatalogView, refresh: RefreshReport): Promise<void> {
    this.#tell('downloading')
    for (let i = 0; i < view.photostreamLength; i++) {
      const photo = view.photo(view.photostreamId(i))
      const m = photo && view.media(photo.id, photo.secret)
      if (photo && m) this.#enqueue(photo, m)
      // The in-place checks run a batch a turn (#drainInPlace): without a turn here every photo's
      // objects were queued before the first check (a pin after a small change to a 1,000,000-item
      // mirror peaked at 1.7 GB, bench/pin-big.ts; test/pin/sweep.test.ts).
      if (i % IN_PLACE_CHECKS_PER_TURN === IN_PLACE_CHECKS_PER_TURN - 1) {
        await nextTurn()
        // Only downloads wake it (#slot); the in-place checks drain a batch a turn on their own.
        while (this.#waitingForSlot >= this.#queueAhead) await new Promise<void>((resolve) => (this.#room = resolve))
      }
    }
    for (const u of refresh.media.unavailable) this.#failures.push({ id: u.id, what: 'original', message: u.message })
    while (this.#unsettled.size > 0) await Promise.all(this.#unsettled)
    log('downloads done at %d ms', this.#ctx.now() - this.#ctx.started)
    if (this.#noSpace !== undefined) throw this.#noSpace
  }

  /**
   * Queues the download (or in-place check) of one original. From the refresh (`fromRefresh`), an
   * original not sized by it is left to the final sweep once the backlog is full: a whole refresh
   * tells every original it knows in one loop, and a first pin of a known catalog queued them all.
   */
  #enqueue(photo: PhotoColumns, m: MediaEntry, fromRefresh = false): void {
    if (!wanted(photo, this.#ctx.opts)) return
    if (this.#queued.has(m.id, m.secret)) return
    // Made only for an original not queued yet: the final sweep tells every original again.
    const key = mediaKey(m.id, m.secret)
    if (fromRefresh && this.#backlog() >= this.#queueAhead && !this.#sizer.has(key)) return
    this.#progress.queued++
    this.#progress.queuedBytes += m.size
    const sized = this.#sizer.take(key)
    this.#queued.add(m.id, m.secret)
    this.#unstored.add(key)
    const queued = sized !== undefined ? this.#download(photo, m, key, sized) : this.#checkInPlace(photo, m, key)
    if (this.#unsettled.has(queued)) return
    this.#unsettled.add(queued)
    const settled = (): void => void this.#unsettled.delete(queued)
    queued.then(settled, settled)
  }

  /**
   * An original already in place (the store's synchronous check: recorded, with its size and
   * mtime on disk) is counted as #download counts it, without a download slot, a promise chain or a
   * thread-pool lstat; any other goes to #download. On a no-change pin that is every original, so
   * they are checked in batches, the event loop getting a turn in between (a pin may run inside a
   * mount, cli/pin-handoff.ts).
   */
  #checkInPlace(photo: PhotoColumns, m: MediaEntry, key: string): Promise<void> {
    const batches = this.#inPlaceBatches
    let batch = batches[batches.length - 1]
    if (batch === undefined || batch.items.length >= IN_PLACE_CHECKS_PER_TURN) {
      let settle!: (p: Promise<void> | void) => void
      const done = new Promise<void>((resolve) => (settle = resolve))
      batch = { items: [], done, settle }
      batches.push(batch)
      if (batches.length === 1) setImmediate(() => this.#drainInPlace())
    }
    batch.items.push({ photo, m, key })
    return batch.done
  }

  /** The first batch; settled once its checks are made and the downloads of what was not in place are over. */
  #drainInPlace(): void {
    const batch = this.#inPlaceBatches.shift()
    if (batch === undefined) return
    const downloads: Array<Promise<void>> = []
    for (const { photo, m, key } of batch.items) if (!this.#inPlace(photo, m, key)) downloads.push(this.#download(photo, m, key))
    batch.settle(downloads.length === 0 ? undefined : Promise.all(downloads).then(() => undefined))
    if (this.#inPlaceBatches.length > 0) setImmediate(() => this.#drainInPlace())
  }

  /** True when the original of `m` is in place and was counted so (see #checkInPlace). */
  #inPlace(photo: PhotoColumns, m: MediaEntry, key: string): boolean {
    const { store } = this.#ctx
    // Not pinned yet (a mount fetched it): #download pins it.
    if (this.#noSpace !== undefined || store.knownRecord(m.id, m.secret)?.pinned === false) return false
    if (store.inPlaceSync(m, mediaMtimeMs(photo, this.#hourCache)) === undefined) return false
    this.#unstored.delete(key)
    this.#alreadyPresent++
    this.#progress.done++
    this.#progress.doneBytes += m.size
    this.#tell()
    return true
  }

  /**
   * One download in a slot (`sized`: the one the refresh sized, already in its slot and under way).
   * Never rejects: a failure is recorded, a NO_SPACE stops the rest.
   */
  async #download(photo: PhotoColumns, m: MediaEntry, key: string, sized?: SizedDownload): Promise<void> {
    const release = sized?.release ?? (await this.#slot())
    try {
      if (this.#noSpace !== undefined) {
        await sized?.job.abandon()
        return
      }
      const mtimeMs = mediaMtimeMs(photo, this.#hourCache)
      // The slot is for the transfer: it is free again once the bytes are in, while the record
      // waits for its batch (store/record-batch.ts), so batches hold more than a slot count.
      const res = sized ? await sized.job.settle(m, mtimeMs, release) : await this.#ctx.store.ensure(m, { mtimeMs, onFetched: release })
      this.#unstored.delete(key)
      if (res.downloaded) {
        this.#downloaded++
        this.#downloadedBytes += res.size
        this.#ctx.opts.onDetail?.(`downloaded ${mediaFileName(m.id, m.ext)} (${res.size} bytes)`)
      } else {
        this.#alreadyPresent++
        if (res.adopted === true) this.#adopted++
        // Fetched by a mount (a cache entry) before this pin: part of the pinned tree now, so a
        // mount bounded by --cache-size must never evict it.
        if (this.#ctx.store.knownRecord(m.id, m.secret)?.pinned === false) await this.#ctx.store.pin([m.id])
      }
    } catch (err) {
      if (isFlickrfsError(err) && err.code === 'NO_SPACE') {
        this.#noSpace ??= err
        return
      }
      this.#failures.push({ id: m.id, what: 'download', message: errorMessage(err) })
      log('download of %s failed: %O', key, err)
    } finally {
      release()
      this.#progress.done++
      this.#progress.doneBytes += m.size
      this.#progress.fetchedBytes = this.#downloadedBytes
      this.#tell()
    }
  }

  /** Originals queued but not under way: downloads waiting for a slot, and in-place checks not made yet. */
  #backlog(): number {
    let n = this.#waitingForSlot
    for (const b of this.#inPlaceBatches) n += b.items.length
    return n
  }

  /** A download slot; the sweep is told once half the downloads waiting for one have it. */
  async #slot(): Promise<() => void> {
    this.#waitingForSlot++
    const release = await this.#slots.acquire()
    if (--this.#waitingForSlot <= this.#queueAhead / 2 && this.#room !== undefined) {
      const room = this.#room
      this.#room = undefined
      room()
    }
    return release
  }

  /** The layout of what is on disk, written into DEST, then the manifest of what was written. */
  async #writeTree(view: CatalogView, versions: RowVersions, entries: TreeEntries | undefined): Promise<WriteTreeReport> {
    const { dest, store } = this.#ctx
    this.#tell('writing')
    // Access times (one index write per original) go to disk while the tree is written: neither needs the other.
    const flushing = store.flush()
    // Written as the tree is (.flickrfs/tmp), put in place after it: a kill before leaves the last one.
    const next = await ManifestWriter.open(dest)
    let written: { tree: WriteTreeReport; deleted: string[] }
    try {
      written = await this.#syncTree(view, versions, entries, next)
    } catch (err) {
      await next.discard().catch(() => undefined)
      throw err
    } finally {
      // The store is closed after this returns or throws: its index writes must be over by then.
      await flushing.catch(() => undefined)
    }
    await flushing
    const { tree, deleted } = written
    if (tree.manifestUnchanged) await next.discard()
    else await next.commit()
    // Originals removed under --delete-unknown leave the store's index too, or verify would call them missing.
    if (deleted.length > 0) await store.forget(deleted)
    return tree
  }

  /**
   * Builds the layout of what is on disk and makes DEST match it. A method of its own so that the
   * layout and the lookups only the write needs are garbage once it returns, before the manifest
   * is serialized (the end of a first pin is where its memory peaks).
   */
  async #syncTree(view: CatalogView, versions: RowVersions, entries: TreeEntries | undefined, next: ManifestWriter): Promise<{ tree: WriteTreeReport; deleted: string[] }> {
    const { dest, store, opts, now } = this.#ctx
    // A photo whose original is not on disk (its download failed, or it could not be sized) is left
    // out of the tree, as the layout leaves out photos whose original is unknown: no link may dangle
    // and no sidecar may describe a file that is not there. What an earlier run wrote for it stays.
    const onDisk = this.#onDisk(view)
    let deleted: string[] = []
    // The refresh's and the sweep's garbage collected now, before the last manifest, the layout
    // and SHA256SUMS are made at once: the tree write's start is where a big pin's memory peaks
    // (bench/RESULTS.md, "Session 21, lead"). One full GC: ~0.1–0.3 s at 1,000,000 photos.
    collectGarbageNow()
    const previous = await readManifest(dest)
    const alive = aliveIds(view)
    let deleteUnknown = opts.deleteUnknown === true
    if (deleteUnknown && opts.forceDelete !== true) {
      this.#deletionHeldBack = massDeletion(previous, alive.photo)
      if (this.#deletionHeldBack) deleteUnknown = false
    }
    if (deleteUnknown) deleted = goneIds(previous, alive.photo)
    const layout = buildLayout(onDisk, {
      ignoreViews: opts.ignoreViews,
      ignorePhotos: opts.ignorePhotos,
      ignoreVideos: opts.ignoreVideos,
      hashes: sha256SumsOf(store, new Set(deleted)),
    })
    const writeStart = now()
    const tree = await writeTree(dest, layout.root, {
      deleteUnknown,
      previous,
      next,
      alive,
      photostreamKeep: keptPhotostreamNames(view, onDisk, previous),
      tmpDir: STATE_REL.tmp,
      checkedOriginals: { has: (name) => mediaNamed(onDisk, name) !== undefined },
      // A full listing (weekly by default) checks every link: their own times are all a seal misses.
      trustSeals: !this.#fullListing,
      sidecarVersion: sidecarVersions(versions.now, opts.ignoreViews === true),
      ...(versions.kept !== undefined ? { sidecarSameAs: sidecarSameAs(versions.kept, opts.ignoreViews === true) } : {}),
      ...(entries !== undefined ? { onEntry: (dir: string, name: string, link?: boolean, st?: Stats) => entries.add(dir, name, link === true, st) } : {}),
      ...(this.#ctx.opts.onDetail !== undefined ? { onRemoved: (rel: string) => this.#ctx.opts.onDetail?.(`removed ${rel}`) } : {}),
    })
    log('tree written in %d ms (%d written, %d unchanged of which %d trusted unread and %d links sealed, %d removed)', now() - writeStart, tree.written, tree.unchanged, tree.trusted, tree.sealed, tree.removed)
    if (deleteUnknown) {
      // Loaded only under --delete-unknown, the one run that cleans up after flickrmirrorer.
      const { removeFlickrmirrorerLeftovers } = await import('./takeover.js')
      this.#takeover = await removeFlickrmirrorerLeftovers(await Confined.open(dest))
    }
    return { tree, deleted }
  }

  /**
   * The catalog with only the originals that are on disk now (queued, and not #unstored): the view
   * itself when that is all of them, as after a pin that got everything (the keys are let go then:
   * held through the tree's write, where a pin's memory peaks, they would be of no use); else the
   * view filtered by them, nothing copied.
   */
  #onDisk(view: CatalogView): CatalogView {
    const queued = this.#queued
    const unstored = this.#unstored
    this.#queued = new QueuedOriginals()
    this.#unstored = new Set()
    const stored = unstored.size === 0
      ? (id: string, secret: string): boolean => queued.has(id, secret)
      : (id: string, secret: string): boolean => queued.has(id, secret) && !unstored.has(mediaKey(id, secret))
    let all = true
    view.eachPhoto((p) => {
      if (all && view.media(p.id, p.secret) !== undefined && !stored(p.id, p.secret)) all = false
    })
    return all ? view : withMediaOnly(view, stored)
  }
}

/**
 * What DEST's SHA256SUMS lists: from the index (an old DEST, whose hashes were in its sidecars,
 * gets it without a download), and every original DEST keeps besides those the tree shows, so
 * `sha256sum -c` covers every file of photostream/; not those --delete-unknown removes now.
 */
function sha256SumsOf(store: OriginalStore, deleted: ReadonlySet<string>): OriginalHashes {
  return {
    generation: () => store.generation,
    hashOf: (id, secret) => store.knownRecord(id, secret),
    kept: function* () {
      for (const r of store.storedRecords()) {
        if (!deleted.has(r.id)) yield { name: mediaFileName(r.id, r.ext), sha256: r.sha256, completedAt: r.completedAt }
      }
    },
  }
}

/**
 * The version of a sidecar's content: the stored version of its photo's catalog row (record,
 * comments, original, change times: all a sidecar is made of), the sidecar format and
 * --ignore-views. Equal versions mean equal bytes (write-tree.ts trusts a sidecar on that).
 */
function sidecarVersions(rows: (id: string) => string | undefined, ignoreViews: boolean): (name: string) => string | undefined {
  const suffix = versionSuffix(ignoreViews)
  return (name) => {
    const id = parseSidecarName(name)?.id
    const row = id === undefined ? undefined : rows(id)
    return row === undefined ? undefined : row + suffix
  }
}

/** What a sidecar's version says besides its row: the sidecar format and --ignore-views. */
function versionSuffix(ignoreViews: boolean): string {
  return ` ${PHOTO_METADATA_FORMAT}${ignoreViews ? ' ignore-views' : ''}`
}

/** The rows' versions a run writes sidecars by: now, and before a merge with the photos it reported. */
interface RowVersions {
  now: (id: string) => string | undefined
  kept?: { before: (id: string) => string | undefined; reported: ReadonlySet<string> }
}

/**
 * After a merge, the version a sidecar had before it when its photo was not reported: its row is
 * the same (lazy-merge.ts keeps every other row), so its bytes are, though its bucket was written
 * again under a new version (write-tree.ts `sidecarSameAs`). Without this, every sidecar of a
 * touched bucket is read and compared again: at 100,000 photos 81 reported photos touch up to 81
 * of the 1,024 buckets of 128 (~10,000 sidecars; 48 of 64 buckets, most of the account, when
 * buckets held 2,000), and a lazily read catalog parses a bucket for each such sidecar.
 */
function sidecarSameAs(kept: NonNullable<RowVersions['kept']>, ignoreViews: boolean): (name: string) => string | undefined {
  const suffix = versionSuffix(ignoreViews)
  return (name) => {
    const id = parseSidecarName(name)?.id
    if (id === undefined || kept.reported.has(id)) return undefined
    const row = kept.before(id)
    return row === undefined ? undefined : row + suffix
  }
}

/** Catalog items the run was told to leave out, by kind. */
function ignoredCounts(view: CatalogView, opts: PinOptions): { photos: number; videos: number } {
  const ignored = { photos: 0, videos: 0 }
  view.eachPhoto((p) => {
    if (!wanted(p, opts)) ignored[p.media === 'video' ? 'videos' : 'photos']++
  })
  return ignored
}

function aliveIds(view: CatalogView): { photo: Lookup; set: Set<string>; collection: Set<string> } {
  const collection = new Set<string>()
  const walk = (c: CollectionEntry): void => {
    collection.add(c.id)
    c.children.forEach(walk)
  }
  view.collections.forEach(walk)
  // The catalog itself answers `has(id)`: no set of 50,000 ids beside it.
  return { photo: { has: (id) => view.photo(id) !== undefined }, set: new Set(view.sets.map((s) => s.id)), collection }
}

/**
 * The original of `view` whose file in photostream/ is `name` (`<id>.<ext>`), if any: the catalog
 * keys each photo's original by the photo's id and current secret, so one lookup finds it.
 */
function mediaNamed(view: CatalogView, name: string): MediaEntry | undefined {
  const parsed = parseMediaFileName(name)
  if (parsed === undefined) return undefined
  const photo = view.photo(parsed.id)
  const m = photo && view.media(photo.id, photo.secret)
  return m !== undefined && m.id === parsed.id && m.ext.toLowerCase() === parsed.ext ? m : undefined
}

/**
 * photostream/ names never removed although absent from this layout: the names every living photo
 * has, whatever the --ignore flags say (ignoring videos for one run must not delete the videos an
 * earlier run stored), and everything an earlier run wrote for a living photo whose current original
 * is not on disk (a replaced original that failed to download keeps the old file and sidecar).
 * Looked up per name (write-tree asks only of the names the last pin wrote) instead of listed: a
 * set of every name would be 100,000 strings at 50,000 items.
 */
function keptPhotostreamNames(view: CatalogView, onDisk: CatalogView, previous: Manifest): Lookup {
  return {
    has: (name) => {
      // An original's name, or its sidecar's (`<id>.<ext>.metadata`).
      if (mediaNamed(view, name) !== undefined) return true
      if (name.endsWith(METADATA_SUFFIX) && mediaNamed(view, name.slice(0, -METADATA_SUFFIX.length)) !== undefined) return true
      const at = previous.find(name)
      const photo = at !== -1 && previous.kind(at) === 'photo' ? view.photo(previous.id(at)) : undefined
      return photo !== undefined && onDisk.media(photo.id, photo.secret) === undefined
    },
  }
}

/**
 * The originals a run queued, by photo id and secret: each id holds the secret the catalog's entry
 * holds (the same strings), not a key string of its own, ~30 bytes an original instead of ~60 (a
 * key string and a Set entry): ~30 MB at 1,000,000, held from a first pin's downloads through its
 * tree write. A second secret for an id (a photo replaced while the run went on) is kept as a key.
 */
export class QueuedOriginals {
  readonly #secretOf = new Map<string, string>()
  readonly #others = new Set<string>()

  has(id: string, secret: string): boolean {
    const first = this.#secretOf.get(id)
    return first === secret || (first !== undefined && this.#others.size > 0 && this.#others.has(mediaKey(id, secret)))
  }

  add(id: string, secret: string): void {
    const first = this.#secretOf.get(id)
    if (first === undefined) this.#secretOf.set(id, secret)
    else if (first !== secret) this.#others.add(mediaKey(id, secret))
  }
}
