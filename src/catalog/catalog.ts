/**
 * The account catalog: the last saved snapshot in memory (lookups never touch the disk), and
 * refreshes that build the next snapshot in memory, save it in one step, then swap it in whole.
 * A failed refresh changes nothing, in memory or on disk. A catalog opened `lazy` holds no snapshot
 * but a LazyView (lazy-view.ts) of the listing pages, records read one bucket at a time; a writer
 * opened so loads the snapshot for a refresh that has something to merge (refreshIfUnchanged decides
 * "nothing" without it), and lets it go again after a refresh asked to (`letGo`).
 */
import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { RefreshCheckpoint, type CheckpointOptions } from './checkpoint.js'
import { CatalogStore, contentKey, MERGE_GROUP_PHOTOS, missingPartsError, rowVersions, type Head, type ListingPagesOptions } from './persist.js'
import { ownedApi } from './owner.js'
import { planChoicesOf, type ListingMarks } from './incremental.js'
import { refreshIfUnchanged, type QuickRefreshOptions, type QuickRefreshResult, type RecordedAnswers } from './quick-refresh.js'
import type { CatalogApi, CatalogMedia, SidecarSizer } from './ports.js'
// The refresh, the lazy merge and the lazy view are loaded when first used, not with the catalog:
// a no-change pin opens a catalog and runs none of them (~20 ms of its start-up, bench/RESULTS.md "startup").
import type { MediaEvent, RefreshOptions, RefreshProgress, RefreshReport } from './refresh.js'
import { acquireRootLock } from './root-lock.js'
import { tmpDir } from '../util/state-paths.js'
import { RecordSpool } from './record-spool.js'
import { emptyState, type CatalogState } from './state.js'
import type { CatalogSnapshot } from './types.js'
import { snapshotView, type CatalogView } from './view.js'
import type { LazyView } from './lazy-view.js'
import type { ListingPage } from './listing-pages.js'
import type { FullMergeContext } from './full-merge.js'
import type { MergeResult } from './lazy-merge.js'

const debug = createDebug('flickrfs:catalog')

/**
 * The root lock is re-entrant within a process (so the CLI can hold it around a whole pin), which
 * would let two Catalog objects of one root save at once; refreshes of one root queue here instead.
 */
const refreshQueues = new Map<string, Promise<unknown>>()

function queued<T>(root: string, job: () => Promise<T>): Promise<T> {
  const previous = refreshQueues.get(root) ?? Promise.resolve()
  const run = previous.then(job, job)
  const tail = run.catch(() => undefined)
  refreshQueues.set(root, tail)
  void tail.then(() => {
    if (refreshQueues.get(root) === tail) refreshQueues.delete(root)
  })
  return run
}

export interface CatalogOpenOptions {
  /** Open without taking part in writes: no refresh, no folder creation (a reader beside a writer). */
  readOnly?: boolean
  /** Wall clock for changedAtMs/refreshedAtMs (default Date.now). */
  now?: () => number
  /** How often a refresh saves its progress (see checkpoint.ts). */
  checkpoint?: CheckpointOptions
  /**
   * Read nothing yet: the catalog is loaded by `reload()` or `refresh()`, after `refreshIfUnchanged`
   * (which needs only the head) found something to do. `snapshot()` throws until then.
   */
  deferLoad?: boolean
  /**
   * The layout's sidecar sizer (ports.ts): a writable catalog saves each photo's sidecar lengths
   * with it, so that a reader can stat a sidecar without the photo's record (schema 3, README).
   */
  sidecarSizer?: SidecarSizer
  /**
   * When the saved catalog has listing pages whose sidecar sizes are of `sidecarFormat` (saved by a
   * writer with a sizer of that format), `view()` answers from them and the photo buckets one at a
   * time (lazy-view.ts) and the whole snapshot is not decoded: `snapshot()` throws, and a reload that
   * finds a new head makes a new view without telling 'change'. A writer opened so decodes it only
   * for a refresh with something to merge (`refresh`, which loads it first), and serves the lazy view
   * again after one asked to `letGo`. Any other catalog (saved without a sizer, or of another
   * format) loads whole, as without it.
   */
  lazy?: LazyOpen
  /** Photos per listing page a save writes (default 50,000, listing-pages.ts; tests make several pages of a small account). */
  listingPagePhotos?: number
  /**
   * Photos per bucket a whole save aims at (default 128, persist.ts; tests make the bigger buckets
   * of a catalog an older flickrfs saved, 2,000, to merge into).
   */
  photosPerBucket?: number
}

