/**
 * A small incremental change merged into the stored catalog without loading it: when the calls of
 * an incremental refresh (quick-refresh.ts `RecordedAnswers`: recentlyUpdated, the page-1 check,
 * getList, the sets that moved, getTree) report something to merge, only the buckets holding a
 * reported photo are decoded, the comments and originals of those photos are fetched by the very
 * rules of a whole refresh (refresh.ts fetchPhotoDetails), and the catalog saved is the one the
 * whole refresh would save from the same answers: the same buckets, lists, listing pages and head
 * (test/catalog/lazy-merge.test.ts proves it by equality). The listing pages are packed again from
 * their own columns and the changed photos (a new photo at the head shifts every position).
 *
 * Photos deleted on Flickr (its count below the catalog's with the changes) are found as the whole
 * refresh finds them (incremental.ts locateDeletions: a few pages and a getSizes each), and their
 * rows leave their buckets.
 *
 * What it does not take (it answers `fallback`, and the caller runs the whole refresh): a catalog
 * without listing pages of the sizer's format in photostream order, a head without its facts, a
 * plan other than the answers' incremental one, more photos reported (and transcodes retried) than
 * mergeLimit allows, deletions the search cannot vouch for, a photostream that does not add up, or
 * a listing for items that failed (planFor's `relist`): the whole refresh then lists the photostream
 * whole (the result says `relist`, and full-merge.ts mergeRelisted does that listing and merges);
 * a set listed that the answers lack, a photo count that moves the photos to other buckets. The photo changed last
 * deleted or gone back is merged too: an incremental refresh's marks never go back (incremental.ts
 * marksAfter), so the reported photos make them. Nothing is written before the one atomic save
 * (persist.ts saveMerged): kill -9 leaves the old catalog or the new one.
 *
 * Transcodes retried (cookies given and the plan's `transcodes` due: the whole refresh resolves every transcode again) are taken as
 * changed photos from the records the catalog holds (transcodesRetried: Head.facts names them), and
 * so are items that failed last time, between the listings planFor makes for them (failedRetried:
 * no original on record in the pages, or named in `resolveAgain`).
 *
 * At 1,000,000 photos a whole refresh holds the catalog twice (2–3 GB); this holds the pages'
 * columns (~60 MB, the lazy view's own when it hands them), the order's ids and the decoded
 * buckets of the reported photos.
 */
import createDebug from '../util/debug.js'
import { sortedIndexOf } from '../util/sorted.js'
import { anyChange, collectionChanges, photoChanges, setChanges, type ListedPhoto, type SetListing, type Since } from './changes.js'
import { numericId } from './decimal-id.js'
import { asListed, keptTranscodeMark, knownMembers, locateDeletions, marksAfter, mergeOrder, planChoicesOf, planFor, type ListingMarks, type ListingPlan } from './incremental.js'
import { ListingPage, PAGE_PHOTOS, PageBuilder, pageRowOf, type StoredPage } from './listing-pages.js'
import { sameBuckets, type CatalogStore, type Head, type ListingPagesMeta, type ListingPagesOptions, type PhotoFacts } from './persist.js'
import type { CatalogApi, CatalogMedia } from './ports.js'
import { recordingSearch, type RecordedAnswers } from './quick-refresh.js'
import { dedupeById, listPhotos, safeId, uniqueIds } from './records.js'
import { fetchPhotoDetails, type RefreshOptions, type RefreshReport } from './refresh.js'
import type { RefreshCheckpoint } from './checkpoint.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

const debug = createDebug('flickrfs:catalog')

/** A merge takes up to this many reported photos in any catalog, and more in a big one (mergeLimit). */
export const MERGE_MIN_PHOTOS = 3000

/** ...up to one photo in this many of the catalog's. */
export const MERGE_FRACTION = 8

