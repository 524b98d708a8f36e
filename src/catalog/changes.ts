/**
 * What changed since the previous catalog. Each step takes what a refresh listed and the previous
 * snapshot, and returns the next entries with their change times and counts. Pure: no I/O and no
 * clock (the refresh passes `nowMs`). An entry whose content is the same keeps the previous object,
 * so readers and the next save can tell "unchanged" by identity.
 */
import { sameJson } from './same-json.js'
import { collectionFromRaw, flickrEditMs, safeId, setFromRaw, setUpdatedSec } from './records.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'
import { MediaByPhoto } from './media-map.js'

/** A photostream record before the catalog stamps it with a change time. */
export type ListedPhoto = Omit<PhotoEntry, 'changedAtMs'>

export interface ChangeCounts {
  total: number
  added: number
  changed: number
  deleted: number
}

/** The previous catalog and the time stamped on whatever differs from it. */
export interface Since {
  prev: CatalogSnapshot
  nowMs: number
}

/**
 * The photostream with its details; comments and media are keyed by photo id. `photos` are the
 * refresh's own objects, never a snapshot's: photoChanges makes the new and changed ones the
 * catalog's entries in place instead of copying them (100k copies at the peak of a first sync).
 */
export interface PhotoListing {
  photos: readonly ListedPhoto[]
  comments: ReadonlyMap<string, readonly RawRecord[]>
  media: ReadonlyMap<string, MediaEntry>
}

export interface PhotoChanges {
  photos: Map<string, PhotoEntry>
  comments: Map<string, readonly RawRecord[]>
  /** Keyed by `mediaKey(id, secret)`: a MediaByPhoto, as a loaded catalog's (one original per photo, held by its id). */
  media: ReadonlyMap<string, MediaEntry>
  photostream: string[]
  photostreamOrderChanged: boolean
  counts: ChangeCounts
}

/** The set list (deduplicated) and each set's member ids in album order. */
export interface SetListing {
  list: RawRecord[]
  members: ReadonlyMap<string, string[]>
}

export interface SetChanges {
  sets: SetEntry[]
  counts: ChangeCounts
}

export interface CollectionChanges {
  collections: CollectionEntry[]
  counts: ChangeCounts
}

export interface Changes {
  photos: PhotoChanges
  sets: SetChanges
  collections: CollectionChanges
}

/**
 * Photos, with changedAtMs kept wherever the content (record, comments, media) is the same. A
 * refresh that finds nothing changed returns the previous maps and makes none: the photos are
 * compared first, and the next maps are built only when one differs (at 100,000 photos the
 * photo, media and comment maps built and then dropped were ~15–25 MB of large objects at the
 * refresh's peak).
 */
export function photoChanges(listed: PhotoListing, since: Since): PhotoChanges {
  const { prev } = since
  const kept = unchangedPrefix(listed, prev)
  if (kept.photos === listed.photos.length && sameMapsAsPrev(listed, kept, prev)) {
    const orderChanged = !sameBy(listed.photos, prev.photostream, (p, id) => p.id === id)
    return {
      photos: prev.photos as Map<string, PhotoEntry>, comments: prev.comments as Map<string, readonly RawRecord[]>, media: prev.media,
      photostream: orderChanged ? listed.photos.map((p) => p.id) : (prev.photostream as string[]), photostreamOrderChanged: orderChanged,
      counts: { ...noCounts(), total: prev.photos.size },
    }
  }
  return changedPhotos(listed, since, kept.photos)
}

/** How many photos from the listing's start are the previous ones unchanged, and how many comment lists and originals they keep. */
interface KeptPrefix {
  photos: number
  comments: number
  media: number
}

function unchangedPrefix(listed: PhotoListing, prev: CatalogSnapshot): KeptPrefix {
  const kept: KeptPrefix = { photos: 0, comments: 0, media: 0 }
  for (const base of listed.photos) {
    const before = prev.photos.get(base.id)
    if (before === undefined) break
    const beforeComments = prev.comments.get(base.id)
    const beforeMedia = prev.media.get(mediaKey(base.id, before.secret))
    if (!sameContent(photoContent(base.raw, listed.comments.get(base.id), listed.media.get(base.id), false), photoContent(before.raw, beforeComments, beforeMedia, false))) break
    kept.photos++
    if (beforeComments !== undefined) kept.comments++
    if (beforeMedia !== undefined) kept.media++
  }
  return kept
}

