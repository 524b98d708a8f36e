/**
 * Cheap change detection. After a full listing, a refresh learns what changed in the photostream
 * from flickr.photos.recentlyUpdated (photos uploaded, edited, replaced or commented since a date)
 * instead of reading every page of people.getPhotos, and lists the members of only the sets whose
 * getList record says they moved. refresh.ts asks planListing() which kind of listing to make, and
 * calls listPhotostreamChanges() and unchangedMembers() when it is an incremental one.
 *
 * What recentlyUpdated does not say, and how the catalog still ends up as a full listing would make it:
 * - Deletions. One page-1 call of people.getPhotos gives the photostream's `total`; when the catalog
 *   plus what changed holds more than that, something was deleted. locateDeletions finds what by
 *   asking a few pages of the photostream (a bisection on where its items stand against the
 *   catalog's order) and confirms each with getSizes ("Photo not found"); when it cannot tell
 *   exactly, this refresh lists everything. The same page 1 also checks the order of the newest
 *   items (where uploads land).
 * - Changes that do not move `lastupdate`: view and fave counts, and (unverified) a set reordered
 *   without its `date_update` moving. They are taken in by the next full listing, which runs when
 *   the last one is older than `fullListingEveryMs` (default 7 days; `--full-listing-every`).
 * - Fixes of what failed: an original that could not be had (or a download that failed) is tried
 *   again at every refresh, from the record the catalog holds. A record whose URL was at fault is
 *   only fresh in a listing of the photostream: the first refresh after an item fails lists the
 *   photostream whole (planFor's `relist`), and while items keep failing it does so again after 1,
 *   2, 4, … hours, at most once a day (relistDue), and at once when more items fail than the
 *   fewest failing since the last such listing. Its sets stay incremental, since a set's members say nothing of an
 *   original. At 1,000,000 items that listing is ~2,000 calls: at every hourly refresh it would
 *   spend more than half of Flickr's 3,600 an hour on one broken photo.
 * - Transcodes: with the web session's cookies given, a video Flickr gave only as a transcode is
 *   asked for its original again (a getSizes and a media request each), at the first refresh with
 *   those cookies (other cookies than last time count as new) and then once a day (transcodeTry):
 *   cookies that no longer work (expired) would otherwise cost that at every hourly run.
 * - Clock skew: changes are asked for from an hour before the earlier of the last listing's start
 *   (our clock) and the newest `lastupdate` it saw (Flickr's clock).
 */
import { createHash } from 'node:crypto'
import { flickrCodeOf } from '../flickr/failure.js'
import { toInt, toStr } from '../flickr/lenient.js'
import { anyChange, collectionChanges, photoChanges, setChanges, type ListedPhoto } from './changes.js'
import { isKnownEmpty, safeId, uniqueIds } from './records.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

/** What the catalog keeps between refreshes to make the next one incremental. */
export interface ListingMarks {
  /** Catalog clock (ms) when the last full listing started. */
  fullListingAtMs: number
  /** Flickr time (unix s) up to which the catalog has every change; the next min_date is an hour earlier. */
  changesSinceSec: number
  /**
   * The newest `lastupdate` (unix s) seen since the last full listing, 0 when none: a full listing
   * sets it to its photos' newest, and an incremental listing only raises it (a photo deleted or
   * gone back leaves it, which is still a time Flickr had reached and the catalog has every change
   * up to). What the next marks are made of when a refresh changed nothing (marksUnchanged). Absent
   * in catalogs saved before it.
   */
  newestSec?: number
  /**
   * The photostream's last listing for items that failed (planFor's `relist`) since the last full
   * listing: when it started (catalog clock, ms), how many such listings there were since the full
   * one, and how many items were failing when it was planned. Absent when none, or when nothing
   * failed at the last refresh.
   */
  relisted?: RelistMark
  /** The last refresh that asked for the originals of every transcode again (transcodeTry). Absent when none did. */
  transcodesTried?: TranscodeMark
}

/**
 * When transcodes were last asked for their originals (catalog clock, ms), and with which cookies:
 * a fingerprint (cookiesFingerprint), never the cookies themselves.
 */
export interface TranscodeMark {
  atMs: number
  cookies: string
}

export interface RelistMark {
  atMs: number
  count: number
  failing: number
}

/** The default time between full listings: deletions are caught at once anyway (see above). */
export const DEFAULT_FULL_LISTING_EVERY_MS = 7 * 86_400_000

/** How far before the last listing changes are asked for, against clock skew (ours or Flickr's). */
export const CLOCK_OVERLAP_SEC = 3_600

/** The photostream page checked after recentlyUpdated: one call whatever its size, so take Flickr's maximum. */
export const HEAD_CHECK_PER_PAGE = 500

/**
 * A full listing (every photostream page, every set, the tree), or an incremental one from
 * `minDateSec`; `relist`: an incremental one whose photostream is listed whole all the same, and why.
 */
export type ListingPlan = ({ mode: 'full'; reason: string } | { mode: 'changes'; minDateSec: number; relist?: string; failing?: number }) & {
  /** This refresh asks for the original of every transcode again (transcodeTry), and its marks say so. */
  transcodes?: TranscodeMark
}

/** With the same cookies, how often transcodes are asked for their originals again. */
export const TRANSCODE_RETRY_EVERY_MS = 86_400_000

