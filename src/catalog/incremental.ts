/**
 * Cheap change detection. After a full listing, a refresh learns what changed in the photostream
 * from flickr.photos.recentlyUpdated (photos uploaded, edited, replaced or commented since a date)
 * instead of reading every page of people.getPhotos, and lists the members of only the sets whose
 * getList record says they moved. refresh.ts asks planListing() which kind of listing to make, and
 * calls listPhotostreamChanges() and unchangedMembers() when it is an incremental one.
 *
 * What recentlyUpdated does not say, and how the catalog still ends up as a full listing would make it:
 * - Deletions. One page-1 call of people.getPhotos gives the photostream's `total`; when the catalog
 *   plus what changed holds more than that, something was deleted, and this refresh lists everything.
 *   The same page also checks the order of the newest items (where uploads land).
 * - Changes that do not move `lastupdate`: view and fave counts, and (unverified) a set reordered
 *   without its `date_update` moving. They are taken in by the next full listing, which runs when
 *   the last one is older than `fullListingEveryMs` (default 7 days; `--full-listing-every`).
 * - Fixes of what failed: a record whose URL failed is only fresh in a full listing, so a refresh
 *   after an original failed (or with items to size again) lists everything.
 * - Clock skew: changes are asked for from an hour before the earlier of the last listing's start
 *   (our clock) and the newest `lastupdate` it saw (Flickr's clock).
 */
import { toInt, toStr } from '../flickr/lenient.js'
import type { ListedPhoto } from './changes.js'
import { uniqueIds } from './records.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

/** What the catalog keeps between refreshes to make the next one incremental. */
export interface ListingMarks {
  /** Catalog clock (ms) when the last full listing started. */
  fullListingAtMs: number
  /** Flickr time (unix s) up to which the catalog has every change; the next min_date is an hour earlier. */
  changesSinceSec: number
}

/** The default time between full listings: deletions are caught at once anyway (see above). */
export const DEFAULT_FULL_LISTING_EVERY_MS = 7 * 86_400_000

/** How far before the last listing changes are asked for, against clock skew (ours or Flickr's). */
export const CLOCK_OVERLAP_SEC = 3_600

/** The photostream page checked after recentlyUpdated: one call whatever its size, so take Flickr's maximum. */
export const HEAD_CHECK_PER_PAGE = 500

export type ListingPlan = { mode: 'full'; reason: string } | { mode: 'changes'; minDateSec: number }

/** What the last refresh left decides: the first sync, an old full listing, or retries list everything. */
export function planListing(previous: CatalogState, opts: { fullListingEveryMs: number; nowMs: number; retrying: boolean }): ListingPlan {
  const marks = previous.listing
  if (previous.snap.refreshedAtMs === 0) return { mode: 'full', reason: 'first sync' }
  if (opts.fullListingEveryMs <= 0) return { mode: 'full', reason: 'full listings every time' }
  if (marks === undefined) return { mode: 'full', reason: 'no full listing on record' }
  const ageMs = opts.nowMs - marks.fullListingAtMs
  if (ageMs < 0 || ageMs >= opts.fullListingEveryMs) return { mode: 'full', reason: `the last full listing is ${Math.round(ageMs / 3_600_000)} h old` }
  // An original that could not be had or downloaded may have failed on what its record said (a URL
  // Flickr has fixed since): only a full listing gives fresh records of photos that did not change.
  if (opts.retrying || unresolved(previous.snap)) return { mode: 'full', reason: 'items that failed last time are listed afresh' }
  return { mode: 'changes', minDateSec: marks.changesSinceSec - CLOCK_OVERLAP_SEC }
}

/** The marks after a listing that started at `startedAtMs` and gave `photos`. */
export function marksAfter(plan: ListingPlan, previous: ListingMarks | undefined, startedAtMs: number, photos: Iterable<Pick<PhotoEntry, 'lastUpdate'>>): ListingMarks {
  let newest = 0
  for (const p of photos) if (p.lastUpdate > newest) newest = p.lastUpdate
  const startedSec = Math.floor(startedAtMs / 1000)
  return {
    fullListingAtMs: plan.mode === 'full' || previous === undefined ? startedAtMs : previous.fullListingAtMs,
    changesSinceSec: newest > 0 ? Math.min(startedSec, newest) : startedSec,
  }
}

export interface ChangesApi {
  getRecentlyUpdated(minDateSec: number, extras: string[]): Promise<unknown[]>
  getPhotostreamPage(page: number, perPage: number, extras: string[]): Promise<{ total: number; photos: unknown[] }>
}

export type ChangesResult =
  | { ok: true; photos: ListedPhoto[]; reported: number }
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
  const photos = mergePhotostream(prev, changed)
  const reported = changed.length
  if (head.total >= 0 && head.total !== photos.length) {
    const why = head.total < photos.length ? 'something was deleted' : 'something was missed'
    return { ok: false, reported, reason: `Flickr counts ${head.total} items, the catalog with the changes ${photos.length} (${why})` }
  }
  const headIds = uniqueIds(head.photos)
  const at = headIds.findIndex((id, i) => photos[i]?.id !== id)
  if (at >= 0) return { ok: false, reported, reason: `the photostream's item ${at + 1} is ${headIds[at]}, the catalog with the changes has ${photos[at]?.id ?? 'none'}` }
  return { ok: true, photos, reported }
}

/**
 * The previous photostream with `changed` taken in: each changed record replaces the old one in
 * place, and uploads (and photos whose upload date moved) are placed by upload date, newest first;
 * at equal dates the larger id (the later upload) goes first.
 */
export function mergePhotostream(prev: CatalogSnapshot, changed: readonly ListedPhoto[]): ListedPhoto[] {
  const byId = new Map(changed.map((p) => [p.id, p]))
  const placed = changed
    .filter((p) => prev.photos.get(p.id)?.dateUpload !== p.dateUpload)
    .sort((a, b) => b.dateUpload - a.dateUpload || compareIds(b.id, a.id))
  const placedIds = new Set(placed.map((p) => p.id))
  const out: ListedPhoto[] = []
  let next = 0
  const placeBefore = (old: PhotoEntry): void => {
    for (let p = placed[next]; p !== undefined && (p.dateUpload > old.dateUpload || (p.dateUpload === old.dateUpload && compareIds(p.id, old.id) > 0)); p = placed[++next]) out.push(p)
  }
  for (const id of prev.photostream) {
    const old = prev.photos.get(id)
    if (old === undefined || placedIds.has(id)) continue
    placeBefore(old)
    out.push(byId.get(id) ?? listed(old))
  }
  out.push(...placed.slice(next))
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

/** Some photo has no original on record: it could not be had last time (resolve-media.ts). */
function unresolved(snap: CatalogSnapshot): boolean {
  for (const p of snap.photos.values()) if (!snap.media.has(mediaKey(p.id, p.secret))) return true
  return false
}

/**
 * The entry as a listing would give it (no change times). Built field by field: an object made by
 * rest destructuring is a dictionary-mode object in V8, and every later read and copy of it (the
 * refresh's per-photo work on 100k of them) is several times slower.
 */
function listed(e: PhotoEntry): ListedPhoto {
  return {
    id: e.id, raw: e.raw, media: e.media, secret: e.secret, format: e.format, lastUpdate: e.lastUpdate,
    dateUpload: e.dateUpload, dateTaken: e.dateTaken, countComments: e.countComments, urlO: e.urlO,
  }
}

/** Numeric ids of any length, compared as numbers. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}
