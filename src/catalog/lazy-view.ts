/**
 * A read-only CatalogView that never decodes the whole catalog (README "Next: schema 3", over
 * schema 1's chunks): listing and stat from the packed listing pages (listing-pages.ts) the head
 * names, the photostream order, sets and collections from their chunks, and a photo's record and
 * comments from the one bucket holding it, read when asked for behind a small cache (its own row
 * parsed, persist.ts StoredBucket). Every answer is of the head it was opened on; a bucket that is
 * gone (another writer replaced the catalog and removed it) fails its promise, never answering from
 * another generation.
 */
import { LRUCache } from 'lru-cache'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { numericId } from './decimal-id.js'
import { ListingPage } from './listing-pages.js'
import { lookupOf } from './incremental.js'
import { contentKey, rowVersions, type CatalogStore, type Head, type HeadLists, type StoredBucket } from './persist.js'
import type { PreviousLists } from './quick-refresh.js'
import { sortedIndexOf } from '../util/sorted.js'
import type { CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import type { CatalogView, PhotoColumns, StreamRow } from './view.js'

/**
 * Buckets kept, as read (their text, scanned, and the rows asked for parsed): up to 128 photos
 * each (persist.ts PHOTOS_PER_BUCKET; up to 2,000 in a catalog saved by an older flickrfs and
 * merged into since). Photos are spread over the buckets by a hash of their id, so a bigger cache buys a reader going through the photos
 * in any order little: it serves the same photo read again (its record, then its comments).
 */
const DEFAULT_BUCKETS_CACHED = 8

/**
 * Photos whose row was read alone (CatalogStore.readRow) kept, as read: a sidecar asks its photo's
 * record and then its comments, and a few readers go at once.
 */
const ROWS_CACHED = 64

/** What the view reads buckets from: the store it was opened with (open while the view is used). */
type BucketSource = Pick<CatalogStore, 'readBucket' | 'readRow' | 'path'>

/** Where a photo's record and comments are read from: its bucket, or its row alone (a StoredBucket of one row). */
type RowSource = Pick<StoredBucket, 'record' | 'comments'>

interface Caches {
  buckets: LRUCache<string, Promise<StoredBucket>>
  /** By `<chunk key> <photo id>`. */
  rows: LRUCache<string, Promise<RowSource>>
}

export interface LazyViewOptions {
  /** How many parsed buckets to keep (default 8). */
  bucketsCached?: number
}

export class LazyView implements CatalogView {
  readonly #head: Head
  readonly #pages: readonly ListingPage[]
  readonly #count: number
  /** Photos per page (all but the last page hold as many). */
  readonly #pageSize: number
  /** The photostream order, when it is not the pages' own first photos (Head.pages.streamLength). */
  readonly #stream: readonly string[] | undefined
  readonly #streamLength: number
  readonly #index: IdIndex
  readonly #lists: Pick<HeadLists, 'sets' | 'collections'>
  readonly #source: BucketSource
  readonly #bucketOf: (id: string) => string | undefined
  readonly #buckets: LRUCache<string, Promise<StoredBucket>>
  readonly #rows: LRUCache<string, Promise<RowSource>>

  private constructor(
    source: BucketSource, head: Head, pages: readonly ListingPage[], lists: Pick<HeadLists, 'sets' | 'collections'> & { photostream?: readonly string[] }, opts: LazyViewOptions,
    /** A view of the same pages and buckets under another head (withHead): its index and parsed buckets. */
    shared?: Caches & { index: IdIndex },
  ) {
    this.#source = source
    this.#head = head
    this.#pages = pages
    this.#count = pages.reduce((sum, p) => sum + p.n, 0)
    this.#pageSize = pages[0]?.n ?? 1
    this.#stream = lists.photostream
    this.#streamLength = lists.photostream?.length ?? head.pages?.streamLength ?? 0
    const count = this.#count
    this.#index = shared?.index ?? new LaterIdIndex(() => idIndexOf(pages, count))
    this.#lists = lists
    this.#bucketOf = rowVersions(head)
    this.#buckets = shared?.buckets ?? new LRUCache({ max: opts.bucketsCached ?? DEFAULT_BUCKETS_CACHED })
    this.#rows = shared?.rows ?? new LRUCache({ max: ROWS_CACHED })
  }

  /**
   * The view of `head` (which must name listing pages), read from `store`; undefined when one of its
   * chunks is gone (a writer replaced the catalog meanwhile: read the head again).
   */
  static async open(store: CatalogStore, head: Head, opts: LazyViewOptions = {}): Promise<LazyView | undefined> {
    if (head.pages === undefined || head.chunks.listing === undefined) throw new FlickrfsError('INTERNAL', 'a lazy view needs a head with listing pages')
    const pages: ListingPage[] = []
    // The lists are read (by sqlite, off this thread) while the pages are parsed: ~40 ms of a
    // mount's start at 1,000,000 items, where they were read after them.
    const reading = head.pages.streamLength === undefined ? store.readLists(head) : store.readSetsAndCollections(head)
    // Its failure is awaited below, after the pages': not an unhandled rejection meanwhile.
    reading.catch(() => undefined)
    // Each page parsed and then dropped: only its arrays and joined strings are kept.
    const whole = await store.eachListingPage(head, (page) => pages.push(new ListingPage(page)))
    const lists = await reading
    if (!whole || lists === undefined) return undefined
    if (pages.some((p, i) => i < pages.length - 1 && p.n !== pages[0]?.n)) throw new FlickrfsError('CATALOG', `The listing pages of the catalog ${store.path} are not of one size; delete the file to rebuild it from Flickr.`)
    return new LazyView(store, head, pages, lists, opts)
  }

  /**
   * The view of `head` from its pages already decoded (a merge made them: lazy-merge.ts, the
   * unchanged ones this view's own) and its sets and collections; `head` must hold the
   * photostream as its pages' order (Head.pages.streamLength).
   */
  static ofPages(store: BucketSource, head: Head, pages: readonly ListingPage[], lists: Pick<HeadLists, 'sets' | 'collections'>): LazyView {
    if (head.pages?.streamLength === undefined) throw new FlickrfsError('INTERNAL', 'a lazy view of decoded pages needs the photostream in their order')
    return new LazyView(store, head, pages, lists, {})
  }

  /** Its photo id → position index, when this view is of `generation` (a full listing's merge finds each listed photo by it). */
  indexOf(generation: string): IdIndex | undefined {
    return generation === this.#head.generation ? this.#index : undefined
  }

  /** The decoded listing pages of `generation`, when this view is of it (a merge packs the next ones from them). */
  pagesOf(generation: string): readonly ListingPage[] | undefined {
    return generation === this.#head.generation ? this.#pages : undefined
  }

  /**
   * The lists of `generation`, when this view is of it, as a refresh that finds nothing new reads
   * them (quick-refresh.ts): the sets and collections it holds, and the photostream's length, ids
   * and membership from the pages and the id index (no copy of the order, no Set of its ids).
   */
  listsOf(generation: string): PreviousLists | undefined {
    if (generation !== this.#head.generation) return undefined
    const { sets, collections } = this.#lists
    if (this.#stream !== undefined) return { photostream: lookupOf(this.#stream), sets, collections }
    const length = this.#streamLength
    const photostream = { length, at: (pos: number) => this.photostreamId(pos), has: (id: string) => this.#inStream(id) }
    return { photostream, sets, collections }
  }

  /** Photo `id` is in the photostream: the pages start with it (no #stream held), so its position is within it. */
  #inStream(id: string): boolean {
    const at = this.#index.find(id)
    return at !== undefined && at < this.#streamLength
  }

  /**
   * This view under `head`, a later save of the very same chunks and pages (a refresh that found
   * nothing to change saves the head again, quick-refresh.ts): the pages are not read again.
   * Undefined when `head` names other content.
   */
  withHead(head: Head): LazyView | undefined {
    const was = this.#head
    const same = contentKey(head) === contentKey(was) && sameNames(head.chunks.listing, was.chunks.listing) &&
      JSON.stringify(head.pages) === JSON.stringify(was.pages)
    if (!same) return undefined
    return new LazyView(this.#source, head, this.#pages, { ...this.#lists, ...(this.#stream !== undefined ? { photostream: this.#stream } : {}) }, {}, {
      index: this.#index,
      buckets: this.#buckets,
      rows: this.#rows,
    })
  }

  get userId(): string {
    return this.#head.userId
  }
  get userName(): string {
    return this.#head.userName
  }
  get refreshedAtMs(): number {
    return this.#head.refreshedAtMs
  }
  get photostreamChangedAtMs(): number {
    return this.#head.photostreamChangedAtMs
  }
  get photostreamLength(): number {
    return this.#streamLength
  }
  /** The pages' own order is the photostream only when it lists each id once (listing-pages.ts photoOrder: streamInOrder). */
  get photostreamListsEachOnce(): boolean {
    return this.#stream === undefined
  }
  streamRow(pos: number, row: StreamRow): boolean {
    // In the pages' own order the photo is at `pos`; else its id is looked up.
    const at = this.#stream === undefined ? pos : this.#index.find(this.#stream[pos] as string)
    if (at === undefined) return false
    const page = this.#pages[Math.floor(at / this.#pageSize)] as ListingPage
    page.streamRow(at % this.#pageSize, row)
    return true
  }
  photostreamId(pos: number): string {
    if (this.#stream !== undefined) return this.#stream[pos] as string
    const id = this.#at(pos, (page, i) => page.id(i))
    // The order is the pages' own: a reader of the order asks this photo's columns next (the
    // layout's build, 1,000,000 times before a mount is up), then found without a search.
    this.#index.remember(id, pos)
    return id
  }
  get photoCount(): number {
    return this.#count
  }
  photo(id: string): PhotoColumns | undefined {
    const at = this.#index.find(id)
    // The id found is the one asked for: the answer holds the caller's string, not a copy cut from the page.
    return at === undefined ? undefined : this.#at(at, (page, i) => page.columns(i, id))
  }
  media(id: string, secret: string): MediaEntry | undefined {
    return this.#ofOriginal(id, secret, (page, i) => page.media(i))
  }
  mediaExt(id: string, secret: string): string | undefined {
    return this.#ofOriginal(id, secret, (page, i) => page.ext(i))
  }
  /** `read` of photo `id`'s page row when its current original is of `secret`. */
  #ofOriginal<T>(id: string, secret: string, read: (page: ListingPage, i: number) => T): T | undefined {
    const at = this.#index.find(id)
    if (at === undefined) return undefined
    return this.#at(at, (page, i) => (page.secretIs(i, secret) ? read(page, i) : undefined))
  }
  eachPhoto(fn: (photo: PhotoColumns) => void): void {
    for (const page of this.#pages) for (let i = 0; i < page.n; i++) fn(page.columns(i))
  }
  record(id: string): Promise<PhotoEntry | undefined> {
    return this.#rowsHolding(id).then((b) => b?.record(id))
  }
  comments(id: string): Promise<readonly RawRecord[] | undefined> {
    return this.#rowsHolding(id).then((b) => b?.comments(id))
  }
  sidecarSize(id: string, ignoreViews: boolean): number | undefined {
    const at = this.#index.find(id)
    return at === undefined ? undefined : this.#at(at, (page, i) => page.sidecarSize(i, ignoreViews))
  }
  get sets(): readonly SetEntry[] {
    return this.#lists.sets
  }
  get collections(): readonly CollectionEntry[] {
    return this.#lists.collections
  }

  #at<T>(pos: number, fn: (page: ListingPage, i: number) => T): T {
    return fn(this.#pages[Math.floor(pos / this.#pageSize)] as ListingPage, pos % this.#pageSize)
  }

  /**
   * Where photo `id`'s record and comments are read from: its bucket when it is cached, else its
   * row read alone when the store has that bucket indexed (a pin writing the sidecars of a bulk
   * merge in photostream order meets every bucket ~40 times at 100,000 photos: each time its
   * ~100 KB read, scanned and let go cost ~1 ms of CPU), else its bucket read; undefined for a
   * photo the catalog does not hold. One read per bucket or row shared by its askers.
   */
  #rowsHolding(id: string): Promise<RowSource | undefined> {
    if (this.#index.find(id) === undefined) return Promise.resolve(undefined)
    const key = this.#bucketOf(id)
    if (key === undefined) return Promise.resolve(undefined)
    const bucket = this.#buckets.get(key)
    if (bucket !== undefined) return bucket
    const at = `${key} ${id}`
    let row = this.#rows.get(at)
    if (row === undefined) {
      const read: Promise<RowSource> = this.#source.readRow(key, id).then((one) => {
        if (one === undefined) throw this.#gone()
        if (one !== null) return one
        // Not indexed: its bucket is read, and kept among the buckets (never here, where it would outlive them).
        if (this.#rows.get(at) === read) this.#rows.delete(at)
        return this.#bucket(key)
      })
      this.#rows.set(at, (row = read))
      read.catch(() => this.#rows.get(at) === read && this.#rows.delete(at))
    }
    return row
  }

  /** The decoded bucket of chunk `key`. One decode per bucket shared by its askers. */
  #bucket(key: string): Promise<StoredBucket> {
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = this.#decode(key)
      this.#buckets.set(key, bucket)
      // A failed decode is not kept: the next ask tries again (and fails again if the chunk is gone).
      bucket.catch(() => this.#buckets.get(key) === bucket && this.#buckets.delete(key))
    }
    return bucket
  }

  async #decode(key: string): Promise<StoredBucket> {
    const bucket = await this.#source.readBucket(key)
    if (bucket === undefined) throw this.#gone()
    return bucket
  }

  #gone(): FlickrfsError {
    return new FlickrfsError(
      'CATALOG',
      `A part of the catalog ${this.#source.path} that was being read is gone (another flickrfs saved a new catalog meanwhile); open it again.`,
    )
  }
}

/**
 * Photo id → position in the pages. Flickr's ids are decimal numbers below 2^53: then a sorted
 * Float64Array and the positions beside it (12 bytes a photo, no string kept); any other id (the
 * layout allows letters, names.ts isSafeId) and it is a Map.
 */
export interface IdIndex {
  find(id: string): number | undefined
  /** `id` was read at position `at` of the pages: the next find of it may answer that at once. */
  remember(id: string, at: number): void
}

export function idIndexOf(pages: readonly ListingPage[], count: number): IdIndex {
  const keys = new Float64Array(count)
  let at = 0
  for (const page of pages) {
    for (let i = 0; i < page.n; i++, at++) {
      // Read from the page's joined ids in place: no string per photo.
      const key = page.numericId(i)
      if (key === undefined) return MapIndex.of(pages)
      keys[at] = key
    }
  }
  return NumericIndex.of(keys) ?? MapIndex.of(pages)
}

/**
 * The id index, made at the first question it cannot answer from the photo read last. A reader of
 * the order asks each photo's columns right after its id (the layout's build, 1,000,000 times
 * before a mount is up, and photostream/'s first listing): those need no index, and sorting
 * 1,000,000 ids (~0.1-0.17 s) waited in front of the mount's first listing (bench/RESULTS.md
 * "Session 51"). The answer is the index's: the pages hold each id once (listing-pages.ts
 * photoOrder; a merge's writePages packs each slot once), so the position an id was read at is the
 * one the index holds.
 */
class LaterIdIndex implements IdIndex {
  #made: IdIndex | undefined
  readonly #make: () => IdIndex
  #lastId: string | undefined
  #lastAt = 0

  constructor(make: () => IdIndex) {
    this.#make = make
  }

  remember(id: string, at: number): void {
    if (this.#made !== undefined) this.#made.remember(id, at)
    else {
      this.#lastId = id
      this.#lastAt = at
    }
  }

  find(id: string): number | undefined {
    if (this.#made === undefined) {
      if (id === this.#lastId) return this.#lastAt
      this.#made = this.#make()
    }
    return this.#made.find(id)
  }
}

class NumericIndex implements IdIndex {
  /** The last id found and its position: a reader asks several columns of one photo in a row. */
  #lastId: string | undefined
  #lastAt: number | undefined

  private constructor(
    private readonly sorted: Float64Array,
    private readonly positions: Uint32Array,
  ) {}

  /**
   * The index of `keys` (one per position); undefined when a key repeats (a position could not be
   * told by its id). The keys are sorted natively; each position is then found by binary search.
   */
  static of(keys: Float64Array): NumericIndex | undefined {
    const sorted = keys.slice().sort()
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) return undefined
    const positions = new Uint32Array(keys.length)
    for (let pos = 0; pos < keys.length; pos++) positions[sortedIndexOf(sorted, keys[pos] as number)] = pos
    return new NumericIndex(sorted, positions)
  }

  /** Each id is at one position (`of` refuses a repeated key), so the one it was read at. */
  remember(id: string, at: number): void {
    this.#lastId = id
    this.#lastAt = at
  }

  find(id: string): number | undefined {
    if (id === this.#lastId) return this.#lastAt
    const key = numericId(id)
    const at = key === undefined ? -1 : sortedIndexOf(this.sorted, key)
    this.#lastId = id
    this.#lastAt = at < 0 ? undefined : this.positions[at]
    return this.#lastAt
  }
}

class MapIndex implements IdIndex {
  private constructor(private readonly byId: ReadonlyMap<string, number>) {}
  static of(pages: readonly ListingPage[]): MapIndex {
    const byId = new Map<string, number>()
    let at = 0
    for (const page of pages) for (let i = 0; i < page.n; i++, at++) byId.set(page.id(i), at)
    return new MapIndex(byId)
  }
  find(id: string): number | undefined {
    return this.byId.get(id)
  }
  /** An id here may be at several positions (the map holds its last): nothing to remember. */
  remember(): void {}
}

function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((name, i) => name === b[i]))
}
