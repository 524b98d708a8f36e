/**
 * A refresh in progress, saved as it goes, so that a sync killed at any moment (kill -9, a reboot,
 * the network gone longer than the retries) goes on where it was instead of starting over.
 *
 * It lives in the catalog's own sqlite file (ROOT/.flickrfs/catalog.sqlite) under its own keyv
 * namespace, "progress", beside the catalog's "catalog" namespace, which it never touches: readers
 * (mount, pin, status) load the catalog head as before and see the old tree until the refresh
 * completes and saves a new head in one step. A completed refresh clears the progress.
 *
 * Keys (all `progress:` in the table):
 *   meta      what the progress is about and how far it came (ProgressMeta); written last on each save
 *   ps:<i>    the photostream listing as Flickr sent it, page i+1's new records (a first sync saves
 *             pages as they come, and a rerun asks from the page after the last saved one)
 *   b:<n>     one batch of results, in the order they came: comment lists, originals, set members
 * A long chunk or batch is stored in parts (`ps:<i>:<j>`), as the catalog's chunks are (chunk-rows.ts).
 *
 * What stays valid, and for how long:
 *   - a comment list, for the `lastupdate` of the photo it was fetched at (whatever its age);
 *   - an original's size and URL, for its (id, originalsecret) (whatever its age);
 *   - the photostream listing and a set's members only while younger than `maxListingAgeMs`
 *     (default 24 h; a set's members also only while getList gives the set the same date_update and
 *     counts): an older listing is listed again, since photos may have come and gone since.
 * Progress of another account (a new token on the same folder) is dropped.
 *
 * Cost: nothing is written per result. Results are kept in memory and saved as one batch when
 * `everyResults` are pending or `everyMs` passed since the last save (defaults 50 and 10 s), and
 * when the refresh fails. A refresh with little to do (an incremental sync) usually writes nothing
 * but its set listings. So a kill repeats at most the results of the last 10 s or 50 results, plus
 * those in flight: at the limiter's refill (0.8 calls a second) that is about a minute of API calls,
 * and in a burst a few seconds' worth.
 */
import createDebug from '../util/debug.js'
import Keyv from 'keyv'
import { ChunkRows } from './chunk-rows.js'
import { exists } from '../util/fs.js'
import { openSqliteAdapter } from '../util/sqlite.js'
import { catalogPath } from '../util/state-paths.js'
import { errorMessage } from '../util/abort.js'
import type { MediaEntry, RawRecord } from './types.js'
import { mediaKey } from './types.js'
import type { PhotostreamResume } from './ports.js'

const debug = createDebug('flickrfs:catalog:checkpoint')

const NAMESPACE = 'progress'
const META_KEY = 'meta'
/** 2: a long listing chunk or batch in parts (chunk-rows.ts); 1, every one in one row, is read too (an older flickrfs starts over on 2). */
const SCHEMA = 2
const SCHEMAS_READ: readonly number[] = [1, 2]
const LISTING_CHUNK = 500

export const DEFAULT_CHECKPOINT_RESULTS = 50
export const DEFAULT_CHECKPOINT_MS = 10_000
/** A few hundred pages of 500 photos: several saves' worth, far above what a listing at Flickr's pace ever leaves unwritten. */
export const DEFAULT_MAX_UNWRITTEN_CHARS = 64 * 1024 * 1024
export const DEFAULT_MAX_LISTING_AGE_MS = 24 * 3600_000

export interface CheckpointOptions {
  /** Save once this many results are pending (default 50). */
  everyResults?: number
  /** The listing waits for the writes once its pages not written yet hold this many characters of JSON (default 64 Mi). */
  maxUnwrittenChars?: number
  /** Save once this long passed since the last save with results pending (default 10 s). */
  everyMs?: number
  /** A saved photostream listing or set listing older than this is listed again (default 24 h). */
  maxListingAgeMs?: number
  /**
   * When the current catalog head was written: progress saved before it belongs to a refresh that
   * completed (killed between its save and clearing its progress) and is dropped.
   */
  savedBefore?: number
}

