/**
 * photostream/ without a node per file: its children are made on demand from the catalog view
 * (src/catalog/view.ts) the layout was built from. At 100,000 photos the eager tree held ~200k nodes here (an original
 * and a sidecar per photo, with their names and Map entries); this directory keeps only the order
 * of the shown photos (4 bytes a photo), its files' inode numbers as the build settled them (8
 * bytes a photo, so a listing hashes no name), the few that a hash collision moved by name (for a
 * lookup), and a bounded cache of the nodes asked for lately.
 *
 * Everything a node says is a pure function of the catalog and the options, so a node made again
 * after it left the cache is the same in every field (name, inode, size, mtime, bytes); only its
 * identity differs. `get(name)` reads the photo's id back out of the name (names.ts) and checks that
 * the layout shows that very file; iteration walks the shown order and retains nothing.
 */
import { LRUCache } from 'lru-cache'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { MediaEntry } from '../catalog/types.js'
import type { CatalogView, PhotoColumns, StreamRow } from '../catalog/view.js'
import { fnvUpdate, inoFromState } from './inodes.js'
import { isSafeExt, isSafeId, isSafeSecret, mediaFileName, METADATA_SUFFIX, parseMediaFileName, parseSidecarName } from './names.js'
import { OnDemandDir, OriginalFileNode, PhotoSidecarNode } from './nodes.js'
import { mediaMtimeMs, wholeSecondsMs } from './times.js'
import type { LayoutNode, LayoutOptions } from './types.js'

/** How many nodes a photostream/ keeps made by default: what a tool works through at once, many times over. */
export const DEFAULT_NODE_CACHE = 4096

/** The options a photostream/ node depends on. */
type PhotostreamOptions = Pick<LayoutOptions, 'ignoreViews' | 'ignorePhotos' | 'ignoreVideos'>

/** Why a photo is not shown in photostream/ (showableExt). */
export type NotShownReason = 'unsafe' | 'media' | 'ignored'

/** A reason as showableExt answers it: an object, so that it cannot be taken for an extension. */
export interface NotShown {
  readonly why: NotShownReason
}

const NOT_SHOWN: Readonly<Record<NotShownReason, NotShown>> = { unsafe: { why: 'unsafe' }, media: { why: 'media' }, ignored: { why: 'ignored' } }

/**
 * Whether `photo` (with id `id`) is shown in photostream/, and the extension of its original (as
 * stored: names lower-case it). The one rule, used by the build (which also counts why a photo is
 * left out, and needs no more of the original) and, through showableMedia, by every lookup. `why`
 * is 'unsafe' (an id, secret or extension that cannot be a file name), 'media' (size not known
 * yet) or 'ignored' (--ignore-photos / --ignore-videos).
 */
export function showableExt(view: CatalogView, id: string, photo: PhotoColumns, opts: PhotostreamOptions): string | NotShown {
  return notShownAsSuch(id, photo.secret, photo.media, opts) ?? shownExtOf(view.mediaExt(id, photo.secret))
}

/** showableExt of a photo as the view's streamRow wrote it (its original's extension in hand). */
export function showableRowExt(row: StreamRow, opts: PhotostreamOptions): string | NotShown {
  return notShownAsSuch(row.id, row.secret, row.media, opts) ?? shownExtOf(row.ext)
}

/** Why a photo is not shown whatever its original: an unsafe id or secret, or its kind ignored. */
function notShownAsSuch(id: string, secret: string, media: PhotoColumns['media'], opts: PhotostreamOptions): NotShown | undefined {
  // The store refuses to write an unsafe id or secret: such a file must not be listed.
  if (!isSafeId(id) || !isSafeSecret(secret)) return NOT_SHOWN.unsafe
  if ((media === 'video' && opts.ignoreVideos === true) || (media === 'photo' && opts.ignorePhotos === true)) return NOT_SHOWN.ignored
  return undefined
}

