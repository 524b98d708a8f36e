/**
 * The catalog on disk: keyv + @keyv/sqlite, namespace "catalog", in ROOT/.flickrfs/catalog.sqlite.
 *
 * Format (schema 2; schema 1 is the same with every chunk in one row): a handful of
 * content-addressed chunks (`chunk:<sha1>`, each one JSON string, a long one stored in parts:
 * chunk-rows.ts) and one `head` key naming the chunks of the current catalog. Photos are spread over
 * 2^k buckets by a hash of their id (up to 128 per bucket: PHOTOS_PER_BUCKET), so an edit
 * rewrites one small bucket, not the whole catalog, a lazy reader reads ~100 KB and parses one
 * photo's row of it (StoredBucket), and loading 100k photos is about a thousand JSON.parse calls
 * (read ~16 buckets a statement) instead of 100k key reads. A save writes every new chunk first and the head last: a crash at any point leaves
 * the old head pointing at old chunks that are all still there. Old chunks are deleted only after
 * the new head is written, under the root lock; a reader that loses a race with that cleanup
 * re-reads the head and tries again.
 */
import { createHash } from 'node:crypto'
import createDebug from '../util/debug.js'
import type KeyvSqlite from '@keyv/sqlite'
import Keyv from 'keyv'
import { LRUCache } from 'lru-cache'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { exists } from '../util/fs.js'
import { confineState } from '../util/confine.js'
import { isDamagedDb, openSqliteAdapter } from '../util/sqlite.js'
import { catalogPath } from '../util/state-paths.js'
import { CHUNK_PREFIX, ChunkRows, chunkKeyOf, PendingRows, type PartEnds } from './chunk-rows.js'
import { decimalValue, numericId } from './decimal-id.js'
import { jsonPieces } from './json-pieces.js'
import { JsonRows } from './json-rows.js'
import { ValueInterner } from './intern.js'
import { ListingPage, PAGE_PHOTOS, packPage, photoOrder, type StoredPage } from './listing-pages.js'
import { MediaByPhoto } from './media-map.js'
import { photoFields } from './records.js'
import { sameItems } from './same-json.js'
import type { ListingMarks } from './incremental.js'
import type { SidecarSizer } from './ports.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'

const debug = createDebug('flickrfs:catalog')

/**
 * The schema a save writes. 2: schema 1 with a long chunk stored in parts (chunk-rows.ts); an older
 * flickrfs, which would read a parted chunk's marker as JSON, refuses it in one line instead.
 */
export const SCHEMA_VERSION = 2
/** The schemas read: 1 is read as it is (a chunk in one row is read the same way under either). */
const SCHEMAS_READ: readonly number[] = [1, 2]
const NAMESPACE = 'catalog'
const HEAD_KEY = 'head'
/**
 * Photos per bucket (a chunk of photo rows, read whole for any one of them): a sidecar read from a
 * lazily served catalog reads its photo's bucket (and scans it for its row, StoredBucket), and a
 * merge rewrites every bucket it touches. 128 keeps both small: ~100 KB a bucket, where 2,000
 * (before) made ~1.8 MB buckets that took 16–23 ms each to read and parse (bench/RESULTS.md,
 * "Session 23").
 */
const PHOTOS_PER_BUCKET = 128
const MAX_BUCKETS = 16_384
/**
 * Photos per bucket of a catalog saved by a flickrfs before PHOTOS_PER_BUCKET was 128: a merge
 * keeps such buckets (sameBuckets) until a whole save makes the smaller ones.
 */
const OLDER_PHOTOS_PER_BUCKET = 2000
/** Photos a whole load reads per sqlite statement (bucketsPerRead): ~2 MB of text. */
const PHOTOS_PER_READ = 2048
/** The bytes of bucket indexes a CatalogStore keeps (its rowIndex). */
const ROW_INDEX_CACHED_BYTES = 16 * 1024 * 1024

export interface Head {
  schema: number
  /** Changes on every save; lets a reader tell whether the catalog on disk moved. */
  generation: string
  writtenAtMs: number
  userId: string
  userName: string
  refreshedAtMs: number
  photostreamChangedAtMs: number
  photoCount: number
  chunks: { photos: string[]; photostream: string; sets: string; collections: string; listing?: string[] }
  /**
   * Of the packed listing pages (`chunks.listing`, listing-pages.ts), saved when the writer had a
   * sidecar sizer: absent in catalogs saved without one (a reader then loads every record).
   */
  pages?: ListingPagesMeta
  /** Absent in catalogs saved before incremental refreshes: the next refresh then lists everything. */
  listing?: ListingMarks
  /**
   * What the incremental rules need to know of every photo, so that a refresh can tell "nothing
   * changed" from the head and the small chunks alone (incremental.ts unchangedListing). Absent in
   * catalogs saved before it: such a refresh decodes every photo, as before.
   */
  facts?: PhotoFacts
}

/** A save's listing pages: the sidecar sizer they store the sizes of, and their size (tests make several of a small account). */
export interface ListingPagesOptions {
  sizer: SidecarSizer
  /** Default PAGE_PHOTOS (listing-pages.ts). */
  photosPerPage?: number
}

/** See Head.pages. */
export interface ListingPagesMeta {
  /** The sizer's format (layout's PHOTO_METADATA_FORMAT): the pages' sidecar sizes are of that JSON. */
  sidecarFormat: number
  /** Photos per page: every page but the last holds as many. */
  photosPerPage: number
  /** Present when the photostream is exactly the pages' first `streamLength` photos: then it need not be read. */
  streamLength?: number
  /**
   * Every page holds its photos' record hashes (listing-pages.ts `rh`), so a full listing can be
   * merged (full-merge.ts). A whole save packs again any page of a head without it.
   */
  recordHashes?: true
}

/** Of the photos a head holds: see Head.facts. */
export interface PhotoFacts {
  /** Photos with no original on record for their (id, secret): they could not be had last time. */
  unresolved: number
  /** Originals stored as a transcode (a refresh with cookies resolves them again when its plan says so), as the report lists them. */
  transcodes: Array<{ id: string; label: string }>
}