/** Done and total of one kind of work; done counts what is saved, so a rerun would not ask again. */
export interface WorkCount {
  done: number
  total: number
}

/** What `flickrfs status` shows of a sync that has not completed. */
export interface ProgressMeta {
  schema: number
  userId: string
  /** When the first run of this sync started. */
  startedAtMs: number
  /** When progress was last saved. */
  savedAtMs: number
  /** Runs that took part (1 for a sync that was never interrupted). */
  runs: number
  /** The saved photostream listing (its first `chunks` pages), when anything of it is saved. */
  photostream?: { listedAtMs: number; chunks: number; count: number; complete: boolean }
  comments: WorkCount
  sizes: WorkCount
  sets: WorkCount
}

/** Listing pages to write (their JSON): `pages` from chunk `first` on, chunks to delete, and whether the meta names an older listing. */
interface ListingWrite {
  first: number
  pages: string[]
  drop: number[]
  relisted: boolean
}

/** One saved result. */
type Result =
  | { k: 'c'; id: string; at: number; list: RawRecord[] }
  | { k: 'm'; e: MediaEntry }
  | { k: 's'; id: string; v: string; at: number; members: string[] }

/** The work of this sync as the refresh sees it once the photostream is in. */
export interface CheckpointPlan {
  comments: WorkCount
  sizes: WorkCount
}

/**
 * A page of the listing as held: its records until they are on disk or handed to the listing that
 * goes on from them, its JSON when taken as it came and saved as it comes (the caller may put
 * stand-ins in the page's place then: refresh.ts standIn), and its count always. A first sync of
 * 1,000,000 photos held every record here until its end.
 */
interface HeldPage {
  count: number
  items?: Record<string, unknown>[]
  text?: string
}

export class RefreshCheckpoint {
  private meta: ProgressMeta
  /** The photostream listing of this sync so far: each page's new records, page 1 first. */
  private pages: HeldPage[] = []
  private listedAtMs = 0
  private complete = false
  /** Pages of `pages` written under the meta on disk (the rest are to write). */
  private pagesOnDisk = 0
  /** Chunks on disk (of this or an older listing) beyond which nothing of ours is. */
  private chunksOnDisk = 0
  /** `pages` is a new listing, not a continuation of the one on disk: its meta goes before chunks are overwritten. */
  private relisted = false
  /** Pages are saved as they come (a first sync, or one resumed from saved pages); else only by `plan`. */
  private savePages = false
  private readonly comments = new Map<string, { at: number; list: RawRecord[] }>()
  private readonly media = new Map<string, MediaEntry>()
  private readonly sets = new Map<string, { v: string; at: number; members: string[] }>()
  private pending: Result[] = []
  /** Sizes of originals saved since begin() (before plan(), when sizing starts with the listing). */
  private sizesSavedThisRun = 0
  private listingNew = false
  private listingDirty = false
  private pagesPending = 0
  private wipe = false
  /** Something was saved by an earlier run. */
  private loaded = false
  private nextBatch = 0
  private lastSaveMs = performance.now()
  private writing: Promise<void> = Promise.resolve()
  /** The length of the listing pages' JSON taken and not written yet (listedPage). */
  private unwrittenChars = 0
  private readonly maxUnwrittenChars: number
  private saves = 0
  private readonly everyResults: number
  private readonly everyMs: number
  private readonly maxListingAgeMs: number
  private readonly savedBefore: number | undefined

  private constructor(
    private readonly keyv: Keyv<string>,
    /** The listing chunks' and batches' rows: a long one in parts (chunk-rows.ts says why). */
    private readonly rows: ChunkRows,
    private readonly now: () => number,
    opts: CheckpointOptions,
  ) {
    this.everyResults = opts.everyResults ?? DEFAULT_CHECKPOINT_RESULTS
    this.everyMs = opts.everyMs ?? DEFAULT_CHECKPOINT_MS
    this.maxUnwrittenChars = opts.maxUnwrittenChars ?? DEFAULT_MAX_UNWRITTEN_CHARS
    this.maxListingAgeMs = opts.maxListingAgeMs ?? DEFAULT_MAX_LISTING_AGE_MS
    this.savedBefore = opts.savedBefore
    this.meta = freshMeta('', now())
  }