/**
 * Whether a refresh asks for the original of every video known only as a transcode again, and the
 * mark it then leaves (undefined: it does not). As `retryTranscodes` says when given, else the web session's
 * cookies given and either other cookies than the last such refresh had (new ones, after expired
 * ones), or a day since it (less RETRY_RELIST_SLACK_MS; a clock gone back too). Every refresh of
 * a plan follows it (refresh.ts reuseMedia, the quick refresh, the merges).
 */
export function transcodeTry(marks: ListingMarks | undefined, opts: { retryTranscodes?: boolean; cookies?: string }, nowMs: number): TranscodeMark | undefined {
  const cookies = opts.cookies === undefined ? '' : cookiesFingerprint(opts.cookies)
  if (opts.retryTranscodes !== undefined) return opts.retryTranscodes ? { atMs: nowMs, cookies } : undefined
  if (opts.cookies === undefined) return undefined
  const last = marks?.transcodesTried
  const due = last === undefined || last.cookies !== cookies || nowMs < last.atMs || nowMs >= last.atMs + TRANSCODE_RETRY_EVERY_MS - RETRY_RELIST_SLACK_MS
  return due ? { atMs: nowMs, cookies } : undefined
}

/**
 * The marks after a refresh that resolved `newTranscodes` videos as transcodes (new videos, or
 * originals asked again): one made without the mark's cookies (none, or others) drops the mark,
 * since those were never asked with its cookies, and the next refresh with them asks at once.
 */
export function keptTranscodeMark(marks: ListingMarks, cookies: string | undefined, newTranscodes: number): ListingMarks {
  const mark = marks.transcodesTried
  if (mark === undefined || newTranscodes === 0) return marks
  if (cookies !== undefined && cookiesFingerprint(cookies) === mark.cookies) return marks
  const { transcodesTried: _dropped, ...rest } = marks
  return rest
}

/**
 * From when a refresh with the same cookies asks for the originals of the transcodes again
 * (transcodeTry); undefined when no refresh has asked with cookies yet (the next one with cookies does).
 */
export function nextTranscodeTry(marks: ListingMarks | undefined): number | undefined {
  const last = marks?.transcodesTried
  return last === undefined ? undefined : last.atMs + TRANSCODE_RETRY_EVERY_MS - RETRY_RELIST_SLACK_MS
}

/** Tells one set of cookies from another in the catalog without keeping them: 64 bits of their sha256. */
export function cookiesFingerprint(cookies: string): string {
  return createHash('sha256').update(cookies).digest('hex').slice(0, 16)
}

/** Why a refresh after an item failed lists the photostream whole (planFor's `relist`). */
export const RETRY_RELIST_REASON = 'items that failed last time are listed afresh'

/** While items fail, the wait after the first listing for them (relistDue); it doubles after each. */
export const RETRY_RELIST_FIRST_MS = 3_600_000

/** ...up to this: while an item fails, its fresh record is had at least once a day. */
export const RETRY_RELIST_MAX_MS = 86_400_000

/**
 * A refresh this much before the wait is over counts as after it: an hourly cron job starts a
 * little earlier or later each time, and without it would list every other hour instead of each.
 */
export const RETRY_RELIST_SLACK_MS = 600_000

/** What planListing reads of the previous catalog: a loaded one's, or only its head's (quick-refresh.ts, Head.facts). */
export interface PlanInput {
  refreshedAtMs: number
  listing?: ListingMarks
  /** How many photos have no original on record (asked only when the rest allows an incremental listing). */
  unresolved: () => number
}

/** What a refresh's options say of its plan (planChoicesOf); `retrying`: how many items to resolve again (a pin's failed downloads). */
export interface PlanChoices {
  fullListingEveryMs: number
  retrying: number
  /**
   * Items failing that this refresh does not try itself: a pin's failed downloads, seen by the
   * refresh of a mount serving its DEST (service/live-mount.ts). They count for when the
   * photostream is listed for fresh records (relistDue), so that the mount's refreshes keep the
   * backoff a pin follows, and cost nothing else.
   */
  failingElsewhere?: number
  /** The web session's cookies, and transcodes retried whatever the marks say (transcodeTry). */
  cookies?: string
  retryTranscodes?: boolean
}

/** planListing's options: the refresh's choices, at the time it starts. */
export interface PlanOptions extends PlanChoices {
  nowMs: number
}

/** What a refresh's options say of its plan (every caller of planFor takes them from here). */
export function planChoicesOf(
  opts: { fullListingEveryMs?: number; resolveAgain?: ReadonlySet<string>; failingElsewhere?: number; cookies?: string; retryTranscodes?: boolean },
): PlanChoices {
  return {
    fullListingEveryMs: opts.fullListingEveryMs ?? 0, retrying: opts.resolveAgain?.size ?? 0,
    ...(opts.failingElsewhere !== undefined ? { failingElsewhere: opts.failingElsewhere } : {}),
    ...(opts.cookies !== undefined ? { cookies: opts.cookies } : {}),
    ...(opts.retryTranscodes !== undefined ? { retryTranscodes: opts.retryTranscodes } : {}),
  }
}

/** What the last refresh left decides: the first sync, an old full listing, or retries list everything. */
export function planListing(previous: CatalogState, opts: PlanOptions): ListingPlan {
  return planFor({ refreshedAtMs: previous.snap.refreshedAtMs, listing: previous.listing, unresolved: () => unresolved(previous.snap) }, opts)
}