/**
 * Every listed photo is a previous one unchanged: the maps changedPhotos would build hold exactly
 * the previous entries when they are as many as the previous maps' and no photo is listed twice (a
 * listing with a repeated id holds fewer photos than it lists: some previous photo is then gone).
 * Repeats are looked for only when the counts match.
 */
function sameMapsAsPrev(listed: PhotoListing, kept: KeptPrefix, prev: CatalogSnapshot): boolean {
  if (kept.photos !== prev.photos.size || kept.comments !== prev.comments.size || kept.media !== prev.media.size) return false
  return !hasRepeat(listed.photos.map((p) => p.id))
}

/** Photos, comments and originals of the next catalog, the first `unchanged` listed photos known unchanged. */
function changedPhotos(listed: PhotoListing, { prev, nowMs }: Since, unchanged: number): PhotoChanges {
  // Originals by photo id: `${id}_${secret}` keys of their own were ~70 bytes each (7 MB at 100,000 photos).
  // A first sync adds every listed photo with the original the listing found: unless the listing
  // holds one of no listed photo, its own map is the one this would build (one map of 100,000
  // originals fewer at the assembly of a first sync).
  const firstSync = prev.photos.size === 0
  const mediaById = new Map<string, MediaEntry>()
  const out = { photos: new Map<string, PhotoEntry>(), comments: new Map<string, readonly RawRecord[]>(), media: new MediaByPhoto(mediaById) }
  const counts = noCounts()
  for (let i = 0; i < listed.photos.length; i++) {
    const base = listed.photos[i] as ListedPhoto
    const id = base.id
    const photoComments = listed.comments.get(id)
    const entry = listed.media.get(id)
    const before = prev.photos.get(id)
    if (before === undefined) {
      counts.added++
      const at = firstSeenMs(base.lastUpdate, prev, nowMs)
      out.photos.set(id, stamped(base, at, at))
      if (photoComments !== undefined && photoComments.length > 0) out.comments.set(id, photoComments)
      if (entry !== undefined && !firstSync) mediaById.set(id, entry)
      continue
    }
    const beforeComments = prev.comments.get(id)
    const beforeMedia = prev.media.get(mediaKey(id, before.secret))
    if (i < unchanged || sameContent(photoContent(base.raw, photoComments, entry, false), photoContent(before.raw, beforeComments, beforeMedia, false))) {
      // Unchanged: keep the previous objects.
      out.photos.set(id, before)
      if (beforeComments !== undefined) out.comments.set(id, beforeComments)
      if (beforeMedia !== undefined) mediaById.set(id, beforeMedia)
      continue
    }
    counts.changed++
    const sameButViews = sameContent(photoContent(base.raw, photoComments, entry, true), photoContent(before.raw, beforeComments, beforeMedia, true))
    const changedAtMsIgnoringViews = sameButViews ? (before.changedAtMsIgnoringViews ?? before.changedAtMs) : nowMs
    out.photos.set(id, stamped(base, nowMs, changedAtMsIgnoringViews))
    if (photoComments !== undefined && photoComments.length > 0) out.comments.set(id, photoComments)
    if (entry !== undefined) mediaById.set(id, entry)
  }
  if (firstSync) out.media = new MediaByPhoto(originalsOfListed(listed.media, out.photos))
  counts.total = out.photos.size
  for (const id of prev.photos.keys()) if (!out.photos.has(id)) counts.deleted++
  const photostream = listed.photos.map((p) => p.id)
  const orderChanged = !sameBy(photostream, prev.photostream, sameString)
  // Nothing added, changed or deleted: every entry kept is the previous one, so the previous maps
  // (and list) are the same, and readers (the catalog's save) can tell by identity at once.
  if (counts.added === 0 && counts.changed === 0 && counts.deleted === 0 && sameSizes(out, prev)) {
    return { photos: prev.photos as Map<string, PhotoEntry>, comments: prev.comments as Map<string, readonly RawRecord[]>, media: prev.media,
      photostream: orderChanged ? photostream : (prev.photostream as string[]), photostreamOrderChanged: orderChanged, counts }
  }
  return { ...out, photostream, photostreamOrderChanged: orderChanged, counts }
}

