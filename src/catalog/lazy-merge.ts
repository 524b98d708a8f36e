/**
 * An incremental change, small or a bulk edit, merged into the stored catalog without loading it: when the calls of
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
 * plan other than the answers' incremental one, more changed photos than mergeLimit takes (a
 * catalog under BULK_MERGE_FROM_PHOTOS), deletions the search cannot vouch for, a photostream that does not add up, or
 * a listing for items that failed (planFor's `relist`): the whole refresh then lists the photostream
 * whole (the result says `relist`, and full-merge.ts mergeRelisted does that listing and merges);
 * a set listed that the answers lack, a photo count that moves the photos to other buckets. The photo changed last
 * deleted or gone back is merged too: an incremental refresh's marks never go back (incremental.ts
 * marksAfter), so the reported photos make them. Nothing is named before the one atomic save
 * (persist.ts MergeSave.commit): kill -9 leaves the old catalog or the new one.
 *
 * Transcodes retried (cookies given and the plan's `transcodes` due: the whole refresh resolves every transcode again) are taken as
 * changed photos from the records the catalog holds (transcodesRetried: Head.facts names them), and
 * so are items that failed last time, between the listings planFor makes for them (failedRetried:
 * no original on record in the pages, or named in `resolveAgain`).
 *
 * At 1,000,000 photos a whole refresh holds the catalog twice (2–4 GB); this holds the pages'
 * columns (~60 MB, the lazy view's own when it hands them), the order's ids, a page row for each
 * changed photo written, the reported records of the groups not merged yet (packed, ~150 bytes a
 * photo; each group's let go once written: the quick refresh's answers too), and one group's decoded rows and details at a
 * time (finishMerge: MERGE_GROUP_PHOTOS changed photos, bucket group by bucket group), however
 * many were reported: a bulk edit of the whole account is merged too, in a catalog of
 * BULK_MERGE_FROM_PHOTOS or more (mergeLimit says why a smaller one runs the whole refresh for a
 * change of more than one photo in 8).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import createDebug from '../util/debug.js'
import { Handover } from '../util/handover.js'
import { sortedIndexOf } from '../util/sorted.js'
import { anyChange, collectionChanges, photoChanges, setChanges, type ListedPhoto, type SetListing, type Since } from './changes.js'
import { numericId } from './decimal-id.js'
import { asListed, keptTranscodeMark, knownMembers, locateDeletions, marksAfter, mergeOrder, planChoicesOf, planFor, type ListingMarks, type ListingPlan } from './incremental.js'
import { ListingPage, PAGE_PHOTOS, PageBuilder, pageRowOf, type PageRow, type StoredPage } from './listing-pages.js'
import { MERGE_GROUP_PHOTOS, MergeSave, sameBuckets, type CatalogStore, type Head, type ListingPagesMeta, type ListingPagesOptions, type PhotoFacts } from './persist.js'
import type { CatalogApi, CatalogMedia } from './ports.js'
import { idIndexOf, type IdIndex } from './lazy-view.js'
import { letGoOfReported, recordingSearch, type RecordedAnswers } from './quick-refresh.js'
import { dedupeById, listPhotos, safeId, uniqueIds } from './records.js'
import { fetchPhotoDetails, type RefreshOptions, type RefreshProgress, type RefreshReport } from './refresh.js'
import type { CheckpointPlan, RefreshCheckpoint } from './checkpoint.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

const debug = createDebug('flickrfs:catalog')

/** Below BULK_MERGE_FROM_PHOTOS, a merge takes up to this many changed photos in any catalog... */
export const MERGE_MIN_PHOTOS = 3000

/** ...and up to one photo in this many of the catalog's. */
export const MERGE_FRACTION = 8