/** The extension of a shown photo's original, or why it is not shown: none known yet, or unsafe. */
function shownExtOf(ext: string | undefined): string | NotShown {
  if (ext === undefined) return NOT_SHOWN.media
  if (ext !== lastSafeExt) {
    if (!isSafeExt(ext)) return NOT_SHOWN.unsafe
    lastSafeExt = ext
  }
  return ext
}

/**
 * The extension showableExt found safe last. A catalog holds a handful (its extension column is a
 * dictionary), so nearly every photo of a build brings the one just checked: no regular expression
 * and lower-casing for each of 1,000,000 photos.
 */
let lastSafeExt: string | undefined

/** showableExt's answer with the photo's MediaEntry in place of its extension (a node needs its size and URL). */
export function showableMedia(view: CatalogView, id: string, photo: PhotoColumns, opts: PhotostreamOptions): MediaEntry | NotShownReason {
  const ext = showableExt(view, id, photo, opts)
  if (typeof ext !== 'string') return ext.why
  return view.media(id, photo.secret) as MediaEntry
}

/** Under --ignore-views a sidecar does not show views, so a views-only change must not move its mtime. */
export function photoChangedMs(p: Pick<PhotoColumns, 'changedAtMs' | 'changedAtMsIgnoringViews'>, ignoreViews: boolean): number {
  return wholeSecondsMs(ignoreViews ? (p.changedAtMsIgnoringViews ?? p.changedAtMs) : p.changedAtMs)
}

/** What the build hands over once photostream/ is decided. */
export interface PhotostreamPlan {
  view: CatalogView
  opts: PhotostreamOptions
  /** Positions in `view`'s photostream order of the shown photos, in order (each id once). */
  shown: Uint32Array
  /**
   * Their originals' extensions, lower case, in the same order: a listing makes each name from
   * these without a lookup. Nothing else of a photo is kept: a lazy view (catalog/lazy-view.ts)
   * makes a new object per answer, and holding one per photo would hold the whole catalog again.
   */
  exts: readonly string[]
  /**
   * The shown ids, only when the catalog has photos its photostream order does not list (then
   * "the photo is known and showable" is not enough to say it is shown). Undefined otherwise.
   */
  shownIds: ReadonlySet<string> | undefined
  nodeCache: number
}

/** A shown original as links see it. */
export interface ShownFile {
  fileName: string
  mtimeMs: number
  /** `../photostream/<fileName>`: the target of a link to it from a directory below the root. */
  target: string
}

/** photostream/ (see the header): `fixed` holds its metadata and SHA256SUMS, listed first. */
export class PhotostreamDir extends OnDemandDir {
  #children: PhotostreamChildren | undefined

  /** Called once by the build, after the fixed files and before inode numbers are settled. */
  plan(plan: PhotostreamPlan): void {
    this.#children = new PhotostreamChildren(this.fixed, plan, fnvUpdate(this.fnv, '/'), `../${this.name}/`)
  }

  /** The name of the file at `pos` among the photo files (2k: the k-th original, 2k + 1: its sidecar). */
  nameAt(pos: number): string {
    return this.children.nameAt(pos >>> 1, (pos & 1) as 0 | 1)
  }

  moveIno(name: string, ino: number): void {
    this.children.moveIno(name, ino)
  }