/**
 * Sets, with members limited to the photos of this listing (`inCatalog`): an upload between the
 * two listings would otherwise point at a photo the catalog does not have.
 */
export function setChanges(listed: SetListing, inCatalog: CatalogIds, { prev, nowMs }: Since): SetChanges {
  const prevSets = new Map(prev.sets.map((s) => [s.id, s]))
  const sets: SetEntry[] = []
  const counts = noCounts()
  const idOf = catalogIdOf(inCatalog)
  for (const raw of listed.list) {
    const id = safeId(raw.id) as string
    const memberIds: string[] = []
    for (const m of listed.members.get(id) ?? []) {
      const known = idOf(m)
      if (known !== undefined) memberIds.push(known)
    }
    const before = prevSets.get(id)
    const same = before !== undefined && sameContent(setContent(raw, memberIds), setContent(before.raw, before.photoIds))
    const entry = same ? before : setFromRaw(raw, memberIds, before === undefined ? firstSeenMs(setUpdatedSec(raw), prev, nowMs) : nowMs)
    if (entry === null) continue
    sets.push(entry)
    if (before === undefined) counts.added++
    else if (!same) counts.changed++
  }
  counts.total = sets.length
  const setIds = new Set(sets.map((s) => s.id))
  for (const s of prev.sets) if (!setIds.has(s.id)) counts.deleted++
  return { sets, counts }
}

/** The photo ids of a catalog: its photos by id (a Map of entries), or any set of ids. */
type CatalogIds = ReadonlyMap<string, { readonly id: string }> | { has(id: string): boolean }

/**
 * The catalog's own string for photo id `m`, undefined when it has no such photo. A set's listing
 * parses a copy of each member's id: kept as members, at 1,000,000 photos in 20,000 sets ~26 MB of
 * strings the photos' entries already hold (the first sync's save, where its memory peaks).
 */
function catalogIdOf(inCatalog: CatalogIds): (m: string) => string | undefined {
  if (inCatalog instanceof Map) return (m) => (inCatalog as ReadonlyMap<string, { readonly id: string }>).get(m)?.id
  return (m) => (inCatalog.has(m) ? m : undefined)
}

/** Collections: a node's content is its own record and the ids of its sets and children. */
export function collectionChanges(tree: readonly unknown[], { prev, nowMs }: Since): CollectionChanges {
  const prevCollections = flattenCollections(prev.collections)
  const counts = noCounts()
  const seen = new Set<string>()
  const collections: CollectionEntry[] = []
  const stamp = (c: Omit<CollectionEntry, 'changedAtMs'>): number => {
    counts.total++
    const before = prevCollections.get(c.id)
    if (before === undefined) {
      counts.added++
      return nowMs
    }
    if (sameContent(collectionContent(c), collectionContent(before))) return before.changedAtMs
    counts.changed++
    return nowMs
  }
  for (const node of tree) {
    const entry = collectionFromRaw(node, stamp, seen)
    if (entry !== null) collections.push(entry)
  }
  for (const id of prevCollections.keys()) if (!seen.has(id)) counts.deleted++
  return { collections, counts }
}

/** Anything but the user differs from `prev`: an entry added, changed or gone, or an order moved. */
export function anyChange({ photos, sets, collections }: Omit<Changes, 'photos'> & { photos: Pick<PhotoChanges, 'counts' | 'photostreamOrderChanged'> }, prev: CatalogSnapshot): boolean {
  const moved = (c: ChangeCounts): boolean => c.added + c.changed + c.deleted > 0
  return (
    moved(photos.counts) ||
    moved(sets.counts) ||
    moved(collections.counts) ||
    photos.photostreamOrderChanged ||
    !sameBy(sets.sets, prev.sets, sameId) ||
    !sameBy(collections.collections, prev.collections, sameId)
  )
}

