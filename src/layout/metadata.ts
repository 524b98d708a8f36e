import type { SidecarSizer } from '../catalog/index.js'
import type { CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from '../catalog/types.js'

/**
 * The JSON of every metadata file. Objects are built in a fixed key order (the record's own order,
 * then our additions), so the same content always gives the same bytes and therefore the same size.
 */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(jsonText(value), 'utf8')
}

/** The length of `jsonBytes(value)`, without making the Buffer. */
function jsonLength(value: unknown): number {
  return Buffer.byteLength(jsonText(value), 'utf8')
}

/** The one rule for the text of a metadata file: 2-space JSON and a newline. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
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

/**
 * The sidecar sizer the catalog stores lengths with (catalog/ports.ts): the byte lengths of
 * `jsonBytes(photoMetadata(…))`, with views and without them. The JSON is made once, with views;
 * the length without them is that less the `views` entry's own length, which `viewsEntryLength`
 * measures in the same format. test/layout/sidecar-sizer.test.ts holds it to the real buffers.
 */
export const photoSidecarSizer: SidecarSizer = {
  format: PHOTO_METADATA_FORMAT,
  sizes(photo, media, comments) {
    const withViews = jsonLength(photoMetadata({ photo, media, comments }))
    return [withViews, withViews - viewsEntryLength(photo.raw)]
  },
}

/**
 * How many bytes the `views` entry of `raw` adds to a sidecar's JSON: 0 when photoMetadata would
 * keep no such entry (none, or undefined). JSON.stringify writes each entry of an object alone, at
 * its depth, joined by one separator; so in an object of two entries or more (a sidecar always
 * has `flickrfs` too), wherever it stands, an entry adds its own text and one separator: the
 * difference between a probe object with it and without it. In the probe the value stands at the
 * same depth as in a sidecar (1), so an object value is indented as there.
 */
function viewsEntryLength(raw: RawRecord): number {
  if (!Object.hasOwn(raw, 'views')) return 0
  return jsonLength({ views: raw.views, flickrfs: 0 }) - EMPTY_PROBE_LENGTH
}
const EMPTY_PROBE_LENGTH = jsonLength({ flickrfs: 0 })

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