/** What MergeSave.commit writes beside the buckets its putRows wrote: see beginMerge and lazy-merge.ts. */
export interface MergedCatalog {
  photostream: readonly string[]
  sets: readonly SetEntry[]
  collections: readonly CollectionEntry[]
  head: Pick<Head, 'userId' | 'userName' | 'refreshedAtMs' | 'photostreamChangedAtMs' | 'photoCount'>
  /** The listing pages: `write` stores each through `put` and gives their keys in order. */
  pages?: { meta: ListingPagesMeta; write: (put: (page: StoredPage) => Promise<string>) => Promise<string[]> }
  listing?: ListingMarks
  facts: PhotoFacts
}

/**
 * Whether a merge into `head` of a catalog of `photoCount` photos keeps its buckets (else every
 * photo moves bucket, and the catalog is saved whole): the number a save would choose, or fewer
 * that hold no more photos each than an older flickrfs put in one (OLDER_PHOTOS_PER_BUCKET). So a
 * big catalog saved before buckets were small is not read whole for its first merge after an
 * upgrade; its next whole save makes the small buckets.
 */
export function sameBuckets(head: Pick<Head, 'chunks'>, photoCount: number): boolean {
  const count = head.chunks.photos.length
  const chosen = bucketCountFor(photoCount)
  return count === chosen || (count > 0 && count < chosen && photoCount <= count * OLDER_PHOTOS_PER_BUCKET)
}

/** Whether `head`'s buckets are as many as a whole save of `photoCount` photos makes (not an older flickrfs's bigger ones). */
export function bucketsAsSaved(head: Pick<Head, 'chunks'>, photoCount: number): boolean {
  return head.chunks.photos.length === bucketCountFor(photoCount)
}

/** The head's lists, without the photo buckets. */
export interface HeadLists {
  photostream: string[]
  sets: SetEntry[]
  collections: CollectionEntry[]
}

/** One photo with everything that hangs off it, as stored in a bucket. */
interface PhotoRow {
  /** the people.getPhotos record */
  r: RawRecord
  /** changedAtMs */
  c: number
  /** changedAtMsIgnoringViews */
  v: number
  /** lastupdate at which comments were fetched */
  k?: number
  /** comments */
  m?: RawRecord[]
  /** the MediaEntry of the current (id, secret) */
  e?: MediaEntry
}

type StoredCollection = Omit<CollectionEntry, 'children'> & { children: StoredCollection[] }

/** Some photos decoded from their buckets (decodeBucketsOf), each with all that hangs off it. */
export type DecodedRows = Omit<DecodedPhotos, 'interner'>

/** The photo buckets as loaded: everything of a CatalogSnapshot that hangs off a photo. */
interface DecodedPhotos {
  /** Shares the values that repeat from record to record (intern.ts); dropped with the decode. */
  interner: ValueInterner
  photos: Map<string, PhotoEntry>
  comments: Map<string, RawRecord[]>
  media: MediaByPhoto
  commentsFetchedAt: Map<string, number>
}

export class CatalogStore {
  /** The chunks' rows (chunk-rows.ts: a long chunk in parts); the head goes through keyv. */
  private readonly rows: ChunkRows
  /**
   * Where the rows of each bucket read lately are, and whose (BucketIndex), by chunk key: a reader
   * going through photos in photostream order (a pin writing the sidecars a merge changed) meets
   * each bucket again and again, since the buckets hold photos by a hash of their id. The scan was
   * most of a read (~0.28 ms a bucket of 128 photos); and once a bucket is indexed, a photo of it
   * is read as its own row's bytes alone (readRow). ~2 KB a bucket: 16 MB holds the 8,192 of a
   * 1,000,000-photo catalog.
   */
  private readonly rowIndex = new LRUCache<string, BucketIndex>({ maxSize: ROW_INDEX_CACHED_BYTES, sizeCalculation: indexBytes })

  private constructor(
    private readonly keyv: Keyv<string>,
    adapter: KeyvSqlite,
    readonly path: string,
    private readonly photosPerBucket: number,
  ) {
    this.rows = new ChunkRows(adapter, NAMESPACE)
  }

  /** `photosPerBucket`: what a whole save aims at (PHOTOS_PER_BUCKET; CatalogOpenOptions.photosPerBucket). */
  static async open(root: string, opts: { readOnly?: boolean; photosPerBucket?: number | undefined } = {}): Promise<CatalogStore> {
    const perBucket = opts.photosPerBucket ?? PHOTOS_PER_BUCKET
    const path = catalogPath(root)
    // The state folder made and checked: a link planted there (or in the catalog's name) is refused.
    if (opts.readOnly !== true) await confineState(root)
    else if (!(await exists(path))) {
      throw new FlickrfsError('CATALOG', `There is no catalog in ${root} yet (${path} is missing). Run flickrfs pin or mount on it once to create it.`)
    }
    // Read-only opens write nothing, so they also work on a read-only DEST (see util/sqlite.ts).
    const adapter = openSqliteAdapter(path, { busyTimeout: 15_000, readOnly: opts.readOnly === true })
    // Chunks are JSON strings we make ourselves: store them as they are instead of keyv's
    // recursive serializer, which would escape 100 MB of JSON a second time.
    const keyv = new Keyv<string>(adapter, {
      namespace: NAMESPACE,
      serialize: (data) => String(data.value),
      deserialize: (text) => ({ value: text as never }),
      throwOnErrors: true,
    })
    if (opts.readOnly === true) return new CatalogStore(keyv, adapter, path, perBucket)
    try {
      await adapter.query('PRAGMA journal_mode=WAL')
    } catch (err) {
      // Another process in the middle of a write can refuse the switch; rollback journal works too.
      if (!/SQLITE_BUSY|locked/i.test(String(err))) {
        await keyv.disconnect().catch(() => undefined)
        throw openError(path, err)
      }
    }
    return new CatalogStore(keyv, adapter, path, perBucket)
  }

  async readHead(): Promise<Head | undefined> {
    const text = await this.reading(() => this.keyv.get(HEAD_KEY))
    if (text === undefined) return undefined
    const head = JSON.parse(text) as Head
    if (!SCHEMAS_READ.includes(head.schema)) {
      throw new FlickrfsError(
        'CATALOG',
        `The catalog in ${this.path} has schema version ${head.schema}, but this flickrfs reads versions ${SCHEMAS_READ.join(' and ')}` +
          (head.schema > SCHEMA_VERSION ? ' (it was written by a newer flickrfs). Upgrade flickrfs, or' : ' and cannot migrate it.') +
          ` Delete ${this.path} to rebuild the catalog from Flickr (downloaded originals are kept).`,
      )
    }
    return head
  }

