/**
 * A first catalog as it comes in. A fresh mount shows each part of the account as soon as the
 * refresh has it whole, instead of nothing until the whole first refresh is over (minutes, or
 * hours at Flickr's rate on a big account); the complete catalog then replaces this one whole.
 *
 * - A photo shows once its listing page and its original's size are in.
 * - A set shows once all its members are listed (never part of them), with the members the
 *   photostream listing has, as the complete catalog will; sets keep Flickr's order.
 * - Collections and `Not in any set/` show once every set is in: a collection links to sets, and
 *   "in no set" can only be told from all of them.
 * - Comments come last (the refresh fetches them after every listing). A commented photo's sidecar
 *   is stamped one second before the time the complete catalog gives it until its comments are in,
 *   and with that time from then on: its mtime moves when it gains them, and not again when the
 *   complete catalog comes. Any other sidecar, and each set's metadata, keeps its bytes and its time
 *   (Flickr's last edit time, as the complete catalog stamps a first sync; the clock when that is not
 *   known or in the future). Collections, which carry no Flickr time, are stamped when they first
 *   show and again by the complete catalog.
 *
 * Until the photostream listing is in, photos are in upload order, newest first (Flickr's order).
 */
import type { CatalogSnapshot, CollectionEntry, ListingEvent, MediaEntry, MediaEvent, PhotoEntry, RawRecord, SetEntry } from '../catalog/index.js'
import { mediaKey } from '../catalog/index.js'
import { collectionFromRaw, flickrEditMs, safeId, setFromRaw, setUpdatedSec } from '../catalog/records.js'

/** One view of the first catalog so far: `allSets` once every set is in (then `Not in any set/` is right). */
export interface PartialView {
  snap: CatalogSnapshot
  allSets: boolean
}

/** How often the view was shown, and what that cost (the snapshot and the caller's build). */
export interface ShowStats {
  shown: number
  ms: number
}

export class FirstCatalog {
  readonly #photos = new Map<string, PhotoEntry>()
  readonly #media = new Map<string, MediaEntry>()
  readonly #comments = new Map<string, readonly RawRecord[]>()
  /** The photostream listing's ids in order, once it is in. */
  #listed: { ids: readonly string[]; has: Set<string> } | undefined
  #setList: readonly RawRecord[] | undefined
  /** Members of each set listed so far, as listed (ids not in the photostream are dropped when shown). */
  readonly #members = new Map<string, readonly string[]>()
  /** Set entries made so far (once the photostream listing is in), by id. */
  readonly #sets = new Map<string, SetEntry>()
  #tree: readonly unknown[] | undefined
  #collections: CollectionEntry[] | undefined
  /** What came in since the last view: nothing, only comments, or something that adds to the tree. */
  #news: 'none' | 'comments' | 'tree' = 'none'
  readonly stats: ShowStats = { shown: 0, ms: 0 }
  /** How many photos it held when released (release()). */
  #released: number | undefined

  constructor(private readonly now: () => number = Date.now) {}

