/**
 * The eager layout build as it was before photostream/ and the link directories were made on
 * demand (src/layout/build-layout.ts at main 30966ec, imports adjusted, renamed buildEagerLayout;
 * PhotoSidecarNode now reads its record from a view):
 * a node for every file and link, held. test/layout/lazy-layout.test.ts checks that the lazy build
 * shows exactly this tree (names, order, inode numbers, sizes, times, targets, bytes and stats).
 * Kept as it was on purpose: do not "fix" it to match the lazy build.
 */
/**
 * buildLayout: one CatalogSnapshot → the LAYOUT.md tree the mount serves and pin writes
 * (photostream/, Not in any set/, one directory per set, nested collection directories with
 * numbered links back to the sets, a `metadata` file in each, a sidecar per photo and
 * photostream/SHA256SUMS).
 *
 * Captured when it runs, and never changed after: every name, link target, directory listing,
 * mtime and inode number; the size of each original (the MediaEntry's); the records each metadata
 * file is built from (references into the snapshot, which the catalog never mutates). A sidecar
 * follows from the catalog alone.
 *
 * Asked lazily, when a file is read or stat'ed: metadata JSON bytes (rebuilt at each `data` read,
 * never retained) and their size (measured once, at the first access); SHA256SUMS, from
 * `opts.hashes` once per store generation (nodes.ts HashListNode).
 *
 * The build runs in named steps over one LayoutBuilder: photostream first (it decides which photos
 * are shown), the sets (which link to shown photos), Not in any set (shown photos no set holds),
 * the collections (which link to the sets), then inode numbers for the whole tree.
 */
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, SetEntry } from '../../src/catalog/types.js'
import { mediaKey } from '../../src/catalog/types.js'
import { snapshotView } from '../../src/catalog/view.js'
import { fnvUpdate, inoFromState, ROOT_INO, settleCollisions, type TakenNumbers } from '../../src/layout/inodes.js'
import { collectionMetadata, photostreamMetadata, setMetadata } from '../../src/layout/metadata.js'
import {
  collectionDirName,
  isSafeExt,
  isSafeId,
  isSafeSecret,
  mediaFileName,
  METADATA_SUFFIX,
  NAME_MAX_BYTES,
  numberedName,
  numberPrefix,
  setDirName,
} from '../../src/layout/names.js'
import { DirNode, HashListNode, LinkNode, MetadataFileNode, OriginalFileNode, PhotoSidecarNode } from '../../src/layout/nodes.js'
import { SHA256SUMS_FILE } from '../../src/layout/sha256sums.js'
import { mediaMtimeMs, wholeSecondsMs } from '../../src/layout/times.js'
import type { Layout, LayoutDir, LayoutNode, LayoutOptions, LayoutStats } from '../../src/layout/types.js'

export const PHOTOSTREAM_DIR = 'photostream'
export const NOT_IN_ANY_SET_DIR = 'Not in any set'
export const METADATA_FILE = 'metadata'
/** Flickr nests collections only a few levels deep; this only stops a malformed tree. */
const MAX_COLLECTION_DEPTH = 32

