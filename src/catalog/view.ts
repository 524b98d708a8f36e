/**
 * CatalogView: what the layout, pin and status read of a catalog, and nothing more. Today it is
 * served by the in-memory CatalogSnapshot (`snapshotView`); schema 3 (README "Next: schema 3")
 * will serve it from rows on disk and packed listing columns, behind this same interface, so that
 * layout/, pin/ and status need not change again.
 *
 * Which calls are synchronous, and why:
 * - **Listing and stat** (`photostreamLength`, `photostreamId`, `photoCount`, `photo`, `media`,
 *   `eachPhoto`, the counts and times of the head): synchronous, now and over rows. FUSE answers
 *   getattr and readdir from what is in hand (fuse-native answers a readdir in one callback), and
 *   the build decides every name, size, mtime and inode up front. Over rows these are the packed
 *   columns (id, secret, kind, extension, size, change times, dates), loaded whole at open (~1 s
 *   and ~32 MB at 1,000,000 photos, bench/RESULTS.md "Schema 2 measured before it is chosen").
 * - **Records** (`record`, `comments`): typed `Awaitable`, a value or a promise. The snapshot
 *   answers at once; rows on disk will answer with a promise (a sqlite query, 0.07–0.3 ms, behind a
 *   bounded cache). Only a sidecar's bytes read them (layout/nodes.ts `PhotoSidecarNode.load`),
 *   and both of their readers wait for a promise: a FUSE read (fs/ `FsBytes.load`, under the
 *   read's deadline) and a pin's write (pin/write-tree.ts). A value answered at once takes the
 *   synchronous path all the way, as before.
 * - **A sidecar's size** (`sidecarSize`): stat needs it at once, before any byte. The snapshot has
 *   no stored size (undefined: the layout measures the JSON, which needs the record at once);
 *   schema 3 answers it from a column saved with the record (README "Next: schema 3"). It is the
 *   one thing left that reads a record synchronously.
 * - **Sets and collections**: held whole (20,000 sets and their member lists at 1,000,000 items
 *   are ids only); over rows the member lists become a packed column per set.
 *
 * Every answer is of one catalog generation: a view never changes, a refresh makes a new one.
 */
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

/** A value, or a promise of it: what a view answers at once today and from disk later. */
export type Awaitable<T> = T | Promise<T>

/**
 * What listing and stat need of one photo: the listing columns of schema 3. `dateTaken` stays the
 * text Flickr gives (camera local time): the layout turns it into an mtime in the local time zone
 * of the reader, so a column must not fix the zone at save.
 */
export type PhotoColumns = Pick<PhotoEntry, 'id' | 'secret' | 'media' | 'changedAtMs' | 'changedAtMsIgnoringViews' | 'dateTaken' | 'dateUpload'>

/** What streamRow writes: a photo's id, secret, kind, change times and its current original's extension. */
export interface StreamRow {
  id: string
  secret: string
  media: PhotoEntry['media']
  changedAtMs: number
  changedAtMsIgnoringViews: number | undefined
  /** The extension of its original for its current secret (mediaExt); undefined when none is known. */
  ext: string | undefined
}

export interface CatalogView {
  readonly userId: string
  readonly userName: string
  /** When the last successful refresh finished. ms (0: never). */
  readonly refreshedAtMs: number
  /** When the photostream order last changed. ms. */
  readonly photostreamChangedAtMs: number

  // Synchronous: the listing columns.
  /** How many ids the photostream order holds (an id may repeat in a damaged order). */
  readonly photostreamLength: number
  /** The id at `pos` in photostream order, newest first (0 ≤ pos < photostreamLength). */
  photostreamId(pos: number): string
  /**
   * True when the photostream order is known to list each id once (a lazy view whose pages are in
   * that order: persist.ts photoOrder): the layout's build then looks for no id listed twice.
   */
  readonly photostreamListsEachOnce?: boolean
  /**
   * Photo `pos` of the photostream order, what photostream/'s build reads of it, written into `row`
   * (one object reused from call to call); false when the catalog holds no such photo. What
   * photostreamId, photo and mediaExt answer, without making a PhotoColumns or looking the id up
   * twice (a lazy view, ~0.1 s of a mount's start at 1,000,000 photos). Optional: the build asks
   * those three otherwise.
   */
  streamRow?(pos: number, row: StreamRow): boolean
  /** How many photo records the catalog holds (the order may list fewer). */
  readonly photoCount: number
  /** The listing columns of photo `id`, or undefined when the catalog has no such photo. */
  photo(id: string): PhotoColumns | undefined
  /** The original known for photo `id` with secret `secret` (its current one), if any. */
  media(id: string, secret: string): MediaEntry | undefined
  /**
   * `media(id, secret)?.ext` without making the MediaEntry: the layout's build asks it of every
   * photo and needs nothing else of the original (a lazy view would build each URL for nothing).
   */
  mediaExt(id: string, secret: string): string | undefined
  /** Every photo record, in no promised order. */
  eachPhoto(fn: (photo: PhotoColumns) => void): void