  get children(): PhotostreamChildren {
    if (this.#children === undefined) throw new Error('photostream/ read before its build finished')
    return this.#children
  }

  /** How many made nodes it keeps now (never more than the cache bound). */
  get cachedNodes(): number {
    return this.children.cachedNodes
  }

  eachChild(fn: (name: string, child: { readonly kind: LayoutNode['kind']; readonly ino: number }) => void): void {
    this.children.eachChild(fn)
  }
}

/** The children of photostream/ as a read-only Map whose photo files are made when asked for. */
export class PhotostreamChildren implements ReadonlyMap<string, LayoutNode> {
  readonly #fixed: ReadonlyMap<string, LayoutNode>
  readonly #view: CatalogView
  readonly #opts: PhotostreamOptions
  readonly #shown: Uint32Array
  readonly #exts: readonly string[]
  readonly #shownIds: ReadonlySet<string> | undefined
  readonly #state: number
  readonly #cache: LRUCache<string, LayoutNode>
  /** Inode numbers a collision moved off their path hash, by name (set while inodes are settled). */
  readonly #movedInos = new Map<string, number>()
  /** Their path hashes: most names are not moved, and a number is cheaper to look up than a name. */
  readonly #movedHashes = new Set<number>()
  /** Per local hour, where it starts (times.ts); bounded, since it lives as long as the layout. */
  readonly #hourCache = new Map<number, number>()
  /** Of each photo file, its inode number (listInos); set by the build once inodes are settled. */
  #listedInos: Uint32Array | undefined

  /** `../photostream/`: what a link to one of these files starts with. */
  readonly #linkPrefix: string

  constructor(fixed: ReadonlyMap<string, LayoutNode>, plan: PhotostreamPlan, state: number, linkPrefix: string) {
    this.#linkPrefix = linkPrefix
    this.#fixed = fixed
    this.#view = plan.view
    this.#opts = plan.opts
    this.#shown = plan.shown
    this.#exts = plan.exts
    this.#shownIds = plan.shownIds
    this.#state = state
    this.#cache = new LRUCache<string, LayoutNode>({ max: Math.max(1, plan.nodeCache) })
  }

  get size(): number {
    return this.#fixed.size + 2 * this.#shown.length
  }

  get cachedNodes(): number {
    return this.#cache.size
  }

  /** The name of the `which` file (0 the original, 1 its sidecar) of the `k`-th shown photo. */
  nameAt(k: number, which: 0 | 1): string {
    const { fileName } = this.#shownAt(k)
    return which === 0 ? fileName : fileName + METADATA_SUFFIX
  }

  /**
   * The `k`-th shown photo's id and file name. The build checked every rule for it (names.ts)
   * against this very catalog view, which never changes: the name is `mediaFileName`'s
   * `<id>.<lower-case ext>` without its checks.
   */
  #shownAt(k: number): { id: string; fileName: string } {
    const id = this.#idAt(k)
    return { id, fileName: `${id}.${this.#exts[k] as string}` }
  }

  /** The `k`-th shown photo's columns and original, asked of the view (the build found both). */
  #recordsAt(k: number): { id: string; photo: PhotoColumns; media: MediaEntry; fileName: string } {
    const { id, fileName } = this.#shownAt(k)
    const photo = this.#view.photo(id) as PhotoColumns
    return { id, photo, media: this.#view.media(id, photo.secret) as MediaEntry, fileName }
  }

