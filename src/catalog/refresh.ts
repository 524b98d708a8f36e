/**
 * One refresh: list everything, fetch what is new, and build the next catalog state entirely in
 * memory. Nothing here writes; the Catalog persists the result in one step or keeps the old one.
 *
 * API calls: photostream pages + set list pages + each set's pages + the collection tree, in a full
 * listing; after one, an incremental refresh (incremental.ts) reads the photostream's changes from
 * recentlyUpdated (plus one page-1 check) and the members of only the sets that moved instead;
 * test.login only when the user is not known yet; comments only for photos with comments whose
 * `lastupdate` moved since their comments were fetched; getSizes only for videos whose original is
 * not resolved yet. Media requests: one HEAD per original not resolved yet (keyed by id+secret).
 *
 * The steps, in the order they run (see the Refresh class):
 *
 *   identify → list, three at once: photostream → reuse known details → comments ‖ originals
 *                                    set list → each set's members
 *                                    collection tree
 *
 * (In a full listing, each photostream page's originals are reused or resolved as soon as the page
 * is in, while the next pages are read: pin's downloads start with the first page.)
 *            → compare with the previous catalog (changes.ts): photos, sets, collections
 *            → assemble the next state and the report
 *
 * A first sync (no catalog yet) takes them in the order a first mount shows them, so that the API
 * budget goes to what lets the tree fill in: the photostream, then the sets (after the photostream
 * is listed), then the collection tree, and the comments last (after both); originals are sized as
 * soon as the photostream is listed, beside all of that (media requests, not API calls). Each
 * part is announced as soon as it is whole (`onMedia`, `onListed`), for a first mount to show it.
 *
 * Each listing step returns what it fetched (the class keeps only progress and report counters), so
 * each step boundary (photostream listed, one comment list or original in, one set's members in) is
 * a point where progress is saved: with a RefreshCheckpoint (checkpoint.ts) in the context, each
 * boundary hands it the result, and what an earlier, interrupted run saved is reused like what the
 * previous catalog knows.
 */
import createDebug from '../util/debug.js'
import { asRecord } from '../flickr/lenient.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { eachLimit, eachWithSlots } from '../util/pool.js'
import { Semaphore } from '../util/semaphore.js'
import { HEAD_CHECK_PER_PAGE, listPhotostreamChanges, keptTranscodeMark, marksAfter, planChoicesOf, planListing, unchangedMembers, type ListingPlan } from './incremental.js'
import { anyChange, collectionChanges, photoChanges, setChanges, type Changes, type ListedPhoto, type SetListing, type Since } from './changes.js'
import { PHOTO_EXTRAS, type CatalogApi, type CatalogMedia, type PhotostreamResume } from './ports.js'
import { dedupeById, entryAt, isKnownEmpty, listPhotos, safeId, uniqueIds } from './records.js'
import { SPOOL_RECORDS_FROM_PHOTOS, SpooledPhoto, type RecordSpool } from './record-spool.js'
import { sameJson } from './same-json.js'
import { FAILED_BEFORE_RETRIES, isItemFailure, resolveMedia } from './resolve-media.js'
import type { RefreshCheckpoint } from './checkpoint.js'
import { answering, type RecordedAnswers } from './quick-refresh.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, MediaEntry, PhotoEntry, RawRecord } from './types.js'
import { mediaKey } from './types.js'
import { errorMessage } from '../util/abort.js'

const debug = createDebug('flickrfs:catalog')

export type RefreshPhase = 'login' | 'listing' | 'details' | 'saving' | 'done'

export interface RefreshProgress {
  phase: RefreshPhase
  /** Photos in the photostream listing (0 until it is in). */
  photos: number
  sets: number
  /** Sets whose members are listed so far. */
  setsListed: number
  commentsToFetch: number
  commentsFetched: number
  mediaToResolve: number
  mediaResolved: number
}

/**
 * A listing as soon as it is whole, for a view of a catalog still coming in (the first mount's):
 * the photostream's ids in order; the set list; one set's members (all of them, never part); the
 * collection tree; one photo's comments (reused or fetched). Sent for what is reused too.
 */
export type ListingEvent =
  | { kind: 'photostream'; ids: readonly string[] }
  | { kind: 'setList'; sets: readonly RawRecord[] }
  | { kind: 'set'; id: string; members: readonly string[] }
  | { kind: 'collections'; tree: readonly unknown[] }
  | { kind: 'comments'; photoId: string; list: readonly RawRecord[] }