/**
 * The most reported photos a merge into a catalog of `photoCount` takes; with more, the whole
 * refresh runs. A merge's cost grows with the photos reported (their buckets decoded, comments
 * and originals fetched as the whole refresh fetches them), the whole refresh's with the catalog:
 * at 200,000 photos with 25,000 edited (the limit there), the merge took 0.64 of the whole
 * refresh's CPU and 0.66 of its time (bench/lazy-merge.ts --edits --both, bench/RESULTS.md
 * "Session 27"), and it never holds the whole catalog. A bulk edit of thousands of
 * photos in a 1,000,000-item catalog is merged (up to 125,000), instead of reading the catalog
 * whole (2-4 GB).
 */
export function mergeLimit(photoCount: number): number {
  return Math.max(MERGE_MIN_PHOTOS, Math.floor(photoCount / MERGE_FRACTION))
}

export interface MergeContext {
  api: CatalogApi
  media: CatalogMedia
  options: RefreshOptions
  clock: () => number
  pages: ListingPagesOptions
  /** The listing pages of `head` already decoded (the lazy view's): not read again. */
  decodedPages?: readonly ListingPage[]
  /** Saves the details as they come and gives back an interrupted run's (full-merge.ts; none: nothing saved). */
  checkpoint?: RefreshCheckpoint
}

export type MergeResult =
  | {
    merged: {
      head: Head; report: RefreshReport; pages: ListingPage[]; sets: SetEntry[]; collections: CollectionEntry[]
      /** The photos whose rows the merge wrote (every other photo keeps its row as it was, whatever bucket it shares with them). */
      rows: ReadonlySet<string>
    }
  }
  /**
   * Not merged here. `relist`: the photostream did not add up from the changes (deletions the
   * search cannot vouch for, an upload it missed), where the whole refresh lists the photostream
   * whole, for that reason: full-merge.ts mergeRelisted does so without loading the catalog.
   */
  | { fallback: string; relist?: string }