/** When a read-only opener reads the catalog lazily (CatalogOpenOptions.lazy). */
export interface LazyOpen {
  /** The sidecar format of the opener's layout (PHOTO_METADATA_FORMAT): pages of another format are not used. */
  sidecarFormat: number
  /**
   * Only a catalog of at least this many photos is read lazily (default 0: any); a smaller one
   * loads whole. A lazy record not cached is its bucket read and scanned and its own row parsed
   * (persist.ts StoredBucket: ~1.1 ms for a bucket of up to 128 photos; ~10 ms for up to 2,000 in
   * a catalog an older flickrfs saved), so a reader of every sidecar is faster over a whole load,
   * while a whole load costs memory and start-up time in proportion to the account.
   */
  fromPhotos?: number
  /** A writer's merges fetch and write this many changed photos at once (lazy-merge.ts MERGE_GROUP_PHOTOS when absent; tests make many groups of a small change). */
  mergeGroupPhotos?: number
  /** From how many photos a writer merges a change of any size (lazy-merge.ts BULK_MERGE_FROM_PHOTOS when absent; tests merge bulk edits of small catalogs). */
  bulkMergeFromPhotos?: number
}

/** The listing pages a writer opened with `opts` saves, if any. */
function pagesOf(opts: CatalogOpenOptions): ListingPagesOptions | undefined {
  if (opts.sidecarSizer === undefined) return undefined
  return { sizer: opts.sidecarSizer, ...(opts.listingPagePhotos !== undefined ? { photosPerPage: opts.listingPagePhotos } : {}) }
}

/** What `Catalog.refresh` takes besides the refresh's own options. */
export interface CatalogRefreshOptions extends RefreshOptions {
  /**
   * A catalog opened `lazy`: after the refresh's save, let the loaded snapshot go and serve the lazy
   * view of what was saved (before 'change' is told, so listeners build from that view). A caller
   * that reads every record next (a pin writing sidecars) leaves it out: a lazy record costs a bucket's parse.
   */
  letGo?: boolean
}

export interface CatalogEvents {
  /** The content changed: a refresh found something new, or reload() loaded another process's save. */
  change: [snap: CatalogSnapshot]
  progress: [progress: RefreshProgress]
  media: [event: MediaEvent]
}

export class Catalog extends EventEmitter<CatalogEvents> {
  private state: CatalogState
  private head: Head | undefined
  private running: Promise<RefreshReport> | undefined
  private closed = false
  /** The spools of first syncs run here, while their records may still be read (openSpool). */
  private spools: Array<WeakRef<RecordSpool>> = []
  /** Opened with `deferLoad` and not loaded since: the state is not the catalog's yet. */
  private deferred = false
  /** Opened `lazy` on a head with listing pages: the view of `head`, and no state. */
  private lazyView: LazyView | undefined
  /** A refresh let its snapshot go for the lazy view, and listeners are not told yet (tellLetGo). */
  private letGoUntold = false
  /** The last merge's head and the photos whose rows it wrote (rowsMerged). */
  private merged: { generation: string; rows: ReadonlySet<string> } | undefined

  private constructor(
    readonly root: string,
    private readonly store: CatalogStore,
    private readonly readOnly: boolean,
    private readonly now: () => number,
    private readonly checkpointOptions: CheckpointOptions = {},
    private readonly pages?: ListingPagesOptions,
    private readonly lazy?: LazyOpen,
  ) {
    super()
    this.state = emptyState()
  }

  /** Opens ROOT/.flickrfs/catalog.sqlite and loads the last saved snapshot (empty when none). */
  static async open(root: string, opts: CatalogOpenOptions = {}): Promise<Catalog> {
    const store = await CatalogStore.open(root, { readOnly: opts.readOnly, photosPerBucket: opts.photosPerBucket })
    const catalog = new Catalog(root, store, opts.readOnly === true, opts.now ?? Date.now, opts.checkpoint, pagesOf(opts), opts.lazy)
    catalog.deferred = opts.deferLoad === true
    if (catalog.deferred) return catalog
    try {
      await catalog.reload()
    } catch (err) {
      await store.close().catch(() => undefined)
      throw err
    }
    return catalog
  }