/** A MediaEntry as soon as it is known in a refresh: the reused ones first, then each as resolved. */
export interface MediaEvent {
  photo: PhotoEntry
  /**
   * The refresh's own record of the photo (`photo` is a copy made for the event): a listener may
   * keep it instead of a copy of its own, and never changes it. The catalog stamps its change times
   * on it when it is assembled.
   */
  listed: ListedPhoto
  media: MediaEntry
  /** true when resolved in this refresh, false when known from before. */
  resolved: boolean
}

export interface RefreshOptions {
  /** `cookie_accid=…; cookie_epass=…`: lets video originals through where Flickr wants a web session. */
  cookies?: string
  /**
   * Resolve videos again that are only known as a transcode: true always, false never; absent, as
   * `cookies` and the catalog's marks say (incremental.ts transcodeTry: new cookies, then once a day).
   */
  retryTranscodes?: boolean
  /**
   * Photos whose original is resolved again although it is known (one HEAD each): pin passes those
   * whose download failed last time, so a size or URL the media host once got wrong is not kept.
   */
  resolveAgain?: ReadonlySet<string>
  /** Items failing that this refresh does not try (incremental.ts PlanOptions.failingElsewhere). */
  failingElsewhere?: number
  /** Who the token belongs to, when the caller has just asked (test.login): not asked again. */
  identity?: { id: string; username: string }
  onProgress?: (progress: RefreshProgress) => void
  /** Called for every original as soon as its size is known, while comments are still being fetched. */
  onMedia?: (event: MediaEvent) => void
  /** Called for each listing as soon as it is whole (ListingEvent). */
  onListed?: (event: ListingEvent) => void
  /**
   * Called once every listing is in (no onMedia or onListed comes after it), before the next
   * snapshot is assembled: a first mount lets go there of what it gathered for its views, instead
   * of holding it beside the assembly, where the first sync peaks.
   */
  onListingsDone?: () => void
  /**
   * Called with the next snapshot once it is whole, before it is saved (then swapped in, when the
   * save succeeds, as this very object): a first mount shows it at once and lets go of its last
   * partial view, instead of holding both through the save.
   */
  onAssembled?: (snap: CatalogSnapshot) => void
  /** Set-listing, comment and getSizes requests queued at once, each; the client limits what is in flight (default 16). */
  apiConcurrency?: number
  /** HEAD requests in flight at once (default 16: each is tiny, latency dominates). */
  mediaConcurrency?: number
  /**
   * Those slots, the caller's (instead of `mediaConcurrency`): a mount's first catalog raises them
   * when a handed pin's downloads take over its sizing (each download then holds one until its answer).
   */
  mediaSlots?: Semaphore
  /**
   * List everything (which alone shows deletions the cheap checks miss, and fresh view counts) when
   * the last full listing is this old; in between, refreshes are incremental (incremental.ts).
   * 0 or absent: every refresh is a full listing. The CLI's default is DEFAULT_FULL_LISTING_EVERY_MS.
   */
  fullListingEveryMs?: number
  /**
   * The answers of the calls Catalog.refreshIfUnchanged made before it found something to merge:
   * taken instead of asking again, and the refresh starts when they were asked.
   */
  answered?: RecordedAnswers
  /**
   * A first sync keeps the records of the photos past this many in a spool file (record-spool.ts)
   * instead of on the heap (default SPOOL_RECORDS_FROM_PHOTOS; needs the context's `openSpool`).
   */
  spoolRecordsFrom?: number
}

export interface RefreshReport {
  userId: string
  /** Anything besides `refreshedAtMs` differs from the previous catalog. */
  changed: boolean
  startedAtMs: number
  finishedAtMs: number
  photos: { total: number; added: number; changed: number; deleted: number }
  sets: { total: number; added: number; changed: number; deleted: number }
  collections: { total: number; added: number; changed: number; deleted: number }
  photostreamOrderChanged: boolean
  /** Photos whose comments were fetched in this refresh. */
  commentsFetched: number
  /** How the photostream was listed: whole, or from what changed (and why a full listing, if one). */
  /** `deletions`: the photos an incremental listing found deleted, and the pages it asked for that besides page 1 (incremental.ts locateDeletions). */
  listing: { mode: 'full' | 'changes'; reason?: string; changesReported?: number; setsListed: number; deletions?: { found: number; pages: number } }
  media: {
    resolved: number
    reused: number
    /** Videos stored as a transcode because the original was refused. */
    transcodes: Array<{ id: string; label: string }>
    /** Originals the media host refused or did not size; retried on the next refresh. */
    unavailable: Array<{ id: string; message: string }>
  }
  /** Calls made through the client, by client method (pages are not visible at this level). */
  clientCalls: Record<string, number>
  /** Identifies what was saved (empty when nothing was saved). */
  generation: string
  /** The change was merged into the stored catalog without loading it (lazy-merge.ts). */
  merged?: true
}

