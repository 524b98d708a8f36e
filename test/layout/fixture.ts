import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from '../../src/catalog/types.js'
import { mediaKey } from '../../src/catalog/types.js'

/** Builds CatalogSnapshots directly, as the catalog would hand them to the layout. */

export interface PhotoSpec {
  id: string
  media?: 'photo' | 'video'
  format?: string
  secret?: string
  dateTaken?: string | null
  dateUpload?: number
  changedAtMs?: number
  raw?: RawRecord
  /** false: no MediaEntry yet. */
  mediaEntry?: Partial<MediaEntry> | false
  comments?: RawRecord[]
}

export function photoEntry(spec: PhotoSpec): PhotoEntry {
  const media = spec.media ?? 'photo'
  const secret = spec.secret ?? `s${spec.id}`
  const format = spec.format ?? (media === 'video' ? 'mov' : 'jpg')
  const dateUpload = spec.dateUpload ?? 1_600_000_000
  const raw: RawRecord = spec.raw ?? {
    id: spec.id,
    owner: '12345678@N00',
    secret: 'abc',
    server: '65535',
    farm: 66,
    title: `Photo ${spec.id}`,
    ispublic: 1,
    originalsecret: secret,
    originalformat: format,
    dateupload: String(dateUpload),
    datetaken: spec.dateTaken ?? '2020-01-02 03:04:05',
    datetakenunknown: '0',
    views: '17',
    media,
  }
  return {
    id: spec.id,
    raw,
    media,
    secret,
    format,
    lastUpdate: dateUpload + 10,
    dateUpload,
    dateTaken: spec.dateTaken === undefined ? '2020-01-02 03:04:05' : spec.dateTaken,
    countComments: spec.comments?.length ?? 0,
    urlO: null,
    changedAtMs: spec.changedAtMs ?? 1_700_000_000_000,
  }
}

export function mediaEntry(photo: PhotoEntry, extra: Partial<MediaEntry> = {}): MediaEntry {
  return {
    id: photo.id,
    secret: photo.secret,
    size: 1000 + Number(photo.id.replace(/\D/g, '').slice(-6) || 0),
    ext: photo.format,
    url: `http://127.0.0.1/${photo.id}`,
    kind: 'original',
    ...extra,
  }
}

export function setEntry(id: string, title: string, photoIds: string[], changedAtMs = 1_700_000_100_000, raw?: RawRecord): SetEntry {
  return {
    id,
    raw: raw ?? { id, owner: '12345678@N00', primary: photoIds[0] ?? '0', photos: photoIds.length, title: { _content: title }, description: { _content: '' } },
    title,
    photoIds,
    changedAtMs,
  }
}

export function collectionEntry(
  id: string,
  title: string,
  setIds: string[],
  children: CollectionEntry[] = [],
  changedAtMs = 1_700_000_200_000,
): CollectionEntry {
  return { id, raw: { id, title, description: '', iconlarge: '/images/x.gif' }, title, setIds, children, changedAtMs }
}

export interface SnapshotSpec {
  photos?: PhotoSpec[]
  sets?: SetEntry[]
  collections?: CollectionEntry[]
  photostreamChangedAtMs?: number
  /** Defaults to the photos' order. */
  photostream?: string[]
}

export function snapshot(spec: SnapshotSpec): CatalogSnapshot {
  const photos = new Map<string, PhotoEntry>()
  const media = new Map<string, MediaEntry>()
  const comments = new Map<string, RawRecord[]>()
  for (const p of spec.photos ?? []) {
    const entry = photoEntry(p)
    photos.set(p.id, entry)
    if (p.mediaEntry !== false) {
      const m = mediaEntry(entry, p.mediaEntry ?? {})
      media.set(mediaKey(m.id, m.secret), m)
    }
    if (p.comments !== undefined) comments.set(p.id, p.comments)
  }
  return {
    userId: '12345678@N00',
    userName: 'tester',
    photostream: spec.photostream ?? (spec.photos ?? []).map((p) => p.id),
    photos,
    comments,
    media,
    sets: spec.sets ?? [],
    collections: spec.collections ?? [],
    photostreamChangedAtMs: spec.photostreamChangedAtMs ?? 1_700_000_050_000,
    refreshedAtMs: 1_700_000_300_000,
  }
}

/** n photos with ids `${base + i}` (ids are digits, like Flickr's). */
export function photoSpecs(n: number, base = 50000): PhotoSpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: String(base + i) }))
}
