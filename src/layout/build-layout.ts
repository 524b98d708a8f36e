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
 * The build runs in named steps over one LayoutBuilder: photostream first (it decides which photos
 * are shown), the sets (which link to shown photos), Not in any set (shown photos no set holds),
 * the collections (which link to the sets), then inode numbers for the whole tree.
 */
import type { CatalogSnapshot, CollectionEntry, SetEntry } from '../catalog/types.js'
import { asCatalogView, type CatalogView, type PhotoColumns } from '../catalog/view.js'
import { fnvNumberPrefix, fnvUpdate, inoFromState, ROOT_INO, settleCollisions } from './inodes.js'
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
import { DEFAULT_NODE_CACHE, photoChangedMs, type PhotostreamChildren, PhotostreamDir, showableExt } from './photostream-dir.js'
import { SHA256SUMS_FILE } from './sha256sums.js'
import { ShownPhotos } from './shown-photos.js'
import { wholeSecondsMs } from './times.js'
import type { Layout, LayoutDir, LayoutNode, LayoutOptions, LayoutStats } from './types.js'

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

/** Where one collection directory sits: `depth` levels below the root, inside `ancestors` (ids). */
interface CollectionPlace {
  dir: DirNode
  depth: number
  /** Ids of this collection and every collection above it: a child among them would loop. */
  ancestors: Set<string>
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
  return new LayoutBuilder(asCatalogView(catalog), opts).build()
}

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
  /** Photos shown in photostream/: id → k, their place in photostream order (`#changedMs`, `#exts`). Made with the photostream's length. */
  #shown = new ShownPhotos(0)
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

  build(): Layout {
    const root = this.#root
    this.#addPhotostream()
    // Not in any set/ comes before the sets in readdir order but depends on them, so fill it last.
    const notInSet = this.#opts.partial === true ? undefined : this.#linkDir(NOT_IN_ANY_SET_DIR)
    if (notInSet) this.#add(root, notInSet)
    this.#addSets()
    if (notInSet) this.#fillNotInAnySet(notInSet)
    this.#addCollections()
    let rootMtime = 0
    for (const child of root.children.values()) rootMtime = Math.max(rootMtime, child.mtimeMs)
    root.mtimeMs = rootMtime
    this.#assignInodes()
    return layoutOf(root, this.#stats)
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

  #photoChangedMs(p: PhotoColumns): number {
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
    this.#shown = new ShownPhotos(length)
    const shown = new Uint32Array(length)
    const changed = (this.#changedMs = new Float64Array(length))
    const exts = this.#exts
    exts.length = length
    const dirState = fnvUpdate(photostream.fnv, '/')
    this.#photostreamFirst = this.#count
    // The extension as stored and lower-cased, for the photo before: most photos share it.
    let storedExt = ''
    let ext = ''
    for (let i = 0; i < length; i++) {
      const id = view.photostreamId(i)
      if (this.#shown.get(id) !== undefined) continue
      const photo = view.photo(id)
      if (photo === undefined) continue
      const shownExt = showableExt(view, id, photo, this.#opts)
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
      const k = this.#shown.add(id)
      shown[k] = i
      changed[k] = this.#photoChangedMs(photo)
      exts[k] = ext
      const state = fnvUpdate(fnvUpdate(fnvUpdate(dirState, id), '.'), ext)
      this.#addState(photostream, 2 * k, state)
      this.#addState(photostream, 2 * k + 1, fnvUpdate(state, METADATA_SUFFIX))
      mtimeMs = Math.max(mtimeMs, changed[k])
    }
    const count = this.#shown.size
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

  /** `Set <id> - <title>/` for each set: its metadata and numbered links to its shown members. */
  #addSets(): void {
    for (const set of this.#view.sets) {
      if (!isSafeId(set.id)) {
        this.#stats.unsafeRecords++
        continue
      }
      if (this.#sets.has(set.id)) continue
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
  #fillNotInAnySet(notInSet: LinkDir): void {
    let mtimeMs = wholeSecondsMs(this.#view.photostreamChangedAtMs)
    for (const { set } of this.#sets.values()) mtimeMs = Math.max(mtimeMs, wholeSecondsMs(set.changedAtMs))
    const ks: number[] = []
    const dirState = fnvUpdate(notInSet.fnv, '/')
    for (let k = 0; k < this.#inSomeSet.length; k++) {
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

  /** `Collection <id> - <title>/` for each top-level collection, nested ones inside. */
  #addCollections(): void {
    for (const c of this.#view.collections) {
      if (!isSafeId(c.id)) {
        this.#stats.unsafeRecords++
        continue
      }
      const name = collectionDirName(c.id, c.title)
      if (this.#root.children.has(name)) continue
      const dir = this.#subdir(this.#root, name)
      this.#add(this.#root, dir)
      this.#fillCollection(c, { dir, depth: 1, ancestors: new Set([c.id]) })
    }
  }

  /** One collection directory: its metadata, then numbered links to its sets and its child collections. */
  #fillCollection(c: CollectionEntry, at: CollectionPlace): void {
    const { dir, depth, ancestors } = at
    this.#stats.collections++
    this.#add(dir, collectionMetadataFile(c))
    const memberSets = c.setIds.map((id) => this.#sets.get(id)).filter((s): s is ShownSet => s !== undefined)
    const children = depth < MAX_COLLECTION_DEPTH ? this.#childCollections(c, ancestors) : []
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
      const childDir = this.#subdir(dir, prefix + collectionDirName(child.id, child.title, NAME_MAX_BYTES - prefix.length))
      this.#add(dir, childDir)
      ancestors.add(child.id)
      this.#fillCollection(child, { dir: childDir, depth: depth + 1, ancestors })
      ancestors.delete(child.id)
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

  /** Every node's inode: a hash of its path (from the FNV states), collisions settled by path order. */
  #assignInodes(): void {
    this.#root.ino = ROOT_INO
    const count = this.#count
    const numbers = this.#numbers
    // The first choices in place of the states (same width; each read before it is written).
    const inos = new Uint32Array(this.#states.buffer, 0, count)
    const states = this.#states
    for (let i = 0; i < count; i++) inos[i] = inoFromState(states[i] as number)
    const nameOf = (i: number): string => {
      const number = numbers[i] as number
      if (number < 0) return (this.#made.get(i) as LayoutNode).name
      const dir = this.#parentOf(i) as OnDemandDir
      return this.#setLinkName(dir, number) ?? dir.nameAt(number)
    }
    settleCollisions(inos, (i) => `${this.#parentOf(i).path}/${nameOf(i)}`, (i) => {
      // A child with no node takes its path hash when made; only a moved number is kept.
      const number = numbers[i] as number
      if (number >= 0) (this.#parentOf(i) as OnDemandDir).moveIno(nameOf(i), inos[i] as number)
    })
    for (const [i, node] of this.#made) (node as { ino: number }).ino = inos[i] as number
    // photostream/'s listing reads its files' numbers from here rather than hashing each name again.
    const first = this.#photostreamFirst
    this.#photostreamChildren().listInos(inos.slice(first, first + 2 * this.#shown.size))
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
