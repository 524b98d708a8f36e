/**
 * A first catalog as it comes in. A fresh mount shows each photo as soon as the refresh has listed
 * it and knows its original's size, instead of nothing until the whole first refresh is over
 * (minutes, or hours at Flickr's rate on a big account). Sets, collections and comments come with
 * the complete catalog, which then replaces this one whole.
 *
 * Until then the photostream is in upload order, newest first (Flickr's photostream order), and a
 * commented photo's sidecar has no comments yet. Its time is one second before the one the
 * complete catalog gives it, so the sidecar's mtime moves when the comments come in; any other
 * sidecar keeps its bytes and, where the catalog stamps a first sync with Flickr's edit times, its mtime.
 */
import type { CatalogSnapshot, MediaEntry, MediaEvent, PhotoEntry } from '../catalog/index.js'
import { mediaKey } from '../catalog/index.js'

export class FirstCatalog {
  readonly #photos = new Map<string, PhotoEntry>()
  readonly #media = new Map<string, MediaEntry>()
  #news = false

  constructor(private readonly now: () => number = Date.now) {}

  /** One original known: its photo can be shown. */
  add(ev: MediaEvent): void {
    // As the complete catalog will stamp it (Flickr's last edit time; the clock when that is not
    // known or in the future), a second earlier when comments are still to come.
    const now = this.now()
    const edited = ev.photo.lastUpdate * 1000
    const at = Number.isSafeInteger(edited) && edited > 0 && edited <= now ? edited : Math.floor(now / 1000) * 1000
    const seen = at - (ev.photo.countComments > 0 ? 1000 : 0)
    this.#photos.set(ev.photo.id, { ...ev.photo, changedAtMs: seen, changedAtMsIgnoringViews: seen })
    this.#media.set(mediaKey(ev.media.id, ev.media.secret), ev.media)
    this.#news = true
  }

  get size(): number {
    return this.#photos.size
  }

  /**
   * Calls `show` with what is known, whenever something new came in, at most every `everyMs`, and
   * three times as far apart as a `show` takes when that is longer (a big tree takes a while to
   * build). Returns the function that stops it.
   */
  showEvery(show: (snap: CatalogSnapshot) => void, everyMs: number): () => void {
    let nextAt = 0
    const timer = setInterval(() => {
      if (this.now() < nextAt) return
      const snap = this.takeSnapshot()
      if (snap === undefined) return
      const t0 = this.now()
      show(snap)
      nextAt = this.now() + Math.max(everyMs, 3 * (this.now() - t0))
    }, Math.min(250, everyMs))
    timer.unref()
    return () => clearInterval(timer)
  }

  /** What is known so far, or undefined when nothing came in since the last call. */
  takeSnapshot(): CatalogSnapshot | undefined {
    if (!this.#news) return undefined
    this.#news = false
    const photos = new Map(this.#photos)
    const order = [...photos.values()].sort((a, b) => b.dateUpload - a.dateUpload || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    let newest = 0
    for (const p of photos.values()) newest = Math.max(newest, p.changedAtMs)
    return {
      userId: '',
      userName: '',
      photostream: order.map((p) => p.id),
      photos,
      comments: new Map(),
      media: new Map(this.#media),
      sets: [],
      collections: [],
      photostreamChangedAtMs: newest,
      refreshedAtMs: 0,
    }
  }
}
