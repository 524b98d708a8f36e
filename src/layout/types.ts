import type { MediaEntry } from '../catalog/types.js'

/**
 * The LAYOUT.md tree as plain values. `fs/` serves it and `pin/` writes it; neither needs to know
 * anything about Flickr. Every node is immutable once `buildLayout` returns, but for
 * photostream/SHA256SUMS, whose versions `Layout.lookup` hands out (each one immutable). Some
 * directories make their children on demand: a child made again is equal in every field, but may
 * be another object, so hold on to a node rather than compare nodes by identity.
 */
export type LayoutNode = LayoutDir | LayoutFile | LayoutLink

export interface LayoutDir {
  readonly kind: 'dir'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  /** In readdir order. */
  readonly children: ReadonlyMap<string, LayoutNode>
  /** How many children are directories, when known without walking them (directories made on demand). */
  readonly subdirCount?: number
  /**
   * The children's names, kinds and inodes in `children`'s order, without making them (directories
   * made on demand). `child` may be one object reused from call to call: read it, do not keep it.
   */
  eachChild?(fn: (name: string, child: { readonly kind: LayoutNode['kind']; readonly ino: number }) => void): void
  /**
   * Lets go of the children made on demand (directories of links), for a walker done with this
   * directory: they are made again if asked for. Without it a pin's walk left its last directories'
   * links made in the layout's cache (link-dir.ts), as many as its largest directory holds.
   */
  release?(): void
}

/**
 * Metadata bytes are produced on demand: `size` is computed exactly on first access and
 * remembered; `data` is rebuilt on every access (identical bytes each time) so a layout of
 * 100k photos does not hold 100k JSON buffers for its whole life.
 */
export interface BytesContent {
  readonly type: 'bytes'
  /** The bytes at once: for content whose source answers at once (every one today). */
  readonly data: Buffer
  /**
   * A sidecar's bytes as its catalog view gives them: a Buffer when the record is in hand at once,
   * else a promise (records read from disk). fs/ and pin/ read a file that has it through it.
   */
  load?(signal?: AbortSignal): Buffer | Promise<Buffer>
  /** True when the file's size is known without its bytes (a sidecar's stored length): stat then never loads them. */
  readonly sizeKnown?: boolean
  /**
   * The bytes in order, a chunk at a time, made as they are asked for and kept by no one: for a
   * big file a writer need not hold whole (photostream/SHA256SUMS: ~80 MB at 1,000,000 originals).
   */
  chunks?(): Iterable<Buffer>
}

export interface OriginalContent {
  readonly type: 'original'
  readonly media: MediaEntry
}

export interface LayoutFile {
  readonly kind: 'file'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  /** Exact byte size, known before any byte is read. */
  readonly size: number
  readonly content: BytesContent | OriginalContent
  /**
   * Lets go of bytes made and kept for the file (photostream/SHA256SUMS), for a walker done with
   * it: they are made again if asked for.
   */
  release?(): void
}

export interface LayoutLink {
  readonly kind: 'link'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  /** Relative to the link's own directory; always resolves inside the tree. */
  readonly target: string
}

/** What stat reports as a symlink's size. */
export function linkSize(link: LayoutLink): number {
  return Buffer.byteLength(link.target)
}

export interface LayoutOptions {
  ignoreViews?: boolean
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  /**
   * The catalog is a first catalog still coming in (not every set is listed yet): no
   * `Not in any set/`, which would claim every photo so far is in no set.
   */
  partial?: boolean
  /** What the store knows of originals: the lines of photostream/SHA256SUMS (empty without it). */
  hashes?: OriginalHashes
  /**
   * How many photostream/ nodes the layout keeps made (an LRU; 4096 by default). Its files are made
   * on demand from the catalog view and are the same whenever made again; this only spares the work.
   */
  nodeCache?: number
  /**
   * How many links the layout keeps made over its set directories and Not in any set/ (an LRU of
   * whole directories, by link count; 20,000 by default, and never less than the largest such
   * directory). Made again the same when needed.
   */
  linkCache?: number
}

/** An original as the store recorded it. */
export interface KnownOriginal {
  ext: string
  size: number
  sha256: string
  /** When the store recorded it (ms): SHA256SUMS's mtime is the latest of its lines'. */
  completedAt: number
}

/**
 * What photostream/SHA256SUMS is made of. Asked again whenever `generation()` has moved, so the
 * file lists a download as soon as it is recorded, without rebuilding the layout.
 */
export interface OriginalHashes {
  /** Changes whenever an answer of `hashOf` may have changed (a download recorded, a file evicted). */
  generation(): number
  /** The original of (id, secret) as recorded; undefined when not known. */
  hashOf(id: string, secret: string): KnownOriginal | undefined
  /**
   * Originals the file lists although the tree does not show them: pin lists every original DEST
   * holds (those of photos deleted on Flickr that it keeps, of kinds left out by --ignore-*), so
   * `sha256sum -c` there covers every file. `name` is `<id>.<ext>`.
   */
  kept?(): Iterable<{ name: string; sha256: string; completedAt: number }>
}

/** Records the layout left out, so callers can say why something is not (yet) shown. */
export interface LayoutStats {
  /** Media files shown in photostream/. */
  photos: number
  sets: number
  collections: number
  /** Photos whose MediaEntry is not known yet: exact size and (for videos) extension unknown. */
  photosWithoutMedia: number
  /** Photos, sets or collections skipped because an id or extension could not be a safe name. */
  unsafeRecords: number
}

/**
 * A part of the tree still being built (build-layout.ts buildLayoutInSteps): an op on a path it
 * `waits` for (`listing`: a readdir of it) answers once `done` resolves, from the tree as it is
 * then; a rejection is that op's EIO.
 */
export interface TreeBuilding {
  readonly done: Promise<void>
  waits(path: string, listing: boolean): boolean
}

export interface Layout {
  /** Set while part of the tree is still being built (buildLayoutInSteps), cleared once it is whole. */
  building?: TreeBuilding | undefined
  readonly root: LayoutDir
  /**
   * `path` is '/'-separated and absolute ('/', '/photostream/1.jpg'); O(depth). A file whose content
   * follows the store (photostream/SHA256SUMS) is answered as its current version: a file of its own
   * that never changes, a new object whenever the content moves on.
   */
  lookup(path: string): LayoutNode | undefined
  readonly stats: LayoutStats
}