  /** The catalog as last saved, or undefined when none was ever saved. */
  async load(): Promise<{ head: Head; state: CatalogState } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.readHead()
      if (head === undefined) return undefined
      const state = await this.decode(head)
      if (state !== undefined) return { head, state }
      // A writer replaced the catalog between our head read and our chunk reads.
      if (attempt >= 5) throw missingPartsError(this.path)
      debug('head moved while loading; retrying')
    }
  }

  /**
   * Writes `state` as the new catalog: new chunks first, the head last (the one atomic step), then
   * removes the chunks only the previous head used. Call under the root lock.
   *
   * `previous` is the state the caller last loaded or saved: a bucket whose entries are all the
   * very same objects as there keeps its chunk without being serialized again, so a refresh that
   * changed little writes little. Buckets are written one at a time to keep the peak memory low.
   * `decoded`, when given, receives the listing pages decoded as they were packed, for a lazy view
   * of the saved catalog that does not read them back (Catalog's let-go); it is left empty when a
   * page kept its chunk from the previous save (not packed, so not at hand).
   */
  async save(state: CatalogState, nowMs: number, previous?: { state: CatalogState; head: Head }, pages?: ListingPagesOptions, decoded?: ListingPage[]): Promise<Head> {
    const before = await this.readHead()
    const writer = new ChunkWriter(this.rows, before === undefined ? [] : allChunkKeys(before))
    const reusable = previous !== undefined && before !== undefined && previous.head.generation === before.generation ? previous : undefined
    const snap = state.snap
    // A list whose items are the very same as at the previous save keeps its chunk, unserialized.
    const list = async (key: 'photostream' | 'sets' | 'collections'): Promise<string> =>
      reusable !== undefined && sameItems(snap[key], reusable.state.snap[key]) ? reusable.head.chunks[key] : writer.put(snap[key])
    const chunks: Head['chunks'] = {
      photos: await writePhotoBuckets(state, reusable, writer, this.photosPerBucket),
      photostream: await list('photostream'),
      sets: await list('sets'),
      collections: await list('collections'),
    }
    // Derived from the rows above, as the same atomic save: the head names them or none.
    const written = pages === undefined ? undefined : await writeListingPages(state, reusable, writer, pages, decoded)
    if (written !== undefined) chunks.listing = written.keys
    const head = withDerived(headOf(snap, chunks, nowMs), { pages: written?.meta, listing: state.listing, facts: photoFacts(snap) })
    return this.commitHead(head, writer, 'catalog')
  }

  /**
   * A refresh that found nothing to change: the head again with the same chunks (so the same
   * content, see contentKey), its refresh time and listing marks moved on. Call under the root lock.
   * Undefined when `previous` is no longer the head (another writer saved meanwhile): nothing written.
   */
  async saveUnchanged(previous: Head, next: { refreshedAtMs: number; listing: ListingMarks }, nowMs: number): Promise<Head | undefined> {
    const before = await this.readHead()
    if (before?.generation !== previous.generation) return undefined
    const head: Head = { ...previous, generation: generationOf(previous.chunks, nowMs), writtenAtMs: nowMs, refreshedAtMs: next.refreshedAtMs, listing: next.listing }
    return this.commitHead(head, undefined, 'unchanged catalog')
  }

  /**
   * A change merged into the catalog of `previous` without loading it (lazy-merge.ts finishMerge),
   * in steps: the buckets holding a changed photo written anew, bucket group by bucket group (their
   * other rows as stored; MergeSave.putRows), then the lists, the pages and the head last
   * (MergeSave.commit), as `save` would write the merged catalog: the same chunks and the same
   * head. Call under the root lock. Undefined when `previous` is no longer the head.
   */
  async beginMerge(previous: Head): Promise<MergeSave | undefined> {
    const before = await this.readHead()
    if (before?.generation !== previous.generation) return undefined
    return new MergeSave(this, previous, new ChunkWriter(this.rows, allChunkKeys(before)))
  }

  /** MergeSave's commit: the head re-read (a writer may have saved while the merge ran), then the small chunks, the pages and the head. */
  async commitMerge(previous: Head, writer: ChunkWriter, photos: string[], merge: MergedCatalog, nowMs: number): Promise<Head | undefined> {
    const before = await this.readHead()
    if (before?.generation !== previous.generation) return undefined
    const chunks: Head['chunks'] = {
      photos,
      photostream: await writer.put(merge.photostream),
      sets: await writer.put(merge.sets),
      collections: await writer.put(merge.collections),
    }
    const pages = merge.pages === undefined ? undefined : await merge.pages.write((page) => writer.put(page))
    if (pages !== undefined) chunks.listing = pages
    const head = headOf({ ...merge.head, photos: { size: merge.head.photoCount } }, chunks, nowMs)
    return this.commitHead(withDerived(head, { pages: pages === undefined ? undefined : merge.pages?.meta, listing: merge.listing, facts: merge.facts }), writer, 'merged catalog')
  }

  /** The chunks a merge wrote that the head does not name (MergeSave.abandon): a merge that stopped leaves nothing behind. */
  async dropWritten(writer: ChunkWriter): Promise<number> {
    const head = await this.readHead()
    const named = new Set(head === undefined ? [] : allChunkKeys(head))
    await writer.flush()
    const stray = [...writer.keys].filter((k) => !writer.existing.has(k) && !named.has(k))
    if (stray.length > 0) await this.rows.delete(stray).catch((err: unknown) => debug('could not remove %d chunks of a merge that stopped: %s', stray.length, String(err)))
    return stray.length
  }

  /** One bucket of `previous` read, `ids` put in (from `changed`) or taken out (`gone`), and written; undefined when it is gone. */
  async mergeBucket(key: string, ids: readonly string[], changed: CatalogState, gone: ReadonlySet<string>, writer: ChunkWriter): Promise<string | undefined> {
    const text = await this.readText(key)
    if (text === undefined) return undefined
    const rows = new Map<string, PhotoRow>()
    for (const row of JSON.parse(text) as PhotoRow[]) rows.set(String(row.r.id), storedRowAgain(row))
    for (const id of ids) {
      if (gone.has(id)) rows.delete(id)
      else rows.set(id, rowOf(id, changed))
    }
    const sorted = [...rows.keys()].sort()
    return writer.put(sorted.map((id) => rows.get(id)))
  }

  /**
   * The last step of every save: the head written in one set (the atomic switch from the old
   * catalog to the new), then, by a save that wrote chunks, every chunk the new head does not name
   * removed (removeUnused).
   */
  private async commitHead(head: Head, writer: ChunkWriter | undefined, what: string): Promise<Head> {
    // Every chunk the head names is written before it.
    await writer?.flush()
    await this.keyv.set(HEAD_KEY, JSON.stringify(head))
    const removed = writer === undefined ? 0 : await this.removeUnused(head)
    debug('saved %s %s: %d photos, %d chunks written, %d removed', what, head.generation, head.photoCount, writer?.written ?? 0, removed)
    return head
  }

  /**
   * Deletes every chunk stored that `head` does not name: the old head's, and those a save killed
   * before its head left behind (a merge writes its buckets group by group as it goes: up to the
   * whole catalog's size). Under the root lock, once the new head is written. One read of the keys
   * (~45,000 at 1,000,000 photos); returns how many went.
   */
  private async removeUnused(head: Head): Promise<number> {
    const named = new Set(allChunkKeys(head))
    const stale = (await this.rows.keysStarting(CHUNK_PREFIX)).filter((k) => !named.has(k))
    // The new catalog is in place; leftovers only cost space and go with the next save.
    if (stale.length > 0) await this.rows.delete(stale).catch((err: unknown) => debug('could not remove %d old chunks: %s', stale.length, String(err)))
    return stale.length
  }

  /** The photostream order, the sets and the collections of `head`, without a photo; undefined when a chunk is gone. */
  async readLists(head: Head): Promise<HeadLists | undefined> {
    const [photostream, lists] = await Promise.all([this.readChunk<string[]>(head.chunks.photostream), this.readSetsAndCollections(head)])
    if (photostream === undefined || lists === undefined) return undefined
    return { photostream, ...lists }
  }

  /** The sets and the collections of `head` (not the photostream); undefined when a chunk is gone. */
  async readSetsAndCollections(head: Head): Promise<Omit<HeadLists, 'photostream'> | undefined> {
    const [sets, collections] = await Promise.all([this.readChunk<SetEntry[]>(head.chunks.sets), this.readChunk<StoredCollection[]>(head.chunks.collections)])
    if (sets === undefined || collections === undefined) return undefined
    return { sets, collections }
  }

  /**
   * Only the photos of `ids` that `head` holds, each with all that hangs off it, read from the
   * photo buckets that hold them. Undefined when a chunk is gone. The buckets' other photos are
   * parsed but not decoded: a no-change pin of 50,000 items reads the one bucket of the one photo
   * recentlyUpdated reports again, and decoding its ~1,500 others was most of that bucket's cost.
   */
  async decodeBucketsOf(head: Head, ids: Iterable<string>): Promise<DecodedRows | undefined> {
    const bucketOf = rowVersions(head)
    const keys = new Set<string>()
    const wanted = new Set<string>()
    for (const id of ids) {
      const key = bucketOf(id)
      if (key === undefined) continue
      keys.add(key)
      wanted.add(id)
    }
    return this.decodePhotos([...keys], bucketsPerRead(head), wanted)
  }

  /**
   * Each packed listing page of `head`, in order, parsed and handed to `fn` (which keeps what it
   * needs: one page's parse is held at a time), the next one read meanwhile; false when one is gone.
   */
  eachListingPage(head: Head, fn: (page: StoredPage) => void): Promise<boolean> {
    return this.eachChunk(head.chunks.listing ?? [], fn)
  }

  /**
   * The photo bucket of chunk `key` (one of `head.chunks.photos`), each photo's row parsed and its
   * entry made when asked for (a reader wants one photo of it, not the up to 128 of a whole parse);
   * undefined when it is gone.
   */
  async readBucket(key: string): Promise<StoredBucket | undefined> {
    const read = await this.reading(() => this.rows.readByteParts(key))
    if (read === undefined) return undefined
    const known = this.rowIndex.get(key)
    const bucket = new StoredBucket(read.bytes, known?.bounds)
    const bounds = bucket.rowBounds
    if (known === undefined && bounds !== undefined) this.rowIndex.set(key, { bounds, ends: read.ends, ids: rowIds(read.bytes, bounds) })
    return bucket
  }

  /**
   * Photo `id`'s row of the bucket of chunk `key`, read alone (its ~1 KB of the bucket's ~100 KB:
   * ChunkRows.readByteRange) when a readBucket of that chunk indexed it lately, as a StoredBucket
   * of that one row; null when it is not indexed (read the bucket); undefined when it is gone.
   */
  async readRow(key: string, id: string): Promise<StoredBucket | undefined | null> {
    const index = this.rowIndex.get(key)
    const n = numericId(id)
    const i = index?.ids === undefined || n === undefined ? -1 : index.ids.indexOf(n)
    if (index === undefined || i < 0) return null
    const row = await this.reading(() => this.rows.readByteRange(key, index.ends, index.bounds[2 * i] as number, index.bounds[2 * i + 1] as number))
    if (row === undefined) return undefined
    const one = new StoredBucket(Buffer.concat([OPEN_ARRAY, row, CLOSE_ARRAY]))
    // The index is of the very chunk (its key is its content's hash): a row not of `id` would be a bug, answered by the bucket.
    return one.record(id) === undefined ? null : one
  }

  /**
   * Reads and parses a few chunks at a time (bucketsPerRead): the sqlite driver copies each value
   * natively before V8 sees it, so fetching all chunks at once would hold the whole catalog's text
   * twice at the peak (and leave that much RSS behind). Undefined when a chunk is gone (a writer
   * replaced the catalog).
   */
  private async decode(head: Head): Promise<CatalogState | undefined> {
    const rows = await this.decodePhotos(head.chunks.photos, bucketsPerRead(head))
    if (rows === undefined) return undefined
    const photostream = await this.readChunk<string[]>(head.chunks.photostream)
    const sets = await this.readChunk<SetEntry[]>(head.chunks.sets)
    const collections = await this.readChunk<StoredCollection[]>(head.chunks.collections)
    if (photostream === undefined || sets === undefined || collections === undefined) return undefined
    shareIds(photostream, rows.photos)
    for (const set of sets) shareIds(set.photoIds, rows.photos)
    const snap: CatalogSnapshot = {
      userId: head.userId,
      userName: head.userName,
      photostream,
      photos: rows.photos,
      comments: rows.comments,
      media: rows.media,
      sets,
      collections,
      photostreamChangedAtMs: head.photostreamChangedAtMs,
      refreshedAtMs: head.refreshedAtMs,
    }
    return { snap, commentsFetchedAt: rows.commentsFetchedAt, ...(head.listing !== undefined ? { listing: head.listing } : {}) }
  }

  /** The photos of the buckets of `keys` (only those of `only`, when given), read `perRead` buckets a statement. */
  private async decodePhotos(keys: readonly string[], perRead: number, only?: ReadonlySet<string>): Promise<DecodedPhotos | undefined> {
    const into: DecodedPhotos = { interner: new ValueInterner(), photos: new Map(), comments: new Map(), media: new MediaByPhoto(), commentsFetchedAt: new Map() }
    const whole = await this.eachChunk<PhotoRow[]>(keys, (rows) => {
      for (const row of rows) if (only === undefined || only.has(String(row.r.id))) addRow(row, into)
    }, perRead)
    return whole ? into : undefined
  }

  /**
   * The chunks of `keys` parsed in order and handed to `fn` one at a time, read `perRead` chunks a
   * statement; the next ones are read (by sqlite, off the main thread) while these are parsed: two
   * reads' text at most, and the parsing never waits for the disk. False when one is gone (a writer
   * replaced the catalog).
   */
  private async eachChunk<T>(keys: readonly string[], fn: (value: T) => void, perRead = 1): Promise<boolean> {
    const read = (from: number): Promise<Array<string | undefined>> | undefined =>
      from < keys.length ? this.readTexts(keys.slice(from, from + perRead)) : undefined
    let next = read(0)
    for (let from = 0; next !== undefined; from += perRead) {
      const texts = await next
      next = read(from + perRead)
      for (let i = 0; i < texts.length; i++) {
        const text = texts[i]
        // Let go of each text once parsed.
        texts[i] = undefined
        // Gone, or not parsed: the read ahead is of no use now, and must not go unhandled.
        if (text === undefined) {
          void next?.catch(() => undefined)
          return false
        }
        try {
          fn(JSON.parse(text) as T)
        } catch (err) {
          void next?.catch(() => undefined)
          throw err
        }
      }
    }
    return true
  }

  private async readChunk<T>(key: string): Promise<T | undefined> {
    const text = await this.readText(key)
    return text === undefined ? undefined : (JSON.parse(text) as T)
  }

  private async readText(key: string): Promise<string | undefined> {
    return (await this.readTexts([key]))[0]
  }

  private readTexts(keys: readonly string[]): Promise<Array<string | undefined>> {
    return this.reading(() => this.rows.readMany(keys))
  }

  /** What `read` reads from the database; its failure told as the catalog's (openError: a damaged file says what to run). */
  private async reading<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read()
    } catch (err) {
      throw openError(this.path, err)
    }
  }

  async close(): Promise<void> {
    await this.keyv.disconnect()
  }
}