/** planListing, from what it reads of the previous catalog. */
export function planFor(previous: PlanInput, opts: PlanOptions): ListingPlan {
  const plan = listingPlanFor(previous, opts)
  const transcodes = transcodeTry(previous.listing, opts, opts.nowMs)
  return transcodes === undefined ? plan : { ...plan, transcodes }
}

function listingPlanFor(previous: PlanInput, opts: PlanOptions): ListingPlan {
  const marks = previous.listing
  if (previous.refreshedAtMs === 0) return { mode: 'full', reason: 'first sync' }
  if (opts.fullListingEveryMs <= 0) return { mode: 'full', reason: 'full listings every time' }
  if (marks === undefined) return { mode: 'full', reason: 'no full listing on record' }
  const ageMs = opts.nowMs - marks.fullListingAtMs
  if (ageMs < 0 || ageMs >= opts.fullListingEveryMs) return { mode: 'full', reason: `the last full listing is ${Math.round(ageMs / 3_600_000)} h old` }
  const minDateSec = marks.changesSinceSec - CLOCK_OVERLAP_SEC
  // An original that could not be had or downloaded may have failed on what its record said (a URL
  // Flickr has fixed since): only the photostream's listing gives fresh records of photos that did
  // not change (the sets need no listing for that), now and then (relistDue). The refresh tries
  // them again anyway, from the records held.
  const failing = opts.retrying + (opts.failingElsewhere ?? 0) + previous.unresolved()
  if (failing === 0) return { mode: 'changes', minDateSec }
  if (relistDue(marks, failing, opts.nowMs)) return { mode: 'changes', minDateSec, relist: RETRY_RELIST_REASON, failing }
  return { mode: 'changes', minDateSec, failing }
}

/**
 * Whether a refresh with `failing` items that failed lists the photostream whole for their fresh
 * records: none listed so for them since the last full listing, more failing than the fewest since
 * that listing (a new failure), or the wait after it over (RETRY_RELIST_FIRST_MS, doubled after
 * each, at most RETRY_RELIST_MAX_MS, less RETRY_RELIST_SLACK_MS; a clock gone back too).
 */
export function relistDue(marks: ListingMarks, failing: number, nowMs: number): boolean {
  const last = marks.relisted
  return last === undefined || failing > last.failing || nowMs < last.atMs || nowMs >= dueAtOf(last)
}

/**
 * When a refresh next lists the photostream for the fresh records of `failing` items that fail:
 * the next refresh ('next'), or the first from a time on (relistDue, with these marks).
 */
export function nextRelist(marks: ListingMarks | undefined, failing: number, nowMs: number): 'next' | number {
  const last = marks?.relisted
  return marks === undefined || last === undefined || relistDue(marks, failing, nowMs) ? 'next' : dueAtOf(last)
}

/**
 * From when a refresh counts as after the wait that follows this listing for items that failed: an
 * hour after the first, doubled after each, at most a day, less RETRY_RELIST_SLACK_MS.
 */
function dueAtOf(last: RelistMark): number {
  return last.atMs + Math.min(RETRY_RELIST_MAX_MS, RETRY_RELIST_FIRST_MS * 2 ** Math.max(0, last.count - 1)) - RETRY_RELIST_SLACK_MS
}

/**
 * The marks after a listing that started at `startedAtMs` and gave `photos`: every photo of a full
 * listing; of an incremental one, at least those it reported (the others are no newer than the
 * previous marks). Only a full listing lets `newestSec` go back, so an incremental refresh needs no
 * record but the reported ones to make the marks (lazy-merge.ts), even when the photo changed last
 * was deleted since.
 */
export function marksAfter(plan: ListingPlan, previous: ListingMarks | undefined, startedAtMs: number, photos: Iterable<Pick<PhotoEntry, 'lastUpdate'>>): ListingMarks {
  const full = plan.mode === 'full' || previous === undefined
  let newest = full ? 0 : previous.newestSec ?? 0
  for (const p of photos) if (p.lastUpdate > newest) newest = p.lastUpdate
  const marks = marksOf(full ? startedAtMs : previous.fullListingAtMs, startedAtMs, newest, full ? undefined : relistedAfter(plan, previous, startedAtMs))
  return withTranscodes(marks, plan.transcodes ?? previous?.transcodesTried)
}

function withTranscodes(marks: ListingMarks, transcodesTried: TranscodeMark | undefined): ListingMarks {
  return transcodesTried === undefined ? marks : { ...marks, transcodesTried }
}

/**
 * The `relisted` mark after an incremental refresh of this plan (none when nothing failed). Between
 * listings its `failing` follows the count down, so that one more failure after some were fixed is
 * a new one (relistDue).
 */
function relistedAfter(plan: ListingPlan, previous: ListingMarks, startedAtMs: number): RelistMark | undefined {
  if (plan.mode !== 'changes' || plan.failing === undefined || plan.failing === 0) return undefined
  const last = previous.relisted
  if (plan.relist !== RETRY_RELIST_REASON) return last === undefined ? undefined : { ...last, failing: Math.min(last.failing, plan.failing) }
  return { atMs: startedAtMs, count: (last?.count ?? 0) + 1, failing: plan.failing }
}