/**
 * From this many photos a catalog takes a change of any size by a merge (in bucket groups); below
 * it a change bigger than mergeLimit runs the whole refresh. The whole refresh holds the catalog
 * twice: a pin after a bulk edit peaks at ~185 MB at 20,000 items, ~405 MB at 100,000, ~0.6-0.7 GB
 * of heap at 200,000, 2-4 GB at 1,000,000 (bench/RESULTS.md "Session 43", "Session 51,
 * bulkedit"); the merge's grows with the change, not the catalog. It was 200,000 while a pin after
 * a merge, which writes each changed photo's sidecar from its record read back from its bucket,
 * read the bucket whole for each photo (1.8-3.8x the whole refresh's CPU at 100,000 items: "Session
 * 43", "Session 44"); a photo of a bucket read before is now read as its own row (persist.ts
 * readRow), and a pin of 100,000 items after a bulk edit of ~40,000 photos merges it in ~300 MB
 * against the whole refresh's ~405 MB, at ~1.3-1.4x its CPU. At 20,000 items the merge saved
 * ~10% of the peak for ~1.4x the CPU and more wall time: there the whole refresh stays.
 */
export const BULK_MERGE_FROM_PHOTOS = 50_000

/**
 * The most changed photos a merge into a catalog of `photoCount` takes: any number from
 * `bulkFrom` photos (BULK_MERGE_FROM_PHOTOS), else max(3,000, one in 8); with more, the whole refresh runs.
 */
