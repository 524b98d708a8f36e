import type { CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from '../catalog/types.js'

/**
 * The JSON of every metadata file. Objects are built in a fixed key order (the record's own order,
 * then our additions), so the same content always gives the same bytes and therefore the same size.
 */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8')
}

/**
 * The version of what photoMetadata makes of its input. A pin trusts a sidecar it wrote when the
 * photo's catalog row has not changed (pin/write-tree.ts): raise this whenever the same row
 * would give other bytes, or sidecars written by an earlier version would be kept as they are.
 */
export const PHOTO_METADATA_FORMAT = 1

export interface FlickrfsInfo {
  size: number
  video?: 'transcode'
  label?: string
}

export interface PhotoMetadataInput {
  photo: PhotoEntry
  media: MediaEntry
  comments?: readonly RawRecord[] | undefined
  ignoreViews?: boolean | undefined
}

/**
 * The getPhotos record as returned (less `views` under --ignore-views), then `comments` when there
 * are any, then `flickrfs`. Everything comes from the catalog (`size` is the MediaEntry's exact
 * size), never from what has been downloaded: a sidecar is the same whatever order a tool reads
 * files in. Hashes of originals are listed in photostream/SHA256SUMS (sha256sums.ts).
 */
export function photoMetadata(input: PhotoMetadataInput): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input.photo.raw)) {
    if (key === 'comments' || key === 'flickrfs') continue
    if (key === 'views' && input.ignoreViews === true) continue
    out[key] = value
  }
  if (input.comments !== undefined && input.comments.length > 0) out.comments = input.comments
  const info: FlickrfsInfo = { size: input.media.size }
  if (input.media.kind === 'transcode') {
    info.video = 'transcode'
    if (input.media.label !== undefined) info.label = input.media.label
  }
  out.flickrfs = info
  return out
}

export function photostreamMetadata(photoIds: Iterable<string>): { photos: string[] } {
  return { photos: [...photoIds] }
}

/** The getList record with its `photos` count replaced by the member ids in album order. */
export function setMetadata(set: SetEntry): Record<string, unknown> {
  return { ...set.raw, photos: [...set.photoIds] }
}

/** The getTree node with `set` and `collection` as ordered id lists. */
export function collectionMetadata(collection: CollectionEntry): Record<string, unknown> {
  return { ...collection.raw, set: [...collection.setIds], collection: collection.children.map((c) => c.id) }
}