  /** The current snapshot: immutable, replaced whole by refresh() and reload(). */
  snapshot(): CatalogSnapshot {
    if (this.deferred) throw new FlickrfsError('INTERNAL', `The catalog of ${this.root} is not loaded yet.`)
    if (this.lazyView !== undefined) throw new FlickrfsError('INTERNAL', `The catalog of ${this.root} was opened lazy: read it through view().`)
    return this.state.snap
  }

  /**
   * What readers (layout, pin, status) read: the current snapshot through the CatalogView seam
   * (view.ts), which a catalog of rows will serve without them changing. Same turn rules as `snapshot()`.
   */
  view(): CatalogView {
    return this.lazyView ?? snapshotView(this.snapshot())
  }

  /**
   * For the current snapshot (ask in the same turn as `snapshot()`: a refresh swaps both at once),
   * each photo's stored version: equal versions mean the same record, comments, original and
   * change times (persist.ts rowVersions). undefined before the first save.
   */
  photoVersions(): (id: string) => string | undefined {
    const head = this.head
    return head === undefined ? () => undefined : rowVersions(head)
  }

  /**
   * When the catalog served is the one a merge just saved (lazy-merge.ts, full-merge.ts): the
   * photos whose rows it wrote. Every other photo's row is as it was before the merge, though its
   * bucket may have been written again under a new version (pin-run.ts trusts their sidecars).
   */
  rowsMerged(): ReadonlySet<string> | undefined {
    const m = this.merged
    return m !== undefined && m.generation === this.head?.generation ? m.rows : undefined
  }

  /** The saved catalog's listing marks (incremental.ts): when it was listed, and for what. */
  listingMarks(): ListingMarks | undefined {
    return this.head?.listing ?? this.state.listing
  }

  /** Whether it serves the lazy view (lazy-view.ts), not a loaded snapshot: `snapshot()` then throws. */
  get servesLazily(): boolean {
    return this.lazyView !== undefined
  }

  /** Identifies the saved catalog the snapshot came from ('' before the first save). */
  get generation(): string {
    return this.head?.generation ?? ''
  }

  /**
   * Loads the catalog again if another process saved a newer one (a mount next to a pin).
   * Returns whether the snapshot changed.
   */
  async reload(): Promise<boolean> {
    return this.load(false)
  }

  /** reload(), or with `whole` the snapshot itself even where the catalog would be read lazily (a refresh needs every record). */
  private async load(whole: boolean): Promise<boolean> {
    this.assertOpen()
    const head = await this.store.readHead()
    if (head === undefined) {
      this.deferred = false
      return false
    }
    const lazyNow = this.lazyView !== undefined
    if (head.generation === this.head?.generation && !this.deferred && !(whole && lazyNow)) return false
    if (!whole && this.readsLazily(head) && (await this.openLazy(head))) return true
    const loaded = await this.store.load()
    if (loaded === undefined) return false
    this.deferred = false
    this.lazyView = undefined
    this.state = loaded.state
    this.head = loaded.head
    debug('loaded catalog %s: %d photos, %d sets', loaded.head.generation, loaded.state.snap.photos.size, loaded.state.snap.sets.length)
    // Loading the head a lazy view already showed changes no answer: nothing to tell.
    if (this.listenerCount('change') > 0 && !(lazyNow && head.generation === this.head.generation)) this.emit('change', this.state.snap)
    return true
  }

  /** Whether `head` is read lazily: opened `lazy`, pages of the format asked for, and big enough. */
  private readsLazily(head: Head): boolean {
    return this.readsLazilyAt(head.pages?.sidecarFormat, head.photoCount)
  }

  /** readsLazily of a head with pages of `sidecarFormat` and `photoCount` photos (one this writer's save will make). */
  private readsLazilyAt(sidecarFormat: number | undefined, photoCount: number): boolean {
    const lazy = this.lazy
    return lazy !== undefined && sidecarFormat === lazy.sidecarFormat && photoCount >= (lazy.fromPhotos ?? 0)
  }