/** See the top of this file. Call under the root lock, with no other refresh of this root running. */
export async function mergeIncremental(store: CatalogStore, head: Head, answers: RecordedAnswers, ctx: MergeContext): Promise<MergeResult> {
  const plan = planOf(head, answers, ctx)
  if (typeof plan === 'string') return { fallback: plan }
  if (plan.relist !== undefined) return { fallback: plan.relist, relist: plan.relist }
  const reportedPhotos = listPhotos(answers.changed)
  const pages = ctx.decodedPages ?? (await readPages(store, head))
  if (pages === undefined) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const old = new OldOrder(pages, head.pages?.photosPerPage ?? PAGE_PHOTOS)
  // Transcodes retried (the plan's `transcodes`) and items that failed, as the whole refresh retries them: from the records held.
  const reportedIds = new Set(reportedPhotos.map((p) => p.id))
  const retried = [...new Set([...transcodesRetried(head, plan, reportedIds), ...(plan.failing !== undefined ? failedRetried(old, ctx.options, reportedIds) : [])])]
  const limit = mergeLimit(head.photoCount)
  if (reportedPhotos.length + retried.length > limit) return { fallback: `${reportedPhotos.length} photos reported and ${retried.length} to try again (more than ${limit})` }
  const lists = await store.readSetsAndCollections(head)
  const reported = answers.reported?.generation === head.generation && retried.length === 0 ? answers.reported.rows : undefined
  const known = reported ?? (await store.decodeBucketsOf(head, [...reportedIds, ...retried]))
  if (lists === undefined || known === undefined) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const changed = retried.length === 0 ? reportedPhotos : [...reportedPhotos, ...retried.flatMap((id) => {
    const entry = known.photos.get(id)
    return entry === undefined ? [] : [asListed(entry)]
  })]
  const idAt = (s: ListedPhoto | number): string => (typeof s === 'number' ? old.id(s) : s.id)
  const withChanges = mergeOrder(
    { length: old.length, at: (pos) => old.id(pos) }, (pos) => old.dateUpload(pos), (id) => known.photos.get(id)?.dateUpload, changed,
  )
  // Fewer items on Flickr than with the changes: the ones deleted, found as the whole refresh finds them.
  let deleted: { ids: ReadonlySet<string>; pagesAsked: number } | undefined
  if (answers.page.total >= 0 && answers.page.total < withChanges.length) {
    // Its answers kept: a whole refresh after a fallback asks the same, and is answered from them.
    const found = await locateDeletions(recordingSearch(ctx.api, answers), { length: withChanges.length, at: (pos) => idAt(withChanges[pos] as ListedPhoto | number) }, answers.page.total, answers.page.photos)
    if ('reason' in found) {
      return { fallback: `something was deleted (${found.reason})`, relist: `Flickr counts ${answers.page.total} items, the catalog with the changes ${withChanges.length} (something was deleted: ${found.reason})` }
    }
    // Their rows are only taken out of their buckets (saveMerged's `removed`): nothing of them is read.
    deleted = { ids: new Set(found.deleted), pagesAsked: found.pagesAsked }
  }
  const gone: ReadonlySet<string> = deleted?.ids ?? new Set()
  const slots = gone.size === 0 ? withChanges : withChanges.filter((s) => !gone.has(idAt(s)))
  // A photo reported (or retried) and deleted since is not in the whole refresh's listing: nothing of it is fetched or written.
  const kept = gone.size === 0 ? changed : changed.filter((p) => !gone.has(p.id))
  // Of the photos deleted, those with no original on record (Head.facts counted them): all among the retried, so their rows are known.
  let goneUnresolved = 0
  for (const id of gone) {
    const e = known.photos.get(id)
    if (e !== undefined && !known.media.has(mediaKey(id, e.secret))) goneUnresolved++
  }
  const stream = slots.map(idAt)
  const adds = addsUp(stream, answers)
  if (adds !== undefined) return { fallback: adds, relist: adds }
  const setListing = setsOf(answers, lists.sets)
  if (typeof setListing === 'string') return { fallback: setListing }
  if (!sameBuckets(head, stream.length)) return { fallback: `${stream.length} photos go to another number of buckets` }

  const listing = marksAfter(plan, head.listing, answers.startedAtMs, kept)
  const listingReport: RefreshReport['listing'] = {
    mode: 'changes', changesReported: reportedPhotos.length, setsListed: setListing.listed,
    ...(deleted !== undefined ? { deletions: { found: deleted.ids.size, pages: deleted.pagesAsked } } : {}),
  }
  return finishMerge(store, head, ctx, {
    changed: kept, known, lists, old, slots, stream, gone, goneUnresolved, setListing, tree: answers.tree, listing, retriesTranscodes: plan.transcodes !== undefined,
    startedAtMs: answers.startedAtMs, listingReport,
    calls: (own) => withAnsweredCalls(own, answers, deleted === undefined ? undefined : { pages: deleted.pagesAsked, sizes: deleted.ids.size }),
  })
}

/** What a merge found (lazy-merge's from recorded answers, full-merge's from a full listing), for finishMerge. */
export interface MergeFound {
  /** The photos whose rows are written (reported, or listed changed), as listed. */
  changed: readonly ListedPhoto[]
  /** Their rows as the catalog holds them (those it holds). */
  known: Pick<CatalogSnapshot, 'photos' | 'comments' | 'media'> & { commentsFetchedAt: ReadonlyMap<string, number> }
  lists: { sets: SetEntry[]; collections: CollectionEntry[] }
  old: OldOrder
  /** The new order: a position in the old one (the photo's row kept), or a changed photo. */
  slots: ReadonlyArray<ListedPhoto | number>
  /** The ids of `slots`. */
  stream: readonly string[]
  /** The photos deleted: their rows leave their buckets. */
  gone: ReadonlySet<string>
  /** How many of them had no original on record (Head.facts counted them unresolved); none when absent. */
  goneUnresolved?: number
  setListing: SetListing & { listed: number }
  tree: unknown[]
  /** The marks after this listing (incremental.ts marksAfter). */
  listing: ListingMarks
  /** The plan asks for the original of every transcode again (its `transcodes`): the details step does as the plan says. */
  retriesTranscodes: boolean
  startedAtMs: number
  listingReport: RefreshReport['listing']
  /** Every call of the refresh, counted as the whole refresh counts them, from those of the details step. */
  calls: (own: Record<string, number>) => Record<string, number>
}