/**
 * The marks after an incremental listing that changed nothing (unchangedListing), as marksAfter
 * would make them from the very same photos; undefined when the previous marks do not say how new
 * the newest photo is.
 */
export function marksUnchanged(previous: ListingMarks, startedAtMs: number, plan?: ListingPlan): ListingMarks | undefined {
  if (previous.newestSec === undefined) return undefined
  // Items failing elsewhere (PlanOptions.failingElsewhere) keep the `relisted` mark as marksAfter keeps it.
  const relisted = plan === undefined ? undefined : relistedAfter(plan, previous, startedAtMs)
  return withTranscodes(marksOf(previous.fullListingAtMs, startedAtMs, previous.newestSec, relisted), plan?.transcodes ?? previous.transcodesTried)
}

function marksOf(fullListingAtMs: number, startedAtMs: number, newest: number, relisted?: RelistMark): ListingMarks {
  const startedSec = Math.floor(startedAtMs / 1000)
  return { fullListingAtMs, changesSinceSec: newest > 0 ? Math.min(startedSec, newest) : startedSec, newestSec: newest, ...(relisted !== undefined ? { relisted } : {}) }
}

export interface ChangesApi {
  getRecentlyUpdated(minDateSec: number, extras: string[]): Promise<unknown[]>
  getPhotostreamPage(page: number, perPage: number, extras: string[]): Promise<{ total: number; photos: unknown[] }>
  /** Asked of each photo found deleted: it must fail with Flickr's "not found" (code 1). */
  getSizes(photoId: string): Promise<unknown[]>
}

export type ChangesResult =
  /** `deleted`: the photos of the catalog found gone (locateDeletions, which asked `pagesAsked` pages besides page 1), left out of `photos`. */
  | { ok: true; photos: ListedPhoto[]; reported: number; deleted: number; pagesAsked: number }
  /** The changes do not add up to the photostream: list it whole (`reason` says why). */
  | { ok: false; reason: string; reported: number }

/**
 * The photostream as a full listing would give it, from the previous one and what changed since
 * `minDateSec`: 1 call per 500 changes plus 1 page-1 check (asked at the same time), instead of 1
 * per 500 photos.
 */
export async function listPhotostreamChanges(
  api: ChangesApi,
  prev: CatalogSnapshot,
  opts: { minDateSec: number; extras: string[]; toListed: (raw: unknown[]) => ListedPhoto[] },
): Promise<ChangesResult> {
  // Both at once: whichever Flickr answers first, a change made between the two answers either
  // shows in both (an edit: the changed record wins) or makes them disagree (an upload or a deletion
  // moves `total` or the head's order, and the refresh lists everything), or it happened after the
  // page-1 answer, as if after this refresh, and the next one sees it the same way.
  const [rawChanged, head] = await Promise.all([
    api.getRecentlyUpdated(opts.minDateSec, opts.extras),
    api.getPhotostreamPage(1, HEAD_CHECK_PER_PAGE, opts.extras),
  ])
  const changed = opts.toListed(rawChanged)
  let photos = mergePhotostream(prev, changed)
  const reported = changed.length
  let deleted = 0
  let pagesAsked = 0
  if (head.total >= 0 && head.total < photos.length) {
    const found = await locateDeletions(api, { length: photos.length, at: (pos) => (photos[pos] as ListedPhoto).id }, head.total, head.photos)
    if ('reason' in found) {
      return { ok: false, reported, reason: `Flickr counts ${head.total} items, the catalog with the changes ${photos.length} (something was deleted: ${found.reason})` }
    }
    const gone = new Set(found.deleted)
    photos = photos.filter((p) => !gone.has(p.id))
    deleted = gone.size
    pagesAsked = found.pagesAsked
  }
  // Fewer on Flickr was settled above (found, or a full listing): more means an upload the changes missed.
  if (head.total >= 0 && head.total !== photos.length) {
    return { ok: false, reported, reason: `Flickr counts ${head.total} items, the catalog with the changes ${photos.length} (something was missed)` }
  }
  const headIds = uniqueIds(head.photos)
  const at = headIds.findIndex((id, i) => photos[i]?.id !== id)
  if (at >= 0) return { ok: false, reported, reason: `the photostream's item ${at + 1} is ${headIds[at]}, the catalog with the changes has ${photos[at]?.id ?? 'none'}` }
  return { ok: true, photos, reported, deleted, pagesAsked }
}

/** More items gone than this and a full listing finds them (each found one costs a getSizes call). */
export const DELETIONS_LOCATED_MAX = 500

/**
 * Calls a search for deletions may make beyond a full listing's pages: a few more are worth not
 * reading the whole catalog (which a full listing does, and a merge does not: lazy-merge.ts).
 */
const SEARCH_SLACK_CALLS = 8

/**
 * About what finding `missing` deletions at random places among `pages` pages costs: a bisection
 * asks ~log2(pages / missing) + 1 pages for each, and each is confirmed with one call.
 */
function expectedSearchCalls(missing: number, pages: number): number {
  return missing * (Math.max(0, Math.log2(pages / missing)) + 1) + missing
}

export type LocatedDeletions = { deleted: string[]; pagesAsked: number } | { reason: string }