/**
 * Where the rows of one bucket are in its UTF-8 bytes (JsonRows.bounds), where its stored rows end
 * (ChunkRows.readByteParts), and the photo id of each row as a number: absent when a row does not
 * start with its record's decimal id (`{"r":{"id":"…"` as a save writes it), and only its bounds
 * are known.
 */
interface BucketIndex {
  bounds: Int32Array
  ends: PartEnds
  ids?: Float64Array
}

function indexBytes(index: BucketIndex): number {
  return Math.max(1, index.bounds.byteLength + index.ends.byteLength + (index.ids?.byteLength ?? 0))
}

const ROW_START = Buffer.from('{"r":{"id":"')
const QUOTE = 0x22
const OPEN_ARRAY = Buffer.from('[')
const CLOSE_ARRAY = Buffer.from(']')

/** The decimal id each row of `bytes` starts with (BucketIndex.ids), or undefined. */
function rowIds(bytes: Buffer, bounds: Int32Array): Float64Array | undefined {
  const ids = new Float64Array(bounds.length / 2)
  for (let i = 0; i < ids.length; i++) {
    const start = (bounds[2 * i] as number) + ROW_START.length
    if (bytes.compare(ROW_START, 0, ROW_START.length, start - ROW_START.length, start) !== 0) return undefined
    const end = bytes.indexOf(QUOTE, start)
    const n = end < 0 || end - start > 16 ? undefined : decimalValue(bytes.toString('latin1', start, end), 0, end - start)
    if (n === undefined) return undefined
    ids[i] = n
  }
  return ids
}

