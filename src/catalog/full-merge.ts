/**
 * A full listing merged into the stored catalog without loading it (the weekly listing that finds
 * deletions and fresh view counts, of a catalog read lazily: a big mount's or pin's). The whole
 * refresh (refresh.ts) holds the catalog loaded beside the listing: 3-4 GB at 1,000,000 items.
 * This holds the listing pages' columns, the listing's order as positions, and only the records
 * that changed:
 *
 * - each photostream page is compared as it comes in: a record whose hash (listing-pages.ts
 *   recordHash, stored per photo in the pages) is the saved one's keeps its row and becomes a
 *   position in the old order; any other (changed, new) is kept as listed. The page's records are
 *   then dropped from the listing (paginate.ts lets the hook replace them);
 * - the photos of the catalog the listing did not name are the deleted ones;
 * - every set is listed and the collection tree read, as the whole refresh does;
 * - what follows is lazy-merge.ts's (finishMerge): only the buckets of the changed photos decoded,
 *   their comments and originals fetched by the whole refresh's rules, and one atomic save
 *   (persist.ts beginMerge, MergeSave.commit) of the catalog the whole refresh saves from the same answers
 *   (test/catalog/full-merge.test.ts compares the heads).
 *
 * Items that failed last time (no original on record, `resolveAgain`, transcodes when the plan
 * retries them: cookies given, incremental.ts transcodeTry) are what the whole refresh resolves again whatever their record: the listing keeps them
 * as changed (resolvedAgain), so the merge resolves them by the same rules: in a full listing, and
 * in mergeRelisted's, the photostream listing such items call for at every refresh while one of
 * them fails (incremental.ts planFor's `relist`).
 *
 * It does not take (it answers `fallback` and the caller runs the whole refresh): a catalog whose
 * pages lack record hashes (saved before them: the whole refresh's save writes them), an
 * incremental plan, a photo count that moves the photos to other buckets (or buckets of an older
 * flickrfs, bigger than a save makes them now: the whole refresh's save makes them small), more
 * changed and deleted photos than mergeLimit takes (only in a catalog under
 * BULK_MERGE_FROM_PHOTOS: a bigger one merges any number, finishMerge's bucket groups).
 *
 * Saved as it goes as the whole refresh's full listing is (`ctx.checkpoint`, checkpoint.ts): the
 * sets' members and the changed photos' details; not the photostream's pages, which a checkpoint
 * saves only in a first sync: a full listing killed midway lists the photostream again.
 */
import { asRecord, toInt } from '../flickr/lenient.js'
import createDebug from '../util/debug.js'
import { Handover } from '../util/handover.js'
import { eachLimit } from '../util/pool.js'
import type { ListedPhoto, SetListing } from './changes.js'
import { marksAfter, planChoicesOf, planFor, type ListingPlan } from './incremental.js'
import { finishMerge, mergeLimit, OldOrder, planOf, readPages, setsOf, withAnsweredCalls, type MergeContext, type MergeFound, type MergeResult } from './lazy-merge.js'
import { idIndexOf, type IdIndex } from './lazy-view.js'
import { PAGE_PHOTOS, recordHash } from './listing-pages.js'
import { bucketsAsSaved, sameBuckets, type CatalogStore, type Head } from './persist.js'
import type { RefreshCheckpoint } from './checkpoint.js'
import { PHOTO_EXTRAS, type CatalogApi } from './ports.js'
import { allOrStop, countingApi } from './refresh.js'
import { letGoOfReported, type RecordedAnswers } from './quick-refresh.js'
import { dedupeById, isKnownEmpty, listPhotos, photoFields, safeId, uniqueIds } from './records.js'

const debug = createDebug('flickrfs:catalog')

/** What a listed record is replaced by once compared: the listing keeps no record it does not need. */
const COMPARED: Record<string, unknown> = Object.freeze({})

export type FullMergeContext = MergeContext