/**
 * Which items of `stream` (the catalog's photostream with the changes taken in, newest first)
 * Flickr no longer lists, when its `total` is smaller: by asking pages of the photostream (ids
 * only, `perPage` each) besides page 1 (`firstPage`, asked already), as few as a bisection needs. An
 * item's place in Flickr's listing against its place in `stream` says how many items before it
 * are gone; two pages that say the same number have none gone between them, and a page is asked
 * only between two that differ. Inside a page, a gap between two neighbours is what is gone.
 *
 * Exact or nothing: every page asked must be whole (as long as its place says; a short one is asked
 * once more, as Flickr sometimes sends one), hold only items of `stream` in its order, and count
 * the same `total`; the gaps must add up to the difference; and each item found is confirmed by
 * getSizes failing with "not found" (Flickr error 1). Anything else (a page short twice, an upload
 * the changes did not report, a listing that moved meanwhile, more than DELETIONS_LOCATED_MAX
 * gone, more calls than the full listing's pages, expected or made) answers `reason`, and the
 * caller lists everything.
 * Failures of the calls themselves are thrown, as any call's.
 */
export async function locateDeletions(
  api: ChangesApi, stream: { length: number; at: (pos: number) => string }, total: number, firstPage: readonly unknown[], perPage = HEAD_CHECK_PER_PAGE,
): Promise<LocatedDeletions> {
  const missing = stream.length - total
  if (total < 0 || missing <= 0) return { reason: `nothing to find (${stream.length} items, Flickr counts ${total})` }
  if (missing > DELETIONS_LOCATED_MAX) return { reason: `${missing} items are gone, more than ${DELETIONS_LOCATED_MAX}` }
  const pages = Math.max(1, Math.ceil(total / perPage))
  // No more calls than a full listing's pages, give or take SEARCH_SLACK_CALLS: the pages asked
  // besides page 1, and a getSizes per item found.
  const budget = pages + SEARCH_SLACK_CALLS
  const maxAsked = budget - missing
  if (maxAsked < 0 || expectedSearchCalls(missing, pages) > budget) {
    return { reason: `${missing} items are gone among ${pages} pages: a full listing asks fewer calls than finding them` }
  }
  const lengthOf = (page: number): number => (page < pages ? perPage : total - (pages - 1) * perPage)
  /** Each page read: the places in `stream` of its first and last item. */
  const read = new Map<number, { first: number; last: number }>()
  const gone: number[] = []
  const take = (page: number, photos: readonly unknown[]): string | undefined => {
    const ids = uniqueIds(photos as unknown[])
    if (ids.length !== lengthOf(page) || photos.length !== ids.length) return `page ${page} holds ${photos.length} items, ${ids.length} of them distinct, not ${lengthOf(page)}`
    // Each item's place in `stream`: after the one before it, and no more than `missing` places
    // after its place on Flickr (so no index of every id is needed: 1,000,000 of them at the most).
    let first = -1
    let last = -1
    for (let i = 0, flickrAt = (page - 1) * perPage; i < ids.length; i++, flickrAt++) {
      const id = ids[i] as string
      let at = Math.max(flickrAt, last + 1)
      const end = Math.min(flickrAt + missing, stream.length - 1)
      while (at <= end && stream.at(at) !== id) at++
      if (at > end) return `page ${page} holds ${id}, which the catalog with the changes does not have there`
      for (let between = last + 1; last >= 0 && between < at; between++) gone.push(between)
      if (first < 0) first = at
      last = at
    }
    read.set(page, { first, last })
    return undefined
  }
  /** Items gone before a page's first item, and before its last (`stream` place minus Flickr place). */
  const goneBefore = (page: number): number => (read.get(page)?.first as number) - (page - 1) * perPage
  const goneThrough = (page: number): number => (read.get(page)?.last as number) - ((page - 1) * perPage + lengthOf(page) - 1)

  let asked = 0
  // Flickr is known to send a page short now and then, and whole when asked again.
  const whole = (page: number, answer: { total: number; photos: unknown[] }): Promise<{ total: number; photos: unknown[] }> | { total: number; photos: unknown[] } =>
    answer.photos.length < lengthOf(page) ? (asked++, api.getPhotostreamPage(page, perPage, [])) : answer
  const one = await whole(1, { total, photos: [...firstPage] })
  if (one.total !== total) return { reason: `the photostream changed meanwhile (Flickr counted ${total}, then ${one.total})` }
  const firstWrong = take(1, one.photos)
  if (firstWrong !== undefined) return { reason: firstWrong }
  for (let want = pages > 1 ? [pages] : []; want.length > 0;) {
    if (asked + want.length > maxAsked) return { reason: `finding them would ask more calls than a full listing's ${pages} pages and ${SEARCH_SLACK_CALLS}` }
    asked += want.length
    const answers = await Promise.all(want.map(async (page) => whole(page, await api.getPhotostreamPage(page, perPage, []))))
    for (let i = 0; i < want.length; i++) {
      const answer = answers[i] as { total: number; photos: unknown[] }
      if (answer.total !== total) return { reason: `the photostream changed meanwhile (Flickr counted ${total}, then ${answer.total})` }
      const wrong = take(want[i] as number, answer.photos)
      if (wrong !== undefined) return { reason: wrong }
    }
    const known = [...read.keys()].sort((a, b) => a - b)
    want = []
    for (let i = 0; i + 1 < known.length; i++) {
      const a = known[i] as number
      const b = known[i + 1] as number
      const before = goneThrough(a)
      const after = goneBefore(b)
      if (after < before) return { reason: `pages ${a} and ${b} do not follow the catalog's order` }
      if (after > before && b > a + 1) want.push(Math.floor((a + b) / 2))
    }
  }
  // Between pages read next to each other, before page 1 and after the last page: what no page holds.
  const known = [...read.keys()].sort((a, b) => a - b)
  for (let i = 0; i + 1 < known.length; i++) {
    const { last } = read.get(known[i] as number) as { last: number }
    const { first: next } = read.get(known[i + 1] as number) as { first: number }
    if (known[i + 1] === (known[i] as number) + 1) for (let at = last + 1; at < next; at++) gone.push(at)
  }
  for (let at = 0; at < (read.get(1) as { first: number }).first; at++) gone.push(at)
  for (let at = (read.get(pages) as { last: number }).last + 1; at < stream.length; at++) gone.push(at)
  if (gone.length !== missing) return { reason: `${gone.length} items found gone, not ${missing}` }
  const deleted = gone.map((at) => stream.at(at))
  const still = await Promise.all(deleted.map((id) => api.getSizes(id).then(() => true, (err: unknown) => {
    if (flickrCodeOf(err) === 1) return false
    throw err
  })))
  const kept = deleted.find((_, i) => still[i] === true)
  if (kept !== undefined) return { reason: `${kept} is not in the listing but Flickr still has it` }
  return { deleted, pagesAsked: asked }
}