  /** One original known: its photo can be shown. */
  add(ev: MediaEvent): void {
    if (this.#released !== undefined) return
    this.#photos.set(ev.photo.id, this.#stamped(ev.photo))
    this.#media.set(mediaKey(ev.media.id, ev.media.secret), ev.media)
    this.#news = 'tree'
  }

  /** One listing whole (the refresh's onListed). */
  listed(ev: ListingEvent): void {
    if (this.#released !== undefined) return
    switch (ev.kind) {
      case 'photostream':
        this.#listed = { ids: ev.ids, has: new Set(ev.ids) }
        this.#news = 'tree'
        return
      case 'setList':
        this.#setList = ev.sets
        return
      case 'set':
        this.#members.set(ev.id, ev.members)
        this.#news = 'tree'
        return
      case 'collections':
        this.#tree = ev.tree
        this.#news = 'tree'
        return
      case 'comments': {
        this.#comments.set(ev.photoId, ev.list)
        const photo = this.#photos.get(ev.photoId)
        if (photo === undefined) return
        this.#photos.set(ev.photoId, this.#stamped(photo))
        if (this.#news === 'none') this.#news = 'comments'
      }
    }
  }

  get size(): number {
    return this.#released ?? this.#photos.size
  }

  /**
   * Every part is in and the complete catalog is about to be assembled and shown instead: what was
   * gathered goes (the maps; the last view keeps its own copies until the complete tree replaces
   * it), so it is not held beside the assembly and the save. `size` is kept for the failure line.
   * Takes no more views.
   */
  release(): void {
    this.#released = this.#photos.size
    for (const map of [this.#photos, this.#media, this.#comments, this.#members, this.#sets]) map.clear()
    this.#listed = undefined
    this.#setList = undefined
    this.#tree = undefined
    this.#collections = undefined
    this.#news = 'none'
  }

  /**
   * As the complete catalog will stamp it (Flickr's last edit time; the clock when that is not
   * known or in the future), a second earlier while its comments are still to come.
   */
  #stamped(photo: PhotoEntry): PhotoEntry {
    const at = flickrTimeMs(photo.lastUpdate, this.now())
    const seen = at - (photo.countComments > 0 && !this.#comments.has(photo.id) ? 1000 : 0)
    return { ...photo, changedAtMs: seen, changedAtMsIgnoringViews: seen }
  }

  /**
   * Calls `show` with what is known, whenever something new came in, at most every `everyMs`, and
   * nine times as far apart as a view costs when that is longer (a big tree takes a while to build:
   * views then take at most a tenth of the time). When only comments came in (hours of them, at
   * Flickr's rate), at most every `commentsEveryMs`, and thirty times as far apart as a view costs
   * (a thirtieth of the time). Returns the function that stops it.
   */
  showEvery(show: (view: PartialView) => void, everyMs: number, commentsEveryMs = 5_000): () => void {
    let nextAt = 0
    let commentsAt = 0
    const timer = setInterval(() => {
      const now = this.now()
      if (now < nextAt || this.#news === 'none' || (this.#news === 'comments' && now < commentsAt)) return
      const t0 = performance.now()
      const view = this.takeView()
      if (view === undefined) return
      show(view)
      const cost = performance.now() - t0
      this.stats.shown++
      this.stats.ms += cost
      nextAt = this.now() + Math.max(everyMs, 9 * cost)
      commentsAt = this.now() + Math.max(commentsEveryMs, 30 * cost)
    }, Math.min(250, everyMs))
    timer.unref()
    return () => clearInterval(timer)
  }

  /** What is known so far, or undefined when nothing came in since the last call. */
  takeView(): PartialView | undefined {
    if (this.#news === 'none') return undefined
    this.#news = 'none'
    const photos = new Map(this.#photos)
    const { sets, allSets } = this.#setsSoFar()
    const comments = new Map<string, readonly RawRecord[]>()
    for (const [id, list] of this.#comments) if (list.length > 0 && photos.has(id)) comments.set(id, list)
    let newest = 0
    for (const p of photos.values()) newest = Math.max(newest, p.changedAtMs)
    const snap: CatalogSnapshot = {
      userId: '',
      userName: '',
      photostream: this.#listed !== undefined ? [...this.#listed.ids] : uploadOrder(photos),
      photos,
      comments,
      media: new Map(this.#media),
      sets,
      collections: allSets ? this.#collectionsSoFar() : [],
      photostreamChangedAtMs: newest,
      refreshedAtMs: 0,
    }
    return { snap, allSets }
  }

  /** The sets whose members are all in, in Flickr's order; `allSets` once that is every set. */
  #setsSoFar(): { sets: SetEntry[]; allSets: boolean } {
    const listed = this.#listed
    if (listed === undefined || this.#setList === undefined) return { sets: [], allSets: false }
    const sets: SetEntry[] = []
    let missing = 0
    for (const raw of this.#setList) {
      const id = safeId(raw.id)
      if (id === null) continue
      let entry = this.#sets.get(id)
      if (entry === undefined) {
        const members = this.#members.get(id)
        if (members === undefined) {
          missing++
          continue
        }
        entry = setFromRaw(raw, members.filter((m) => listed.has.has(m)), flickrTimeMs(setUpdatedSec(raw), this.now())) ?? undefined
        if (entry === undefined) continue
        this.#sets.set(id, entry)
      }
      sets.push(entry)
    }
    return { sets, allSets: missing === 0 }
  }

  /** The collection tree once it is in, stamped the first time it shows. */
  #collectionsSoFar(): CollectionEntry[] {
    if (this.#collections !== undefined || this.#tree === undefined) return this.#collections ?? []
    const at = Math.floor(this.now() / 1000) * 1000
    const seen = new Set<string>()
    const out: CollectionEntry[] = []
    for (const node of this.#tree) {
      const entry = collectionFromRaw(node, () => at, seen)
      if (entry !== null) out.push(entry)
    }
    this.#collections = out
    return out
  }
}

/** Flickr's time (unix seconds) in ms when it is known and not in the future, else the clock's whole second. */
function flickrTimeMs(seconds: number, nowMs: number): number {
  return flickrEditMs(seconds, nowMs) ?? Math.floor(nowMs / 1000) * 1000
}

function uploadOrder(photos: ReadonlyMap<string, PhotoEntry>): string[] {
  const order = [...photos.values()].sort((a, b) => b.dateUpload - a.dateUpload || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  return order.map((p) => p.id)
}
