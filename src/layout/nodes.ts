import type { MediaEntry, PhotoEntry, RawRecord } from '../catalog/types.js'
import type { CatalogView } from '../catalog/view.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { FNV_OFFSET } from './inodes.js'
import { jsonBytes, photoMetadata } from './metadata.js'
import { Sha256Lines, type SortedSha256Lines } from './sha256sums.js'
import { mediaMtimeMs, wholeSecondsMs } from './times.js'
import type { BytesContent, LayoutDir, LayoutFile, LayoutLink, LayoutNode, OriginalContent, OriginalHashes } from './types.js'

// Mutable while buildLayout assembles the tree and assigns inodes; exposed only through the
// readonly interfaces of types.ts. A large account has ~300k of these, so they carry no closures
// and metadata files are their own content object.

/** What every directory node holds: its name, path, inode and time. */
abstract class DirBase implements LayoutDir {
  readonly kind = 'dir'
  ino = 0
  mtimeMs = 0
  constructor(
    readonly name: string,
    /** Absolute path ('' for the root) and its FNV state: children's inodes extend it. */
    readonly path: string,
    readonly fnv: number = FNV_OFFSET,
  ) {}

  abstract get children(): ReadonlyMap<string, LayoutNode>
}

export class DirNode extends DirBase {
  readonly children = new Map<string, LayoutNode>()
  /** How many children are directories, when set before they are all added (the root: build-layout.ts first()). */
  subdirCount: number | undefined
}

/**
 * A directory whose photo children are made on demand (photostream-dir.ts, link-dir.ts): `fixed`
 * holds the files it always has, listed first; the build numbers the rest by place and asks their
 * names back only to settle an inode collision.
 */
export abstract class OnDemandDir extends DirBase {
  readonly subdirCount = 0
  readonly fixed = new Map<string, LayoutNode>()
  /** The name of the `pos`-th child made on demand (build only, for a hash collision). */
  abstract nameAt(pos: number): string
  /** Records an inode number that differs from the child's path hash (build only). */
  abstract moveIno(name: string, ino: number): void
}