export interface RefreshContext {
  /** The catalog the refresh starts from: what it reuses, and what changes are counted against. */
  previous: CatalogState
  api: CatalogApi
  media: CatalogMedia
  options: RefreshOptions
  /** Wall clock for changedAtMs/refreshedAtMs. */
  clock: () => number
  /** Saves results as they come and gives back those of an interrupted run (none: nothing saved). */
  checkpoint?: RefreshCheckpoint
  /** A new spool file for a first sync's records (the catalog owns it); none: every record stays on the heap. */
  openSpool?: () => RecordSpool
}

export interface RefreshResult {
  state: CatalogState
  report: RefreshReport
}

export function buildRefreshedState(ctx: RefreshContext): Promise<RefreshResult> {
  return new Refresh(ctx).run()
}

/** The comments and originals of some photos, as the refresh's details step gets them, and its report of that. */
export interface PhotoDetailsResult {
  comments: ReadonlyMap<string, readonly RawRecord[]>
  /** The `lastupdate` at which each photo's comments were fetched. */
  fetchedAt: ReadonlyMap<string, number>
  media: ReadonlyMap<string, MediaEntry>
  commentsFetched: number
  /** Originals resolved as a transcode in this step (incremental.ts keptTranscodeMark). */
  transcodesResolved: number
  report: RefreshReport['media']
  clientCalls: Record<string, number>
}

/**
 * Only the details step of a refresh, for `photos` (lazy-merge.ts: the photos an incremental
 * refresh reported): what `ctx.previous` knows of them reused, the rest fetched and resolved by the
 * very rules of a whole refresh. `ctx.previous` need hold only those photos (and their buckets).
 */
export async function fetchPhotoDetails(ctx: RefreshContext, photos: readonly ListedPhoto[]): Promise<PhotoDetailsResult> {
  return new Refresh(ctx).detailsOnly(photos)
}

/** Comments and originals of the photostream, keyed by photo id. */
interface PhotoDetails {
  comments: Map<string, RawRecord[]>
  /** The `lastupdate` at which each photo's comments were fetched. */
  fetchedAt: Map<string, number>
  media: Map<string, MediaEntry>
}

interface Listing {
  photos: PhotoDetails & { photos: ListedPhoto[] }
  sets: SetListing
  tree: unknown[]
}

export interface Stopper {
  stopped: boolean
}

/** One refresh's context, progress and report counters, and its steps as methods. */
class Refresh {
  private readonly startedAtMs: number
  private readonly calls: Record<string, number> = {}
  private readonly stop: Stopper = { stopped: false }
  /** The API as this refresh uses it: counted, and refusing new calls once any part has failed. */
  private readonly client: CatalogApi
  private readonly apiConcurrency: number
  private readonly mediaConcurrency: number
  private readonly mediaSlots: Semaphore
  private readonly progress: RefreshProgress = {
    phase: 'login', photos: 0, sets: 0, setsListed: 0, commentsToFetch: 0, commentsFetched: 0, mediaToResolve: 0, mediaResolved: 0,
  }
  private commentsFetched = 0
  /** Originals resolved as a transcode in this refresh (keptTranscodeMark). */
  private transcodesResolved = 0
  /** Comment lists and originals reused from an interrupted run of this sync (the checkpoint's). */
  private readonly resumed = { comments: 0, media: 0 }
  private readonly mediaReport: RefreshReport['media'] = { resolved: 0, reused: 0, transcodes: [], unavailable: [] }
  private userId: string
  private userName: string
  private plan: ListingPlan
  /** The plan before any fallback: a full listing that fell back from changes did not list every set. */
  private readonly plannedPlan: ListingPlan
  private resumedListing = false
  private readonly listingReport: RefreshReport['listing'] = { mode: 'full', setsListed: 0 }
  /** A first sync's order (see the top): the photostream listed, then the sets, then the collection tree. */
  private readonly order = { photostream: gate(), sets: gate(), tree: gate() }
  /** Comments and originals of the photostream, filled from the first page of a full listing on. */
  private readonly details: PhotoDetails = { comments: new Map(), fetchedAt: new Map(), media: new Map() }
  /** Photos whose original was taken care of as their page came in (reused, or being resolved). */
  private readonly mediaStarted = new Set<string>()
  /** The resolutions started page by page, each page's as one task; the details step waits for them. */
  private readonly earlyMedia: Array<Promise<void>> = []
  private earlyToResolve = 0
  /** A first sync's records on disk (spoolPast). */
  private spool: RecordSpool | undefined