  /**
   * The lazy view of `head`, or of a newer head when a writer replaced it meanwhile; false when
   * the head that is there now has no pages of the format asked for (then load it whole).
   */
  private async openLazy(first: Head): Promise<boolean> {
    let head: Head | undefined = first
    for (let attempt = 0; head !== undefined && this.readsLazily(head); attempt++) {
      if (head.generation === this.head?.generation && this.lazyView !== undefined) return true
      const view = await (await import('./lazy-view.js')).LazyView.open(this.store, head)
      if (view !== undefined) {
        this.deferred = false
        this.lazyView = view
        this.state = emptyState()
        this.head = head
        debug('opened catalog %s lazily: %d photos, %d sets', head.generation, view.photoCount, view.sets.length)
        return true
      }
      if (attempt >= 5) throw missingPartsError(this.store.path)
      debug('head moved while opening lazily; retrying')
      head = await this.store.readHead()
    }
    return false
  }

  /**
   * Lists the account, fetches what is new, saves, and swaps the snapshot in. Concurrent calls in
   * one process share one refresh; another process refreshing the same root makes this throw LOCKED.
   */
  refresh(client: CatalogApi, media: CatalogMedia, opts: CatalogRefreshOptions = {}): Promise<RefreshReport> {
    this.assertOpen()
    if (this.readOnly) {
      return Promise.reject(new FlickrfsError('CATALOG', `The catalog of ${this.root} was opened read-only; open it for writing to refresh it.`))
    }
    this.running ??= queued(resolve(this.root), () => this.runRefresh(client, media, opts))
      .finally(() => this.tellLetGo())
      .finally(() => {
        this.running = undefined
      })
    return this.running
  }

  /**
   * An incremental refresh that decides "nothing changed" without loading the catalog
   * (quick-refresh.ts): the report and the content key of the catalog (the same as before), with
   * the head saved again; undefined when there is something to merge or a full listing is due (then
   * `refresh()`, which loads the catalog). On a catalog opened with `deferLoad` and not loaded, one
   * served lazily (which then serves the head saved again), or a loaded one (which then holds the
   * head saved again: the same snapshot, its refresh time and listing marks moved on).
   */
  refreshIfUnchanged(
    client: CatalogApi,
    opts: Pick<RefreshOptions, 'fullListingEveryMs' | 'resolveAgain' | 'failingElsewhere' | 'cookies' | 'retryTranscodes' | 'apiConcurrency'> & { onAsking?: () => void } = {},
  ): Promise<QuickRefreshResult | undefined> {
    this.assertOpen()
    if (this.readOnly) return Promise.resolve(undefined)
    return queued(resolve(this.root), async () => {
      const lock = await acquireRootLock(this.root, 'catalog refresh')
      try {
        const quick = await refreshIfUnchanged(this.store, client, {
          ...planChoicesOf(opts),
          root: this.root,
          apiConcurrency: opts.apiConcurrency ?? 16,
          ...(opts.onAsking !== undefined ? { onAsking: opts.onAsking } : {}),
          ...this.held(),
          // A bulk of reported photos is weighed group by group, whatever the catalog (a pin's check defers its load).
          decodeReportedUpTo: this.lazy?.mergeGroupPhotos ?? MERGE_GROUP_PHOTOS,
        }, this.now)
        if (quick?.unchanged !== undefined) await this.followHead()
        return quick
      } finally {
        await lock.release()
      }
    })
  }

  /**
   * After refreshIfUnchanged saved the head again: a lazy view serves the same chunks under the new
   * head without reading the pages again, and a loaded snapshot is kept with the head's refresh time
   * and listing marks (when another writer's save came between, the catalog of that save). A
   * catalog not loaded yet (`deferLoad`) has nothing to follow.
   */
  private async followHead(): Promise<void> {
    if (this.deferred) return
    const view = this.lazyView
    const head = await this.store.readHead()
    if (head === undefined || head.generation === this.head?.generation) return
    if (view === undefined) {
      await this.followLoaded(head)
      return
    }
    const same = view.withHead(head)
    if (same === undefined) {
      await this.openLazy(head)
      return
    }
    this.lazyView = same
    this.head = head
    debug('serving catalog %s lazily: the same content saved again', head.generation)
  }

