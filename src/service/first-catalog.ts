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
import type { CatalogView, CollectionEntry, ListingEvent, MediaEntry, MediaEvent, PhotoColumns, PhotoEntry, RawRecord, SetEntry } from '../catalog/index.js'
import { collectionFromRaw, entryAt, flickrEditMs, safeId, setFromRaw, setUpdatedSec } from '../catalog/records.js'

/** One view of the first catalog so far: `allSets` once every set is in (then `Not in any set/` is right). */
export interface PartialView {
  view: CatalogView
  allSets: boolean
  /** How many photos and how many photos' comment lists (non-empty) it shows. */
  photos: number
  comments: number
}

/** How often the view was shown, and what that cost (the snapshot and the caller's build). */
export interface ShowStats {
  shown: number
  ms: number
}

/**
 * Slots handed out in order, one a key; a key given a slot again keeps its older ones, so a view
 * taken when `n` slots were out still finds what the key had then.
 */
class Slots {
  #count = 0
  readonly #latest = new Map<string, number>()
  /** A slot → the one it took over from (its key's slot before): only for keys given a slot again. */
  readonly #older = new Map<number, number>()

  add(key: string): number {
    const slot = this.#count++
    const before = this.#latest.get(key)
    if (before !== undefined) this.#older.set(slot, before)
    this.#latest.set(key, slot)
    return slot
  }

  get count(): number {
    return this.#count
  }

  /** How many keys have a slot. */
  get keys(): number {
    return this.#latest.size
  }

  /** The slot `key` had when `n` slots were out. */
  find(key: string, n: number): number | undefined {
    let slot = this.#latest.get(key)
    while (slot !== undefined && slot >= n) slot = this.#older.get(slot)
    return slot
  }
}

/**
 * What came in, appended to only: each view reads the part that was in when it was taken, so
 * views share it instead of copying it. A photo is the refresh's own record (MediaEvent `listed`,
 * never changed here) with its original and Flickr's time; a view stamps it when asked.
 */
class Gathered {
  readonly photoSlots = new Slots()
  readonly listed: Array<MediaEvent['listed']> = []
  readonly media: MediaEntry[] = []
  /** Flickr's last edit time of each photo (the clock's when not known or in the future), ms. */
  readonly flickrMs: number[] = []
  readonly commentSlots = new Slots()
  readonly comments: Array<readonly RawRecord[]> = []
}

