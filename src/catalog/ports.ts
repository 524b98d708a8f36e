/**
 * The exact client methods the catalog calls. The real FlickrClient and MediaClient of src/flickr/
 * satisfy these structurally; naming only what we use keeps the catalog testable against any client
 * that talks to the fake Flickr over HTTP, and makes our API budget visible in one place.
 */
import type { MediaEntry, PhotoEntry, RawRecord } from './types.js'

export interface CatalogApi {
  testLogin(): Promise<{ id: string; username: string }>
  /**
   * flickr.people.getPhotos user_id=me, all pages, de-duplicated, photostream order; `resume` goes
   * on from the pages an interrupted refresh saved, and tells each page's new items as they come.
   */
  getPhotostream(extras: string[], resume?: PhotostreamResume): Promise<unknown[]>
  /** flickr.photos.recentlyUpdated min_date=…, all pages: photos added or changed since then (never deletions). */
  getRecentlyUpdated(minDateSec: number, extras: string[]): Promise<unknown[]>
  /** One page of flickr.people.getPhotos user_id=me, with the listing's `total` (-1 when absent). */
  getPhotostreamPage(page: number, perPage: number, extras: string[]): Promise<{ total: number; photos: unknown[] }>
  /** flickr.photosets.getList, all pages; `expectedSets` (the last list's length) lets its pages be asked together from the start. */
  getSetList(expectedSets?: number): Promise<unknown[]>
  /** flickr.photosets.getPhotos, all pages by the call's own `pages`, album order. */
  getSetPhotos(setId: string, userId: string, extras?: string[]): Promise<unknown[]>
  /** flickr.collections.getTree: top-level collections, [] when none. */
  getCollectionTree(): Promise<unknown[]>
  getComments(photoId: string): Promise<unknown[]>
  getSizes(photoId: string): Promise<unknown[]>
}

export interface PhotostreamResume {
  from?: { page: number; items: readonly Record<string, unknown>[] }
  /** paginate.ts's: a promise returned holds the listing until it settles. */
  onPage?: (page: number, items: Record<string, unknown>[]) => void | Promise<void>
}

export interface CatalogMedia {
  /**
   * HEAD following redirects: the full size, the final URL and Content-Disposition's file name.
   * `of` says whose file `url` is; a sizer that downloads the file anyway (pin) answers from its
   * GET instead, and MediaClient ignores it. `retries`: of a bad answer (flickr/media-client.ts MediaTry).
   */
  head(url: string, opts?: { cookies?: string; of?: SizeOf; retries?: number }): Promise<{ size: number; finalUrl: string; filename: string | null }>
}

/** The photo whose original (or, for a video refused its original, transcode) is being sized. */
export interface SizeOf {
  photo: PhotoEntry
  kind: 'original' | 'transcode'
}

/**
 * The extras of LAYOUT.md: the photo records the catalog keeps (and the metadata files show) are
 * people.getPhotos records requested with exactly these.
 */
export const PHOTO_EXTRAS: readonly string[] = [
  'description',
  'license',
  'date_upload',
  'date_taken',
  'owner_name',
  'icon_server',
  'original_format',
  'last_update',
  'geo',
  'tags',
  'machine_tags',
  'o_dims',
  'views',
  'media',
  'path_alias',
  'url_o',
  'count_comments',
  'count_faves',
]

/**
 * The byte length of a photo's sidecar (layout/metadata.ts `photoMetadata` as JSON), with views and
 * without them (--ignore-views), so that a catalog can answer a sidecar's stat without its record
 * in memory (view.ts `sidecarSize`). Only the layout makes that JSON and the catalog imports nothing
 * of layout/, so whoever opens a writable catalog passes the layout's sizer in (`sidecarSizer` of
 * `Catalog.open`): one rule for the bytes and for their length.
 */
export interface SidecarSizer {
  /** The format of that JSON (layout's PHOTO_METADATA_FORMAT): lengths saved under another are not used. */
  readonly format: number
  /** Both lengths for `photo` with its current original `media` and its `comments`. */
  sizes(photo: PhotoEntry, media: MediaEntry, comments: readonly RawRecord[] | undefined): readonly [withViews: number, withoutViews: number]
}
