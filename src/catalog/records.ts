/**
 * Flickr records → catalog entries. Everything read from Flickr goes through the lenient readers,
 * because numbers drift between strings and numbers and lists drop their keys when empty.
 */
import { asArray, asRecord, textOf, toInt, toStr } from '../flickr/lenient.js'
import { isSafeId, normalizeExt } from '../layout/names.js'
import type { ListedPhoto } from './changes.js'
import { SpooledPhoto } from './record-spool.js'
import type { CollectionEntry, MediaKind, PhotoEntry, RawRecord, SetEntry } from './types.js'

/** Flickr's time of an edit (unix seconds, as `lastupdate` and `date_update` give it) in ms, when known and not in the future. */
export function flickrEditMs(seconds: number, nowMs: number): number | undefined {
  const ms = seconds * 1000
  return Number.isSafeInteger(ms) && ms > 0 && ms <= nowMs ? ms : undefined
}

/**
 * Ids end up in file names (`<id>.<ext>`, `Set <id> - …`): one that fails layout/names.ts's rule
 * is dropped rather than trusted with a path.
 */
export function safeId(value: unknown): string | null {
  const id = toStr(value)
  return isSafeId(id) ? id : null
}

const REAL_DATE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

/** `datetaken` when Flickr knows it and it is a real calendar date (not `0000-00-00 00:00:00`). */
export function knownDateTaken(raw: RawRecord): string | null {
  if (toInt(raw.datetakenunknown, 0) !== 0) return null
  const text = toStr(raw.datetaken)
  const m = REAL_DATE.exec(text)
  if (m === null) return null
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31) return null
  return text
}

/**
 * Every field is set here, `changedAtMsIgnoringViews` included (a refresh restamps it in place):
 * an entry whose fields are all in its literal keeps them in the object itself, where one added
 * later costs every entry a separate property store (~40 bytes a photo).
 */
export function photoFields(raw: RawRecord, id: string, changedAtMs: number, changedAtMsIgnoringViews = changedAtMs): PhotoEntry {
  const media: MediaKind = raw.media === 'video' ? 'video' : 'photo'
  const urlO = toStr(raw.url_o)
  return {
    id,
    raw,
    media,
    secret: toStr(raw.originalsecret) || toStr(raw.secret),
    format: normalizeExt(toStr(raw.originalformat)),
    lastUpdate: toInt(raw.lastupdate, 0),
    dateUpload: toInt(raw.dateupload, 0),
    dateTaken: knownDateTaken(raw),
    countComments: toInt(raw.count_comments, 0),
    urlO: urlO === '' ? null : urlO,
    changedAtMs,
    changedAtMsIgnoringViews,
  }
}

/** A set's last edit on Flickr (`date_update`, unix seconds), 0 when it is not a number. */
export function setUpdatedSec(raw: RawRecord): number {
  return toInt(raw.date_update, 0)
}

export function setFromRaw(raw: RawRecord, photoIds: string[], changedAtMs: number): SetEntry | null {
  const id = safeId(raw.id)
  if (id === null) return null
  return { id, raw, title: textOf(raw.title), photoIds, changedAtMs }
}

/** Ids in first-seen order, without repeats (Flickr repeats the last page past the end). */
export function uniqueIds(items: unknown[]): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const item of items) {
    const id = safeId(asRecord(item).id)
    if (id !== null && !seen.has(id)) {
      seen.add(id)
      out.push(id)
    }
  }
  return out
}

/** A getTree node without its `set` and `collection` arrays (which become `setIds`/`children`). */
export function collectionFromRaw(node: unknown, stamp: (c: Omit<CollectionEntry, 'changedAtMs'>) => number, seen = new Set<string>()): CollectionEntry | null {
  const rec = asRecord(node)
  const id = safeId(rec.id)
  if (id === null || seen.has(id)) return null
  seen.add(id)
  const { set, collection, ...raw } = rec
  const setIds = uniqueIds(asArray(set))
  const children: CollectionEntry[] = []
  for (const child of asArray(collection)) {
    const entry = collectionFromRaw(child, stamp, seen)
    if (entry !== null) children.push(entry)
  }
  const partial = { id, raw, title: textOf(rec.title), setIds, children }
  return { ...partial, changedAtMs: stamp(partial) }
}

/**
 * `p` as an entry stamped `changedAtMs` (and `changedAtMsIgnoringViews`, when given): a copy, as a
 * spread makes, but a spooled photo's copy reads the same spooled record (a spread would lose it).
 */
export function entryAt(p: ListedPhoto, changedAtMs: number, changedAtMsIgnoringViews = p.changedAtMsIgnoringViews): PhotoEntry {
  return p instanceof SpooledPhoto ? p.withChangedAt(changedAtMs, changedAtMsIgnoringViews) : { ...p, changedAtMs, changedAtMsIgnoringViews }
}

/**
 * The photos of a listing, each once. `made`: photos already made from these very records, in the
 * same order (a full listing's pages, as they came): taken as they are instead of made again.
 */
export function listPhotos(rawPhotos: unknown[], made: readonly ListedPhoto[] = []): ListedPhoto[] {
  const out: ListedPhoto[] = []
  const seen = new Set<string>()
  let next = 0
  for (const item of rawPhotos) {
    const raw = asRecord(item)
    const id = safeId(raw.id)
    if (id === null || seen.has(id)) continue
    seen.add(id)
    const known = made[next]
    // A spooled photo stands in for its record in a first sync's listing (refresh.ts standIn).
    if (item instanceof SpooledPhoto) {
      if (known === item) next++
      out.push(item)
      continue
    }
    if (known !== undefined && known.raw === raw) {
      next++
      out.push(known)
      continue
    }
    // Not a copy without changedAtMs: photoChanges stamps this very object when it becomes an entry.
    out.push(photoFields(raw, id, 0))
  }
  return out
}

export function dedupeById(items: unknown[]): RawRecord[] {
  const seen = new Set<string>()
  const out: RawRecord[] = []
  for (const item of items) {
    const raw = asRecord(item)
    const id = safeId(raw.id)
    if (id === null || seen.has(id)) continue
    seen.add(id)
    out.push(raw)
  }
  return out
}

/** getList says the set holds nothing: both counts present and zero (`photos` alone omits videos). */
export function isKnownEmpty(raw: RawRecord): boolean {
  const photos = toInt(raw.count_photos ?? raw.photos, -1)
  const videos = toInt(raw.count_videos ?? raw.videos, -1)
  return photos === 0 && videos === 0
}