/**
 * The rest of a merge, as refresh.ts run() makes it over the changed photos (every other photo
 * keeps its row): their comments and originals fetched by the whole refresh's rules, the
 * comparison, and one atomic save (persist.ts saveMerged) of the catalog the whole refresh saves.
 */
export async function finishMerge(store: CatalogStore, head: Head, ctx: MergeContext, found: MergeFound): Promise<MergeResult> {
  const { changed, known, lists, old, slots, stream, gone } = found
  const previous: CatalogState = {
    snap: {
      userId: head.userId, userName: head.userName, photostream: [], photos: known.photos, comments: known.comments, media: known.media,
      sets: lists.sets, collections: lists.collections, photostreamChangedAtMs: head.photostreamChangedAtMs, refreshedAtMs: head.refreshedAtMs,
    },
    commentsFetchedAt: known.commentsFetchedAt,
    ...(head.listing !== undefined ? { listing: head.listing } : {}),
  }
  const { answered: _answered, ...rest } = ctx.options
  // Decided by the merge's plan, at the answers' time: not again at this later one.
  const options = { ...rest, retryTranscodes: found.retriesTranscodes }
  const details = await fetchPhotoDetails({
    previous, api: ctx.api, media: ctx.media, options, clock: ctx.clock, ...(ctx.checkpoint !== undefined ? { checkpoint: ctx.checkpoint } : {}),
  }, changed)

  const since: Since = { prev: previous.snap, nowMs: ctx.clock() }
  const photos = photoChanges({ photos: changed, comments: details.comments, media: details.media }, since)
  const merged = catalogIds(old, changed)
  const inCatalog = gone.size === 0 ? merged : { has: (id: string) => !gone.has(id) && merged.has(id) }
  const sets = setChanges(found.setListing, inCatalog, since)
  const collections = collectionChanges(found.tree, since)
  const orderChanged = slots.length !== old.length || slots.some((s, pos) => (typeof s === 'number' ? s !== pos : s.id !== old.id(pos)))
  const photoCounts = { total: stream.length, added: photos.counts.added, changed: photos.counts.changed, deleted: gone.size }
  const changes = { photos: { ...photos, counts: photoCounts, photostreamOrderChanged: orderChanged }, sets, collections }
  const refreshedAtMs = ctx.clock()

  const next = rowsOf(changed, photos, details.fetchedAt, previous)
  const facts = factsAfter(head.facts as PhotoFacts, stream, next.snap, previous.snap, found.goneUnresolved ?? 0)
  const photosPerPage = head.pages?.photosPerPage ?? PAGE_PHOTOS
  const newPages: ListingPage[] = []
  const saved = await store.saveMerged(head, {
    changed: next,
    removed: [...gone],
    photostream: stream,
    sets: sets.sets,
    collections: collections.collections,
    head: {
      userId: head.userId, userName: head.userName, refreshedAtMs,
      photostreamChangedAtMs: orderChanged ? since.nowMs : head.photostreamChangedAtMs, photoCount: stream.length,
    },
    pages: {
      meta: pagesMeta(head, ctx.pages, photosPerPage, stream.length),
      write: (put) => writePages(slots, old, head, next, ctx.pages, photosPerPage, put, newPages),
    },
    listing: keptTranscodeMark(found.listing, ctx.options.cookies, details.transcodesResolved),
    facts,
  }, ctx.clock())
  if (saved === undefined) return { fallback: 'another writer saved meanwhile' }
  const report: RefreshReport = {
    userId: head.userId,
    changed: anyChange(changes, previous.snap),
    startedAtMs: found.startedAtMs,
    finishedAtMs: refreshedAtMs,
    photos: photoCounts,
    sets: sets.counts,
    collections: collections.counts,
    photostreamOrderChanged: orderChanged,
    commentsFetched: details.commentsFetched,
    listing: found.listingReport,
    media: {
      resolved: details.report.resolved,
      reused: stream.length - details.report.resolved - details.report.unavailable.length,
      transcodes: facts.transcodes,
      unavailable: details.report.unavailable,
    },
    clientCalls: found.calls(details.clientCalls),
    generation: saved.generation,
    merged: true,
  }
  debug('merged %d %s photos (%d added, %d changed) and %d deleted into %s without loading the catalog', changed.length,
    found.listingReport.mode === 'full' ? 'listed changed' : 'reported', photoCounts.added, photoCounts.changed, gone.size, saved.generation)
  return { merged: { head: saved, report, pages: newPages, sets: sets.sets, collections: collections.collections, rows: new Set(changed.map((p) => p.id)) } }
}