  // A value at once (the snapshot) or a promise (rows on disk): a sidecar's content.
  /** The whole record of photo `id` as Flickr gave it (with its columns). */
  record(id: string): Awaitable<PhotoEntry | undefined>
  /** Photo `id`'s comments in order, or undefined when it has none. */
  comments(id: string): Awaitable<readonly RawRecord[] | undefined>
  /**
   * The byte length of photo `id`'s sidecar (with views, or without them under --ignore-views) as
   * stored with its record, or undefined when the view stores none: the layout then measures it
   * from the record, which must then come at once.
   */
  sidecarSize(id: string, ignoreViews: boolean): number | undefined

  /** In the user's own getList order. */
  readonly sets: readonly SetEntry[]
  /** Top-level collections in getTree order. */
  readonly collections: readonly CollectionEntry[]
}

/** `source` as a view: a view as it is, a snapshot wrapped (the tests and the live mount hand snapshots). */
export function asCatalogView(source: CatalogView | CatalogSnapshot): CatalogView {
  return 'photos' in source ? new SnapshotView(source) : source
}

/** The view of one in-memory snapshot: every answer a lookup in its maps, nothing copied. */
export function snapshotView(snap: CatalogSnapshot): CatalogView {
  return new SnapshotView(snap)
}

class SnapshotView implements CatalogView {
  readonly #snap: CatalogSnapshot
  constructor(snap: CatalogSnapshot) {
    this.#snap = snap
  }

  get userId(): string {
    return this.#snap.userId
  }
  get userName(): string {
    return this.#snap.userName
  }
  get refreshedAtMs(): number {
    return this.#snap.refreshedAtMs
  }
  get photostreamChangedAtMs(): number {
    return this.#snap.photostreamChangedAtMs
  }
  get photostreamLength(): number {
    return this.#snap.photostream.length
  }
  photostreamId(pos: number): string {
    return this.#snap.photostream[pos] as string
  }
  get photoCount(): number {
    return this.#snap.photos.size
  }
  photo(id: string): PhotoColumns | undefined {
    return this.#snap.photos.get(id)
  }
  media(id: string, secret: string): MediaEntry | undefined {
    return this.#snap.media.get(mediaKey(id, secret))
  }
  mediaExt(id: string, secret: string): string | undefined {
    return this.media(id, secret)?.ext
  }
  eachPhoto(fn: (photo: PhotoColumns) => void): void {
    for (const p of this.#snap.photos.values()) fn(p)
  }
  record(id: string): PhotoEntry | undefined {
    return this.#snap.photos.get(id)
  }
  comments(id: string): readonly RawRecord[] | undefined {
    return this.#snap.comments.get(id)
  }
  /** Not stored: the layout measures the JSON of the record in hand. */
  sidecarSize(): undefined {
    return undefined
  }
  get sets(): readonly SetEntry[] {
    return this.#snap.sets
  }
  get collections(): readonly CollectionEntry[] {
    return this.#snap.collections
  }
}

/**
 * `view` with only the originals `keep` accepts (by photo id and secret): a pin's layout of what is
 * on disk, where a photo whose original is not there is not shown. Nothing is copied.
 */
export function withMediaOnly(view: CatalogView, keep: (id: string, secret: string) => boolean): CatalogView {
  return new MediaFilteredView(view, keep)
}

class MediaFilteredView implements CatalogView {
  readonly #view: CatalogView
  readonly #keep: (id: string, secret: string) => boolean
  constructor(view: CatalogView, keep: (id: string, secret: string) => boolean) {
    this.#view = view
    this.#keep = keep
  }
  get userId(): string {
    return this.#view.userId
  }
  get userName(): string {
    return this.#view.userName
  }
  get refreshedAtMs(): number {
    return this.#view.refreshedAtMs
  }
  get photostreamChangedAtMs(): number {
    return this.#view.photostreamChangedAtMs
  }
  get photostreamLength(): number {
    return this.#view.photostreamLength
  }
  photostreamId(pos: number): string {
    return this.#view.photostreamId(pos)
  }
  get photostreamListsEachOnce(): boolean {
    return this.#view.photostreamListsEachOnce === true
  }
  get photoCount(): number {
    return this.#view.photoCount
  }
  photo(id: string): PhotoColumns | undefined {
    return this.#view.photo(id)
  }
  media(id: string, secret: string): MediaEntry | undefined {
    return this.#keep(id, secret) ? this.#view.media(id, secret) : undefined
  }
  mediaExt(id: string, secret: string): string | undefined {
    return this.#keep(id, secret) ? this.#view.mediaExt(id, secret) : undefined
  }
  eachPhoto(fn: (photo: PhotoColumns) => void): void {
    this.#view.eachPhoto(fn)
  }
  record(id: string): Awaitable<PhotoEntry | undefined> {
    return this.#view.record(id)
  }
  comments(id: string): Awaitable<readonly RawRecord[] | undefined> {
    return this.#view.comments(id)
  }
  sidecarSize(id: string, ignoreViews: boolean): number | undefined {
    return this.#view.sidecarSize(id, ignoreViews)
  }
  get sets(): readonly SetEntry[] {
    return this.#view.sets
  }
  get collections(): readonly CollectionEntry[] {
    return this.#view.collections
  }
}
