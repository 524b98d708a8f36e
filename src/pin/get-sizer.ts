/**
 * How pin sizes the originals the catalog does not know yet: by the GET that downloads them. The
 * refresh asks this object where it would otherwise send a HEAD (CatalogMedia.head); the answer is
 * the first answer of the download itself, whose body goes on into the store while the refresh
 * makes the catalog entry from it (size from Content-Length or Content-Range, a video's name from
 * Content-Disposition or the final URL, exactly as from a HEAD). The entry then comes back through
 * the refresh's onMedia event, and `take` hands the download over to be recorded under it. So a new
 * original costs one media request, and its size is in the catalog before anything is written.
 *
 * A HEAD is still made where a download would be wasted: a file already under the photo's name
 * without a record (a mirror by another tool, adopted by hashing it if the sizes agree; the original
 * flickrmirrorer's `<id>_<secret>.<ext>` videos too), and a kind
 * the run was told to leave out (--ignore-photos / --ignore-videos). An original the store already
 * holds for the same (id, secret) is sized from its record, with no request at all.
 */
import { join } from 'node:path'
import type { CatalogMedia, SizeOf } from '../catalog/ports.js'
import type { PhotoEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { OriginalUnavailable } from '../catalog/resolve-media.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { parseMediaFileName } from '../layout/index.js'
import type { MediaAnswer, OriginalStore, UnsizedJob } from '../store/index.js'
import { fileSize } from '../store/file-size.js'
import { streamedNames } from '../util/fs.js'
import type { Semaphore } from '../util/semaphore.js'

/** A download sized for the refresh, waiting for the entry the refresh makes of its answer. */
export interface SizedDownload {
  job: UnsizedJob
  /** Gives the download slot back: once the download is recorded or abandoned. */
  release: () => void
}

export interface GetSizerOptions {
  dest: string
  store: OriginalStore
  /** Sizes what is not to be downloaded (HEAD). */
  media: CatalogMedia
  /** The download slots, shared with pin's other downloads. */
  slots: Semaphore
  /** Whether the run downloads this photo's original at all. */
  wanted: (photo: PhotoEntry) => boolean
  /** Why no more downloads start (a full disk), once one said so. */
  stopped: () => FlickrfsError | undefined
}

export class GetSizer implements CatalogMedia {
  readonly #o: GetSizerOptions
  /** By media key: downloads whose answer went to the refresh, not yet taken. */
  readonly #pending = new Map<string, SizedDownload>()
  /** Ids with a file in DEST/photostream and no record in the store (read once, at the first sizing; let go by `done`). */
  #present: Promise<Set<string>> | undefined
  /** How each original was sized in this run (GET, HEAD, or from the store's record), for debugging. */
  readonly counts = { gets: 0, heads: 0, fromRecords: 0 }

  constructor(o: GetSizerOptions) {
    this.#o = o
  }

  async head(url: string, opts: { cookies?: string; of?: SizeOf; retries?: number } = {}): Promise<MediaAnswer> {
    const of = opts.of
    const { store } = this.#o
    if (of === undefined || !this.#o.wanted(of.photo)) return this.#head(url, opts)
    const { id, secret } = of.photo
    const key = mediaKey(id, secret)
    // A second sizing of one photo (its original sized, then refused its name): that download is of no use.
    await this.#abandon(key)
    const r = store.recordOf(id)
    if (r !== undefined && r.secret === secret && r.kind === of.kind && (await fileSize(store.pathOf(r))) === r.size) {
      this.counts.fromRecords++
      return { size: r.size, finalUrl: url, filename: `${r.id}.${r.ext}` }
    }
    if (r === undefined && (await this.#presentIds()).has(id)) return this.#head(url, opts)
    const release = await this.#o.slots.acquire()
    let job: UnsizedJob | undefined
    try {
      const stop = this.#o.stopped()
      if (stop !== undefined) throw stop
      job = store.fetchUnsized({ id, secret, url, ...(opts.retries !== undefined ? { retries: opts.retries } : {}) })
    } catch (err) {
      release()
      throw err
    }
    if (job === undefined) {
      // Being downloaded already (a mount's reader): a HEAD sizes it, and pin then waits for that download.
      release()
      return this.#head(url, opts)
    }
    this.counts.gets++
    let answer: MediaAnswer
    try {
      answer = await job.answer
    } catch (err) {
      await job.abandon()
      release()
      throw asItemFailure(err)
    }
    this.#pending.set(key, { job, release })
    return answer
  }

  /** True when a download sized for `key` waits to be taken. */
  has(key: string): boolean {
    return this.#pending.has(key)
  }

  /** The download sized for `key`, now the caller's to settle (and to release); undefined if none. */
  take(key: string): SizedDownload | undefined {
    const p = this.#pending.get(key)
    this.#pending.delete(key)
    return p
  }

  /** Stops every download whose answer the refresh did not turn into an entry (refused its name, or the refresh failed). */
  async abandonAll(): Promise<void> {
    await Promise.all([...this.#pending.keys()].map((key) => this.#abandon(key)))
  }

  /**
   * The refresh is over: no more sizings. Lets go of what they needed, the ids present in DEST: a
   * Set of every id at a big mirror (~60 MB at 1,000,000), otherwise held through the tree's write,
   * where a pin's memory peaks (bench/RESULTS.md, "Session 20, lead").
   */
  async done(): Promise<void> {
    await this.abandonAll()
    this.#present = undefined
  }

  async #abandon(key: string): Promise<void> {
    const p = this.take(key)
    if (p === undefined) return
    try {
      await p.job.abandon()
    } finally {
      p.release()
    }
  }

  #head(url: string, opts: { cookies?: string; retries?: number }): Promise<MediaAnswer> {
    this.counts.heads++
    return this.#o.media.head(url, { ...(opts.cookies !== undefined ? { cookies: opts.cookies } : {}), ...(opts.retries !== undefined ? { retries: opts.retries } : {}) })
  }

  /**
   * The ids with a file of theirs in DEST/photostream and no record in the store (the only ones
   * `head` asks about). Streamed: a big mirror's listing is two names a photo, and nearly every
   * original there has its record, so the few ids kept are all that is held, where the whole
   * listing and a Set of every id (~160 MB at 1,000,000 photos) were held while the merge ran.
   */
  #presentIds(): Promise<Set<string>> {
    this.#present ??= unrecordedIds(join(this.#o.dest, 'photostream'), this.#o.store).catch(() => new Set<string>())
    return this.#present
  }
}

/** Ids named by a media file in `dir` (ours, and the original flickrmirrorer's video names, which the store adopts too) that `store` has no record of. */
async function unrecordedIds(dir: string, store: OriginalStore): Promise<Set<string>> {
  const ids = new Set<string>()
  for await (const n of streamedNames(dir)) {
    for (const id of [parseMediaFileName(n)?.id, parseMediaFileName(n.replace(/^([^_.]+)_[^_.]+\./, '$1.'))?.id]) {
      if (id !== undefined && store.recordOf(id) === undefined) ids.add(id)
    }
  }
  return ids
}

/**
 * A download that failed before its first answer failed as a HEAD would have: a host that did not
 * state the size is about this one original (the refresh leaves it out and tries again next time);
 * MediaErrors keep their own meaning (refused, unreachable, throttled).
 */
function asItemFailure(err: unknown): unknown {
  if (err instanceof FlickrfsError && err.code === 'MEDIA' && err.name === 'FlickrfsError') {
    return new OriginalUnavailable(err.message, { cause: err })
  }
  return err
}