/** The changed photos' rows as the whole refresh's assembly leaves them (every other row is kept). */
function rowsOf(changed: readonly ListedPhoto[], photos: ReturnType<typeof photoChanges>, fetched: ReadonlyMap<string, number>, previous: CatalogState): CatalogState {
  const rowPhotos = new Map<string, PhotoEntry>()
  const rowComments = new Map<string, readonly RawRecord[]>()
  const rowMedia = new Map<string, MediaEntry>()
  const fetchedAt = new Map<string, number>()
  for (const p of changed) {
    const entry = photos.photos.get(p.id) as PhotoEntry
    rowPhotos.set(p.id, entry)
    const list = photos.comments.get(p.id)
    if (list !== undefined) rowComments.set(p.id, list)
    const m = photos.media.get(mediaKey(p.id, entry.secret))
    if (m !== undefined) rowMedia.set(mediaKey(p.id, entry.secret), m)
    const at = fetched.get(p.id)
    if (at !== undefined) fetchedAt.set(p.id, at)
  }
  return { snap: { ...previous.snap, photos: rowPhotos, comments: rowComments, media: rowMedia }, commentsFetchedAt: fetchedAt }
}

/**
 * The merge's own calls and the answered ones, counted as the whole refresh counts them (it makes
 * each answered call through its counting client): a pin's report is the same either way.
 */
export function withAnsweredCalls(own: Record<string, number>, answers: RecordedAnswers, search?: { pages: number; sizes: number }): Record<string, number> {
  const calls = { ...own }
  const add = (name: string, n: number): void => {
    if (n > 0) calls[name] = (calls[name] ?? 0) + n
  }
  add('getRecentlyUpdated', 1)
  add('getPhotostreamPage', 1)
  add('getSetList', 1)
  add('getSetPhotos', answers.setPhotos.size)
  add('getCollectionTree', 1)
  // The search for what was deleted: its pages, and a getSizes per photo it confirmed.
  add('getPhotostreamPage', search?.pages ?? 0)
  add('getSizes', search?.sizes ?? 0)
  return calls
}

/**
 * The whole refresh's plan for these answers (its `relist`: full-merge.ts mergeRelisted), or why
 * this catalog and these answers are not merged here.
 */
export function planOf(head: Head, answers: RecordedAnswers, ctx: MergeContext): Extract<ListingPlan, { mode: 'changes' }> | string {
  const meta = head.pages
  const facts = head.facts
  if (meta === undefined || head.chunks.listing === undefined) return 'the catalog has no listing pages'
  if (meta.sidecarFormat !== ctx.pages.sizer.format || meta.photosPerPage !== (ctx.pages.photosPerPage ?? PAGE_PHOTOS)) return 'the listing pages are of another format'
  if (meta.streamLength !== head.photoCount) return 'the listing pages are not the photostream in order'
  if (facts === undefined || head.listing?.newestSec === undefined || head.userId === '') return 'the head lacks its facts'
  const opts = ctx.options
  const plan = planFor({ refreshedAtMs: head.refreshedAtMs, listing: head.listing, unresolved: () => facts.unresolved }, { ...planChoicesOf(opts), nowMs: answers.startedAtMs })
  if (plan.mode !== 'changes') return `a full listing is due (${plan.reason})`
  if (plan.minDateSec !== answers.minDateSec) return 'the answers were asked for another listing'
  return plan
}