/**
 * The previous photostream with `changed` taken in: each changed record replaces the old one in
 * place, and uploads (and photos whose upload date moved) are placed by upload date, newest first;
 * at equal dates the larger id (the later upload) goes first.
 */
export function mergePhotostream(prev: CatalogSnapshot, changed: readonly ListedPhoto[]): ListedPhoto[] {
  const stream = prev.photostream
  const uploadOf = (id: string): number | undefined => prev.photos.get(id)?.dateUpload
  const merged = mergeOrder({ length: stream.length, at: (pos) => stream[pos] as string }, (pos) => uploadOf(stream[pos] as string), uploadOf, changed)
  return merged.map((p) => (typeof p === 'number' ? asListed(prev.photos.get(stream[p] as string) as PhotoEntry) : p))
}

/**
 * mergePhotostream's rule over the previous order alone (`stream.at(pos)`, its id at a place):
 * `dateUploadAt(pos)` is the upload date of the photo at `pos` of `stream` (undefined: not a photo of the catalog, left out), `previousUpload`
 * a changed photo's before (undefined: new). Each place of the result is a changed photo, or the
 * position in `stream` of a previous photo kept there (lazy-merge.ts reads the upload dates from
 * the listing pages instead of every record).
 */
export function mergeOrder(
  stream: { length: number; at: (pos: number) => string }, dateUploadAt: (pos: number) => number | undefined,
  previousUpload: (id: string) => number | undefined, changed: readonly ListedPhoto[],
): Array<ListedPhoto | number> {
  const byId = new Map(changed.map((p) => [p.id, p]))
  const placed = changed
    .filter((p) => previousUpload(p.id) !== p.dateUpload)
    .sort((a, b) => b.dateUpload - a.dateUpload || compareIds(b.id, a.id))
  const placedIds = new Set(placed.map((p) => p.id))
  const out: Array<ListedPhoto | number> = []
  let next = 0
  const placeBefore = (id: string, dateUpload: number): void => {
    for (let p = placed[next]; p !== undefined && (p.dateUpload > dateUpload || (p.dateUpload === dateUpload && compareIds(p.id, id) > 0)); p = placed[++next]) out.push(p)
  }
  for (let pos = 0; pos < stream.length; pos++) {
    const id = stream.at(pos)
    const dateUpload = dateUploadAt(pos)
    if (dateUpload === undefined || placedIds.has(id)) continue
    placeBefore(id, dateUpload)
    out.push(byId.get(id) ?? pos)
  }
  for (; next < placed.length; next++) out.push(placed[next] as ListedPhoto)
  return out
}

/**
 * The members a set had, when its getList record says they cannot have moved: the same
 * `date_update` and counts as last time, as many members as those counts say, and a `date_update`
 * older than `minDateSec` (it counts whole seconds, so a change in the second the set was last
 * listed would not move it; the same overlap as recentlyUpdated's). Undefined: list them.
 */
export function unchangedMembers(raw: RawRecord, before: SetEntry | undefined, minDateSec: number): string[] | undefined {
  if (before === undefined) return undefined
  if (toInt(raw.date_update, Number.MAX_SAFE_INTEGER) >= minDateSec) return undefined
  const fields = ['date_update', 'count_photos', 'count_videos', 'photos', 'videos'] as const
  // Lenient: a count that drifted from "12" to 12 between two answers is the same count.
  for (const f of fields) if (toStr(raw[f]) !== toStr(before.raw[f])) return undefined
  const photos = toInt(raw.count_photos ?? raw.photos, -1)
  const videos = toInt(raw.count_videos ?? raw.videos, -1)
  if (photos < 0 || videos < 0 || photos + videos !== before.photoIds.length) return undefined
  return before.photoIds
}