  constructor(private readonly ctx: RefreshContext) {
    const answered = ctx.options.answered
    this.startedAtMs = answered?.startedAtMs ?? ctx.clock()
    this.client = countingApi(answered !== undefined ? answering(ctx.api, answered) : ctx.api, this.calls, this.stop)
    this.apiConcurrency = ctx.options.apiConcurrency ?? 16
    this.mediaConcurrency = ctx.options.mediaConcurrency ?? 16
    this.mediaSlots = ctx.options.mediaSlots ?? new Semaphore(this.mediaConcurrency)
    this.userId = ctx.previous.snap.userId
    this.userName = ctx.previous.snap.userName
    this.plan = planListing(ctx.previous, { ...planChoicesOf(ctx.options), nowMs: this.startedAtMs })
    this.plannedPlan = this.plan
  }

  async run(): Promise<RefreshResult> {
    await this.identify()
    this.ctx.checkpoint?.begin(this.userId, this.ctx.previous.snap.refreshedAtMs === 0)
    const listing = await this.list()
    this.ctx.options.onListingsDone?.()
    const since: Since = { prev: this.ctx.previous.snap, nowMs: this.ctx.clock() }
    const photos = photoChanges(listing.photos, since)
    const changes: Changes = {
      photos,
      sets: setChanges(listing.sets, photos.photos, since),
      collections: collectionChanges(listing.tree, since),
    }
    const result = this.assemble(changes, listing.photos.fetchedAt, since)
    this.ctx.options.onAssembled?.(result.state.snap)
    return result
  }

  /** fetchPhotoDetails: the details step alone, no listing before it (so nothing to wait for). */
  async detailsOnly(photos: readonly ListedPhoto[]): Promise<PhotoDetailsResult> {
    for (const g of Object.values(this.order)) g.open()
    this.progress.phase = 'details'
    this.progress.photos = photos.length
    const details = await this.fetchDetails(photos)
    return { ...details, commentsFetched: this.commentsFetched, transcodesResolved: this.transcodesResolved, report: this.mediaReport, clientCalls: this.calls }
  }

  /** test.login, only when the user is not known yet. */
  private async identify(): Promise<void> {
    if (this.userId !== '') return
    this.tell()
    const me = this.ctx.options.identity ?? (await this.client.testLogin())
    this.userId = me.id
    this.userName = me.username
  }

  /** The three listings at once; details start as soon as the photostream is in, while sets are still listed. */
  private async list(): Promise<Listing> {
    this.progress.phase = 'listing'
    this.tell()
    const inOrder = this.ctx.previous.snap.refreshedAtMs === 0
    if (!inOrder) for (const g of Object.values(this.order)) g.open()
    const [photos, sets, tree] = await allOrStop([this.listPhotostream(), this.listSetsInOrder(), this.listTree()] as const, this.stop)
    return { photos, sets, tree }
  }

  /** In a first sync, the sets once the photostream is listed. */
  private async listSetsInOrder(): Promise<SetListing> {
    try {
      await this.order.photostream.opened
      return await this.listSets()
    } finally {
      this.order.sets.open()
    }
  }

  /** In a first sync, the collection tree once the sets are listed (and comments once it is). */
  private async listTree(): Promise<unknown[]> {
    try {
      await this.order.sets.opened
      const tree = await this.client.getCollectionTree()
      this.ctx.options.onListed?.({ kind: 'collections', tree })
      return tree
    } finally {
      this.order.tree.open()
    }
  }

  private async listPhotostream(): Promise<Listing['photos']> {
    let photos: ListedPhoto[]
    try {
      photos = await this.listStream()
    } catch (err) {
      // No work left running: the originals started from the pages that did come in.
      this.stop.stopped = true
      await Promise.allSettled(this.earlyMedia)
      throw err
    } finally {
      this.order.photostream.open()
    }
    this.ctx.options.onListed?.({ kind: 'photostream', ids: photos.map((p) => p.id) })
    this.progress.photos = photos.length
    this.progress.phase = 'details'
    this.tell()
    const details = await this.fetchDetails(photos)
    return { photos, ...details }
  }