/**
 * One photo bucket as stored: a photo's row parsed from the bucket's UTF-8 bytes when first asked
 * for (json-rows.ts; the whole bucket only when its text is not rows as scanned, or the row is not
 * found by its id's text), its entry made once.
 */
export class StoredBucket {
  readonly #rows: JsonRows | undefined
  /** Rows parsed alone, by id. */
  readonly #parsed = new Map<string, PhotoRow>()
  readonly #entries = new Map<string, PhotoEntry>()
  #whole: Map<string, PhotoRow> | undefined

  /**
   * Throws as JSON.parse does when `bytes` is not JSON (a damaged chunk): at once, as a whole parse
   * would. `rowBounds`: those of an earlier StoredBucket of the very same bytes (same chunk key).
   */
  constructor(private readonly bytes: Buffer, rowBounds?: Int32Array) {
    this.#rows = JsonRows.of(bytes, rowBounds)
    if (this.#rows === undefined) this.#wholeRows()
  }

  /** Where each row is in the bytes (JsonRows.bounds); undefined when the bucket was parsed whole. */
  get rowBounds(): Int32Array | undefined {
    return this.#rows?.bounds
  }

  /** The same entry as a whole load makes of the row (addRow), or undefined when the bucket has no such photo. */
  record(id: string): PhotoEntry | undefined {
    let entry = this.#entries.get(id)
    const row = entry === undefined ? this.#row(id) : undefined
    if (entry === undefined && row !== undefined) {
      entry = photoFields(row.r, id, row.c, row.v)
      this.#entries.set(id, entry)
    }
    return entry
  }

  comments(id: string): RawRecord[] | undefined {
    return this.#row(id)?.m
  }

  #row(id: string): PhotoRow | undefined {
    if (this.#whole !== undefined) return this.#whole.get(id)
    let found = this.#parsed.get(id)
    if (found !== undefined) return found
    // Its record's `"id":"<id>"`; a comment or an original of another photo may hold the same text.
    for (const text of (this.#rows as JsonRows).holding(`"id":${JSON.stringify(id)}`)) {
      const row = JSON.parse(text) as PhotoRow
      if (String(row.r.id) === id) {
        found = row
        break
      }
    }
    // Not found by its text (an id stored as a number, say): the whole bucket says.
    if (found === undefined) return this.#wholeRows().get(id)
    this.#parsed.set(id, found)
    return found
  }

  #wholeRows(): Map<string, PhotoRow> {
    if (this.#whole === undefined) {
      this.#whole = new Map()
      for (const row of JSON.parse(this.bytes.toString('utf8')) as PhotoRow[]) this.#whole.set(String(row.r.id), row)
      this.#parsed.clear()
    }
    return this.#whole
  }
}

/**
 * The changed photos a merge fetches and writes at once (lazy-merge.ts finishMerge): a bulk edit
 * of 300,000 photos is merged in groups of buckets holding about this many changed photos each,
 * so that only one group's rows, comments and originals are held at a time. A quick refresh of a
 * catalog served lazily decodes the rows of no more reported photos than this (quick-refresh.ts).
 */
export const MERGE_GROUP_PHOTOS = 10_000

/**
 * A merge's save in steps (CatalogStore.beginMerge): `putRows` for each group of buckets (a bucket
 * once in the whole merge), then `commit`, or `abandon` to drop what was written. Nothing is named
 * by the head before the commit: a kill leaves the old catalog.
 */
export class MergeSave {
  readonly #keys: string[]
  readonly #done = new Set<number>()