  /** The shown original of photo `id` (its name, mtime, and a link's target to it), or undefined when not shown. */
  shownFile(id: string): ShownFile | undefined {
    const photo = this.#view.photo(id)
    if (photo === undefined || (this.#shownIds !== undefined && !this.#shownIds.has(id))) return undefined
    const ext = showableExt(this.#view, id, photo, this.#opts)
    if (typeof ext !== 'string') return undefined
    const fileName = mediaFileName(id, ext)
    return { fileName, mtimeMs: this.#mtimeMs(photo), target: this.#linkPrefix + fileName }
  }

  /** The original of the `k`-th shown photo. */
  fileAt(k: number): ShownFile {
    const { photo, fileName } = this.#recordsAt(k)
    return { fileName, mtimeMs: this.#mtimeMs(photo), target: this.#linkPrefix + fileName }
  }

  /** Records an inode number that differs from the name's path hash (build only). */
  moveIno(name: string, ino: number): void {
    this.#movedInos.set(name, ino)
    this.#movedHashes.add(inoFromState(fnvUpdate(this.#state, name)))
  }

  get(name: string): LayoutNode | undefined {
    const fixed = this.#fixed.get(name)
    if (fixed !== undefined) return fixed
    const cached = this.#cache.get(name)
    if (cached !== undefined) return cached
    const node = this.#make(name)
    if (node !== undefined) this.#cache.set(name, node)
    return node
  }

  /**
   * The inode numbers of the photo files in listing order (2k: the k-th original, 2k + 1: its
   * sidecar), as the build settled them for the whole tree (build only, once). A listing then
   * hashes no name: at 1,000,000 photos hashing 2,000,000 names again, and looking each up among
   * the moved ones, was ~0.1 s of the first `ls` of photostream/ (bench/RESULTS.md "Session 51").
   */
  listInos(inos: Uint32Array): void {
    if (inos.length !== 2 * this.#shown.length) throw new FlickrfsError('INTERNAL', 'photostream/ was given inode numbers for another count of files')
    this.#listedInos = inos
  }

  /**
   * Names, kinds and inodes in order, making no node (a listing). Each sidecar's name is made as
   * one flat string and its original's name is the front of it (a slice: V8 makes it a view of
   * the sidecar's characters, or a copy when shorter than 13): two strings a photo, where
   * `${id}.${ext}` and two joins made four and an array, whose collection was a third of the
   * listing's time at 1,000,000 photos. Neither needs flattening later: fuse-native's readdir
   * reads every name in one loop that keeps a handle to each (no handle scope per entry), so a
   * name made flat there would be an allocation whose collection scans every handle the loop
   * holds so far; made before the loop, the loop allocates nothing.
   */
  eachChild(fn: (name: string, child: { readonly kind: LayoutNode['kind']; readonly ino: number }) => void): void {
    const inos = this.#listedInos
    if (inos === undefined) throw new FlickrfsError('INTERNAL', 'photostream/ listed before its inode numbers were settled')
    for (const [name, node] of this.#fixed) fn(name, node)
    const entry = { kind: 'file' as const, ino: 0 }
    const exts = this.#exts
    for (let k = 0; k < this.#shown.length; k++) {
      const id = this.#idAt(k)
      const ext = exts[k] as string
      const sidecarName = [id, '.', ext, METADATA_SUFFIX].join('')
      entry.ino = inos[2 * k] as number
      fn(sidecarName.slice(0, id.length + 1 + ext.length), entry)
      entry.ino = inos[2 * k + 1] as number
      fn(sidecarName, entry)
    }
  }

  /** Without making the node (pin asks this of every name its last manifest lists). */
  has(name: string): boolean {
    return this.#fixed.has(name) || this.#cache.has(name) || this.#find(name) !== undefined
  }

  *entries(): MapIterator<[string, LayoutNode]> {
    yield* this.#fixed.entries()
    // A node already made is handed out again (it may know its sidecar's size). When every file
    // fits in the cache, the nodes made here are kept too, so a small photostream/ behaves as the
    // eager tree did (a walk and a lookup give the same objects); a big one is walked keeping
    // nothing new, so a listing does not push out the nodes in use.
    const keep = 2 * this.#shown.length <= this.#cache.max
    const cache = this.#cache
    for (let k = 0; k < this.#shown.length; k++) {
      const { id, photo, media, fileName } = this.#recordsAt(k)
      let original = cache.peek(fileName)
      if (original === undefined) {
        original = this.#original(fileName, photo, media)
        if (keep) cache.set(fileName, original)
      }
      yield [fileName, original]
      const sidecarName = fileName + METADATA_SUFFIX
      let sidecar = cache.peek(sidecarName)
      if (sidecar === undefined) {
        sidecar = this.#sidecar(sidecarName, id, photo, media)
        if (keep) cache.set(sidecarName, sidecar)
      }
      yield [sidecarName, sidecar]
    }
  }

  /**
   * Each file of the folder that is an original, with its name and MediaEntry, in order, making no
   * node: SHA256SUMS wants only these (HashListNode.build), where a walk of `entries()` made two
   * nodes a photo, its sidecar's too.
   */
  eachOriginal(fn: (name: string, media: MediaEntry) => void): void {
    for (const node of this.#fixed.values()) if (node instanceof OriginalFileNode) fn(node.name, node.content.media)
    for (let k = 0; k < this.#shown.length; k++) {
      const { media, fileName } = this.#recordsAt(k)
      fn(fileName, media)
    }
  }

  /** The names alone: no node is made. */
  *keys(): MapIterator<string> {
    yield* this.#fixed.keys()
    for (let k = 0; k < this.#shown.length; k++) {
      const { fileName } = this.#shownAt(k)
      yield fileName
      yield fileName + METADATA_SUFFIX
    }
  }

  *values(): MapIterator<LayoutNode> {
    for (const [, node] of this.entries()) yield node
  }

  [Symbol.iterator](): MapIterator<[string, LayoutNode]> {
    return this.entries()
  }

  forEach(fn: (value: LayoutNode, key: string, map: ReadonlyMap<string, LayoutNode>) => void, thisArg?: unknown): void {
    for (const [name, node] of this.entries()) fn.call(thisArg, node, name, this)
  }

  #idAt(k: number): string {
    return this.#view.photostreamId(this.#shown[k] as number)
  }

  /** The node for `name` when the layout shows a file of that name, else undefined. */
  #make(name: string): LayoutNode | undefined {
    const found = this.#find(name)
    if (found === undefined) return undefined
    const { id, photo, media, sidecar } = found
    return sidecar ? this.#sidecar(name, id, photo, media) : this.#original(name, photo, media)
  }

  /** The photo file `name` is, when the layout shows a file of that name (a photo file: not metadata or SHA256SUMS). */
  #find(name: string): { id: string; photo: PhotoColumns; media: MediaEntry; sidecar: boolean } | undefined {
    const sidecar = parseSidecarName(name)
    const parsed = sidecar ?? parseMediaFileName(name)
    if (parsed === undefined) return undefined
    const { id } = parsed
    const photo = this.#view.photo(id)
    if (photo === undefined || (this.#shownIds !== undefined && !this.#shownIds.has(id))) return undefined
    const media = showableMedia(this.#view, id, photo, this.#opts)
    if (typeof media === 'string') return undefined
    const fileName = mediaFileName(id, media.ext)
    if (sidecar === undefined) return fileName === name ? { id, photo, media, sidecar: false } : undefined
    return fileName + METADATA_SUFFIX === name ? { id, photo, media, sidecar: true } : undefined
  }

  #ino(name: string): number {
    return this.#inoOf(name, fnvUpdate(this.#state, name))
  }

  /** The inode of `name`, whose path's FNV state is `state`. */
  #inoOf(name: string, state: number): number {
    const hash = inoFromState(state)
    return this.#movedHashes.has(hash) ? (this.#movedInos.get(name) ?? hash) : hash
  }

  #mtimeMs(photo: PhotoColumns): number {
    return mediaMtimeMs(photo, this.#hourCache)
  }

  #original(name: string, photo: PhotoColumns, media: MediaEntry): OriginalFileNode {
    // Its mtime is worked out when asked for: a listing only wants names, modes and inodes.
    const node = new OriginalFileNode(name, photo, media)
    node.ino = this.#ino(name)
    return node
  }

  /**
   * A sidecar node: its mtime is a listing column; its bytes (and, while the view stores no size,
   * its size) are made of the whole record and comments, which the node reads from the view when
   * asked (nodes.ts `PhotoSidecarNode`; view.ts: asynchronous over rows).
   */
  #sidecar(name: string, id: string, photo: PhotoColumns, media: MediaEntry): PhotoSidecarNode {
    const ignoreViews = this.#opts.ignoreViews === true
    const node = new PhotoSidecarNode(name, photoChangedMs(photo, ignoreViews), this.#view, id, media, ignoreViews)
    node.ino = this.#ino(name)
    return node
  }
}