export class OriginalFileNode implements LayoutFile {
  readonly kind = 'file'
  ino = 0
  readonly content: OriginalContent
  readonly size: number
  #mtimeMs: number
  readonly #photo: Pick<PhotoEntry, 'dateTaken' | 'dateUpload'> | undefined
  /** `mtime` is the time itself or the photo it follows from (times.ts), read at the first ask: a listing never asks. */
  constructor(
    readonly name: string,
    mtime: number | Pick<PhotoEntry, 'dateTaken' | 'dateUpload'>,
    media: MediaEntry,
  ) {
    this.content = { type: 'original', media }
    this.size = media.size
    this.#mtimeMs = typeof mtime === 'number' ? mtime : -1
    this.#photo = typeof mtime === 'number' ? undefined : mtime
  }
  get mtimeMs(): number {
    if (this.#mtimeMs < 0) this.#mtimeMs = mediaMtimeMs(this.#photo as PhotoEntry)
    return this.#mtimeMs
  }
}

/**
 * A JSON file built on demand from values captured at build time (so its bytes can never drift
 * from the size measured earlier). The length is remembered; the bytes are not, so a layout of
 * 100k photos does not hold 100k buffers for its whole life.
 */
abstract class JsonFileNode implements LayoutFile, BytesContent {
  readonly kind = 'file'
  ino = 0
  #size = -1
  constructor(
    readonly name: string,
    readonly mtimeMs: number,
  ) {}
  protected abstract value(): unknown
  get type(): 'bytes' {
    return 'bytes'
  }
  get content(): BytesContent {
    return this
  }
  get data(): Buffer {
    return this.bytesOf(this.value())
  }
  /** The bytes of `value`, their length remembered as the size. */
  protected bytesOf(value: unknown): Buffer {
    const bytes = jsonBytes(value)
    if (this.#size < 0) this.#size = bytes.length
    return bytes
  }
  get size(): number {
    if (this.#size < 0) this.#size = this.data.length
    return this.#size
  }
}

export class MetadataFileNode extends JsonFileNode {
  constructor(
    name: string,
    mtimeMs: number,
    private readonly build: () => unknown,
  ) {
    super(name, mtimeMs)
  }
  protected value(): unknown {
    return this.build()
  }
}

/**
 * A photo's sidecar: the photo's record from the catalog and what flickrfs knows before any
 * download (metadata.ts). Nothing downloaded changes it, so the mount and a pin give the same
 * bytes at every moment; only a catalog change (a new layout, over a new view) does.
 *
 * Its bytes come through `load`: at once when the view answers the record at once (the
 * snapshot), else as a promise (rows on disk; fs/ and pin/ wait for it). `data` is the
 * synchronous form, for a view that answers at once only. Its size is the view's `sidecarSize`
 * when the view stores one, else measured from the JSON (which needs the record at once).
 */
export class PhotoSidecarNode extends JsonFileNode {
  // Fields, not a closure: ~100k sidecars, and a closure made in the builder would keep it alive.
  constructor(
    name: string,
    mtimeMs: number,
    private readonly view: CatalogView,
    private readonly id: string,
    private readonly media: MediaEntry,
    private readonly ignoreViews: boolean,
  ) {
    super(name, mtimeMs)
  }
  override get size(): number {
    return this.view.sidecarSize(this.id, this.ignoreViews) ?? super.size
  }
  /** The view stores its size: stat needs no record (fs/ then loads nothing at getattr). */
  get sizeKnown(): boolean {
    return this.view.sidecarSize(this.id, this.ignoreViews) !== undefined
  }
  /** Its bytes: a Buffer when the view answers at once, else a promise of them. */
  load(): Buffer | Promise<Buffer> {
    const record = this.view.record(this.id)
    const comments = this.view.comments(this.id)
    if (record instanceof Promise || comments instanceof Promise) {
      return Promise.all([record, comments]).then(([r, c]) => this.checked(this.bytesOf(this.json(r, c))))
    }
    return this.checked(this.bytesOf(this.json(record, comments)))
  }
  /**
   * `bytes`, when they are as long as a size the view stored (stat told the kernel that size: a
   * longer file would be cut, a shorter one zero-filled); else a failure, which a read answers EIO.
   */
  private checked(bytes: Buffer): Buffer {
    const stored = this.view.sidecarSize(this.id, this.ignoreViews)
    if (stored !== undefined && stored !== bytes.length) {
      throw new FlickrfsError('INTERNAL', `the sidecar of photo ${this.id} is ${bytes.length} bytes, the catalog stored ${stored}`)
    }
    return bytes
  }
  protected value(): unknown {
    const record = this.view.record(this.id)
    const comments = this.view.comments(this.id)
    if (record instanceof Promise || comments instanceof Promise) {
      throw new FlickrfsError('INTERNAL', `the sidecar of photo ${this.id} was asked for at once, but its record comes later (use load)`)
    }
    return this.json(record, comments)
  }
  private json(photo: PhotoEntry | undefined, comments: readonly RawRecord[] | undefined): unknown {
    if (photo === undefined) throw new FlickrfsError('INTERNAL', `no record for photo ${this.id}`)
    const { media, ignoreViews } = this
    return photoMetadata({ photo, media, comments, ignoreViews })
  }
}

/** A folder's children that can name their originals without making a node each (photostream-dir.ts PhotostreamChildren). */
interface EachOriginal {
  eachOriginal(fn: (name: string, media: MediaEntry) => void): void
}

/**
 * One version of photostream/SHA256SUMS: never changes once made. Its lines are made into bytes
 * when asked: whole, once (the mount serves ranges of them; the lines are let go then), or a chunk
 * at a time, none kept (pin's tree write: `chunks`).
 */
export class HashListVersion implements LayoutFile, BytesContent {
  readonly kind = 'file'
  readonly type = 'bytes'
  readonly size: number
  #lines: SortedSha256Lines | undefined
  #data: Buffer | undefined
  constructor(
    readonly name: string,
    readonly ino: number,
    readonly mtimeMs: number,
    lines: SortedSha256Lines,
  ) {
    this.#lines = lines
    this.size = lines.size
  }
  get data(): Buffer {
    if (this.#data === undefined) {
      this.#data = (this.#lines as SortedSha256Lines).bytes()
      this.#lines = undefined
    }
    return this.#data
  }
  chunks(): Iterable<Buffer> {
    return this.#data !== undefined ? [this.#data] : (this.#lines as SortedSha256Lines).chunks()
  }
  get content(): BytesContent {
    return this
  }
}

/**
 * photostream/SHA256SUMS (sha256sums.ts): a line for each original of `dir` whose hash the store
 * knows, for the very bytes the layout shows (same secret, extension and size). Its content
 * follows the store, not the catalog: `current()` is the version for the store's generation now,
 * made once per generation. Its mtime is when its content last changed: the latest time the store
 * recorded one of its originals, rounded up to whole seconds (0 while empty), so a pin and a mount
 * of the same store give the same file.
 */
export class HashListNode implements LayoutFile {
  readonly kind = 'file'
  ino = 0
  #version: HashListVersion | undefined
  #generation = -1
  constructor(
    readonly name: string,
    private readonly dir: LayoutDir,
    private readonly hashes: OriginalHashes | undefined,
  ) {}
  get mtimeMs(): number {
    return this.current().mtimeMs
  }
  get size(): number {
    return this.current().size
  }
  get content(): BytesContent {
    return this.current().content
  }
  /**
   * Lets go of what was made for this generation, for a walker done with the file (pin's tree
   * write: its sorted lines, ~50 MB at 1,000,000 originals, otherwise held through the rest of the
   * write, where a pin's memory peaks). Asked again, they are made again.
   */
  release(): void {
    this.#version = undefined
  }

  current(): HashListVersion {
    const generation = this.hashes?.generation() ?? 0
    if (this.#version === undefined || generation !== this.#generation) {
      this.#version = this.build()
      this.#generation = generation
    }
    return this.#version
  }
  private build(): HashListVersion {
    // About a line per original: two files a photo (its original and its sidecar).
    const lines = new Sha256Lines(Math.ceil(this.dir.children.size / 2))
    let latestMs = 0
    const hashes = this.hashes
    if (hashes !== undefined) {
      const line = (name: string, m: MediaEntry): void => {
        const h = hashes.hashOf(m.id, m.secret)
        if (h === undefined || h.ext !== m.ext || h.size !== m.size || !lines.addIfSha256(name, h.sha256)) return
        latestMs = Math.max(latestMs, h.completedAt)
      }
      const children = this.dir.children as ReadonlyMap<string, LayoutNode> & Partial<EachOriginal>
      // photostream/ made on demand (photostream-dir.ts) names its originals without a node each.
      if (children.eachOriginal !== undefined) children.eachOriginal(line)
      else for (const child of children.values()) if (child instanceof OriginalFileNode) line(child.name, child.content.media)
      // The store's other originals (one record per id, so one line per name), under a name the
      // folder does not show.
      for (const k of hashes.kept?.() ?? []) {
        if (this.dir.children.has(k.name) || !lines.addIfSha256(k.name, k.sha256)) continue
        latestMs = Math.max(latestMs, k.completedAt)
      }
    }
    // Rounded up, never down: a backup that started before the newest line was recorded must see
    // a later mtime (tar --listed-incremental compares times only), even within the same second.
    return new HashListVersion(this.name, this.ino, latestMs > 0 ? wholeSecondsMs(latestMs + 999) : 0, lines.sorted())
  }
}

export class LinkNode implements LayoutLink {
  readonly kind = 'link'
  ino = 0
  constructor(
    readonly name: string,
    readonly mtimeMs: number,
    readonly target: string,
  ) {}
}
