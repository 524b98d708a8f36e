/**
 * buildLayout: one catalog (its CatalogView, src/catalog/view.ts) → the LAYOUT.md tree the mount serves and pin writes
 * (photostream/, Not in any set/, one directory per set, nested collection directories with
 * numbered links back to the sets, a `metadata` file in each, a sidecar per photo and
 * photostream/SHA256SUMS).
 *
 * Decided when it runs, and never changed after: every name, link target, directory listing,
 * mtime and inode number; the size of each original (the MediaEntry's); the records each metadata
 * file is built from (references into the catalog's view, which never changes). A sidecar
 * follows from the catalog alone. photostream/'s files and the links of the set directories and
 * Not in any set/ are decided but not held: they are made on demand from the view
 * (photostream-dir.ts, link-dir.ts), the same in every field each time, so the layout costs
 * memory for what is in use (its directories, the shown order, the inode numbers a collision
 * moved, bounded caches) and not a node per file.
 *
 * Asked lazily, when a file is read or stat'ed: metadata JSON bytes (rebuilt at each `data` read,
 * never retained) and their size (measured once, at the first access); SHA256SUMS, from
 * `opts.hashes` once per store generation (nodes.ts HashListNode).
 *
 * The build runs in named steps over one LayoutBuilder, in two parts. The first: photostream/ (it
 * decides which photos are shown) with its inode numbers, and the root's own attributes (its mtime
 * and link count follow from the catalog's sets and collections without their members). The rest:
 * the sets (which link to shown photos), Not in any set (shown photos no set holds), the
 * collections (which link to the sets), then the inode numbers of all of those. buildLayout runs
 * both at once; a mount (buildLayoutInSteps) serves photostream/ as soon as the first part is done
 * and builds the rest in slices between the ops it answers: at 1,000,000 items the rest is ~0.4 s
 * of a ~1 s build, which a listing of photostream/ no longer waits for.
 */
import type { CatalogSnapshot, CollectionEntry, SetEntry } from '../catalog/types.js'
import { asCatalogView, type CatalogView, type PhotoColumns, type StreamRow } from '../catalog/view.js'
import { fnvNumberPrefix, fnvUpdate, inoFromState, ROOT_INO, settleCollisions, type TakenNumbers } from './inodes.js'
import { collectionMetadata, photostreamMetadata, setMetadata } from './metadata.js'
import {
  collectionDirName,
  isSafeId,
  METADATA_SUFFIX,
  NAME_MAX_BYTES,
  numberPrefix,
  setDirName,
} from './names.js'
import { DirNode, HashListNode, LinkNode, MetadataFileNode, type OnDemandDir } from './nodes.js'
import { DEFAULT_LINK_CACHE, LinkCache, LinkDir } from './link-dir.js'
import { DEFAULT_NODE_CACHE, photoChangedMs, type PhotostreamChildren, PhotostreamDir, showableExt, showableRowExt } from './photostream-dir.js'
import { SHA256SUMS_FILE } from './sha256sums.js'
import { ShownPhotos } from './shown-photos.js'
import { wholeSecondsMs } from './times.js'
import type { Layout, LayoutDir, LayoutNode, LayoutOptions, LayoutStats, TreeBuilding } from './types.js'

export const PHOTOSTREAM_DIR = 'photostream'
export const NOT_IN_ANY_SET_DIR = 'Not in any set'
export const METADATA_FILE = 'metadata'
/** Flickr nests collections only a few levels deep; this only stops a malformed tree. */
const MAX_COLLECTION_DEPTH = 32

interface ShownSet {
  set: SetEntry
  name: string
  mtimeMs: number
}

/**
 * A collection directory to be made: its collection, how many levels below the root it sits, and
 * the child collections that get a directory (safe ids, no loop back to an ancestor, no deeper
 * than MAX_COLLECTION_DEPTH). Decided in the first part of the build, made in the rest.
 */
interface PlannedCollection {
  c: CollectionEntry
  depth: number
  children: PlannedCollection[]
}

