/**
 * The account model that the layout, the mount and pin all read. A CatalogSnapshot is immutable:
 * a refresh builds a new one and swaps it in whole, so readers see the old catalog or the new one,
 * never a mix.
 */

/** A JSON object exactly as Flickr returned it (after flickr-sdk's JSON parse). */
export type RawRecord = Record<string, unknown>

export type MediaKind = 'photo' | 'video'

export interface PhotoEntry {
  id: string
  /** The flickr.people.getPhotos record with the extras of LAYOUT.md, as returned. */
  raw: RawRecord
  media: MediaKind
  /** `originalsecret`: with `id`, the key of the original's bytes. */
  secret: string
  /** `originalformat`, lower-cased ('' when Flickr gives none). */
  format: string
  /** `lastupdate`, unix seconds: changes on any edit and when a comment is added. */
  lastUpdate: number
  /** `dateupload`, unix seconds. */
  dateUpload: number
  /** `datetaken` when it is a real, known date (`YYYY-MM-DD hh:mm:ss`, camera local time), else null. */
  dateTaken: string | null
  countComments: number
  /** `url_o` when given. */
  urlO: string | null
  /** When this record's content (raw fields, comments or media) last changed, as we saw it. ms. */
  changedAtMs: number
  /**
   * Like `changedAtMs` but blind to the `views` field, which moves on every visit: the metadata mtime
   * to use under `--ignore-views`, where views are left out of the file. Set by the catalog; absent
   * in hand-built snapshots (then use `changedAtMs`).
   */
  changedAtMsIgnoringViews?: number
}

/** What the media host told us about one original, keyed by `${id}_${secret}`. */
export interface MediaEntry {
  id: string
  secret: string
  /** Exact byte size of what will be downloaded. */
  size: number
  /** Lower-case extension without the dot: originalformat for photos, the server's file name for videos. */
  ext: string
  /** URL to download from (the API's URL; for videos the play URL or the transcode's source). */
  url: string
  /** `original`, or `transcode` when only a transcode of a video could be had. */
  kind: 'original' | 'transcode'
  /** The getSizes label of a transcode (`HD MP4`, …). */
  label?: string
}

export interface SetEntry {
  id: string
  /** The flickr.photosets.getList record as returned. */
  raw: RawRecord
  /** The set's title as a plain string (from `title._content`). */
  title: string
  /** Member ids in album order. */
  photoIds: string[]
  changedAtMs: number
}

export interface CollectionEntry {
  id: string
  /** The getTree node as returned, without its `set` and `collection` arrays. */
  raw: RawRecord
  title: string
  /** Set ids in Flickr's order (the node's `set` array). */
  setIds: string[]
  /** Child collections in Flickr's order (the node's `collection` array). */
  children: CollectionEntry[]
  changedAtMs: number
}

export interface CatalogSnapshot {
  userId: string
  userName: string
  /** Photo ids in photostream order, newest first. */
  photostream: readonly string[]
  photos: ReadonlyMap<string, PhotoEntry>
  /** Comment items (flickr.photos.comments.getList `comment`) by photo id, in order. */
  comments: ReadonlyMap<string, readonly RawRecord[]>
  /** By `${id}_${secret}`. */
  media: ReadonlyMap<string, MediaEntry>
  /** In the user's own getList order. */
  sets: readonly SetEntry[]
  /** Top-level collections in getTree order. */
  collections: readonly CollectionEntry[]
  /** When the photostream order last changed. ms. */
  photostreamChangedAtMs: number
  /** When the last successful refresh finished. ms (0: never). */
  refreshedAtMs: number
}

export function mediaKey(id: string, secret: string): string {
  return `${id}_${secret}`
}