/**
 * The items that failed last time that the whole refresh tries again from their records
 * (refresh.ts reuseMedia) and that are not reported already: no original on record (it could not
 * be had), or named in `resolveAgain` (a download that failed).
 */
function failedRetried(old: OldOrder, opts: RefreshOptions, reported: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (let pos = 0; pos < old.length; pos++) {
    if (old.page(pos).hasMedia(pos % old.perPage)) continue
    const id = old.id(pos)
    if (!reported.has(id)) out.push(id)
  }
  for (const id of opts.resolveAgain ?? []) if (!reported.has(id)) out.push(id)
  return out
}

/**
 * The transcodes the whole refresh resolves again (refresh.ts reuseMedia, when the plan says so:
 * incremental.ts transcodeTry) that are not reported already: Head.facts names them.
 */
function transcodesRetried(head: Head, plan: ListingPlan, reported: ReadonlySet<string>): string[] {
  if (plan.transcodes === undefined) return []
  return (head.facts?.transcodes ?? []).map((t) => t.id).filter((id) => !reported.has(id))
}

/**
 * The listing pages' meta of a merge into `head`: the pages the merge keeps are `head`'s, so they
 * hold record hashes only when `head`'s did (a whole save then packs them all again).
 */
export function pagesMeta(head: Head, pages: ListingPagesOptions, photosPerPage: number, streamLength: number): ListingPagesMeta {
  return { sidecarFormat: pages.sizer.format, photosPerPage, ...(head.pages?.recordHashes === true ? { recordHashes: true } : {}), streamLength }
}

/** The pages of `head`, decoded; undefined when one is gone. */
export async function readPages(store: CatalogStore, head: Head): Promise<ListingPage[] | undefined> {
  const pages: ListingPage[] = []
  return (await store.eachListingPage(head, (page) => pages.push(new ListingPage(page)))) ? pages : undefined
}

/** The previous photostream, read from the listing pages (which hold it in order: cannotMerge). */
export class OldOrder {
  readonly length: number
  constructor(
    readonly pages: readonly ListingPage[],
    readonly perPage: number,
  ) {
    this.length = pages.reduce((n, p) => n + p.n, 0)
  }
  page(pos: number): ListingPage {
    return this.pages[Math.floor(pos / this.perPage)] as ListingPage
  }
  id(pos: number): string {
    return this.page(pos).id(pos % this.perPage)
  }
  dateUpload(pos: number): number {
    return this.page(pos).dateUpload(pos % this.perPage)
  }
}

/** listPhotostreamChanges's checks (incremental.ts) on the merged order: undefined when it adds up. */
function addsUp(stream: readonly string[], answers: RecordedAnswers): string | undefined {
  const total = answers.page.total
  // In incremental.ts listPhotostreamChanges's words (a whole refresh reports them as the reason it listed everything).
  if (total >= 0 && total !== stream.length) return `Flickr counts ${total} items, the catalog with the changes ${stream.length} (something was missed)`
  const headIds = uniqueIds(answers.page.photos)
  const at = headIds.findIndex((id, i) => stream[i] !== id)
  return at < 0 ? undefined : `the photostream's item ${at + 1} is ${headIds[at]}, the catalog with the changes has ${stream[at] ?? 'none'}`
}

/** Every set's members as refresh.ts listSets takes them from these answers, or why not. */
export function setsOf(answers: RecordedAnswers, before: readonly SetEntry[]): { list: ReturnType<typeof dedupeById>; members: Map<string, string[]>; listed: number } | string {
  const list = dedupeById(answers.setList)
  const prev = new Map(before.map((s) => [s.id, s]))
  const members = new Map<string, string[]>()
  let listed = 0
  for (const raw of list) {
    const id = safeId(raw.id) as string
    const kept = knownMembers(raw, prev.get(id), answers.minDateSec)
    if (kept !== undefined) {
      members.set(id, kept)
      continue
    }
    const got = answers.setPhotos.get(id)
    if (got === undefined) return `set ${id} was not listed`
    members.set(id, uniqueIds(got))
    listed++
  }
  return { list, members, listed }
}