/**
 * The LAYOUT.md tree for one catalog (a view, or a snapshot read through one). Pure: the same
 * catalog and options always give the same names, targets, sizes, times and inode numbers. It reads
 * only the view's synchronous calls (view.ts) while it builds; a sidecar's record is read when its
 * bytes (and, while the view stores no sidecar size, its size) are asked for (nodes.ts
 * `PhotoSidecarNode`).
 *
 * A photo is shown only once its MediaEntry is known, because until then neither its exact size
 * nor (for a video) its extension is; its set links and Not-in-any-set link wait with it. Records
 * whose id (or media extension) is not a safe file-name part are skipped, never rewritten.
 * Metadata files record what Flickr says (a set's metadata lists all its member ids, shown or not);
 * directories list only what exists.
 */
export function buildLayout(catalog: CatalogView | CatalogSnapshot, opts: LayoutOptions = {}): Layout {
  const builder = new LayoutBuilder(asCatalogView(catalog), opts)
  const layout = builder.first()
  for (const _ of builder.rest()) {
    // All at once.
  }
  return layout
}

/** A layout whose photostream/ is built, and what builds the rest (buildLayoutInSteps). */
export interface LayoutInSteps {
  /**
   * photostream/ whole, with its final inode numbers, and the root's own attributes; its `building`
   * says which ops wait for the rest, until `finish` has built it.
   */
  readonly layout: Layout
  /**
   * Builds the rest, a slice of a few milliseconds at a time, awaiting `pause()` before each (by
   * default the next turn of the event loop, where a mount's ops are answered). Stops early, the
   * rest not built, once `wanted()` is false (a newer layout replaced this one). Either way the
   * layout's `building` is then cleared and the ops waiting for it go on; a failure fails them too.
   */
  finish(pause?: () => Promise<void>, wanted?: () => boolean): Promise<void>
}