  /** Opens the progress of ROOT's catalog for a refresh (under the root lock) and loads what was saved. */
  static async open(root: string, now: () => number, opts: CheckpointOptions = {}): Promise<RefreshCheckpoint> {
    const { keyv, rows } = openProgress(catalogPath(root), false)
    const cp = new RefreshCheckpoint(keyv, rows, now, opts)
    try {
      await cp.load()
    } catch (err) {
      await cp.close()
      throw err
    }
    return cp
  }

  private async load(): Promise<void> {
    const metaText = await this.keyv.get(META_KEY)
    const meta = metaText === undefined ? undefined : (JSON.parse(metaText) as ProgressMeta)
    if (meta !== undefined && (!SCHEMAS_READ.includes(meta.schema) || (this.savedBefore !== undefined && meta.savedAtMs <= this.savedBefore))) {
      this.wipe = true
      return
    }
    const chunks: unknown[][] = []
    const batches: Array<{ n: number; results: Result[] }> = []
    for await (const [key, value] of this.keyv.iterator?.(NAMESPACE) ?? []) {
      const name = String(key)
      // `ps:<i>` and `b:<n>`; their parts (`ps:<i>:<j>`) are read through them.
      if (name.split(':').length !== 2) continue
      const text = name.startsWith('ps:') || name.startsWith('b:') ? await this.rows.textOf(name, String(value)) : undefined
      if (text === undefined) continue
      if (name.startsWith('ps:')) chunks[Number(name.slice(3))] = JSON.parse(text) as unknown[]
      else batches.push({ n: Number(name.slice(2)), results: JSON.parse(text) as Result[] })
    }
    batches.sort((a, b) => a.n - b.n)
    for (const { n, results } of batches) {
      this.nextBatch = Math.max(this.nextBatch, n + 1)
      for (const r of results) this.take(r)
    }
    if (meta === undefined && chunks.length === 0 && batches.length === 0) return
    // Batches stay valid without a meta (a kill while a new listing was being written): only the listing needs it.
    this.loaded = true
    if (meta === undefined) return
    this.chunksOnDisk = chunks.length
    const ps = meta.photostream
    if (ps !== undefined) {
      const parts = chunks.slice(0, ps.chunks)
      if (parts.length === ps.chunks && parts.every((c) => Array.isArray(c))) {
        this.pages = (parts as Array<Record<string, unknown>[]>).map((items) => ({ count: items.length, items }))
        this.pagesOnDisk = parts.length
        this.listedAtMs = ps.listedAtMs
        this.complete = ps.complete
      }
    }
    this.meta = { ...meta, runs: meta.runs + 1 }
    debug('resuming a sync of %s started %s: listing %s, %d comment lists, %d originals, %d sets saved',
      meta.userId, new Date(meta.startedAtMs).toISOString(), `${this.pages.length} pages${this.complete ? ' (complete)' : ''}`,
      this.comments.size, this.media.size, this.sets.size)
  }

  private take(r: Result): void {
    if (r.k === 'c') this.comments.set(r.id, { at: r.at, list: r.list })
    else if (r.k === 'm') this.media.set(mediaKey(r.e.id, r.e.secret), r.e)
    else this.sets.set(r.id, { v: r.v, at: r.at, members: r.members })
  }

  /**
   * The account this refresh is for: progress saved for another one is dropped. A first sync
   * (`firstSync`: no catalog yet) saves its photostream pages as they come.
   */
  begin(userId: string, firstSync: boolean): void {
    if (this.meta.userId !== userId) {
      if (this.meta.userId !== '') {
        debug('saved progress is of user %s, not %s: dropped', this.meta.userId, userId)
        this.comments.clear()
        this.media.clear()
        this.sets.clear()
        this.pages = []
        this.pagesOnDisk = 0
        this.complete = false
        this.wipe = true
      }
      this.meta = freshMeta(userId, this.now())
    }
    this.savePages = firstSync || this.pages.length > 0
    this.sizesSavedThisRun = 0
  }