  /**
   * A loaded snapshot under `head`, the head of the same content saved again: what a whole refresh
   * that found nothing new would swap in (the same entries, the new refresh time and marks), with
   * nobody told, as that refresh tells nobody. Another content (a save in between) is loaded.
   */
  private async followLoaded(head: Head): Promise<void> {
    if (this.head === undefined || contentKey(head) !== contentKey(this.head)) {
      await this.load(false)
      return
    }
    const listing = head.listing ?? this.state.listing
    this.state = { ...this.state, snap: { ...this.state.snap, refreshedAtMs: head.refreshedAtMs }, ...(listing !== undefined ? { listing } : {}) }
    this.head = head
    debug('holding catalog %s: the same content saved again', head.generation)
  }

  /**
   * What the catalog holds of its head for refreshIfUnchanged: the snapshot in memory with the head
   * it is the catalog of, when it is loaded (neither deferred nor served lazily, and saved once), or
   * the lazy view it serves (which answers only for the head it is of).
   */
  private held(): Pick<QuickRefreshOptions, 'loaded' | 'served'> {
    const head = this.head
    if (this.lazyView !== undefined) return { served: this.lazyView }
    return this.deferred || head === undefined ? {} : { loaded: { head, state: this.state } }
  }

  /** What the loaded catalog holds (persist.ts contentKey); undefined before the first save or while not loaded. */
  contentKey(): string | undefined {
    return this.head === undefined || this.deferred ? undefined : contentKey(this.head)
  }

  /** `client` checked to answer for the account this catalog holds (owner.ts): the head held, or as saved now. */
  private async owned(client: CatalogApi): Promise<CatalogApi> {
    const head = this.head ?? (await this.store.readHead())
    return head === undefined ? client : ownedApi(client, { root: this.root, userId: head.userId, userName: head.userName })
  }

  private async runRefresh(given: CatalogApi, media: CatalogMedia, { letGo = false, ...opts }: CatalogRefreshOptions): Promise<RefreshReport> {
    const lock = await acquireRootLock(this.root, 'catalog refresh')
    try {
      const client = await this.owned(given)
      // A lazy catalog with a small change to merge, or a full listing due: merged into the stored one, never loaded.
      const merged = await this.mergeLazily(client, media, opts, opts.answered)
      if (merged !== undefined) return merged
      // Start from what is on disk, in case another process refreshed since we loaded, and whole:
      // the refresh compares with every record.
      await this.load(true)
      const options = { ...opts, ...this.relay(opts) }
      // An interrupted refresh's progress is reused, and this one's saved as it goes, beside (never in) the catalog.
      return await this.withCheckpoint(this.head?.writtenAtMs, async (checkpoint) => {
        const { buildRefreshedState } = await import('./refresh.js')
        const { state, report } = await buildRefreshedState({ previous: this.state, api: client, media, options, clock: this.now, checkpoint, openSpool: () => this.openSpool() })
        await this.saveAndSwap(state, report, options.onProgress, letGo)
        await checkpoint.clear()
        debug('refreshed: %o', { ...report, media: { ...report.media, transcodes: report.media.transcodes.length, unavailable: report.media.unavailable.length } })
        return report
      })
    } finally {
      await lock.release()
    }
  }