  /** The photostream: from what changed when the plan allows and the changes add up, else every page. */
  private async listStream(): Promise<ListedPhoto[]> {
    const extras = [...PHOTO_EXTRAS]
    if (this.plan.mode === 'changes' && this.plan.relist !== undefined) {
      // The incremental calls, as the quick refresh asks them (quick-refresh.ts): what they report
      // is in the listing anyway. The sets stay incremental (incremental.ts planFor).
      const [changed] = await Promise.all([
        this.client.getRecentlyUpdated(this.plan.minDateSec, extras), this.client.getPhotostreamPage(1, HEAD_CHECK_PER_PAGE, extras),
      ])
      this.listingReport.changesReported = listPhotos(changed).length
      this.listingReport.reason = this.plan.relist
      debug('%s: listing the photostream whole', this.plan.relist)
    } else if (this.plan.mode === 'changes') {
      const got = await listPhotostreamChanges(this.client, this.ctx.previous.snap, { minDateSec: this.plan.minDateSec, extras, toListed: listPhotos })
      this.listingReport.changesReported = got.reported
      if (got.ok) {
        this.listingReport.mode = 'changes'
        if (got.deleted > 0) {
          debug('%d deleted photo(s) found without a full listing, %d pages asked', got.deleted, got.pagesAsked)
          this.listingReport.deletions = { found: got.deleted, pages: got.pagesAsked }
        }
        return got.photos
      }
      debug('incremental listing does not add up (%s): listing everything', got.reason)
      this.plan = { mode: 'full', reason: got.reason }
      this.listingReport.reason = got.reason
    } else this.listingReport.reason = this.plan.reason
    const cp = this.ctx.checkpoint
    const saved = cp?.savedPhotostream()
    const resume = saved === undefined ? cp?.photostreamResume() : undefined
    // Pages listed by an interrupted run may miss changes made since: no marks to go on from (incremental.ts).
    this.resumedListing = saved !== undefined || resume?.from !== undefined
    // Each page's originals are sized (for pin: their downloads start) as the page comes in: the
    // first page already carries every URL they need, and a big photostream takes many pages.
    // The pages' photos in order: the listing's own below, instead of a second object per photo.
    const fromPages: ListedPhoto[] = []
    const onPage = (page: number, items: Record<string, unknown>[]): void | Promise<void> => {
      this.keepKnownRecords(items)
      // The checkpoint may ask the listing to wait for its writes (checkpoint.ts listedPage).
      const written = resume?.onPage?.(page, items)
      // A listing read again from page 1 (it did not add up) starts over.
      if (page === 1) fromPages.length = 0
      const listed = listPhotos(items)
      if (this.spoolPast(fromPages.length + listed.length, listed)) standIn(items, listed)
      for (const p of listed) fromPages.push(p)
      this.startOriginals(listed)
      return written
    }
    const raw = saved ?? (await this.client.getPhotostream(extras, { ...resume, onPage }))
    cp?.listedPhotostream(raw)
    const photos = listPhotos(raw, fromPages)
    // Resumed pages (and a saved listing) come as records: spooled too.
    this.spoolPast(photos.length, photos)
    return photos
  }

  /**
   * In a first sync whose photostream has reached `spoolRecordsFrom` photos (`count`, with
   * `photos`), the records of `photos` go to the spool and each photo becomes its SpooledPhoto, in
   * place: true when it did.
   */
  private spoolPast(count: number, photos: ListedPhoto[]): boolean {
    const open = this.ctx.openSpool
    if (open === undefined || this.ctx.previous.snap.refreshedAtMs !== 0) return false
    if (count < (this.ctx.options.spoolRecordsFrom ?? SPOOL_RECORDS_FROM_PHOTOS)) return false
    if (this.spool === undefined) {
      this.spool = open()
      debug('first sync: records past %d photos go to a spool file', count - photos.length)
    }
    SpooledPhoto.spoolAll(photos, this.spool)
    return true
  }

  /**
   * A full listing's page as it comes: each record Flickr sent again unchanged is replaced by the
   * previous catalog's very object, so the listing holds only what changed beside the catalog (a
   * refresh of an unchanged account does not hold every record twice), and the comparison finds
   * those the same by identity.
   */
  private keepKnownRecords(items: Record<string, unknown>[]): void {
    const before = this.ctx.previous.snap.photos
    if (before.size === 0) return
    for (let i = 0; i < items.length; i++) {
      const id = safeId((items[i] as Record<string, unknown>).id)
      const entry = id === null ? undefined : before.get(id)
      // A spooled record (a first sync's, still held) is not on the heap: the page's own copy is the only one.
      if (entry === undefined || entry instanceof SpooledPhoto) continue
      const known = entry.raw
      if (sameJson(items[i], known)) items[i] = known
    }
  }