  private listingYoung(): boolean {
    const age = this.now() - this.listedAtMs
    if (age >= 0 && age < this.maxListingAgeMs) return true
    debug('saved photostream listing is %d min old: listing again', Math.round(age / 60_000))
    return false
  }

  /** The saved photostream listing, when complete and young enough to go on from (handed over once: not held here after). */
  savedPhotostream(): unknown[] | undefined {
    return this.complete && this.pages.length > 0 && this.listingYoung() ? this.handOver() : undefined
  }

  /** Where the photostream listing goes on from (the pages saved, while young), and the hook that saves each new page. */
  photostreamResume(): PhotostreamResume {
    const items = !this.complete && this.pages.length > 0 && this.listingYoung() ? this.handOver() : undefined
    const from = items === undefined ? undefined : { page: this.pages.length + 1, items }
    if (from !== undefined) debug('photostream listing goes on from page %d', from.page)
    else this.restartListing()
    return { from, onPage: (page, items) => this.listedPage(page, items) }
  }

  /**
   * The records of the pages read from disk, let go here: the listing that takes them holds them
   * now. Undefined (list again) when a page's records are not held (handed over before).
   */
  private handOver(): Array<Record<string, unknown>> | undefined {
    const items: Array<Record<string, unknown>> = []
    for (const p of this.pages) {
      if (p.items === undefined) return undefined
      for (const it of p.items) items.push(it)
    }
    // Only pages on disk are let go (those read from it always are).
    if (this.pagesOnDisk === this.pages.length) for (const p of this.pages) delete p.items
    return items
  }

  private restartListing(): void {
    for (const p of this.pages) this.unwrittenChars -= p.text?.length ?? 0
    this.pages = []
    this.complete = false
    this.listedAtMs = this.now()
    if (this.pagesOnDisk > 0) this.relisted = true
    this.pagesOnDisk = 0
  }

  /**
   * A page of the listing as it comes. Once the pages taken and not written yet pass
   * `maxUnwrittenChars`, the listing waits for the writes (the promise returned: paginate.ts holds
   * the listing until it settles). At 1,000,000 items the listing outran its writes, whose
   * callbacks wait behind the pages' parsing on the one thread: 500 MB of pages' JSON waited.
   */
  private listedPage(page: number, items: Record<string, unknown>[]): Promise<void> | undefined {
    // The client reads a listing that did not add up again from page 1.
    if (page === 1 && this.pages.length > 0) this.restartListing()
    if (page !== this.pages.length + 1) return undefined
    if (!this.savePages) {
      this.pages.push({ count: items.length, items })
      return undefined
    }
    const text = JSON.stringify(items)
    this.pages.push({ count: items.length, text })
    this.unwrittenChars += text.length
    this.listingDirty = true
    this.pagesPending++
    this.maybeSave()
    if (this.unwrittenChars <= this.maxUnwrittenChars) return undefined
    if (this.listingDirty) this.save()
    return this.writing
  }

  /** The photostream as listed (or as saved); a listing not saved as it came is saved by `plan` when there is much to do. */
  listedPhotostream(raw: unknown[]): void {
    if (this.complete) return
    if (this.listedCount() !== raw.length) {
      // Not from pages seen here (a client without onPage): kept in chunks of a page's size.
      this.restartListing()
      for (let i = 0; i < raw.length; i += LISTING_CHUNK) {
        const items = raw.slice(i, i + LISTING_CHUNK) as Array<Record<string, unknown>>
        this.pages.push({ count: items.length, items })
      }
    }
    this.complete = true
    if (this.savePages) this.listingDirty = true
    else this.listingNew = true
  }

  /** The comments saved for `id` at `lastUpdate`, if any. */
  savedComments(id: string, lastUpdate: number): RawRecord[] | undefined {
    const c = this.comments.get(id)
    return c !== undefined && c.at === lastUpdate ? c.list : undefined
  }