/**
 * The change time of an entry new to the catalog. What the first sync finds is the account's
 * history, so it carries Flickr's own time of its last edit (a photo's `lastupdate`, which moves on
 * any edit and comment; a set's `date_update`): then every sidecar and set metadata file has its
 * own time, and backup tools that trust ctime (borg 1.2 keeps no files-cache entry whose ctime is
 * the newest it saw) do not re-read them all on every run. Whatever a later refresh finds new or
 * changed carries the refresh's time: that is when the mount's content changed, later than any
 * backup that could have missed it (tar --listed-incremental and restic rely on that).
 * Flickr's time is used only when it is known and not in the future.
 */
function firstSeenMs(flickrSeconds: number, prev: CatalogSnapshot, nowMs: number): number {
  if (prev.refreshedAtMs !== 0) return nowMs
  return flickrEditMs(flickrSeconds, nowMs) ?? nowMs
}

/** A listed photo made an entry in place (see PhotoListing). */
function stamped(base: ListedPhoto, changedAtMs: number, changedAtMsIgnoringViews: number): PhotoEntry {
  const entry = base as PhotoEntry
  entry.changedAtMs = changedAtMs
  entry.changedAtMsIgnoringViews = changedAtMsIgnoringViews
  return entry
}

function noCounts(): ChangeCounts {
  return { total: 0, added: 0, changed: 0, deleted: 0 }
}

function photoContent(raw: RawRecord, comments: readonly RawRecord[] | undefined, media: MediaEntry | undefined, ignoreViews: boolean): unknown {
  let record = raw
  if (ignoreViews) {
    const { views: _views, ...rest } = raw
    record = rest
  }
  return { r: record, m: comments !== undefined && comments.length > 0 ? comments : null, e: media ?? null }
}

function setContent(raw: RawRecord, photoIds: readonly string[]): unknown {
  return { r: raw, p: photoIds }
}

function collectionContent(c: Pick<CollectionEntry, 'raw' | 'setIds' | 'children'>): unknown {
  return { r: c.raw, s: c.setIds, c: c.children.map((child) => child.id) }
}

/** Same JSON content, whatever the key order. */
function sameContent(a: unknown, b: unknown): boolean {
  return sameJson(a, b)
}

/** Each kept entry is the previous one, so the same sizes mean the same maps. */
function sameSizes(out: Pick<PhotoChanges, 'photos' | 'comments' | 'media'>, prev: CatalogSnapshot): boolean {
  return out.photos.size === prev.photos.size && out.comments.size === prev.comments.size && out.media.size === prev.media.size
}

/** The originals of `photos` in `media` (by photo id): `media` itself when it holds no other. */
function originalsOfListed(media: ReadonlyMap<string, MediaEntry>, photos: ReadonlyMap<string, PhotoEntry>): ReadonlyMap<string, MediaEntry> {
  for (const id of media.keys()) {
    if (!photos.has(id)) return new Map([...media].filter(([photoId]) => photos.has(photoId)))
  }
  return media
}

/** Some id occurs twice. A sorted copy of the ids (one array) rather than a Set of them (a hash table grown step by step). */
function hasRepeat(ids: readonly string[]): boolean {
  const sorted = ids.slice().sort()
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) return true
  return false
}

/** The two lists pair up one to one, in order, by `same` (no array of keys made: the photostream's is 100,000 long). */
function sameBy<A, B>(a: readonly A[], b: readonly B[], same: (x: A, y: B) => boolean): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!same(a[i] as A, b[i] as B)) return false
  return true
}

const sameString = (x: string, y: string): boolean => x === y
const sameId = (x: { id: string }, y: { id: string }): boolean => x.id === y.id

function flattenCollections(list: readonly CollectionEntry[], into = new Map<string, CollectionEntry>()): Map<string, CollectionEntry> {
  for (const c of list) {
    into.set(c.id, c)
    flattenCollections(c.children, into)
  }
  return into
}