export class FirstCatalog {
  #gathered = new Gathered()
  /** The photostream listing's ids in order, once it is in (never changed: views share it). */
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
    const g = this.#gathered
    g.photoSlots.add(ev.listed.id)
    g.listed.push(ev.listed)
    g.media.push(ev.media)
    g.flickrMs.push(flickrTimeMs(ev.listed.lastUpdate, this.now()))
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
        const g = this.#gathered
        g.commentSlots.add(ev.photoId)
        g.comments.push(ev.list)
        if (g.photoSlots.find(ev.photoId, g.photoSlots.count) === undefined) return
        if (this.#news === 'none') this.#news = 'comments'
      }
    }
  }

  get size(): number {
    return this.#released ?? this.#gathered.photoSlots.keys
  }

  /**
   * Every part is in and the complete catalog is about to be assembled and shown instead: what was
   * gathered goes (the last view keeps what it reads until the complete tree replaces it), so it
   * is not held beside the assembly and the save. `size` is kept for the failure line. Takes no
   * more views.
   */
  release(): void {
    this.#released = this.#gathered.photoSlots.keys
    this.#gathered = new Gathered()
    for (const map of [this.#members, this.#sets]) map.clear()
    this.#listed = undefined
    this.#setList = undefined
    this.#tree = undefined
    this.#collections = undefined
    this.#news = 'none'
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

  /** What is known so far, or undefined when nothing came in since the last call. Nothing gathered is copied. */
  takeView(): PartialView | undefined {
    if (this.#news === 'none') return undefined
    this.#news = 'none'
    const { sets, allSets } = this.#setsSoFar()
    const view = new FirstView(this.#gathered, {
      photostream: this.#listed?.ids,
      sets,
      collections: allSets ? this.#collectionsSoFar() : [],
    })
    return { view, allSets, photos: view.photoCount, comments: view.commentCount }
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

/**
 * The first catalog as it was when the view was taken: the photos and comment lists then in
 * (the first `photos` and `comments` slots of what was gathered, which only grows), the
 * photostream listing once it is in (else upload order, newest first), the sets and collections
 * then shown. A photo is stamped as the complete catalog will stamp it (Flickr's last edit time;
 * the clock's whole second when that is not known or in the future), a second earlier while its
 * comments are still to come; each ask makes that entry anew (the layout keeps none of them).
 */
class FirstView implements CatalogView {
  readonly userId = ''
  readonly userName = ''
  readonly refreshedAtMs = 0
  readonly photostreamChangedAtMs: number
  readonly photoCount: number
  readonly commentCount: number
  readonly sets: readonly SetEntry[]
  readonly collections: readonly CollectionEntry[]
  readonly #g: Gathered
  readonly #photos: number
  readonly #comments: number
  readonly #order: readonly string[]

  constructor(g: Gathered, parts: { photostream: readonly string[] | undefined; sets: readonly SetEntry[]; collections: readonly CollectionEntry[] }) {
    this.#g = g
    this.#photos = g.photoSlots.count
    this.#comments = g.commentSlots.count
    this.photoCount = g.photoSlots.keys
    this.sets = parts.sets
    this.collections = parts.collections
    let newest = 0
    let comments = 0
    this.eachSlot((slot) => {
      newest = Math.max(newest, this.#stampOf(slot))
      if (((this.#commentsOf((g.listed[slot] as MediaEvent['listed']).id)?.length) ?? 0) > 0) comments++
    })
    this.photostreamChangedAtMs = newest
    this.commentCount = comments
    this.#order = parts.photostream ?? this.#uploadOrder()
  }

  get photostreamLength(): number {
    return this.#order.length
  }
  photostreamId(pos: number): string {
    return this.#order[pos] as string
  }
  /** Only the columns (a listing asks this of every photo; a sidecar asks `record`). */
  photo(id: string): PhotoColumns | undefined {
    const slot = this.#g.photoSlots.find(id, this.#photos)
    if (slot === undefined) return undefined
    const { secret, media, dateTaken, dateUpload } = this.#g.listed[slot] as MediaEvent['listed']
    const at = this.#stampOf(slot)
    return { id, secret, media, dateTaken, dateUpload, changedAtMs: at, changedAtMsIgnoringViews: at }
  }
  record(id: string): PhotoEntry | undefined {
    const slot = this.#g.photoSlots.find(id, this.#photos)
    if (slot === undefined) return undefined
    const at = this.#stampOf(slot)
    return entryAt(this.#g.listed[slot] as MediaEvent['listed'], at, at)
  }
  media(id: string, secret: string): MediaEntry | undefined {
    const slot = this.#g.photoSlots.find(id, this.#photos)
    const media = slot === undefined ? undefined : this.#g.media[slot]
    return media !== undefined && media.id === id && media.secret === secret ? media : undefined
  }
  mediaExt(id: string, secret: string): string | undefined {
    return this.media(id, secret)?.ext
  }
  eachPhoto(fn: (photo: PhotoColumns) => void): void {
    this.eachSlot((slot) => fn(this.record((this.#g.listed[slot] as MediaEvent['listed']).id) as PhotoEntry))
  }
  /** Photo `id`'s comments, when they were in and not empty and the photo is shown. */
  comments(id: string): readonly RawRecord[] | undefined {
    if (this.#g.photoSlots.find(id, this.#photos) === undefined) return undefined
    const list = this.#commentsOf(id)
    return list !== undefined && list.length > 0 ? list : undefined
  }
  sidecarSize(): undefined {
    return undefined
  }

  /** Each photo's slot as of this view (a photo given again: its latest then). */
  eachSlot(fn: (slot: number) => void): void {
    const g = this.#g
    for (let slot = 0; slot < this.#photos; slot++) {
      if (g.photoSlots.find((g.listed[slot] as MediaEvent['listed']).id, this.#photos) === slot) fn(slot)
    }
  }

  #commentsOf(id: string): readonly RawRecord[] | undefined {
    const slot = this.#g.commentSlots.find(id, this.#comments)
    return slot === undefined ? undefined : this.#g.comments[slot]
  }

  #stampOf(slot: number): number {
    const photo = this.#g.listed[slot] as MediaEvent['listed']
    const at = this.#g.flickrMs[slot] as number
    return at - (photo.countComments > 0 && this.#g.commentSlots.find(photo.id, this.#comments) === undefined ? 1000 : 0)
  }

  #uploadOrder(): string[] {
    const photos: Array<MediaEvent['listed']> = []
    this.eachSlot((slot) => photos.push(this.#g.listed[slot] as MediaEvent['listed']))
    photos.sort((a, b) => b.dateUpload - a.dateUpload || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    return photos.map((p) => p.id)
  }
}

/** Flickr's time (unix seconds) in ms when it is known and not in the future, else the clock's whole second. */
function flickrTimeMs(seconds: number, nowMs: number): number {
  return flickrEditMs(seconds, nowMs) ?? Math.floor(nowMs / 1000) * 1000
}