  /** The original saved for (id, secret), if any. */
  savedMedia(id: string, secret: string): MediaEntry | undefined {
    return this.media.get(mediaKey(id, secret))
  }

  /** The members saved for set `raw` (a getList record), while young enough and the set unchanged. */
  savedSetMembers(id: string, raw: RawRecord): string[] | undefined {
    const s = this.sets.get(id)
    if (s === undefined || s.v !== setVersion(raw)) return undefined
    const age = this.now() - s.at
    return age >= 0 && age < this.maxListingAgeMs ? s.members : undefined
  }

  /**
   * The work ahead once the photostream is in, counting what earlier runs saved as done. With much
   * to do (a first sync), the listing is saved at once, so a kill in the details does not list again;
   * with little (an incremental sync), it is not saved at all: listing again costs less than the write.
   */
  plan(plan: CheckpointPlan): void {
    this.meta.comments = { ...plan.comments }
    // Originals are sized from the first photostream page on, before this plan: those saved already count.
    this.meta.sizes = { done: plan.sizes.done + this.sizesSavedThisRun, total: plan.sizes.total }
    const ahead = plan.comments.total - plan.comments.done + plan.sizes.total - plan.sizes.done
    if (this.listingNew && ahead >= this.everyResults) {
      this.listingNew = false
      this.listingDirty = true
      this.save()
    }
  }

  /** The set list is in: how many sets there are, and how many were saved by an earlier run. */
  planSets(sets: WorkCount): void {
    this.meta.sets = { ...sets }
  }

  commentsFetched(id: string, lastUpdate: number, list: RawRecord[]): void {
    this.add({ k: 'c', id, at: lastUpdate, list })
  }

  mediaResolved(entry: MediaEntry): void {
    this.add({ k: 'm', e: entry })
  }

  setListed(id: string, raw: RawRecord, members: string[]): void {
    this.add({ k: 's', id, v: setVersion(raw), at: this.now(), members })
  }

  /** A result of this run: only saved (this run never asks for it again, so it is not kept in the maps of saved ones). */
  private add(r: Result): void {
    this.pending.push(r)
    this.maybeSave()
  }

  private maybeSave(): void {
    if (this.pending.length + this.pagesPending >= this.everyResults || performance.now() - this.lastSaveMs >= this.everyMs) this.save()
  }

  /** Starts saving what is pending (in the background, one save at a time). */
  private save(): void {
    const results = this.pending
    const listing = this.listingDirty ? this.listingWrite() : undefined
    const wipe = this.wipe
    this.pending = []
    this.pagesPending = 0
    this.listingDirty = false
    this.wipe = false
    this.lastSaveMs = performance.now()
    for (const r of results) {
      if (r.k === 'c') this.meta.comments.done++
      else if (r.k === 'm') {
        this.meta.sizes.done++
        this.sizesSavedThisRun++
      }
      else this.meta.sets.done++
    }
    const meta = { ...this.meta, savedAtMs: this.now() }
    const batch = results.length > 0 ? this.nextBatch++ : -1
    this.writing = this.writing.then(() => this.write(wipe, listing, batch, results, meta))
  }

  /**
   * The pages to write (those not on disk yet) and the meta's new listing entry, set now rather than
   * once written: a later save's meta (written after this one's chunks) must name them too.
   */
  private listingWrite(): ListingWrite {
    const first = this.pagesOnDisk
    const pages = this.pages.slice(first).map((p) => {
      const text = p.text ?? JSON.stringify(p.items ?? [])
      // On disk once written: nothing of the page need be held here but its count.
      delete p.text
      delete p.items
      return text
    })
    const write: ListingWrite = { first, pages, relisted: this.relisted, drop: range(this.pages.length, this.chunksOnDisk) }
    this.pagesOnDisk = this.pages.length
    // Once written: chunks below are this listing's, those above are dropped.
    this.chunksOnDisk = this.pages.length
    this.relisted = false
    this.meta.photostream = { listedAtMs: this.listedAtMs, chunks: this.pages.length, count: this.listedCount(), complete: this.complete }
    return write
  }