  /**
   * For a catalog served lazily, the answers of refreshIfUnchanged merged into the stored catalog
   * without loading it (lazy-merge.ts), or without them a full listing (full-merge.ts: when one is
   * due), and the view of the new head served (its pages those the merge packed, the others this
   * view's); undefined when the merge does not take them (its reason logged), and the whole refresh
   * runs.
   */
  private async mergeLazily(client: CatalogApi, media: CatalogMedia, opts: RefreshOptions, answered: RecordedAnswers | undefined): Promise<RefreshReport | undefined> {
    const view = this.lazyView
    const pages = this.pages
    if (view === undefined || pages === undefined) return undefined
    const head = await this.store.readHead()
    if (head === undefined) return undefined
    const options = { ...opts, ...this.relay(opts) }
    const decodedPages = view.pagesOf(head.generation)
    const group = this.lazy?.mergeGroupPhotos
    const bulkFrom = this.lazy?.bulkMergeFromPhotos
    const ctx = {
      api: client, media, options, clock: this.now, pages, ...(decodedPages !== undefined ? { decodedPages } : {}),
      ...(group !== undefined ? { groupPhotos: group } : {}), ...(bulkFrom !== undefined ? { bulkMergeFromPhotos: bulkFrom } : {}),
    }
    const index = view.indexOf(head.generation)
    const lists = view.listsOf(head.generation)
    const full = { ...ctx, ...(index !== undefined ? { index } : {}), ...(lists !== undefined ? { decodedLists: { sets: lists.sets, collections: lists.collections } } : {}) }
    let result = answered !== undefined ? await this.mergeAnswered(head, answered, full) : await this.mergeFull(head, full)
    // A photostream that does not add up from the changes is listed whole, as the whole refresh would, but merged.
    if ('fallback' in result && result.relist !== undefined && answered !== undefined) {
      debug('not merged from the changes (%s): listing the photostream whole', result.fallback)
      result = await (await import('./full-merge.js')).mergeRelisted(this.store, head, answered, full, result.relist)
    }
    if ('fallback' in result) {
      debug('not merged lazily (%s): refreshing whole', result.fallback)
      return undefined
    }
    const { merged } = result
    if (!this.readsLazily(merged.head)) {
      // Too small now to be read lazily: loaded whole, as a reload would (and told).
      this.lazyView = undefined
      this.head = undefined
      await this.load(false)
      return merged.report
    }
    this.head = merged.head
    this.merged = { generation: merged.head.generation, rows: merged.rows }
    this.state = emptyState()
    this.lazyView = (await import('./lazy-view.js')).LazyView.ofPages(this.store, merged.head, merged.pages, merged)
    if (merged.report.changed) this.emit('change', this.state.snap)
    return merged.report
  }

  /** An incremental change merged (lazy-merge.ts), its progress saved as the full listing's is (checkpointedMerge). */
  private async mergeAnswered(head: Head, answered: RecordedAnswers, ctx: FullMergeContext): Promise<MergeResult> {
    const { mergeIncremental } = await import('./lazy-merge.js')
    return this.checkpointedMerge(head, (checkpoint) => mergeIncremental(this.store, head, answered, { ...ctx, checkpoint }))
  }

  /** A full listing merged (full-merge.ts), when one is due (checkpointedMerge). */
  private async mergeFull(head: Head, ctx: FullMergeContext): Promise<MergeResult> {
    const { mergeFullListing, planFullMerge } = await import('./full-merge.js')
    const plan = planFullMerge(head, ctx, this.now())
    if (typeof plan === 'string') return { fallback: plan }
    return this.checkpointedMerge(head, (checkpoint) => mergeFullListing(this.store, head, { ...ctx, checkpoint }))
  }

  /**
   * A merge with its progress saved as it goes as the whole refresh's is: cleared once merged, kept
   * (flushed) when it fails or falls back, for the next run or the whole refresh that follows to go
   * on from (a bulk edit killed midway does not ask its comments and originals again).
   */
  private checkpointedMerge(head: Head, merge: (checkpoint: RefreshCheckpoint) => Promise<MergeResult>): Promise<MergeResult> {
    return this.withCheckpoint(head.writtenAtMs, async (checkpoint) => {
      const result = await merge(checkpoint)
      await ('merged' in result ? checkpoint.clear() : checkpoint.flush())
      return result
    })
  }

  /**
   * `work` with a refresh's progress open (checkpoint.ts: what an interrupted run saved, of a catalog
   * written at `savedBefore` or later): flushed when `work` fails, closed after; `work` clears it
   * once its result is saved.
   */
  private async withCheckpoint<T>(savedBefore: number | undefined, work: (checkpoint: RefreshCheckpoint) => Promise<T>): Promise<T> {
    const checkpoint = await RefreshCheckpoint.open(this.root, this.now, { ...this.checkpointOptions, savedBefore })
    try {
      return await work(checkpoint)
    } catch (err) {
      await checkpoint.flush()
      throw err
    } finally {
      await checkpoint.close()
    }
  }