/** The ids of the merged catalog (the previous photos and the changed ones), as setChanges asks them. */
export function catalogIds(old: OldOrder, changed: readonly ListedPhoto[]): { has(id: string): boolean } {
  const extra = new Set(changed.map((p) => p.id))
  const keys = new Float64Array(old.length)
  let numeric = true
  for (let pos = 0; pos < old.length && numeric; pos++) {
    const key = old.page(pos).numericId(pos % old.perPage)
    if (key === undefined) numeric = false
    else keys[pos] = key
  }
  if (!numeric) {
    for (let pos = 0; pos < old.length; pos++) extra.add(old.id(pos))
    return extra
  }
  keys.sort()
  return { has: (id) => extra.has(id) || sortedIndexOf(keys, numericId(id) ?? -1) >= 0 }
}

/**
 * Head.facts after the merge: the previous ones with the changed photos' rows taken in (`previous`:
 * their rows before, those the catalog held) and the deleted ones out (`goneUnresolved` of them had
 * no original), transcodes in the new order (a deleted one is not in `stream`).
 */
export function factsAfter(
  before: PhotoFacts, stream: readonly string[], changed: CatalogSnapshot, previous: Pick<CatalogSnapshot, 'photos' | 'media'>, goneUnresolved: number,
): PhotoFacts {
  let unresolved = before.unresolved - goneUnresolved
  const transcodes = new Map<string, { id: string; label: string }>()
  for (const t of before.transcodes) if (!changed.photos.has(t.id)) transcodes.set(t.id, t)
  for (const p of changed.photos.values()) {
    const was = previous.photos.get(p.id)
    if (was !== undefined && !previous.media.has(mediaKey(was.id, was.secret))) unresolved--
    const m = changed.media.get(mediaKey(p.id, p.secret))
    if (m === undefined) unresolved++
    else if (m.kind === 'transcode') transcodes.set(p.id, { id: p.id, label: m.label ?? '' })
  }
  const ordered: PhotoFacts['transcodes'] = []
  if (transcodes.size > 0) for (const id of stream) {
    const t = transcodes.get(id)
    if (t !== undefined) ordered.push(t)
  }
  return { unresolved, transcodes: ordered }
}

/**
 * The listing pages of the merged order: a page whose places all hold the previous photos at the
 * previous places keeps its chunk; any other is packed again (PageBuilder) from the previous pages'
 * rows and the changed photos' entries, as persist.ts writeListingPages packs it from a snapshot.
 * Each page written is kept decoded in `into`, for the lazy view of the new head.
 */
export async function writePages(
  slots: ReadonlyArray<ListedPhoto | number>, old: OldOrder, head: Head, next: CatalogState, pages: ListingPagesOptions,
  perPage: number, put: (page: StoredPage) => Promise<string>, into: ListingPage[],
): Promise<string[]> {
  const oldKeys = head.chunks.listing ?? []
  const keys: string[] = []
  for (let from = 0, page = 0; from < slots.length; from += perPage, page++) {
    const n = Math.min(perPage, slots.length - from)
    let kept = page < oldKeys.length && old.pages[page]?.n === n
    for (let i = 0; i < n && kept; i++) kept = slots[from + i] === from + i
    if (kept) {
      keys.push(oldKeys[page] as string)
      into.push(old.pages[page] as ListingPage)
      continue
    }
    const builder = new PageBuilder(n)
    for (let i = 0; i < n; i++) {
      const s = slots[from + i] as ListedPhoto | number
      if (typeof s === 'number') {
        builder.add(old.page(s).row(s % old.perPage))
        continue
      }
      const p = next.snap.photos.get(s.id) as PhotoEntry
      builder.add(pageRowOf(p, next.snap.media.get(mediaKey(p.id, p.secret)), next.snap.comments.get(p.id), pages.sizer))
    }
    const stored = builder.stored()
    keys.push(await put(stored))
    into.push(new ListingPage(stored))
  }
  return keys
}