  /** Comments and originals: what the previous catalog knows is reused, the rest fetched (both at once). */
  private async fetchDetails(photos: readonly ListedPhoto[]): Promise<PhotoDetails> {
    const details = this.details
    const needComments = this.reuseComments(photos, details)
    const needMedia = this.reuseMedia(photos.filter((p) => !this.mediaStarted.has(p.id)), details)
    // The listing is in: no page starts originals any more, and the ids need not be held through the details.
    const startedEarly = this.mediaStarted.size > 0
    this.mediaStarted.clear()
    this.progress.commentsToFetch = needComments.length
    this.progress.mediaToResolve = needMedia.length + this.earlyToResolve
    const { resumed } = this
    this.ctx.checkpoint?.plan({
      comments: { done: resumed.comments, total: resumed.comments + needComments.length },
      sizes: { done: resumed.media, total: resumed.media + needMedia.length + this.earlyToResolve },
    })
    this.tell()
    debug('details: %d comment lists, %d originals to resolve (%d of them started page by page)', needComments.length,
      needMedia.length + this.earlyToResolve, this.earlyToResolve)
    // Comments come last (see the top): after the collection tree, so a first mount fills in set by set.
    const comments = this.order.tree.opened.then(() => this.fetchComments(needComments, details))
    await allOrStop([comments, this.resolveOriginals(needMedia, details), ...this.earlyMedia] as const, this.stop)
    if (startedEarly) {
      // A listing read again from page 1 (it did not add up) may have dropped photos a page had shown.
      const listed = new Set(photos.map((p) => p.id))
      for (const id of details.media.keys()) if (!listed.has(id)) details.media.delete(id)
    }
    return details
  }

  /**
   * One page of a full listing as it comes in: its known originals reused (and told) at once, the
   * others resolved right away, at most `mediaConcurrency` per page, while the next pages are read.
   */
  private startOriginals(page: readonly ListedPhoto[]): void {
    if (this.stop.stopped) return
    const fresh = page.filter((p) => !this.mediaStarted.has(p.id))
    for (const p of fresh) this.mediaStarted.add(p.id)
    const need = this.reuseMedia(fresh, this.details)
    if (need.length === 0) return
    this.earlyToResolve += need.length
    const task = this.resolveOriginals(need, this.details)
    // Awaited by the details step (or, when the listing fails, settled there): never unhandled meanwhile.
    task.catch(() => undefined)
    this.earlyMedia.push(task)
  }

  /** Keeps the comments of photos whose `lastupdate` has not moved; returns the commented photos left. */
  private reuseComments(photos: readonly ListedPhoto[], into: PhotoDetails): ListedPhoto[] {
    const old = this.ctx.previous
    const need: ListedPhoto[] = []
    for (const p of photos) {
      if (p.countComments <= 0) continue
      const fetchedAt = old.commentsFetchedAt.get(p.id)
      if (fetchedAt !== p.lastUpdate) {
        const saved = this.ctx.checkpoint?.savedComments(p.id, p.lastUpdate)
        if (saved === undefined) need.push(p)
        else {
          into.comments.set(p.id, saved)
          into.fetchedAt.set(p.id, p.lastUpdate)
          this.resumed.comments++
          this.ctx.options.onListed?.({ kind: 'comments', photoId: p.id, list: saved })
        }
        continue
      }
      const known = old.snap.comments.get(p.id)
      if (known !== undefined) into.comments.set(p.id, known as RawRecord[])
      into.fetchedAt.set(p.id, fetchedAt)
      this.ctx.options.onListed?.({ kind: 'comments', photoId: p.id, list: known ?? [] })
    }
    return need
  }

  /** Keeps the originals known for the same (id, secret); returns the photos whose original is to resolve. */
  private reuseMedia(photos: readonly ListedPhoto[], into: PhotoDetails): ListedPhoto[] {
    const opts = this.ctx.options
    const retryTranscodes = this.plannedPlan.transcodes !== undefined
    const need: ListedPhoto[] = []
    for (const p of photos) {
      const known = this.ctx.previous.snap.media.get(mediaKey(p.id, p.secret)) ?? this.resumedMedia(p, retryTranscodes)
      if (known === undefined || (retryTranscodes && known.kind === 'transcode') || opts.resolveAgain?.has(p.id) === true) {
        need.push(p)
        continue
      }
      into.media.set(p.id, known)
      this.mediaReport.reused++
      if (known.kind === 'transcode') this.mediaReport.transcodes.push({ id: p.id, label: known.label ?? '' })
      opts.onMedia?.({ photo: entryAt(p, 0), listed: p, media: known, resolved: false })
    }
    return need
  }

  /** The original an interrupted run of this sync resolved for (id, secret), if saved. */
  private resumedMedia(p: ListedPhoto, retryTranscodes: boolean): MediaEntry | undefined {
    const saved = this.ctx.checkpoint?.savedMedia(p.id, p.secret)
    if (saved === undefined || (retryTranscodes && saved.kind === 'transcode') || this.ctx.options.resolveAgain?.has(p.id) === true) return undefined
    this.resumed.media++
    return saved
  }