/** See the top of this file. Call under the root lock, with no other refresh of this root running. */
export async function mergeFullListing(store: CatalogStore, head: Head, ctx: FullMergeContext): Promise<MergeResult> {
  const startedAtMs = ctx.clock()
  const plan = planFullMerge(head, ctx, startedAtMs)
  if (typeof plan === 'string') return { fallback: plan }
  const pages = ctx.decodedPages ?? (await readPages(store, head))
  const lists = ctx.decodedLists ?? (await store.readSetsAndCollections(head))
  if (pages === undefined || lists === undefined) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const perPage = head.pages?.photosPerPage ?? PAGE_PHOTOS
  const old = new OldOrder(pages, perPage)
  const matcher = new ListingMatch(old, ctx.index ?? idIndexOf(pages, old.length), resolvedAgain(old, ctx.options, plan))
  const calls: Record<string, number> = {}
  const stop = { stopped: false }
  const api = countingApi(ctx.api, calls, stop)
  ctx.options.onProgress?.({ phase: 'listing', photos: 0, sets: 0, setsListed: 0, commentsToFetch: 0, commentsFetched: 0, mediaToResolve: 0, mediaResolved: 0 })
  const concurrency = ctx.options.apiConcurrency ?? 16
  const cp = ctx.checkpoint
  cp?.begin(head.userId, false)
  const [, setListing, tree] = await allOrStop([
    api.getPhotostream([...PHOTO_EXTRAS], { onPage: (page, items) => matcher.take(page, items) }),
    listSets(api, head.userId, lists.sets.length, concurrency, cp),
    api.getCollectionTree(),
  ] as const, stop)
  // An older flickrfs's bigger buckets too: a full listing is when they are made small, once.
  const found = matcher.found(mergeLimit(head.photoCount, ctx.bulkMergeFromPhotos), (n) => (bucketsAsSaved(head, n) ? undefined : `the buckets are not those a save of ${n} photos makes`))
  if (typeof found === 'string') return { fallback: found }
  const { stream, changes, gone } = found
  const listing = marksAfter(plan, head.listing, startedAtMs, [{ lastUpdate: found.newestSec }])
  debug('full listing: %d photos listed, %d of them changed or new, %d deleted; merging', stream.length, changes, gone.size)
  return finishMerge(store, head, ctx, {
    ...found, lists, old, setListing, tree, listing, retriesTranscodes: plan.transcodes !== undefined, startedAtMs,
    listingReport: { mode: 'full', reason: plan.reason, setsListed: setListing.listed },
    calls: (own) => {
      const all = { ...calls }
      for (const [name, n] of Object.entries(own)) all[name] = (all[name] ?? 0) + n
      return all
    },
  })
}

/**
 * An incremental refresh whose photostream did not add up from its changes (lazy-merge.ts's
 * `relist`: deletions the search cannot vouch for, an upload it missed), merged as the whole
 * refresh takes it: the photostream listed whole (compared page by page, as mergeFullListing
 * does), the sets and the tree as the answers have them, the marks of an incremental refresh (the
 * whole refresh's plan was one), and `reason` reported as why everything was listed.
 */