/**
 * The members of a set known without listing them: none when getList says it is empty, else
 * unchangedMembers. Undefined: list them.
 */
export function knownMembers(raw: RawRecord, before: SetEntry | undefined, minDateSec: number): string[] | undefined {
  return isKnownEmpty(raw) ? [] : unchangedMembers(raw, before, minDateSec)
}

/**
 * The previous photostream as much as unchangedListing reads of it: its length, its ids from the
 * start (the page-1 check) and whether it holds an id (the members of the sets listed again). A
 * lazy view answers from its pages and id index (LazyView.listsOf): at 1,000,000 items the order
 * read and parsed again, and a Set of it, were ~100 MB beside the view.
 */
export interface PhotostreamLookup {
  readonly length: number
  /** The id at `pos` (0 ≤ pos < length). */
  at(pos: number): string
  has(id: string): boolean
}

/** The lookup of an order held as an array: the Set of its ids made once, when first asked (only a member listed again that is not the stored one asks: sameInCatalog). */
export function lookupOf(ids: readonly string[]): PhotostreamLookup {
  let all: Set<string> | undefined
  return { length: ids.length, at: (pos) => ids[pos] as string, has: (id) => (all ??= new Set(ids)).has(id) }
}

/** The previous catalog as unchangedListing reads it: its lists, and (at least) the reported photos it holds. */
export interface UnchangedPrevious {
  refreshedAtMs: number
  photostream: PhotostreamLookup
  sets: readonly SetEntry[]
  collections: readonly CollectionEntry[]
  /** At least every reported photo it holds (persist.ts decodeBucketsOf decodes just those); a reported photo missing here is new. */
  known: Pick<CatalogSnapshot, 'photos' | 'comments' | 'media'> & { commentsFetchedAt: ReadonlyMap<string, number> }
}

/** What the calls of an incremental refresh answered (listPhotostreamChanges's two, getList, getTree), but the sets listed again (PendingVerdict). */
export interface IncrementalAnswers {
  changed: readonly ListedPhoto[]
  head: { total: number; photos: unknown[] }
  setList: readonly RawRecord[]
  tree: readonly unknown[]
  minDateSec: number
  /** Originals known only as a transcode are resolved again (the plan's `transcodes`: cookies given, and due). */
  retryTranscodes: boolean
}

/** What unchangedListing answers when nothing would change: the totals for the refresh's report. */
export interface UnchangedTotals {
  photos: number
  sets: number
  collections: number
}

/** unchangedListing's verdict, but for the members of the sets listed again. */
export interface PendingVerdict {
  /** The verdict, given the members of every set knownMembers did not know, as listed now. */
  withMembers(listedMembers: ReadonlyMap<string, string[]>): UnchangedTotals | undefined
}

/**
 * Whether an incremental refresh given `answers` would make the very catalog it starts from (the
 * same entries, so the same chunks: refresh.ts's run, step by step, where each step would keep the
 * previous objects): every reported photo known, with the same record, its comments fetched at its
 * `lastupdate` and its original on record; the photostream's total and first page as they were;
 * every set and collection the same, in the same order. Undefined when anything differs or would
 * need a call or a download (then the refresh runs whole); else the totals for its report.
 * Decides from the lists and the buckets of the reported photos only: the rest of the photos cannot
 * have changed, since recentlyUpdated did not report them and the head's facts say none of them is
 * unresolved (Head.facts, read by quick-refresh.ts through planFor).
 *
 * In two steps: this takes every answer but the members of the sets listed again, the last calls'
 * (they need the whole set list), and does the rest of the work (~30 ms at 50,000 items: a set list
 * of 1,714 compared whole) while those are listed; the verdict's `withMembers` takes them. A set's
 * content is its record and its members (changes.ts setContent): a set listed again is weighed here
 * with its stored members, and withMembers checks that the members listed now, those in the
 * catalog, are those very ids in the same order.
 */
export function unchangedListing(prev: UnchangedPrevious, answers: IncrementalAnswers, nowMs: number): PendingVerdict | undefined {
  if (!reportedAsKnown(prev.known, answers.changed, answers.retryTranscodes, prev.refreshedAtMs, nowMs)) return undefined
  // No order: setChanges and collectionChanges never read it.
  const snap: CatalogSnapshot = {
    userId: '', userName: '', photostream: [], photos: prev.known.photos, comments: prev.known.comments, media: prev.known.media,
    sets: prev.sets, collections: prev.collections, photostreamChangedAtMs: 0, refreshedAtMs: prev.refreshedAtMs,
  }
  const since = { prev: snap, nowMs }
  // listPhotostreamChanges's checks, on the photostream as mergePhotostream leaves it (the same).
  const stream = prev.photostream
  if (answers.head.total >= 0 && answers.head.total !== stream.length) return undefined
  const headIds = uniqueIds(answers.head.photos)
  if (headIds.length > stream.length) return undefined
  for (let i = 0; i < headIds.length; i++) if (headIds[i] !== stream.at(i)) return undefined
  // setChanges keeps the members in the catalog: the whole refresh's photos, the previous ones here
  // (none added above; the same total, so none deleted). A set not listed keeps its stored
  // photoIds, which the save of this very head already kept to the photos it saved (setChanges, in
  // refresh.ts and lazy-merge.ts as here), its photostream: only members listed now are looked up
  // (sameInCatalog), not each member of every set.
  const before = new Map(prev.sets.map((s) => [s.id, s]))
  const members = new Map<string, string[]>()
  const relisted: Array<{ id: string; stored: readonly string[] | undefined }> = []
  for (const raw of answers.setList) {
    const id = safeId(raw.id) as string
    const was = before.get(id)
    const kept = knownMembers(raw, was, answers.minDateSec)
    if (kept === undefined) relisted.push({ id, stored: was?.photoIds })
    // A set new to the catalog is added whatever its members.
    members.set(id, kept ?? was?.photoIds ?? [])
  }
  const sets = setChanges({ list: [...answers.setList], members }, EVERY_ID, since)
  const collections = collectionChanges(answers.tree, since)
  // The photos are the same (above) and so is their order: mergePhotostream places none of them.
  const samePhotos = { counts: { total: stream.length, added: 0, changed: 0, deleted: 0 }, photostreamOrderChanged: false }
  if (anyChange({ photos: samePhotos, sets, collections }, snap)) return undefined
  const totals = { photos: stream.length, sets: sets.counts.total, collections: collections.counts.total }
  return {
    withMembers: (listedMembers) => {
      for (const { id, stored } of relisted) {
        const listed = listedMembers.get(id)
        if (listed === undefined || (stored !== undefined && !sameInCatalog(listed, stored, stream))) return undefined
      }
      return totals
    },
  }
}