  private listedCount(): number {
    return this.pages.reduce((n, p) => n + p.count, 0)
  }

  private async write(wipe: boolean, listing: ListingWrite | undefined, batch: number, results: Result[], meta: ProgressMeta): Promise<void> {
    try {
      if (wipe) await this.clearAll()
      if (listing !== undefined) {
        // The meta on disk names the old listing until the new meta is written below: drop it first,
        // so a kill in between never pairs the old meta with half-new chunks.
        if (listing.relisted) await this.keyv.delete(META_KEY)
        for (const [i, page] of listing.pages.entries()) await this.rows.write(`ps:${listing.first + i}`, page)
        if (listing.drop.length > 0) await this.rows.delete(listing.drop.map((i) => `ps:${i}`))
      }
      if (batch >= 0) await this.rows.write(`b:${batch}`, JSON.stringify(results))
      await this.keyv.set(META_KEY, JSON.stringify(meta))
      this.saves++
    } catch (err) {
      // Progress is a help, not the sync: a refresh goes on without it (and fails at its own save if the disk is gone).
      debug('could not save progress: %s', errorMessage(err))
    } finally {
      if (listing !== undefined) for (const page of listing.pages) this.unwrittenChars -= page.length
    }
  }

  /** Saves whatever is pending and waits for every save to be written (a failing refresh calls this). */
  async flush(): Promise<void> {
    if (this.pending.length > 0 || this.listingDirty || this.wipe) this.save()
    await this.writing
  }

  /** The refresh completed and its catalog is saved: progress is no longer needed. */
  async clear(): Promise<void> {
    this.pending = []
    this.pagesPending = 0
    this.listingDirty = false
    await this.writing
    if (this.loaded || this.saves > 0 || this.wipe) await this.clearAll()
  }

  /** Deletes every `progress:` key (keyv's clear() deletes its namespace: make sure it is ours, not the catalog's). */
  private async clearAll(): Promise<void> {
    if (this.keyv.namespace !== NAMESPACE) throw new Error(`progress store has namespace ${String(this.keyv.namespace)}`)
    await this.keyv.clear()
  }

  async close(): Promise<void> {
    await this.writing
    await this.keyv.disconnect()
  }
}

/** The progress of an unfinished sync of ROOT, for `flickrfs status` (read-only); undefined when none. */
export async function readProgress(root: string): Promise<ProgressMeta | undefined> {
  const path = catalogPath(root)
  if (!(await exists(path))) return undefined
  const { keyv } = openProgress(path, true)
  try {
    const text = await keyv.get(META_KEY)
    if (text === undefined) return undefined
    const meta = JSON.parse(text) as ProgressMeta
    return SCHEMAS_READ.includes(meta.schema) ? meta : undefined
  } finally {
    await keyv.disconnect().catch(() => undefined)
  }
}

function openProgress(path: string, readOnly: boolean): { keyv: Keyv<string>; rows: ChunkRows } {
  const adapter = openSqliteAdapter(path, { busyTimeout: 15_000, readOnly, iterationLimit: 200 })
  // Values are JSON text we make ourselves (as in persist.ts): stored as they are.
  const keyv = new Keyv<string>(adapter, {
    namespace: NAMESPACE,
    serialize: (data) => String(data.value),
    deserialize: (text) => ({ value: text as never }),
    throwOnErrors: true,
  })
  return { keyv, rows: new ChunkRows(adapter, NAMESPACE) }
}

function freshMeta(userId: string, nowMs: number): ProgressMeta {
  const none = (): WorkCount => ({ done: 0, total: 0 })
  return { schema: SCHEMA, userId, startedAtMs: nowMs, savedAtMs: nowMs, runs: 1, comments: none(), sizes: none(), sets: none() }
}

/** What must stay the same for a set's saved members to be reused: getList's date_update and counts. */
function setVersion(raw: RawRecord): string {
  return JSON.stringify([raw.date_update, raw.count_photos ?? raw.photos, raw.count_videos ?? raw.videos])
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)
}