export async function mergeRelisted(store: CatalogStore, head: Head, answers: RecordedAnswers, ctx: FullMergeContext, reason: string): Promise<MergeResult> {
  // Without them every record would look changed: as costly as the whole load, and limited.
  if (head.pages?.recordHashes !== true) return { fallback: 'the listing pages hold no record hashes (saved by an older flickrfs)' }
  const pages = ctx.decodedPages ?? (await readPages(store, head))
  const lists = ctx.decodedLists ?? (await store.readSetsAndCollections(head))
  if (pages === undefined || lists === undefined) return { fallback: 'a part of the catalog is gone (another writer saved meanwhile)' }
  const setListing = setsOf(answers, lists.sets)
  if (typeof setListing === 'string') return { fallback: setListing }
  // The whole refresh's marks are its plan's (a listing for items that failed counts as one: incremental.ts relistDue).
  const planned = planOf(head, answers, ctx)
  if (typeof planned === 'string') return { fallback: planned }
  const old = new OldOrder(pages, head.pages?.photosPerPage ?? PAGE_PHOTOS)
  const matcher = new ListingMatch(old, ctx.index ?? idIndexOf(pages, old.length), resolvedAgain(old, ctx.options, planned))
  const calls: Record<string, number> = {}
  const stop = { stopped: false }
  await countingApi(ctx.api, calls, stop).getPhotostream([...PHOTO_EXTRAS], { onPage: (page, items) => matcher.take(page, items) })
  const found = matcher.found(mergeLimit(head.photoCount, ctx.bulkMergeFromPhotos), (n) => (sameBuckets(head, n) ? undefined : `${n} photos go to another number of buckets`))
  if (typeof found === 'string') return { fallback: found }
  debug('listed whole (%s): %d photos, %d of them changed or new, %d deleted; merging', reason, found.stream.length, found.changes, found.gone.size)
  // The search's calls, answered to the whole refresh from what the merge recorded.
  const searched = [...(answers.searched?.keys() ?? [])]
  const search = { pages: searched.filter((k) => k.startsWith('page:')).length, sizes: searched.filter((k) => k.startsWith('sizes:')).length }
  return finishMerge(store, head, ctx, {
    ...found, letGo: () => letGoOfReported(answers), lists, old, setListing, tree: answers.tree,
    listing: marksAfter(planned, head.listing, answers.startedAtMs, [{ lastUpdate: found.newestSec }]),
    retriesTranscodes: planned.transcodes !== undefined,
    startedAtMs: answers.startedAtMs,
    listingReport: { mode: 'full', reason, changesReported: listPhotos(answers.changed ?? []).length, setsListed: setListing.listed },
    calls: (own) => {
      const all = { ...calls }
      for (const [name, n] of Object.entries(own)) all[name] = (all[name] ?? 0) + n
      return withAnsweredCalls(all, answers, search)
    },
  })
}

/** The full listing's plan, or why this catalog and these options are not merged here (nothing is read or asked). */
export function planFullMerge(head: Head, ctx: MergeContext, nowMs: number): Extract<ListingPlan, { mode: 'full' }> | string {
  const meta = head.pages
  const facts = head.facts
  if (meta === undefined || head.chunks.listing === undefined) return 'the catalog has no listing pages'
  if (meta.sidecarFormat !== ctx.pages.sizer.format || meta.photosPerPage !== (ctx.pages.photosPerPage ?? PAGE_PHOTOS)) return 'the listing pages are of another format'
  if (meta.streamLength !== head.photoCount) return 'the listing pages are not the photostream in order'
  if (meta.recordHashes !== true) return 'the listing pages hold no record hashes (saved by an older flickrfs)'
  if (facts === undefined || head.userId === '') return 'the head lacks its facts'
  const opts = ctx.options
  // As the whole refresh plans it; items that failed alone call for mergeRelisted's listing, not this one.
  const plan = planFor({ refreshedAtMs: head.refreshedAtMs, listing: head.listing, unresolved: () => facts.unresolved }, { ...planChoicesOf(opts), nowMs })
  if (plan.mode !== 'full') return 'an incremental listing is due'
  return plan
}

/**
 * Whether the photo at an old position is resolved again whatever its record, as the whole
 * refresh's reuseMedia resolves it (refresh.ts): no original on record (it could not be had last
 * time), named in `resolveAgain` (its download failed), or a transcode when the plan retries them
 * (its `transcodes`: cookies given, incremental.ts transcodeTry). The listing keeps such a photo as changed, so that the merge resolves it.
 */
function resolvedAgain(old: OldOrder, opts: MergeContext['options'], plan: ListingPlan): (pos: number) => boolean {
  const again = opts.resolveAgain
  const transcodes = plan.transcodes !== undefined
  return (pos) => {
    const page = old.page(pos)
    const i = pos % old.perPage
    if (!page.hasMedia(i) || (transcodes && page.isTranscode(i))) return true
    return again !== undefined && again.size > 0 && again.has(page.id(i))
  }
}

/** See ListingMatch.found. */
interface ListingFound extends Pick<MergeFound, 'slots' | 'changed' | 'gone' | 'goneUnresolved' | 'stream'> {
  /** How many `changed` hands over. */
  changes: number
  newestSec: number
}

/**
 * The photostream listing compared page by page with the catalog's pages: `slots` is the new
 * order, each photo a position in the old one (its record unchanged) or its id; `changed` the
 * listed records of the others (handed over by `found`); `newestSec` the newest `lastupdate`
 * listed (the marks of a full listing: incremental.ts marksAfter).
 */