interface ShownPhoto {
  photo: PhotoEntry
  media: MediaEntry
  fileName: string
  /** `../photostream/<file>`, shared by the photo's set links and Not-in-any-set link. */
  target: string
  mtimeMs: number
}

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
 * The LAYOUT.md tree for one catalog snapshot. Pure: the same snapshot and options always give the
 * same names, targets, sizes, times and inode numbers.
 *
 * A photo is shown only once its MediaEntry is known, because until then neither its exact size
 * nor (for a video) its extension is; its set links and Not-in-any-set link wait with it. Records
 * whose id (or media extension) is not a safe file-name part are skipped, never rewritten.
 * Metadata files record what Flickr says (a set's metadata lists all its member ids, shown or not);
 * directories list only what exists.
 */
export function buildEagerLayout(snap: CatalogSnapshot, opts: LayoutOptions = {}): Layout {
  return new LayoutBuilder(snap, opts).build()
}

/** The state of one build; each step below fills one part of the tree. Used once. */
class LayoutBuilder {
  readonly #snap: CatalogSnapshot
  readonly #opts: LayoutOptions
  readonly #ignoreViews: boolean
  readonly #stats: LayoutStats = { photos: 0, sets: 0, collections: 0, photosWithoutMedia: 0, unsafeRecords: 0 }
  /** Every node but the root, in the order added, with its directory: inodes are assigned last. */
  readonly #nodes: LayoutNode[] = []
  readonly #parents: DirNode[] = []
  // Each node's FNV state extends its directory's, so no path string is built per node; a typed
  // array because half of all int32 states would be boxed numbers in a plain one.
  #states = new Int32Array(4096)
  readonly #root = new DirNode('', '')
  /** Per local hour, where it starts (see times.ts); lives for this build only. */
  readonly #hourCache = new Map<number, number>()
  /** Photos shown in photostream/, by id, in photostream order. */
  readonly #shown = new Map<string, ShownPhoto>()
  /** Set directories made, by set id, in the snapshot's order. */
  readonly #sets = new Map<string, ShownSet>()
  /** Ids listed by any set (shown or not): such a photo is not "not in any set". */
  readonly #inSomeSet = new Set<string>()

  constructor(snap: CatalogSnapshot, opts: LayoutOptions) {
    this.#snap = snap
    this.#opts = opts
    this.#ignoreViews = opts.ignoreViews === true
  }

  build(): Layout {
    const root = this.#root
    this.#addPhotostream()
    // Not in any set/ comes before the sets in readdir order but depends on them, so fill it last.
    const notInSet = this.#opts.partial === true ? undefined : this.#subdir(root, NOT_IN_ANY_SET_DIR)
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
  #add(dir: DirNode, node: LayoutNode): void {
    dir.children.set(node.name, node)
    const nodes = this.#nodes
    if (nodes.length === this.#states.length) {
      const grown = new Int32Array(this.#states.length * 2)
      grown.set(this.#states)
      this.#states = grown
    }
    this.#states[nodes.length] = fnvUpdate(fnvUpdate(dir.fnv, '/'), node.name)
    nodes.push(node)
    this.#parents.push(dir)
  }

  #subdir(parent: DirNode, name: string): DirNode {
    return new DirNode(name, `${parent.path}/${name}`, fnvUpdate(fnvUpdate(parent.fnv, '/'), name))
  }

  // Under --ignore-views a sidecar does not show views, so a views-only change must not move its mtime.
  #photoChangedMs(p: PhotoEntry): number {
    return wholeSecondsMs(this.#ignoreViews ? (p.changedAtMsIgnoringViews ?? p.changedAtMs) : p.changedAtMs)
  }

  /**
   * photostream/: its metadata, SHA256SUMS, then an original and a sidecar for each photo that can
   * be shown. The directory's mtime follows the catalog only: SHA256SUMS changes with the store.
   */
  #addPhotostream(): void {
    const snap = this.#snap
    const photostream = this.#subdir(this.#root, PHOTOSTREAM_DIR)
    this.#add(this.#root, photostream)
    let mtimeMs = wholeSecondsMs(snap.photostreamChangedAtMs)
    this.#add(photostream, photostreamMetadataFile(mtimeMs, snap.photostream))
    this.#add(photostream, new HashListNode(SHA256SUMS_FILE, photostream, this.#opts.hashes))
    for (const id of snap.photostream) {
      if (this.#shown.has(id)) continue
      const photo = snap.photos.get(id)
      if (photo === undefined) continue
      const media = this.#showableMedia(id, photo)
      if (media === undefined) continue
      const fileName = mediaFileName(id, media.ext)
      const fileMtimeMs = mediaMtimeMs(photo, this.#hourCache)
      this.#shown.set(id, { photo, media, fileName, target: `../${PHOTOSTREAM_DIR}/${fileName}`, mtimeMs: fileMtimeMs })
      this.#add(photostream, new OriginalFileNode(fileName, fileMtimeMs, media))
      const changedMs = this.#photoChangedMs(photo)
      this.#add(photostream, new PhotoSidecarNode(fileName + METADATA_SUFFIX, changedMs, snapshotView(snap), id, media, this.#ignoreViews))
      mtimeMs = Math.max(mtimeMs, changedMs)
    }
    photostream.mtimeMs = mtimeMs
    this.#stats.photos = this.#shown.size
  }

  /** The photo's MediaEntry when it may be listed: safe id, secret and ext, wanted, media known. */
  #showableMedia(id: string, photo: PhotoEntry): MediaEntry | undefined {
    const opts = this.#opts
    // The store refuses to write an unsafe id or secret: such a file must not be listed.
    if (!isSafeId(id) || !isSafeSecret(photo.secret)) {
      this.#stats.unsafeRecords++
      return undefined
    }
    if ((photo.media === 'video' && opts.ignoreVideos === true) || (photo.media === 'photo' && opts.ignorePhotos === true)) return undefined
    const media = this.#snap.media.get(mediaKey(id, photo.secret))
    if (media === undefined) {
      this.#stats.photosWithoutMedia++
      return undefined
    }
    if (!isSafeExt(media.ext)) {
      this.#stats.unsafeRecords++
      return undefined
    }
    return media
  }

  /** `Set <id> - <title>/` for each set: its metadata and numbered links to its shown members. */
  #addSets(): void {
    for (const set of this.#snap.sets) {
      if (!isSafeId(set.id)) {
        this.#stats.unsafeRecords++
        continue
      }
      if (this.#sets.has(set.id)) continue
      const dir = this.#subdir(this.#root, setDirName(set.id, set.title))
      this.#add(this.#root, dir)
      this.#add(dir, setMetadataFile(set))
      const members: ShownPhoto[] = []
      for (const photoId of set.photoIds) {
        this.#inSomeSet.add(photoId)
        const member = this.#shown.get(photoId)
        if (member !== undefined) members.push(member)
      }
      let mtimeMs = wholeSecondsMs(set.changedAtMs)
      members.forEach((member, i) => {
        const name = numberedName(i + 1, members.length, member.fileName)
        this.#add(dir, new LinkNode(name, member.mtimeMs, member.target))
        mtimeMs = Math.max(mtimeMs, this.#photoChangedMs(member.photo))
      })
      dir.mtimeMs = mtimeMs
      this.#sets.set(set.id, { set, name: dir.name, mtimeMs })
    }
    this.#stats.sets = this.#sets.size
  }

  /** Not in any set/: a link to each shown photo that no set lists. */
  #fillNotInAnySet(notInSet: DirNode): void {
    let mtimeMs = wholeSecondsMs(this.#snap.photostreamChangedAtMs)
    for (const { set } of this.#sets.values()) mtimeMs = Math.max(mtimeMs, wholeSecondsMs(set.changedAtMs))
    for (const [id, item] of this.#shown) {
      if (this.#inSomeSet.has(id)) continue
      this.#add(notInSet, new LinkNode(item.fileName, item.mtimeMs, item.target))
      mtimeMs = Math.max(mtimeMs, this.#photoChangedMs(item.photo))
    }
    notInSet.mtimeMs = mtimeMs
  }

  /** `Collection <id> - <title>/` for each top-level collection, nested ones inside. */
  #addCollections(): void {
    for (const c of this.#snap.collections) {
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

  /** Every node's inode: a hash of its path (from the FNV states), collisions settled by path order in two tiers. */
  #assignInodes(): void {
    const nodes = this.#nodes
    const parents = this.#parents
    this.#root.ino = ROOT_INO
    const pathOf = (i: number): string => `${(parents[i] as DirNode).path}/${(nodes[i] as LayoutNode).name}`
    // Two tiers (inodes.ts): photostream/ and its files settle first, the rest clear of them.
    const tiers = [[] as number[], [] as number[]]
    nodes.forEach((_, i) => (tiers[pathOf(i) === '/photostream' || pathOf(i).startsWith('/photostream/') ? 0 : 1] as number[]).push(i))
    let before: TakenNumbers | undefined
    for (const at of tiers) {
      const inos = Uint32Array.from(at, (i) => inoFromState(this.#states[i] as number))
      before = settleCollisions(inos, (k) => pathOf(at[k] as number), undefined, before)
      at.forEach((i, k) => ((nodes[i] as { ino: number }).ino = inos[k] as number))
    }
  }
}

/*
 * The closures a Layout keeps are made out here, not in LayoutBuilder's methods: a closure made in
 * a method whose scope also holds `this` keeps the whole builder (every node twice, the shown-photo
 * map) alive as long as the layout: 82 MB instead of 63 MB of heap for 100k photos in
 * test/layout/bench-build.ts.
 */

function photostreamMetadataFile(mtimeMs: number, photoIds: readonly string[]): MetadataFileNode {
  return new MetadataFileNode(METADATA_FILE, mtimeMs, () => photostreamMetadata(photoIds))
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