  /** The caller's progress and media callbacks, each also emitted as this catalog's event. */
  private relay(opts: RefreshOptions): Required<Pick<RefreshOptions, 'onProgress' | 'onMedia'>> {
    return {
      onProgress: (p) => {
        opts.onProgress?.(p)
        this.emit('progress', p)
      },
      onMedia: (e) => {
        opts.onMedia?.(e)
        this.emit('media', e)
      },
    }
  }

  /** Saves `state` (one atomic step on disk), then swaps it in (or its lazy view, with `letGo`) and tells listeners. */
  private async saveAndSwap(state: CatalogState, report: RefreshReport, tell: (progress: RefreshProgress) => void, letGo: boolean): Promise<void> {
    const saving: RefreshProgress = {
      phase: 'saving', photos: state.snap.photos.size, sets: state.snap.sets.length, setsListed: state.snap.sets.length,
      commentsToFetch: report.commentsFetched, commentsFetched: report.commentsFetched,
      mediaToResolve: report.media.resolved, mediaResolved: report.media.resolved,
    }
    tell(saving)
    // Let go, the saved catalog is served from the pages this save packs: read back from disk, they
    // were a second copy beside the snapshot still held (at 1,000,000 items the sync's peak).
    const decoded = letGo && this.pages !== undefined && this.readsLazilyAt(this.pages.sizer.format, state.snap.photos.size) ? ([] as ListingPage[]) : undefined
    const head = await this.store.save(state, this.now(), this.head === undefined ? undefined : { state: this.state, head: this.head }, this.pages, decoded)
    this.state = state
    this.head = head
    report.generation = head.generation
    const wentLazy = letGo && this.readsLazily(head) && ((await this.servePacked(head, decoded, state.snap)) || (await this.openLazy(head)))
    tell({ ...saving, phase: 'done' })
    if (wentLazy) {
      debug('let the loaded catalog go: serving %s lazily', head.generation)
      // Listeners hear of it once this refresh is over (tellLetGo), not from here: its frames still
      // hold `state`, so a tree they rebuilt over the view now would be made beside the whole
      // snapshot and the tree over it (at 1,000,000 items that was the first sync's peak).
      this.letGoUntold = true
      return
    }
    // A refresh that found nothing new swaps in a snapshot whose entries are the very same objects:
    // listeners (the mount rebuilds its whole tree, 65 MB and a second of CPU at 100k photos) need not hear of it.
    if (report.changed) this.emit('change', state.snap)
  }

  /** Tells listeners of a snapshot let go for the lazy view (saveAndSwap), once the refresh that saved it is over. */
  private tellLetGo(): void {
    if (!this.letGoUntold) return
    this.letGoUntold = false
    this.emit('change', this.state.snap)
  }

  /**
   * The lazy view of `head` from the pages its save packed (`decoded`) and the snapshot's own sets
   * and collections, what LazyView.open would read back; false when they are not all at hand.
   */
  private async servePacked(head: Head, decoded: readonly ListingPage[] | undefined, snap: CatalogSnapshot): Promise<boolean> {
    if (decoded === undefined || decoded.length === 0 || decoded.length !== head.chunks.listing?.length || head.pages?.streamLength === undefined) return false
    this.lazyView = (await import('./lazy-view.js')).LazyView.ofPages(this.store, head, decoded, { sets: [...snap.sets], collections: [...snap.collections] })
    this.deferred = false
    this.state = emptyState()
    debug('serving %s lazily from the pages it saved: %d photos, %d sets', head.generation, this.lazyView.photoCount, snap.sets.length)
    return true
  }

  /**
   * A spool for a first sync's records (record-spool.ts), closed with the catalog if it is not
   * collected before: its file, unlinked, would keep its space (and the disk it is on busy) until then.
   */
  private openSpool(): RecordSpool {
    const spool = RecordSpool.open(tmpDir(this.root))
    this.spools = this.spools.filter((s) => s.deref() !== undefined)
    this.spools.push(new WeakRef(spool))
    return spool
  }

  async close(): Promise<void> {
    if (this.closed) return
    if (this.running !== undefined) await this.running.catch(() => undefined)
    this.closed = true
    for (const s of this.spools) s.deref()?.close()
    this.spools = []
    await this.store.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new FlickrfsError('INTERNAL', `The catalog of ${this.root} is closed.`)
  }
}