  private async fetchComments(photos: readonly ListedPhoto[], into: PhotoDetails): Promise<void> {
    await eachLimit(photos, this.apiConcurrency, async (p) => {
      const list = (await this.client.getComments(p.id)).map(asRecord)
      into.comments.set(p.id, list)
      into.fetchedAt.set(p.id, p.lastUpdate)
      this.ctx.checkpoint?.commentsFetched(p.id, p.lastUpdate, list)
      this.ctx.options.onListed?.({ kind: 'comments', photoId: p.id, list })
      this.commentsFetched++
      this.progress.commentsFetched++
      this.tell()
    })
  }

  /**
   * An original that cannot be had or named (refused, a bad URL, a redirect loop, an HTML page, an
   * unusable extension…) is reported and left out, and resolved again on the next refresh; only a
   * media host that cannot be reached at all fails the refresh.
   */
  private async resolveOriginals(photos: readonly ListedPhoto[], into: PhotoDetails): Promise<void> {
    const via = { api: this.client, media: this.ctx.media, cookies: this.ctx.options.cookies }
    // Pages resolve at once: all of them together stay within mediaConcurrency.
    await eachWithSlots(photos, this.mediaSlots, (p) => this.resolveOne(p, into, this.failedBefore(p) ? { ...via, retries: FAILED_BEFORE_RETRIES } : via))
  }

  /**
   * The photo's original failed last time: none on record for the same record (it could not be
   * had), or a download of it that failed (`resolveAgain`). Its bad answers get fewer retries.
   */
  private failedBefore(p: ListedPhoto): boolean {
    if (this.ctx.options.resolveAgain?.has(p.id) === true) return true
    const prev = this.ctx.previous.snap
    return prev.photos.get(p.id)?.secret === p.secret && !prev.media.has(mediaKey(p.id, p.secret))
  }

  /** One original, reported and told; an item failure leaves it out (resolved again next time). */
  private async resolveOne(p: ListedPhoto, into: PhotoDetails, via: Parameters<typeof resolveMedia>[1]): Promise<void> {
    if (this.stop.stopped) throw stopped()
    try {
      const entry = await resolveMedia(entryAt(p, 0), via)
      into.media.set(p.id, entry)
      this.ctx.checkpoint?.mediaResolved(entry)
      this.mediaReport.resolved++
      if (entry.kind === 'transcode') {
        this.mediaReport.transcodes.push({ id: p.id, label: entry.label ?? '' })
        this.transcodesResolved++
      }
      this.ctx.options.onMedia?.({ photo: entryAt(p, 0), listed: p, media: entry, resolved: true })
    } catch (err) {
      if (!isItemFailure(err)) throw err
      this.mediaReport.unavailable.push({ id: p.id, message: errorMessage(err) })
      debug('original of %s unavailable: %s', p.id, errorMessage(err))
    }
    this.progress.mediaResolved++
    this.tell()
  }

  /** Each set's members, except where getList already says the set is empty. */
  private async listSets(): Promise<SetListing> {
    const list = dedupeById(await this.client.getSetList(this.ctx.previous.snap.sets.length))
    const onListed = this.ctx.options.onListed
    onListed?.({ kind: 'setList', sets: list })
    this.progress.sets = list.length
    const members = new Map<string, string[]>()
    const cp = this.ctx.checkpoint
    const before = new Map(this.ctx.previous.snap.sets.map((s) => [s.id, s]))
    for (const raw of list) {
      const id = safeId(raw.id) as string
      // An incremental refresh keeps the members of sets whose getList record did not move.
      const unchanged = this.plan.mode === 'changes' ? unchangedMembers(raw, before.get(id), this.plan.minDateSec) : undefined
      const known = isKnownEmpty(raw) ? [] : (unchanged ?? cp?.savedSetMembers(id, raw))
      if (known !== undefined) {
        members.set(id, known)
        onListed?.({ kind: 'set', id, members: known })
      }
    }
    cp?.planSets({ done: members.size, total: list.length })
    this.progress.setsListed = members.size
    await eachLimit(list, this.apiConcurrency, async (raw) => {
      const id = safeId(raw.id) as string
      if (members.has(id)) return
      this.listingReport.setsListed++
      const ids = uniqueIds(await this.client.getSetPhotos(id, this.userId))
      members.set(id, ids)
      cp?.setListed(id, raw, ids)
      onListed?.({ kind: 'set', id, members: ids })
      this.progress.setsListed++
    })
    return { list, members }
  }