/**
 * unchangedListing's photo part: every photo of `changed` (recentlyUpdated's) is one `known` holds,
 * uploaded at the same time (mergePhotostream would not move it), its comments fetched at its
 * `lastupdate` (refresh.ts reuseComments), its original on record and not a transcode to resolve
 * again (reuseMedia), and its record, comments and original as photoChanges would keep them.
 * `known` needs only these photos' rows: so a bulk of them can be weighed group by group
 * (quick-refresh.ts), each group's rows let go before the next.
 */
export function reportedAsKnown(known: UnchangedPrevious['known'], changed: readonly ListedPhoto[], retryTranscodes: boolean, refreshedAtMs: number, nowMs: number): boolean {
  const comments = new Map<string, readonly RawRecord[]>()
  const media = new Map<string, MediaEntry>()
  for (const p of changed) {
    const before = known.photos.get(p.id)
    // A new photo, or one moved in the order (mergePhotostream would place it).
    if (before === undefined || before.dateUpload !== p.dateUpload) return false
    const fetchedAt = known.commentsFetchedAt.get(p.id)
    if (p.countComments > 0) {
      // Its comments would be fetched (refresh.ts reuseComments).
      if (fetchedAt !== p.lastUpdate) return false
      const list = known.comments.get(p.id)
      if (list !== undefined) comments.set(p.id, list)
    } else if (fetchedAt !== undefined) return false
    const m = known.media.get(mediaKey(p.id, p.secret))
    // Its original would be resolved (refresh.ts reuseMedia).
    if (m === undefined || (retryTranscodes && m.kind === 'transcode')) return false
    media.set(p.id, m)
  }
  // photoChanges reads of the previous catalog only these photos' rows and its order, for an order
  // change, which the verdict does not take (unchangedListing compares the order itself).
  const prev: CatalogSnapshot = {
    userId: '', userName: '', photostream: [], photos: known.photos, comments: known.comments, media: known.media,
    sets: [], collections: [], photostreamChangedAtMs: 0, refreshedAtMs,
  }
  const photos = photoChanges({ photos: changed, comments, media }, { prev, nowMs })
  return photos.counts.added === 0 && photos.counts.changed === 0
}

/**
 * Whether the members of `listed` that the catalog holds are `stored`, in the same order: what
 * setChanges compares (`listed` kept to the photostream's photos), where `stored` is a set's
 * members as saved, all in the catalog (the save kept them to its photos). So only a listed member
 * that is not the next stored one is looked up: a set listed again as it was asks nothing of the
 * photostream (lookupOf makes a Set of all its ids when first asked: ~10 ms at 50,000).
 */
function sameInCatalog(listed: readonly string[], stored: readonly string[], stream: PhotostreamLookup): boolean {
  let next = 0
  for (const id of listed) {
    if (id === stored[next]) next++
    else if (stream.has(id)) return false
  }
  return next === stored.length
}

/** Members already filtered to the catalog (unchangedListing), for setChanges to keep all. */
const EVERY_ID = { has: (): boolean => true }

/** How many photos have no original on record: they could not be had last time (resolve-media.ts). */
function unresolved(snap: CatalogSnapshot): number {
  let n = 0
  for (const p of snap.photos.values()) if (!snap.media.has(mediaKey(p.id, p.secret))) n++
  return n
}

/**
 * The entry as a listing would give it (no change times). Built field by field: an object made by
 * rest destructuring is a dictionary-mode object in V8, and every later read and copy of it (the
 * refresh's per-photo work on 100k of them) is several times slower.
 */
export function asListed(e: PhotoEntry): ListedPhoto {
  return {
    id: e.id, raw: e.raw, media: e.media, secret: e.secret, format: e.format, lastUpdate: e.lastUpdate,
    dateUpload: e.dateUpload, dateTaken: e.dateTaken, countComments: e.countComments, urlO: e.urlO,
  }
}

/** Numeric ids of any length, compared as numbers. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}