class ListingMatch {
  slots: Array<number | string> = []
  changed: ListedPhoto[] = []
  newestSec = 0
  #seen: Uint8Array
  #added = new Set<string>()

  constructor(
    private readonly old: OldOrder,
    private readonly index: IdIndex,
    /** A photo to resolve again (resolvedAgain): kept as changed even when its record is not. */
    private readonly again: (pos: number) => boolean,
  ) {
    this.#seen = new Uint8Array(old.length)
  }

  /** paginate.ts's onPage: page 1 again starts over (a listing read again). */
  take(page: number, items: Record<string, unknown>[]): void {
    if (page === 1) this.#reset()
    const { old } = this
    for (let i = 0; i < items.length; i++) {
      const raw = asRecord(items[i])
      items[i] = COMPARED
      const id = safeId(raw.id)
      // As listPhotos takes them: the first of an id, none without a usable id.
      if (id === null) continue
      const pos = this.index.find(id)
      if (pos === undefined ? this.#added.has(id) : this.#seen[pos] === 1) continue
      const lastUpdate = toInt(raw.lastupdate, 0)
      if (lastUpdate > this.newestSec) this.newestSec = lastUpdate
      if (pos !== undefined) {
        this.#seen[pos] = 1
        if (old.page(pos).recordHash(pos % old.perPage) === recordHash(raw) && !this.again(pos)) {
          this.slots.push(pos)
          continue
        }
      } else this.#added.add(id)
      const listed = photoFields(raw, id, 0)
      this.changed.push(listed)
      this.slots.push(id)
    }
  }

  /**
   * What the listing found, once whole: the new order, the changed photos (their rows are decoded
   * group by group by finishMerge), the deleted ones; or why it is not merged (more changed and
   * deleted than `limit`, `buckets` refusing the new photo count).
   */
  found(limit: number, buckets: (photos: number) => string | undefined): ListingFound | string {
    const { slots, changed } = this
    const { ids: gone, unresolved: goneUnresolved } = this.unlisted()
    if (changed.length + gone.length > limit) return `${changed.length} photos changed and ${gone.length} deleted (more than ${limit})`
    const stream = slots.map((s) => (typeof s === 'number' ? this.old.id(s) : s))
    const refused = buckets(stream.length)
    if (refused !== undefined) return refused
    // The merge alone holds the records from here (the listing's page callback holds this match to its end).
    this.changed = []
    return { slots, changed: new Handover(changed), changes: changed.length, newestSec: this.newestSec, gone: new Set(gone), goneUnresolved, stream }
  }

  /** The ids of the catalog's photos the listing did not name, and how many of them had no original on record. */
  unlisted(): { ids: string[]; unresolved: number } {
    const ids: string[] = []
    let unresolved = 0
    for (let pos = 0; pos < this.#seen.length; pos++) {
      if (this.#seen[pos] === 1) continue
      ids.push(this.old.id(pos))
      if (!this.old.page(pos).hasMedia(pos % this.old.perPage)) unresolved++
    }
    return { ids, unresolved }
  }

  #reset(): void {
    this.slots = []
    this.changed = []
    this.newestSec = 0
    this.#seen.fill(0)
    this.#added.clear()
  }
}

/**
 * Every set's members as refresh.ts listSets lists them in a full listing: those an interrupted run
 * saved (for the same getList record, while young) taken from `cp`, each listed one saved to it.
 */
async function listSets(api: CatalogApi, userId: string, expectedSets: number, concurrency: number, cp: RefreshCheckpoint | undefined): Promise<SetListing & { listed: number }> {
  const list = dedupeById(await api.getSetList(expectedSets))
  const members = new Map<string, string[]>()
  for (const raw of list) {
    const known = isKnownEmpty(raw) ? [] : cp?.savedSetMembers(safeId(raw.id) as string, raw)
    if (known !== undefined) members.set(safeId(raw.id) as string, known)
  }
  cp?.planSets({ done: members.size, total: list.length })
  let listed = 0
  await eachLimit(list, concurrency, async (raw) => {
    const id = safeId(raw.id) as string
    if (members.has(id)) return
    listed++
    const ids = uniqueIds(await api.getSetPhotos(id, userId))
    members.set(id, ids)
    cp?.setListed(id, raw, ids)
  })
  return { list, members, listed }
}