export function mergeLimit(photoCount: number, bulkFrom = BULK_MERGE_FROM_PHOTOS): number {
  return photoCount >= bulkFrom ? Infinity : Math.max(MERGE_MIN_PHOTOS, Math.floor(photoCount / MERGE_FRACTION))
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
  /** The id index of `head`'s pages already built (the lazy view's): not built again. */
  index?: IdIndex
  /**
   * The sets and collections of `head` already read (the lazy view's): not read again. At 1,000,000
   * items in 20,000 sets, read and parsed again they were a second copy of ~800,000 members' ids
   * and 20,000 records at the merge's start, where its memory peaks.
   */
  decodedLists?: MergeFound['lists']
  /** The changed photos merged at once (finishMerge's groups); MERGE_GROUP_PHOTOS when absent. */
  groupPhotos?: number
  /** From how many photos a change of any size is merged (mergeLimit); BULK_MERGE_FROM_PHOTOS when absent. */
  bulkMergeFromPhotos?: number
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
  // Let go of by a merge of these answers that fell back after its first group: the whole refresh asks them again.
  if (answers.changed === undefined) return { fallback: 'the reported photos were let go by an earlier merge' }
  const reportedPhotos = listPhotos(answers.changed)
  const pages = ctx.decodedPages ?? (await readPages(store, head))
  if (pages === undefined) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const old = new OldOrder(pages, head.pages?.photosPerPage ?? PAGE_PHOTOS)
  // Transcodes retried (the plan's `transcodes`) and items that failed, as the whole refresh retries them: from the records held.
  const reportedIds = new Set(reportedPhotos.map((p) => p.id))
  const retried = [...new Set([...transcodesRetried(head, plan, reportedIds), ...(plan.failing !== undefined ? failedRetried(old, ctx.options, reportedIds) : [])])]
  const limit = mergeLimit(head.photoCount, ctx.bulkMergeFromPhotos)
  if (reportedPhotos.length + retried.length > limit) return { fallback: `${reportedPhotos.length} photos reported and ${retried.length} to try again (more than ${limit})` }
  const lists = ctx.decodedLists ?? (await store.readSetsAndCollections(head))
  // The reported photos' rows the quick refresh decoded (answers.reported): else each group of the merge decodes its own.
  const held = answers.reported?.generation === head.generation && retried.length === 0 ? answers.reported.rows : undefined
  const retriedRows = retried.length === 0 ? undefined : await store.decodeBucketsOf(head, retried)
  if (lists === undefined || (retried.length > 0 && retriedRows === undefined)) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const changed = retried.length === 0 ? reportedPhotos : [...reportedPhotos, ...retried.flatMap((id) => {
    const entry = retriedRows?.photos.get(id)
    return entry === undefined ? [] : [asListed(entry)]
  })]
  // Where a photo of the catalog is in the old order (the pages' id index), built only when asked.
  let index: IdIndex | undefined = ctx.index
  const oldPos = (id: string): number | undefined => (index ??= idIndexOf(pages, old.length)).find(id)
  const previousUpload = (id: string): number | undefined => {
    if (held !== undefined) return held.photos.get(id)?.dateUpload
    const pos = oldPos(id)
    return pos === undefined ? undefined : old.dateUpload(pos)
  }
  const idAt = (s: string | number): string => (typeof s === 'number' ? old.id(s) : s)
  // A changed photo by its id: its record is the groups' alone (finishMerge lets each go once written).
  const withChanges = mergeOrder({ length: old.length, at: (pos) => old.id(pos) }, (pos) => old.dateUpload(pos), previousUpload, changed).map((s) => (typeof s === 'number' ? s : s.id))
  // Fewer items on Flickr than with the changes: the ones deleted, found as the whole refresh finds them.
  let deleted: { ids: ReadonlySet<string>; pagesAsked: number } | undefined
  if (answers.page.total >= 0 && answers.page.total < withChanges.length) {
    // Its answers kept: a whole refresh after a fallback asks the same, and is answered from them.
    const found = await locateDeletions(recordingSearch(ctx.api, answers), { length: withChanges.length, at: (pos) => idAt(withChanges[pos] as string | number) }, answers.page.total, answers.page.photos)
    if ('reason' in found) {
      return { fallback: `something was deleted (${found.reason})`, relist: `Flickr counts ${answers.page.total} items, the catalog with the changes ${withChanges.length} (something was deleted: ${found.reason})` }
    }
    // Their rows are only taken out of their buckets (MergeSave.putRows's `removed`): nothing of them is read.
    deleted = { ids: new Set(found.deleted), pagesAsked: found.pagesAsked }
  }
  const gone: ReadonlySet<string> = deleted?.ids ?? new Set()
  const slots = gone.size === 0 ? withChanges : withChanges.filter((s) => !gone.has(idAt(s)))
  // A photo reported (or retried) and deleted since is not in the whole refresh's listing: nothing of it is fetched or written.
  const kept = gone.size === 0 ? changed : changed.filter((p) => !gone.has(p.id))
  // Of the photos deleted, those with no original on record (Head.facts counted them), as their listing pages say.
  let goneUnresolved = 0
  for (const id of gone) {
    const pos = oldPos(id)
    if (pos !== undefined && !old.page(pos).hasMedia(pos % old.perPage)) goneUnresolved++
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
  // Its details saved as they come (a bulk edit's comments and originals: hours at Flickr's rate), for a rerun to go on from.
  ctx.checkpoint?.begin(head.userId, false)
  return finishMerge(store, head, ctx, {
    changed: new Handover(kept), letGo: () => letGoOfReported(answers), ...(held !== undefined ? { known: held } : {}), lists, old, slots, stream, gone, goneUnresolved, setListing, tree: answers.tree, listing, retriesTranscodes: plan.transcodes !== undefined,
    startedAtMs: answers.startedAtMs, listingReport,
    calls: (own) => withAnsweredCalls(own, answers, deleted === undefined ? undefined : { pages: deleted.pagesAsked, sizes: deleted.ids.size }),
  })
}

/** The changed photos' rows as the catalog holds them (persist.ts decodeBucketsOf). */
export type MergeKnown = Pick<CatalogSnapshot, 'photos' | 'comments' | 'media'> & { commentsFetchedAt: ReadonlyMap<string, number> }

/** What a merge found (lazy-merge's from recorded answers, full-merge's from a full listing), for finishMerge. */
export interface MergeFound {
  /**
   * The photos whose rows are written (reported, or listed changed), as listed: taken by
   * finishMerge, which lets go of each group's once it is written. After a bulk edit they are most
   * of a merge's memory (each with its record: ~160 MB of heap for 184,000 photos reported, in
   * bench/RESULTS.md "Session 46"), so the caller keeps none of them.
   */
  changed: Handover<readonly ListedPhoto[]>
  /** Lets go of what else holds the records the changed photos were listed from (the quick refresh's answers), once they are cut into groups. */
  letGo?: () => void
  /** Their rows as the catalog holds them (those it holds), when the caller holds them already; else each group's are decoded. */
  known?: MergeKnown
  lists: { sets: readonly SetEntry[]; collections: readonly CollectionEntry[] }
  old: OldOrder
  /** The new order: a position in the old one (the photo's row kept), or a changed photo's id. */
  slots: ReadonlyArray<number | string>
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

/** persist.ts says what it is. */
export { MERGE_GROUP_PHOTOS } from './persist.js'

/**
 * The rest of a merge, as refresh.ts run() makes it over the changed photos (every other photo
 * keeps its row): their comments and originals fetched by the whole refresh's rules, the
 * comparison, and one atomic save (persist.ts beginMerge, commit) of the catalog the whole refresh
 * saves. The changed photos go bucket group by bucket group (bucketGroups): each group's rows are
 * decoded (unless `found.known` holds them), its details fetched and compared, its buckets written,
 * and only what the listing pages and the head need of it kept (a page row per photo, counts,
 * facts). Nothing is named by the head before the commit; a merge that fails or falls back
 * removes the chunks it wrote.
 */
export async function finishMerge(store: CatalogStore, head: Head, ctx: MergeContext, found: MergeFound): Promise<MergeResult> {
  const save = await store.beginMerge(head)
  if (save === undefined) return { fallback: 'another writer saved meanwhile' }
  let result: MergeResult | undefined
  try {
    result = await mergeInGroups(store, head, ctx, found, save)
    return result
  } finally {
    if (result === undefined || 'fallback' in result) await save.abandon()
  }
}

async function mergeInGroups(store: CatalogStore, head: Head, ctx: MergeContext, found: MergeFound, save: MergeSave): Promise<MergeResult> {
  const { lists, old, slots, stream, gone } = found
  const prevSnap = (known: MergeKnown): CatalogState => ({
    snap: {
      userId: head.userId, userName: head.userName, photostream: [], photos: known.photos, comments: known.comments, media: known.media,
      sets: lists.sets, collections: lists.collections, photostreamChangedAtMs: head.photostreamChangedAtMs, refreshedAtMs: head.refreshedAtMs,
    },
    commentsFetchedAt: known.commentsFetchedAt,
    ...(head.listing !== undefined ? { listing: head.listing } : {}),
  })
  const { answered: _answered, onProgress, ...rest } = ctx.options
  const photosPerPage = head.pages?.photosPerPage ?? PAGE_PHOTOS
  // From here each changed photo is held by its group alone, and let go with it (cut: none kept here).
  const { groups, ids: changedIds } = cut(head, found, ctx.groupPhotos ?? MERGE_GROUP_PHOTOS)
  const total = changedIds.size
  const groupCount = groups.length
  const facts = new FactsTally(head.facts as PhotoFacts, changedIds, found.goneUnresolved ?? 0)
  const pageRows = new Map<string, PageRow>()
  const counts = { added: 0, changed: 0 }
  const media: RefreshReport['media'] = { resolved: 0, reused: 0, transcodes: [], unavailable: [] }
  const calls: Record<string, number> = {}
  let commentsFetched = 0
  let transcodesResolved = 0
  // Progress over the whole merge: each group's details step counts from the groups before it (and so does its checkpoint's plan).
  const before = { commentsToFetch: 0, commentsFetched: 0, mediaToResolve: 0, mediaResolved: 0 }
  const planned = { comments: 0, sizesResumed: 0, sizes: 0 }
  let last = before
  // The next group, merged in a function of its own: no register of this frame holds it, or its rows, once it is written.
  const mergeNext = async (): Promise<boolean> => {
    const group = unpacked(groups.shift() as WaitingGroup)
    const known = found.known ?? (await store.decodeBucketsOf(head, group.changed.map((p) => p.id)))
    if (known === undefined) return false
    const previous = prevSnap(known)
    // Decided by the merge's plan, at the answers' time: not again at this later one.
    const options: RefreshOptions = {
      ...rest, retryTranscodes: found.retriesTranscodes,
      ...(onProgress !== undefined ? { onProgress: (p) => onProgress(last = progressOver(p, before, total)) } : {}),
    }
    const checkpoint = ctx.checkpoint === undefined ? undefined : planOverGroups(ctx.checkpoint, planned)
    const details = await fetchPhotoDetails({ previous, api: ctx.api, media: ctx.media, options, clock: ctx.clock, ...(checkpoint !== undefined ? { checkpoint } : {}) }, group.changed)
    // This group's results saved before the next group's plan counts them among the groups done.
    await ctx.checkpoint?.flush()
    Object.assign(before, { commentsToFetch: last.commentsToFetch, commentsFetched: last.commentsFetched, mediaToResolve: last.mediaToResolve, mediaResolved: last.mediaResolved })
    const photos = photoChanges({ photos: group.changed, comments: details.comments, media: details.media }, { prev: previous.snap, nowMs: ctx.clock() })
    counts.added += photos.counts.added
    counts.changed += photos.counts.changed
    commentsFetched += details.commentsFetched
    transcodesResolved += details.transcodesResolved
    media.resolved += details.report.resolved
    media.unavailable.push(...details.report.unavailable)
    for (const [name, n] of Object.entries(details.clientCalls)) calls[name] = (calls[name] ?? 0) + n
    const next = rowsOf(group.changed, photos, details.fetchedAt, previous)
    facts.add(next.snap, previous.snap)
    for (const p of group.changed) {
      const entry = next.snap.photos.get(p.id) as PhotoEntry
      pageRows.set(p.id, pageRowOf(entry, next.snap.media.get(mediaKey(p.id, entry.secret)), next.snap.comments.get(p.id), ctx.pages.sizer))
    }
    return save.putRows(next, group.gone)
  }
  for (let left = groupCount; left > 0; left--) {
    if (!(await mergeNext())) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  }

  const since: Since = {
    prev: { ...prevSnap({ photos: new Map(), comments: new Map(), media: new Map(), commentsFetchedAt: new Map() }).snap },
    nowMs: ctx.clock(),
  }
  const merged = catalogIds(old, changedIds)
  const inCatalog = gone.size === 0 ? merged : { has: (id: string) => !gone.has(id) && merged.has(id) }
  const sets = setChanges(found.setListing, inCatalog, since)
  const collections = collectionChanges(found.tree, since)
  const orderChanged = slots.length !== old.length || slots.some((s, pos) => (typeof s === 'number' ? s !== pos : s !== old.id(pos)))
  const photoCounts = { total: stream.length, added: counts.added, changed: counts.changed, deleted: gone.size }
  const refreshedAtMs = ctx.clock()
  const after = facts.result(stream)
  const newPages: ListingPage[] = []
  const saved = await save.commit({
    photostream: stream,
    sets: sets.sets,
    collections: collections.collections,
    head: {
      userId: head.userId, userName: head.userName, refreshedAtMs,
      photostreamChangedAtMs: orderChanged ? since.nowMs : head.photostreamChangedAtMs, photoCount: stream.length,
    },
    pages: {
      meta: pagesMeta(head, ctx.pages, photosPerPage, stream.length),
      write: (put) => writePages(slots, old, head, pageRows, photosPerPage, put, newPages),
    },
    listing: keptTranscodeMark(found.listing, ctx.options.cookies, transcodesResolved),
    facts: after,
  }, ctx.clock())
  if (saved === undefined) return { fallback: 'another writer saved meanwhile' }
  const report: RefreshReport = {
    userId: head.userId,
    changed: anyChange({ photos: { counts: photoCounts, photostreamOrderChanged: orderChanged }, sets, collections }, since.prev),
    startedAtMs: found.startedAtMs,
    finishedAtMs: refreshedAtMs,
    photos: photoCounts,
    sets: sets.counts,
    collections: collections.counts,
    photostreamOrderChanged: orderChanged,
    commentsFetched,
    listing: found.listingReport,
    media: { ...media, reused: stream.length - media.resolved - media.unavailable.length, transcodes: after.transcodes },
    clientCalls: found.calls(calls),
    generation: saved.generation,
    merged: true,
  }
  debug('merged %d %s photos (%d added, %d changed) and %d deleted into %s without loading the catalog (%d bucket group(s))', total,
    found.listingReport.mode === 'full' ? 'listed changed' : 'reported', photoCounts.added, photoCounts.changed, gone.size, saved.generation, groupCount)
  return { merged: { head: saved, report, pages: newPages, sets: sets.sets, collections: collections.collections, rows: changedIds } }
}

/**
 * The checkpoint as one group's details step uses it, its plan counted over the whole merge
 * (`flickrfs status`): the comment lists and originals of the groups before it are done (saved:
 * finishMerge flushes after each group). The checkpoint counts the originals it saved in this run
 * itself; the comment lists, and what was reused from an interrupted run, are added here.
 */
function planOverGroups(cp: RefreshCheckpoint, before: { comments: number; sizesResumed: number; sizes: number }): RefreshCheckpoint {
  const plan = (p: CheckpointPlan): void => {
    cp.plan({
      comments: { done: before.comments + p.comments.done, total: before.comments + p.comments.total },
      sizes: { done: before.sizesResumed + p.sizes.done, total: before.sizes + p.sizes.total },
    })
    // The next group counts this one's as done.
    before.comments += p.comments.total
    before.sizesResumed += p.sizes.done
    before.sizes += p.sizes.total
  }
  return new Proxy(cp, {
    get: (target, prop) => {
      if (prop === 'plan') return plan
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v
    },
  })
}

/** A group's details step's progress, counted over the whole merge (`before`: the groups done). */
function progressOver(p: RefreshProgress, before: Pick<RefreshProgress, 'commentsToFetch' | 'commentsFetched' | 'mediaToResolve' | 'mediaResolved'>, photos: number): RefreshProgress {
  return {
    ...p, photos,
    commentsToFetch: before.commentsToFetch + p.commentsToFetch, commentsFetched: before.commentsFetched + p.commentsFetched,
    mediaToResolve: before.mediaToResolve + p.mediaToResolve, mediaResolved: before.mediaResolved + p.mediaResolved,
  }
}

/**
 * finishMerge's groups, taken from `found` (its changed photos' Handover, and `letGo` told), and
 * the changed photos' ids: in a function of its own, so that no frame of the merge holds the
 * photos beside the groups. Every group but the first waits for its turn packed (`pack`).
 */
function cut(head: Head, found: MergeFound, perGroup: number): { groups: WaitingGroup[]; ids: Set<string> } {
  const changed = found.changed.take() ?? []
  found.letGo?.()
  const groups: WaitingGroup[] = bucketGroups(head, changed, found.gone, perGroup)
  for (let i = 1; i < groups.length; i++) groups[i] = pack(groups[i] as BucketGroup)
  return { groups, ids: new Set(changed.map((p) => p.id)) }
}

/**
 * A group waiting for its turn: its changed photos as it holds them, or packed (`photos`: their
 * JSON deflated). A photo recentlyUpdated reported is ~1.6 KB of heap as listed (its record
 * parsed, and the fields read from it), ~150 bytes packed (the fake's records; packing or
 * unpacking a group of 10,000 takes ~0.06 s): after a bulk edit of ~180,000 photos those
 * waiting were ~250 MB from the start of the merge, which writes them a group at a time.
 */
type WaitingGroup = BucketGroup | { photos: Buffer[]; gone: string[] }

/**
 * Photos a piece of a packed group holds: the JSON of 100 (~110 KB) is a young object, collected by
 * the next scavenge. A whole group's (~11 MB) was a large object, kept to the next full GC: packing
 * the groups of ~181,000 photos took V8's large-object space from 109 to 167 MB in half a second,
 * at the merge's peak (bench/RESULTS.md, "Session 48").
 */
const PACKED_PHOTOS = 100

/**
 * `group` packed, when its photos are plain objects as listed (a first sync's stand-ins, whose
 * records are read back from their spool, are not: kept as they are).
 */
function pack(group: BucketGroup): WaitingGroup {
  const { changed, gone } = group
  if (!changed.every((p) => Object.getPrototypeOf(p) === Object.prototype)) return group
  const photos: Buffer[] = []
  for (let i = 0; i < changed.length; i += PACKED_PHOTOS) photos.push(deflateRawSync(JSON.stringify(changed.slice(i, i + PACKED_PHOTOS)), { level: 1 }))
  return { photos, gone }
}

/** `group`'s photos as listed: a packed group's made again from its JSON (the same fields and records). */
function unpacked(group: WaitingGroup): BucketGroup {
  if ('changed' in group) return group
  return { changed: group.photos.flatMap((piece) => JSON.parse(inflateRawSync(piece).toString('utf8')) as ListedPhoto[]), gone: group.gone }
}

/** One group of finishMerge: the changed photos and deleted ones of some buckets (no bucket in two groups). */
interface BucketGroup {
  changed: ListedPhoto[]
  gone: string[]
}

/**
 * The changed and deleted photos by bucket (persist.ts MergeSave.bucketOf), the buckets in order
 * cut into groups of about `perGroup` photos; a bucket is never split. Empty when nothing is.
 */
export function bucketGroups(head: Pick<Head, 'chunks'>, changed: readonly ListedPhoto[], gone: ReadonlySet<string>, perGroup: number): BucketGroup[] {
  const byBucket = new Map<number, BucketGroup>()
  const of = (id: string): BucketGroup => {
    const b = MergeSave.bucketOf(head, id)
    let g = byBucket.get(b)
    if (g === undefined) byBucket.set(b, (g = { changed: [], gone: [] }))
    return g
  }
  for (const p of changed) of(p.id).changed.push(p)
  for (const id of gone) of(id).gone.push(id)
  const groups: BucketGroup[] = []
  let open: BucketGroup | undefined
  for (const b of [...byBucket.keys()].sort((x, y) => x - y)) {
    const g = byBucket.get(b) as BucketGroup
    if (open === undefined || open.changed.length + open.gone.length >= perGroup) groups.push((open = { changed: [], gone: [] }))
    open.changed.push(...g.changed)
    open.gone.push(...g.gone)
  }
  // A merge with nothing to write still saves (its sets, its marks): one empty group puts no row.
  return groups.length === 0 ? [{ changed: [], gone: [] }] : groups
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
export function catalogIds(old: OldOrder, changed: ReadonlySet<string>): { has(id: string): boolean } {
  const extra = new Set(changed)
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
 * Head.facts after the merge, tallied group by group: the previous ones with the changed photos'
 * rows taken in (`add`: their rows after, and before as the catalog held them) and the deleted
 * ones out (`goneUnresolved` of them had no original), transcodes in the new order (`result`: a
 * deleted one is not in `stream`).
 */
export class FactsTally {
  #unresolved: number
  readonly #transcodes = new Map<string, { id: string; label: string }>()

  constructor(before: PhotoFacts, changed: ReadonlySet<string>, goneUnresolved: number) {
    this.#unresolved = before.unresolved - goneUnresolved
    for (const t of before.transcodes) if (!changed.has(t.id)) this.#transcodes.set(t.id, t)
  }

  add(changed: Pick<CatalogSnapshot, 'photos' | 'media'>, previous: Pick<CatalogSnapshot, 'photos' | 'media'>): void {
    for (const p of changed.photos.values()) {
      const was = previous.photos.get(p.id)
      if (was !== undefined && !previous.media.has(mediaKey(was.id, was.secret))) this.#unresolved--
      const m = changed.media.get(mediaKey(p.id, p.secret))
      if (m === undefined) this.#unresolved++
      else if (m.kind === 'transcode') this.#transcodes.set(p.id, { id: p.id, label: m.label ?? '' })
    }
  }

  result(stream: readonly string[]): PhotoFacts {
    const ordered: PhotoFacts['transcodes'] = []
    if (this.#transcodes.size > 0) for (const id of stream) {
      const t = this.#transcodes.get(id)
      if (t !== undefined) ordered.push(t)
    }
    return { unresolved: this.#unresolved, transcodes: ordered }
  }
}

/**
 * The listing pages of the merged order: a page whose places all hold the previous photos at the
 * previous places keeps its chunk; any other is packed again (PageBuilder) from the previous pages'
 * rows and the changed photos' (`rows`, made as persist.ts writeListingPages makes them from a snapshot).
 * Each page written is kept decoded in `into`, for the lazy view of the new head.
 */
export async function writePages(
  slots: ReadonlyArray<number | string>, old: OldOrder, head: Head, rows: ReadonlyMap<string, PageRow>,
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
      const s = slots[from + i] as number | string
      if (typeof s === 'number') {
        builder.add(old.page(s).row(s % old.perPage))
        continue
      }
      builder.add(rows.get(s) as PageRow)
    }
    const stored = builder.stored()
    keys.push(await put(stored))
    into.push(new ListingPage(stored))
  }
  return keys
}