  constructor(
    private readonly store: CatalogStore,
    private readonly previous: Head,
    private readonly writer: ChunkWriter,
  ) {
    this.#keys = [...previous.chunks.photos]
  }

  /** The bucket each of `ids` is in (its index in the head's buckets). */
  static bucketOf(head: Pick<Head, 'chunks'>, id: string): number {
    return fnv1a(id) % head.chunks.photos.length
  }

  /**
   * The rows of `changed` put into their buckets and those of `removed` taken out; false when a
   * bucket is gone. Throws when a bucket was written by an earlier call: each is read from the
   * previous head, so the groups must not share one.
   */
  async putRows(changed: CatalogState, removed: readonly string[]): Promise<boolean> {
    const touched = new Map<number, string[]>()
    for (const id of [...changed.snap.photos.keys(), ...removed]) {
      const b = MergeSave.bucketOf(this.previous, id)
      const ids = touched.get(b)
      if (ids === undefined) touched.set(b, [id])
      else ids.push(id)
    }
    const gone = new Set(removed)
    for (const [b, ids] of touched) {
      if (this.#done.has(b)) throw new Error(`bucket ${b} merged twice`)
      this.#done.add(b)
      const key = await this.store.mergeBucket(this.#keys[b] as string, ids, changed, gone, this.writer)
      if (key === undefined) return false
      this.#keys[b] = key
    }
    return true
  }

  commit(merge: MergedCatalog, nowMs: number): Promise<Head | undefined> {
    return this.store.commitMerge(this.previous, this.writer, this.#keys, merge, nowMs)
  }

  /** Drops every chunk written so far that no head names. */
  async abandon(): Promise<void> {
    const n = await this.store.dropWritten(this.writer)
    if (n > 0) debug('a merge that stopped: %d chunks it wrote removed', n)
  }
}

/** Writes content-addressed chunks, skipping the ones already stored under the current head. */
class ChunkWriter {
  readonly existing: ReadonlySet<string>
  written = 0
  /** The keys put that were not stored under the head (MergeSave.abandon removes them). */
  readonly keys = new Set<string>()
  /** Small chunks are written several to a statement (a WAL commit each): flush() before the head. */
  readonly #pending = new PendingRows()

  constructor(
    private readonly rows: ChunkRows,
    existing: readonly string[],
  ) {
    this.existing = new Set(existing)
  }

  /**
   * Stores `value` as JSON (unless already there) and returns its key. The text is made twice in
   * pieces, never whole (json-pieces.ts says why): once for its key, once as it is written.
   */
  async put(value: unknown): Promise<string> {
    const pieces = (): Iterable<string> => jsonPieces(value)
    const key = chunkKeyOf(pieces)
    if (!this.existing.has(key)) {
      await this.rows.writePieces(key, pieces, this.#pending)
      this.written++
      this.keys.add(key)
    }
    return key
  }

  /** Writes the small chunks put and not written yet (ChunkRows.writePieces's `pending`). */
  flush(): Promise<void> {
    return this.rows.flush(this.#pending)
  }
}

/**
 * The page order of each snapshot saved with pages in this process (a writer's last one is alive):
 * the next save compares its pages with it without making it again (~1 s at 1,000,000 photos).
 */
const pagedOrders = new WeakMap<CatalogSnapshot, ReturnType<typeof photoOrder>>()

function orderOf(snap: CatalogSnapshot): ReturnType<typeof photoOrder> {
  return pagedOrders.get(snap) ?? photoOrder(snap)
}

/**
 * The listing pages of `state` (listing-pages.ts). A page whose photos are the very same, at the
 * same places, as at the previous save of pages of the same format keeps its chunk unpacked (as
 * buckets do), so a save that changed nothing writes no page and one that changed a photo writes one.
 */
async function writeListingPages(
  state: CatalogState,
  reusable: { state: CatalogState; head: Head } | undefined,
  writer: ChunkWriter,
  { sizer, photosPerPage = PAGE_PHOTOS }: ListingPagesOptions,
  decoded?: ListingPage[],
): Promise<{ keys: string[]; meta: ListingPagesMeta }> {
  const oldMeta = reusable?.head.pages
  const old = oldMeta?.sidecarFormat === sizer.format && oldMeta.photosPerPage === photosPerPage && oldMeta.recordHashes === true ? reusable : undefined
  const oldOrder = old === undefined ? undefined : orderOf(old.state.snap)
  // A refresh that changed nothing keeps the order and the photos themselves: so does the page order.
  const sameOrder = oldOrder !== undefined && old?.state.snap.photostream === state.snap.photostream && old.state.snap.photos === state.snap.photos
  const order = sameOrder ? oldOrder : orderOf(state.snap)
  pagedOrders.set(state.snap, order)
  const { ids, streamInOrder } = order
  const oldKeys = old?.head.chunks.listing ?? []
  const oldIds = oldOrder?.ids ?? []
  const same = old === undefined ? undefined : sameRowOf(state, old.state)
  const keys: string[] = []
  for (let from = 0, page = 0; from < ids.length; from += photosPerPage, page++) {
    const slice = ids.slice(from, from + photosPerPage)
    const kept = same !== undefined && page < oldKeys.length && Math.min(oldIds.length - from, photosPerPage) === slice.length && slice.every((id, i) => oldIds[from + i] === id && same(id))
    if (kept) {
      keys.push(oldKeys[page] as string)
      if (decoded !== undefined) decoded.length = 0
      decoded = undefined
      continue
    }
    const stored = packPage(slice, state.snap, sizer)
    keys.push(await writer.put(stored))
    decoded?.push(new ListingPage(stored))
  }
  const meta: ListingPagesMeta = { sidecarFormat: sizer.format, photosPerPage, recordHashes: true }
  if (streamInOrder) meta.streamLength = state.snap.photostream.length
  return { keys, meta }
}

/** One chunk per bucket of photos; a bucket whose rows are the very same objects as in `reusable` keeps its chunk (see save). */
async function writePhotoBuckets(state: CatalogState, reusable: { state: CatalogState; head: Head } | undefined, writer: ChunkWriter, perBucket: number): Promise<string[]> {
  const bucketCount = bucketCountFor(state.snap.photos.size, perBucket)
  const buckets: string[][] = Array.from({ length: bucketCount }, () => [])
  for (const id of state.snap.photos.keys()) (buckets[fnv1a(id) % bucketCount] as string[]).push(id)
  const oldCounts = reusable !== undefined && reusable.head.chunks.photos.length === bucketCount ? countBuckets(reusable.state, bucketCount) : undefined
  const same = reusable === undefined ? undefined : sameRowOf(state, reusable.state)
  const keys: string[] = []
  for (let b = 0; b < bucketCount; b++) {
    const ids = (buckets[b] as string[]).sort()
    if (reusable !== undefined && same !== undefined && oldCounts !== undefined && oldCounts[b] === ids.length && ids.every(same)) {
      keys.push(reusable.head.chunks.photos[b] as string)
      continue
    }
    keys.push(await writer.put(ids.map((id) => rowOf(id, state))))
  }
  return keys
}

/**
 * What the catalog of `head` holds, whenever it was saved: its chunks (content-addressed), the
 * user and the photostream's change time (all a layout is made of besides the chunks' content).
 * Equal keys mean equal snapshots, whatever their refresh times.
 */
export function contentKey(head: Pick<Head, 'chunks' | 'userId' | 'userName' | 'photostreamChangedAtMs'>): string {
  const text = JSON.stringify([contentChunkKeys(head), head.userId, head.userName, head.photostreamChangedAtMs])
  return createHash('sha1').update(text).digest('hex')
}

/** The facts of Head.facts, from a snapshot about to be saved. */
function photoFacts(snap: CatalogSnapshot): PhotoFacts {
  const facts: PhotoFacts = { unresolved: 0, transcodes: [] }
  // In the photostream's order, as a refresh reports transcodes.
  for (const id of snap.photostream) {
    const p = snap.photos.get(id)
    if (p === undefined) continue
    const m = snap.media.get(mediaKey(p.id, p.secret))
    if (m === undefined) facts.unresolved++
    else if (m.kind === 'transcode') facts.transcodes.push({ id: p.id, label: m.label ?? '' })
  }
  return facts
}

/** A new generation for a head of `chunks` written at `nowMs`. */
function generationOf(chunks: Head['chunks'], nowMs: number): string {
  return `${nowMs.toString(36)}-${createHash('sha1').update(allChunkKeys({ chunks }).join()).digest('hex').slice(0, 12)}`
}

function headOf(snap: Pick<CatalogSnapshot, 'userId' | 'userName' | 'refreshedAtMs' | 'photostreamChangedAtMs'> & { photos: { size: number } }, chunks: Head['chunks'], nowMs: number): Head {
  return {
    schema: SCHEMA_VERSION,
    generation: generationOf(chunks, nowMs),
    writtenAtMs: nowMs,
    userId: snap.userId,
    userName: snap.userName,
    refreshedAtMs: snap.refreshedAtMs,
    photostreamChangedAtMs: snap.photostreamChangedAtMs,
    photoCount: snap.photos.size,
    chunks,
  }
}

/**
 * The head's parts derived from its rows (the listing pages' meta, the listing marks, the facts),
 * set in one order whoever saves, so a merged head is the whole save's to the byte.
 */
function withDerived(head: Head, derived: { pages: ListingPagesMeta | undefined; listing: ListingMarks | undefined; facts: PhotoFacts }): Head {
  if (derived.pages !== undefined) head.pages = derived.pages
  if (derived.listing !== undefined) head.listing = derived.listing
  head.facts = derived.facts
  return head
}

/** Adds one stored row to the maps being loaded. */
function addRow(row: PhotoRow, into: DecodedPhotos): void {
  const id = String(row.r.id)
  into.interner.record(row.r)
  // Flickr gives the original's secret again when it is the same as the photo's: one string for both.
  if (row.r.originalsecret === row.r.secret) row.r.originalsecret = row.r.secret
  const entry = photoFields(row.r, id, row.c, row.v)
  into.photos.set(id, entry)
  if (row.k !== undefined) into.commentsFetchedAt.set(id, row.k)
  if (row.m !== undefined) {
    for (const comment of row.m) into.interner.record(comment)
    into.comments.set(id, row.m)
  }
  if (row.e !== undefined) {
    // Share the strings the record already holds: 100k copies of URLs and ids add up.
    const e = row.e
    e.id = entry.id
    if (e.secret === entry.secret) e.secret = entry.secret
    if (e.url === entry.urlO && entry.urlO !== null) e.url = entry.urlO
    e.ext = into.interner.value('\0ext', e.ext)
    e.kind = into.interner.value('\0kind', e.kind) as MediaEntry['kind']
    if (e.label !== undefined) e.label = into.interner.value('\0label', e.label)
    into.media.add(e)
  }
}

/**
 * Points each id of `ids` at the string its photo's entry already holds: the order and the sets'
 * member lists are parsed from chunks of their own, and at 100,000 photos their own copies of
 * the ids were ~7 MB. An id no loaded photo has keeps its string.
 */
function shareIds(ids: string[], photos: ReadonlyMap<string, PhotoEntry>): void {
  for (let i = 0; i < ids.length; i++) {
    const entry = photos.get(ids[i] as string)
    if (entry !== undefined) ids[i] = entry.id
  }
}

/**
 * The stored version of each photo's row under `head`: the key of the chunk (a sha1 of its JSON)
 * of the bucket holding it, so two rows with the same version have the same record, comments,
 * original and change times. undefined for a photo the head does not hold, or a head of no photos.
 */
export function rowVersions(head: Pick<Head, 'chunks'>): (id: string) => string | undefined {
  const buckets = head.chunks.photos
  return (id) => (buckets.length === 0 ? undefined : buckets[fnv1a(id) % buckets.length])
}

function openError(path: string, err: unknown): FlickrfsError {
  if (isDamagedDb(err)) return damagedCatalogError(path, err)
  return new FlickrfsError('CATALOG', `Cannot read the catalog database ${path}: ${String(err)}. Check that the folder is readable and not on a full disk.`, { cause: err })
}

/** A catalog whose head kept moving, or whose chunks are gone, through every attempt to read it. */
export function missingPartsError(path: string): FlickrfsError {
  return new FlickrfsError('CATALOG', `The catalog in ${path} is missing parts of its last save. Delete ${path} to rebuild it from Flickr.`)
}

/** The catalog file is not a database, or its pages are damaged: what to run to get past it. */
export function damagedCatalogError(path: string, err: unknown): FlickrfsError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'damaged'
  return new FlickrfsError(
    'CATALOG',
    `The catalog ${path} is damaged (${code}). Run flickrfs pin on this folder: it moves the file aside, ` +
      'rebuilds the catalog from Flickr and keeps the originals already there without downloading them again.',
    { cause: err },
  )
}

/** Every chunk `head` names: the ones a save keeps, the others it removes. */
function allChunkKeys(head: Pick<Head, 'chunks'>): string[] {
  return [...contentChunkKeys(head), ...(head.chunks.listing ?? [])]
}

/** The chunks of the snapshot itself: the listing pages are made of them, so they are not content. */
function contentChunkKeys(head: Pick<Head, 'chunks'>): string[] {
  const c = head.chunks
  return [...c.photos, c.photostream, c.sets, c.collections]
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Photo buckets a whole load reads per statement (ChunkRows.readMany): about PHOTOS_PER_READ
 * photos, as one of an older flickrfs's buckets held (one a statement, as then).
 */
function bucketsPerRead(head: Pick<Head, 'chunks' | 'photoCount'>): number {
  const perBucket = Math.max(1, Math.ceil(head.photoCount / Math.max(1, head.chunks.photos.length)))
  return Math.max(1, Math.floor(PHOTOS_PER_READ / perBucket))
}

function bucketCountFor(photos: number, perBucket = PHOTOS_PER_BUCKET): number {
  let n = 1
  while (n * perBucket < photos && n < MAX_BUCKETS) n *= 2
  return n
}

/** One photo with everything hanging off it, as stored. */
function rowOf(id: string, state: CatalogState): PhotoRow {
  const p = state.snap.photos.get(id) as PhotoEntry
  const row: PhotoRow = { r: p.raw, c: p.changedAtMs, v: p.changedAtMsIgnoringViews ?? p.changedAtMs }
  const fetchedAt = state.commentsFetchedAt.get(id)
  if (fetchedAt !== undefined) row.k = fetchedAt
  const comments = state.snap.comments.get(id)
  if (comments !== undefined) row.m = comments as RawRecord[]
  const media = state.snap.media.get(mediaKey(id, p.secret))
  if (media !== undefined) row.e = media
  return row
}

/**
 * A stored row as a save writes it again after a load (addRow, then rowOf): the same text as
 * stored for a row a save wrote, and in today's form for one an older flickrfs wrote (its key
 * order, `v` where it lacked one), so that a merge writes the bucket a whole save would.
 */
function storedRowAgain(row: PhotoRow): PhotoRow {
  const id = String(row.r.id)
  const p = photoFields(row.r, id, row.c, row.v)
  const again: PhotoRow = { r: row.r, c: p.changedAtMs, v: p.changedAtMsIgnoringViews ?? p.changedAtMs }
  if (row.k !== undefined) again.k = row.k
  if (row.m !== undefined) again.m = row.m
  const e = row.e
  if (e !== undefined && e.secret === p.secret) {
    // addRow makes the original's id the photo's.
    e.id = id
    again.e = e
  }
  return again
}

/**
 * Whether the row of an id is the very same in both states (same objects, so the same stored
 * text). A map that is the very same in both (a refresh that changed nothing keeps them) is not
 * looked into: at 100,000 photos those lookups were most of an unchanged save.
 */
function sameRowOf(a: CatalogState, b: CatalogState): (id: string) => boolean {
  const photos = a.snap.photos === b.snap.photos
  const comments = a.snap.comments === b.snap.comments
  const media = a.snap.media === b.snap.media
  return (id) => {
    const p = a.snap.photos.get(id) as PhotoEntry
    return (
      (photos || p === b.snap.photos.get(id)) &&
      (comments || a.snap.comments.get(id) === b.snap.comments.get(id)) &&
      a.commentsFetchedAt.get(id) === b.commentsFetchedAt.get(id) &&
      (media || a.snap.media.get(mediaKey(id, p.secret)) === b.snap.media.get(mediaKey(id, p.secret)))
    )
  }
}

function countBuckets(state: CatalogState, bucketCount: number): number[] {
  const counts = new Array<number>(bucketCount).fill(0)
  for (const id of state.snap.photos.keys()) {
    const b = fnv1a(id) % bucketCount
    counts[b] = (counts[b] ?? 0) + 1
  }
  return counts
}