  /** The next state, and the report of what changed. */
  private assemble(changes: Changes, fetchedAt: ReadonlyMap<string, number>, { prev, nowMs }: Since): RefreshResult {
    const { photos, sets, collections } = changes
    const snap: CatalogSnapshot = {
      userId: this.userId,
      userName: this.userName,
      photostream: photos.photostream,
      photos: photos.photos,
      comments: photos.comments,
      media: photos.media,
      sets: sets.sets,
      collections: collections.collections,
      photostreamChangedAtMs: photos.photostreamOrderChanged || prev.refreshedAtMs === 0 ? nowMs : prev.photostreamChangedAtMs,
      refreshedAtMs: this.ctx.clock(),
    }
    const commentsFetchedAt = new Map<string, number>()
    for (const [id, at] of fetchedAt) if (photos.photos.has(id)) commentsFetchedAt.set(id, at)
    const after = this.resumedListing ? undefined : marksAfter(this.plannedPlan, this.ctx.previous.listing, this.startedAtMs, photos.photos.values())
    const listing = after === undefined ? undefined : keptTranscodeMark(after, this.ctx.options.cookies, this.transcodesResolved)
    return { state: { snap, commentsFetchedAt, ...(listing !== undefined ? { listing } : {}) }, report: this.report(changes, snap.refreshedAtMs) }
  }

  private report(changes: Changes, finishedAtMs: number): RefreshReport {
    const prev = this.ctx.previous.snap
    return {
      userId: this.userId,
      changed: this.userId !== prev.userId || anyChange(changes, prev),
      startedAtMs: this.startedAtMs,
      finishedAtMs,
      photos: changes.photos.counts,
      sets: changes.sets.counts,
      collections: changes.collections.counts,
      photostreamOrderChanged: changes.photos.photostreamOrderChanged,
      commentsFetched: this.commentsFetched,
      listing: this.listingReport,
      media: this.mediaReport,
      clientCalls: this.calls,
      generation: '',
    }
  }

  private tell(): void {
    this.ctx.options.onProgress?.({ ...this.progress })
  }
}

/**
 * A listing page's records replaced, in the client's listing (paginate.ts lets its hook do so), by
 * the photos made of them (`listed`, in the same order): the listing then holds nothing the
 * refresh does not keep anyway, and listPhotos takes each photo back as it is. A record made into
 * no photo (a bad id, a repeat) stays.
 */
function standIn(items: Record<string, unknown>[], listed: readonly ListedPhoto[]): void {
  let next = 0
  for (let i = 0; i < items.length && next < listed.length; i++) {
    const photo = listed[next] as ListedPhoto
    if (safeId(items[i]?.id) !== photo.id) continue
    items[i] = photo
    next++
  }
}

/** A promise opened once, by hand (a first sync's order between its listings). */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void
  const opened = new Promise<void>((res) => (open = res))
  return { opened, open }
}

function stopped(): FlickrfsError {
  return new FlickrfsError('INTERNAL', 'refresh stopped after another part of it failed')
}

/** Like Promise.all, but waits for every task to settle (no work left running) and stops the rest early. */
export async function allOrStop<T extends readonly unknown[]>(tasks: { [K in keyof T]: Promise<T[K]> }, stop: Stopper): Promise<T> {
  let first: { err: unknown } | undefined
  const settled = await Promise.allSettled(
    tasks.map((t) =>
      t.catch((err: unknown) => {
        if (first === undefined && !(err instanceof FlickrfsError && err.code === 'INTERNAL' && stop.stopped)) first = { err }
        stop.stopped = true
        throw err
      }),
    ),
  )
  if (first !== undefined) throw first.err
  const rejected = settled.find((s) => s.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/** Counts calls per method and refuses new ones once the refresh is known to fail. */
export function countingApi(api: CatalogApi, calls: Record<string, number>, stop: Stopper): CatalogApi {
  const wrap = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (stop.stopped) throw stopped()
      calls[name] = (calls[name] ?? 0) + 1
      return fn(...args)
    }
  return {
    testLogin: wrap('testLogin', () => api.testLogin()),
    getPhotostream: wrap('getPhotostream', (extras: string[], resume?: PhotostreamResume) => api.getPhotostream(extras, resume)),
    getRecentlyUpdated: wrap('getRecentlyUpdated', (minDateSec: number, extras: string[]) => api.getRecentlyUpdated(minDateSec, extras)),
    getPhotostreamPage: wrap('getPhotostreamPage', (page: number, perPage: number, extras: string[]) => api.getPhotostreamPage(page, perPage, extras)),
    getSetList: wrap('getSetList', (expectedSets?: number) => api.getSetList(expectedSets)),
    getSetPhotos: wrap('getSetPhotos', (setId: string, userId: string, extras?: string[]) => api.getSetPhotos(setId, userId, extras)),
    getCollectionTree: wrap('getCollectionTree', () => api.getCollectionTree()),
    getComments: wrap('getComments', (photoId: string) => api.getComments(photoId)),
    getSizes: wrap('getSizes', (photoId: string) => api.getSizes(photoId)),
  }
}