/** The same tree as buildLayout, built in two parts (the header): photostream/ now, the rest by `finish`. */
export function buildLayoutInSteps(catalog: CatalogView | CatalogSnapshot, opts: LayoutOptions = {}): LayoutInSteps {
  const builder = new LayoutBuilder(asCatalogView(catalog), opts)
  const layout = builder.first()
  let settle!: (err?: Error) => void
  const done = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))))
  // A failure is the waiting ops' EIO, and finish's own: nobody else waits on `done`.
  done.catch(() => undefined)
  const building: TreeBuilding = { done, waits: waitsForTheRest }
  layout.building = building
  let finishing: Promise<void> | undefined
  const finish = async (pause: () => Promise<void>, wanted: () => boolean): Promise<void> => {
    try {
      for (const _ of builder.rest()) {
        await pause()
        if (!wanted()) break
      }
      layout.building = undefined
      settle()
    } catch (err) {
      settle(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }
  return {
    layout,
    finish: (pause = nextTurn, wanted = () => true) => (finishing ??= finish(pause, wanted)),
  }
}

/**
 * Whether an op on `path` waits for the rest of a layout built in steps: every path but
 * photostream/ and its files, and the root's listing (its attributes are known at once: the kernel
 * asks them before any path below).
 */
function waitsForTheRest(path: string, listing: boolean): boolean {
  if (path === '/') return listing
  return !(path === `/${PHOTOSTREAM_DIR}` || path.startsWith(`/${PHOTOSTREAM_DIR}/`))
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** How long a slice of the rest runs before it lets the ops waiting in line in (buildLayoutInSteps). */
const SLICE_MS = 2

/** The state of one build; each step below fills one part of the tree. Used once. */
class LayoutBuilder {
  readonly #view: CatalogView
  readonly #opts: LayoutOptions
  readonly #ignoreViews: boolean
  readonly #stats: LayoutStats = { photos: 0, sets: 0, collections: 0, photosWithoutMedia: 0, unsafeRecords: 0 }
  /**
   * Every node but the root, in the order added (index i), with its directory: inodes are assigned
   * last. Almost all are children a directory makes on demand, each a number in `#numbers`: its
   * place among them (in photostream/ (photostream-dir.ts) 2k for the k-th shown photo's original
   * and 2k + 1 for its sidecar; in a link directory (link-dir.ts) the link's index); the few nodes
   * made now are in `#made` (their `#numbers` entry is -1). Directories are told by runs: children
   * are added directory by directory. Typed arrays sized once from the catalog's counts, not arrays
   * of values grown by doubling: at 100,000 photos two such arrays of ~400,000 values (~3 MB each)
   * and their grown-out copies were ~13 MB of V8's large objects at every build (each partial view
   * of a first sync), freed only by a full GC.
   */
  #numbers: Int32Array
  readonly #made = new Map<number, LayoutNode>()
  readonly #runs: Array<{ start: number; dir: DirNode | OnDemandDir }> = []
  #count = 0
  #photostream: PhotostreamDir | undefined
  /** The index of photostream/'s first photo file (its files are one run from there, 2 a shown photo). */
  #photostreamFirst = 0
  /** Indices into the catalog's photostream order of the shown photos (what photostream/ keeps). */
  #shownOrder: Uint32Array | undefined
  /** The made link lists of every set directory and Not in any set/ (link-dir.ts). */
  readonly #linkCache: LinkCache
  // Each node's FNV state extends its directory's, so no path string is built per node; a typed
  // array because half of all int32 states would be boxed numbers in a plain one.
  #states: Int32Array
  readonly #root = new DirNode('', '')
  /**
   * Photos shown in photostream/: id → k, their place in photostream order (`#changedMs`, `#exts`).
   * Made with the photostream's length, or by the rest (#showAll) when the order lists each id once.
   */
  #shown = new ShownPhotos(0)
  /** How many photos photostream/ shows. */
  #shownCount = 0
  /**
   * Of each shown photo (by k): its change time as its files show it (photoChangedMs), for the folders' mtimes.
   * This, `#exts` and the shown order are sized once for the photostream's length (at most one shown photo
   * each), not grown by push: at 100,000 photos their grown-out copies were ~5 MB of V8's large objects at
   * every build, the whole tree's among them, built beside the last partial view (bench/RESULTS.md "sync-290").
   */
  #changedMs = new Float64Array(0)
  /** Each shown photo's file extension (lower-case): its names are hashed from id and ext, never built here. */
  readonly #exts: string[] = []
  /** Per shown photo, 1 once a set lists it (then it is not in Not in any set/). */
  #inSomeSet = new Uint8Array(0)
  /**
   * Each set directory's shown members (their k and id as the set lists them), kept for the build:
   * a link whose inode collided is named from them (#setLinkName), where the directory would make its
   * whole link list to name one (~0.25 s of the build at 1,000,000 photos).
   */
  readonly #setMembers = new Map<LinkDir, { ks: number[]; ids: string[] }>()
  /** Set directories made, by set id, in the catalog's order. */
  readonly #sets = new Map<string, ShownSet>()
  /** The sets that get a directory (safe ids, each once), in the catalog's order: decided by first(). */
  #shownSets: SetEntry[] = []
  /** The top-level collections that get a directory, with their nested ones: decided by first(). */
  #plannedCollections: PlannedCollection[] = []
  /** Inode numbers photostream/ holds (first()), which the rest keeps clear of. */
  #firstTier: TakenNumbers | undefined
  /** Where the rest's nodes start among `#states`. */
  #restFirst = 0
  /** When the rest's current slice began (performance.now()). */
  #sliceStart = 0
  /** Ids of the order the catalog knows but does not show (usually few), counted once each. */
  readonly #notShown = new Set<string>()

  constructor(view: CatalogView, opts: LayoutOptions) {
    this.#view = view
    this.#opts = opts
    this.#ignoreViews = opts.ignoreViews === true
    this.#linkCache = new LinkCache(opts.linkCache ?? DEFAULT_LINK_CACHE)
    const capacity = expectedNodes(view)
    this.#states = new Int32Array(capacity)
    this.#numbers = new Int32Array(capacity)
  }

  /**
   * The first part (the header): photostream/ with its inode numbers, which sets and collections
   * get a directory, and the root's mtime and link count as the whole tree will have them.
   */
  first(): Layout {
    const root = this.#root
    root.ino = ROOT_INO
    this.#addPhotostream()
    this.#assignPhotostreamInodes()
    this.#shownSets = this.#setsShown()
    this.#plannedCollections = this.#planCollections()
    // The root's mtime is the latest of its folders': photostream/'s covers every shown photo (each
    // set member, each link of Not in any set/), so the sets' and collections' own times are all
    // the rest adds (Not in any set/'s own is photostream/'s, or a set's).
    let mtimeMs = (this.#photostream as PhotostreamDir).mtimeMs
    for (const set of this.#shownSets) mtimeMs = Math.max(mtimeMs, wholeSecondsMs(set.changedAtMs))
    const latest = (planned: PlannedCollection): void => {
      mtimeMs = Math.max(mtimeMs, wholeSecondsMs(planned.c.changedAtMs))
      planned.children.forEach(latest)
    }
    this.#plannedCollections.forEach(latest)
    root.mtimeMs = mtimeMs
    root.subdirCount = 1 + (this.#opts.partial === true ? 0 : 1) + this.#shownSets.length + this.#plannedCollections.length
    return layoutOf(root, this.#stats)
  }

  /**
   * The rest (the header), yielding between slices of about SLICE_MS: buildLayout runs through it
   * at once, a mount between its ops.
   */
  *rest(): Generator<void> {
    this.#restFirst = this.#count
    this.#sliceStart = performance.now()
    if (this.#shown.size < this.#shownCount) yield* this.#showAll()
    // Not in any set/ comes before the sets in readdir order but depends on them, so fill it last.
    const notInSet = this.#opts.partial === true ? undefined : this.#linkDir(NOT_IN_ANY_SET_DIR)
    if (notInSet) this.#add(this.#root, notInSet)
    yield* this.#addSets()
    if (notInSet) yield* this.#fillNotInAnySet(notInSet)
    this.#addCollections()
    yield
    this.#assignRestInodes()
  }

  /** Whether the rest's slice has run its time (checked every so often, not at each node). */
  #sliceOver(): boolean {
    const now = performance.now()
    if (now - this.#sliceStart < SLICE_MS) return false
    this.#sliceStart = now
    return true
  }

  // Names are unique by construction (ids are deduplicated, numbers are unique, and a safe id
  // has no '.' or ' ', so `<id>.<ext>`, `<id>.<ext>.metadata`, `metadata`, `Set <id>…` cannot meet),
  // so there is no has() check here: on a 200k-entry Map it cost as much as the insert.
  #add(dir: DirNode | OnDemandDir, node: LayoutNode): void {
    ;(dir instanceof DirNode ? dir.children : dir.fixed).set(node.name, node)
    this.#addState(dir, node, fnvUpdate(fnvUpdate(dir.fnv, '/'), node.name))
  }

  /**
   * A child with no node (a number: its place among its directory's made children) or a node, and
   * the FNV state of its path (`<dir>/<name>`, hashed in parts by the callers that never build the name).
   */
  #addState(dir: DirNode | OnDemandDir, node: LayoutNode | number, state: number): void {
    const i = this.#count++
    if (i === this.#states.length) this.#grow()
    this.#states[i] = state
    if (typeof node === 'number') this.#numbers[i] = node
    else {
      this.#numbers[i] = -1
      this.#made.set(i, node)
    }
    const runs = this.#runs
    if (runs.length === 0 || (runs[runs.length - 1] as { dir: DirNode | OnDemandDir }).dir !== dir) runs.push({ start: i, dir })
  }

  /** More nodes than expectedNodes counted (it counts every set's listed members and every photo): never at today's layout. */
  #grow(): void {
    const size = this.#states.length * 2 + 64
    const states = new Int32Array(size)
    states.set(this.#states)
    this.#states = states
    const numbers = new Int32Array(size)
    numbers.set(this.#numbers)
    this.#numbers = numbers
  }

  /** The directory of node `i` (the run it falls in). */
  #parentOf(i: number): DirNode | OnDemandDir {
    const runs = this.#runs
    let lo = 0
    let hi = runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if ((runs[mid] as { start: number }).start <= i) lo = mid
      else hi = mid - 1
    }
    return (runs[lo] as { dir: DirNode | OnDemandDir }).dir
  }

  #subdir(parent: DirNode, name: string): DirNode {
    return new DirNode(name, `${parent.path}/${name}`, fnvUpdate(fnvUpdate(parent.fnv, '/'), name))
  }

  /** A directory of the root whose links are made on demand (link-dir.ts). */
  #linkDir(name: string): LinkDir {
    return new LinkDir(name, `/${name}`, fnvUpdate(fnvUpdate(this.#root.fnv, '/'), name))
  }

  #photoChangedMs(p: Pick<PhotoColumns, 'changedAtMs' | 'changedAtMsIgnoringViews'>): number {
    return photoChangedMs(p, this.#ignoreViews)
  }

  /**
   * photostream/: its metadata, SHA256SUMS, then an original and a sidecar for each photo that can
   * be shown, made on demand (photostream-dir.ts): the build decides which photos are shown, their
   * order, the directory's mtime and the inode states, and keeps no node for them. The directory's
   * mtime follows the catalog only: SHA256SUMS changes with the store.
   */
  #addPhotostream(): void {
    const view = this.#view
    const photostream = new PhotostreamDir(PHOTOSTREAM_DIR, `/${PHOTOSTREAM_DIR}`, fnvUpdate(fnvUpdate(this.#root.fnv, '/'), PHOTOSTREAM_DIR))
    this.#photostream = photostream
    this.#add(this.#root, photostream)
    let mtimeMs = wholeSecondsMs(view.photostreamChangedAtMs)
    this.#add(photostream, photostreamMetadataFile(mtimeMs, view))
    this.#add(photostream, new HashListNode(SHA256SUMS_FILE, photostream, this.#opts.hashes))
    const length = view.photostreamLength
    // An order known to list each id once needs no table to find an id listed twice: the table
    // (which the sets then look their members up in) is made in the rest, off the mount's way
    // (~0.1–0.2 s at 1,000,000 photos: a probe into 16 MB per photo).
    const once = view.photostreamListsEachOnce === true
    this.#shown = new ShownPhotos(once ? 0 : length)
    let count = 0
    const shown = new Uint32Array(length)
    const changed = (this.#changedMs = new Float64Array(length))
    const exts = this.#exts
    exts.length = length
    const dirState = fnvUpdate(photostream.fnv, '/')
    this.#photostreamFirst = this.#count
    // The extension as stored and lower-cased, for the photo before: most photos share it.
    let storedExt = ''
    let ext = ''
    // What a view that has streamRow writes there for each photo (one object), else undefined.
    const streamRow = view.streamRow?.bind(view)
    const row: StreamRow | undefined = streamRow === undefined ? undefined : { id: '', secret: '', media: 'photo', changedAtMs: 0, changedAtMsIgnoringViews: undefined, ext: undefined }
    for (let i = 0; i < length; i++) {
      if (streamRow !== undefined && !streamRow(i, row as StreamRow)) continue
      const id = row?.id ?? view.photostreamId(i)
      if (!once && this.#shown.get(id) !== undefined) continue
      const photo = row ?? view.photo(id)
      if (photo === undefined) continue
      const shownExt = row !== undefined ? showableRowExt(row, this.#opts) : showableExt(view, id, photo as PhotoColumns, this.#opts)
      if (typeof shownExt !== 'string') {
        if (shownExt.why === 'unsafe') this.#stats.unsafeRecords++
        if (shownExt.why === 'media') this.#stats.photosWithoutMedia++
        this.#notShown.add(id)
        continue
      }
      // `<id>.<ext>` as mediaFileName makes it (showableExt checked both parts), hashed in parts.
      if (shownExt !== storedExt) {
        storedExt = shownExt
        ext = shownExt.toLowerCase()
      }
      const k = once ? count++ : this.#shown.add(id)
      shown[k] = i
      changed[k] = this.#photoChangedMs(photo)
      exts[k] = ext
      const state = fnvUpdate(fnvUpdate(fnvUpdate(dirState, id), '.'), ext)
      this.#addState(photostream, 2 * k, state)
      this.#addState(photostream, 2 * k + 1, fnvUpdate(state, METADATA_SUFFIX))
      mtimeMs = Math.max(mtimeMs, changed[k])
    }
    if (!once) count = this.#shown.size
    this.#shownCount = count
    exts.length = count
    this.#shownOrder = count === length ? shown : shown.slice(0, count)
    this.#inSomeSet = new Uint8Array(count)
    // Every record of the catalog is in the order unless the distinct ids found there are fewer.
    const known = count + this.#notShown.size
    photostream.mtimeMs = mtimeMs
    photostream.plan({
      view,
      opts: { ignoreViews: this.#opts.ignoreViews, ignorePhotos: this.#opts.ignorePhotos, ignoreVideos: this.#opts.ignoreVideos },
      shown: this.#shownOrder,
      exts,
      shownIds: known < view.photoCount ? this.#shownIds(count) : undefined,
      nodeCache: this.#opts.nodeCache ?? DEFAULT_NODE_CACHE,
    })
    this.#stats.photos = count
  }

  /** The ids of the `count` shown photos, as the view's order spells them. */
  #shownIds(count: number): Set<string> {
    const ids = new Set<string>()
    for (let k = 0; k < count; k++) ids.add(this.#idOf(k))
    return ids
  }

  /** The shown photos' table (#shown), when photostream/'s step had no need of it (an order listing each id once). */
  *#showAll(): Generator<void> {
    const count = this.#shownCount
    this.#shown = new ShownPhotos(count)
    for (let k = 0; k < count; k++) {
      if ((k & 0xfff) === 0xfff && this.#sliceOver()) yield
      this.#shown.add(this.#idOf(k))
    }
  }

  /** The sets that get a directory: safe ids, each id once (the first set of it), in the catalog's order. */
  #setsShown(): SetEntry[] {
    const shown: SetEntry[] = []
    const ids = new Set<string>()
    for (const set of this.#view.sets) {
      if (!isSafeId(set.id)) {
        this.#stats.unsafeRecords++
        continue
      }
      if (ids.has(set.id)) continue
      ids.add(set.id)
      shown.push(set)
    }
    return shown
  }

  /** `Set <id> - <title>/` for each set shown: its metadata and numbered links to its shown members. */
  *#addSets(): Generator<void> {
    for (const [n, set] of this.#shownSets.entries()) {
      if ((n & 15) === 15 && this.#sliceOver()) yield
      const dir = this.#linkDir(setDirName(set.id, set.title))
      this.#add(this.#root, dir)
      this.#add(dir, setMetadataFile(set))
      // Each member's id as the set lists it, which is the shown photo's id (`#shown` is keyed by it):
      // no id is asked of the view again.
      const members: number[] = []
      const memberIds: string[] = []
      let near = -2
      for (const photoId of set.photoIds) {
        const k = this.#shown.get(photoId, near)
        if (k === undefined) continue
        near = k
        this.#inSomeSet[k] = 1
        members.push(k)
        memberIds.push(photoId)
      }
      let mtimeMs = wholeSecondsMs(set.changedAtMs)
      const dirState = fnvUpdate(dir.fnv, '/')
      for (let i = 0; i < members.length; i++) {
        const k = members[i] as number
        // numberedName(i + 1, n, `<id>.<ext>`), hashed in parts (the prefix from its digits, no string made): an id (≤ 64) and an ext (≤ 8) are
        // far inside NAME_MAX with any prefix, so numberedName never cuts one.
        const state = fnvUpdate(fnvUpdate(fnvUpdate(fnvNumberPrefix(dirState, i + 1, members.length), memberIds[i] as string), '.'), this.#exts[k] as string)
        this.#addState(dir, i, state)
        mtimeMs = Math.max(mtimeMs, this.#changedMs[k] as number)
      }
      dir.mtimeMs = mtimeMs
      dir.plan({ set }, members.length, this.#photostreamChildren(), this.#linkCache)
      this.#setMembers.set(dir, { ks: members, ids: memberIds })
      this.#sets.set(set.id, { set, name: dir.name, mtimeMs })
    }
    this.#stats.sets = this.#sets.size
  }

  /** Not in any set/: a link to each shown photo that no set lists. */
  *#fillNotInAnySet(notInSet: LinkDir): Generator<void> {
    let mtimeMs = wholeSecondsMs(this.#view.photostreamChangedAtMs)
    for (const { set } of this.#sets.values()) mtimeMs = Math.max(mtimeMs, wholeSecondsMs(set.changedAtMs))
    const ks: number[] = []
    const dirState = fnvUpdate(notInSet.fnv, '/')
    for (let k = 0; k < this.#inSomeSet.length; k++) {
      if ((k & 0xfff) === 0xfff && this.#sliceOver()) yield
      if (this.#inSomeSet[k] === 1) continue
      this.#addState(notInSet, ks.length, fnvUpdate(fnvUpdate(fnvUpdate(dirState, this.#idOf(k)), '.'), this.#exts[k] as string))
      ks.push(k)
      mtimeMs = Math.max(mtimeMs, this.#changedMs[k] as number)
    }
    notInSet.mtimeMs = mtimeMs
    notInSet.plan({ notInSet: Uint32Array.from(ks) }, ks.length, this.#photostreamChildren(), this.#linkCache)
  }

  /** The id of the k-th shown photo. */
  #idOf(k: number): string {
    return this.#view.photostreamId((this.#shownOrder as Uint32Array)[k] as number)
  }

  #photostreamChildren(): PhotostreamChildren {
    return (this.#photostream as PhotostreamDir).children
  }

  /**
   * The collections that get a directory (first()): top-level ones with a safe id, each name once,
   * and inside each its children as #childCollections finds them, down to MAX_COLLECTION_DEPTH.
   */
  #planCollections(): PlannedCollection[] {
    const names = new Set<string>()
    const planned: PlannedCollection[] = []
    for (const c of this.#view.collections) {
      if (!isSafeId(c.id)) {
        this.#stats.unsafeRecords++
        continue
      }
      const name = collectionDirName(c.id, c.title)
      if (names.has(name)) continue
      names.add(name)
      planned.push(this.#planCollection(c, 1, new Set([c.id])))
    }
    return planned
  }

  /** One collection `depth` levels below the root, inside `ancestors` (ids: a child among them would loop), and its children. */
  #planCollection(c: CollectionEntry, depth: number, ancestors: Set<string>): PlannedCollection {
    const children: PlannedCollection[] = []
    if (depth < MAX_COLLECTION_DEPTH) {
      for (const child of this.#childCollections(c, ancestors)) {
        ancestors.add(child.id)
        children.push(this.#planCollection(child, depth + 1, ancestors))
        ancestors.delete(child.id)
      }
    }
    return { c, depth, children }
  }

  /** `Collection <id> - <title>/` for each top-level collection planned, nested ones inside. */
  #addCollections(): void {
    for (const planned of this.#plannedCollections) {
      const dir = this.#subdir(this.#root, collectionDirName(planned.c.id, planned.c.title))
      this.#add(this.#root, dir)
      this.#fillCollection(planned, dir)
    }
  }

  /** One collection directory: its metadata, then numbered links to its sets and its child collections. */
  #fillCollection(planned: PlannedCollection, dir: DirNode): void {
    const { c, depth, children } = planned
    this.#stats.collections++
    this.#add(dir, collectionMetadataFile(c))
    const memberSets = c.setIds.map((id) => this.#sets.get(id)).filter((s): s is ShownSet => s !== undefined)
    const count = memberSets.length + children.length
    let mtimeMs = wholeSecondsMs(c.changedAtMs)
    let n = 0
    // Sets inside a collection are links back to the root's set directories.
    const up = '../'.repeat(depth)
    for (const member of memberSets) {
      const prefix = numberPrefix(++n, count)
      const linkName = prefix + setDirName(member.set.id, member.set.title, NAME_MAX_BYTES - prefix.length)
      this.#add(dir, new LinkNode(linkName, member.mtimeMs, up + member.name))
      mtimeMs = Math.max(mtimeMs, member.mtimeMs)
    }
    for (const child of children) {
      const prefix = numberPrefix(++n, count)
      const childDir = this.#subdir(dir, prefix + collectionDirName(child.c.id, child.c.title, NAME_MAX_BYTES - prefix.length))
      this.#add(dir, childDir)
      this.#fillCollection(child, childDir)
      mtimeMs = Math.max(mtimeMs, childDir.mtimeMs)
    }
    dir.mtimeMs = mtimeMs
  }

  /** The children of `c` that get a directory: safe ids that do not loop back to an ancestor. */
  #childCollections(c: CollectionEntry, ancestors: ReadonlySet<string>): CollectionEntry[] {
    const children: CollectionEntry[] = []
    for (const child of c.children) {
      if (!isSafeId(child.id)) this.#stats.unsafeRecords++
      else if (!ancestors.has(child.id)) children.push(child)
    }
    return children
  }

  /** The name of link `pos` of `dir` when it is a set directory (as link-dir.ts names it; the same parts #addSets hashed). */
  #setLinkName(dir: OnDemandDir, pos: number): string | undefined {
    const members = this.#setMembers.get(dir as LinkDir)
    if (members === undefined) return undefined
    const k = members.ks[pos] as number
    return `${numberPrefix(pos + 1, members.ks.length)}${members.ids[pos] as string}.${this.#exts[k] as string}`
  }

  /**
   * photostream/'s inode numbers (inodes.ts: the first tier), settled among themselves: the nodes
   * added so far, which are photostream/, its fixed files and its files.
   */
  #assignPhotostreamInodes(): void {
    const count = this.#count
    this.#firstTier = this.#settle(0, count)
    // photostream/'s listing reads its files' numbers from here rather than hashing each name again.
    const first = this.#photostreamFirst
    this.#photostreamChildren().listInos(new Uint32Array(this.#states.buffer, 0, count).slice(first, first + 2 * this.#shownCount))
  }

  /** The rest's inode numbers (inodes.ts: the second tier), clear of photostream/'s. */
  #assignRestInodes(): void {
    this.#settle(this.#restFirst, this.#count, this.#firstTier)
    this.#firstTier = undefined
  }

  /**
   * The inode numbers of nodes `from` … `to` - 1: a hash of each path (from the FNV states),
   * collisions settled by path order, clear of the numbers `before` holds.
   */
  #settle(from: number, to: number, before?: TakenNumbers): TakenNumbers {
    const numbers = this.#numbers
    // The first choices in place of the states (same width; each read before it is written).
    const inos = new Uint32Array(this.#states.buffer, 4 * from, to - from)
    const states = new Int32Array(this.#states.buffer, 4 * from, to - from)
    for (let i = 0; i < inos.length; i++) inos[i] = inoFromState(states[i] as number)
    const nameOf = (i: number): string => {
      const number = numbers[i] as number
      if (number < 0) return (this.#made.get(i) as LayoutNode).name
      const dir = this.#parentOf(i) as OnDemandDir
      return this.#setLinkName(dir, number) ?? dir.nameAt(number)
    }
    const taken = settleCollisions(inos, (i) => `${this.#parentOf(from + i).path}/${nameOf(from + i)}`, (i) => {
      // A child with no node takes its path hash when made; only a moved number is kept.
      const number = numbers[from + i] as number
      if (number >= 0) (this.#parentOf(from + i) as OnDemandDir).moveIno(nameOf(from + i), inos[i] as number)
    }, before)
    for (const [i, node] of this.#made) if (i >= from && i < to) (node as { ino: number }).ino = inos[i - from] as number
    return taken
  }
}

/**
 * How many nodes a build of `view` adds at most: photostream/'s two files a photo, a link a set
 * member and one in Not in any set/ a photo, a directory and metadata file a set, and room for the
 * collections and the few fixed files (grown when a collection tree is bigger).
 */
function expectedNodes(view: CatalogView): number {
  let members = 0
  for (const set of view.sets) members += set.photoIds.length
  return 3 * view.photostreamLength + members + 2 * view.sets.length + 256
}

/*
 * The closures a Layout keeps are made out here, not in LayoutBuilder's methods: a closure made in
 * a method whose scope also holds `this` keeps the whole builder (every node twice, the shown-photo
 * map) alive as long as the layout: 82 MB instead of 63 MB of heap for 100k photos in
 * test/layout/bench-build.ts.
 */

function photostreamMetadataFile(mtimeMs: number, view: CatalogView): MetadataFileNode {
  return new MetadataFileNode(METADATA_FILE, mtimeMs, () => photostreamMetadata(photostreamIds(view)))
}

/** The photostream order's ids, read from the view when the metadata file is. */
function* photostreamIds(view: CatalogView): Generator<string> {
  for (let i = 0; i < view.photostreamLength; i++) yield view.photostreamId(i)
}

function setMetadataFile(set: SetEntry): MetadataFileNode {
  return new MetadataFileNode(METADATA_FILE, wholeSecondsMs(set.changedAtMs), () => setMetadata(set))
}

function collectionMetadataFile(c: CollectionEntry): MetadataFileNode {
  return new MetadataFileNode(METADATA_FILE, wholeSecondsMs(c.changedAtMs), () => collectionMetadata(c))
}

function layoutOf(root: DirNode, stats: LayoutStats): Layout {
  return {
    root,
    lookup: (path) => {
      const node = lookup(root, path)
      return node instanceof HashListNode ? node.current() : node
    },
    stats,
  }
}

/** Walks '/'-separated names from the root: O(depth). Empty segments (`//`, a trailing `/`) are ignored. */
export function lookup(root: LayoutDir, path: string): LayoutNode | undefined {
  if (!path.startsWith('/')) return undefined
  let node: LayoutNode = root
  for (const part of path.split('/')) {
    if (part === '') continue
    if (node.kind !== 'dir') return undefined
    const next: LayoutNode | undefined = node.children.get(part)
    if (next === undefined) return undefined
    node = next
  }
  return node
}
