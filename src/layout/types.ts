import type { MediaEntry } from '../catalog/types.js'

/**
 * The LAYOUT.md tree as plain values. `fs/` serves it and `pin/` writes it; neither needs to know
 * anything about Flickr. Every node is immutable once `buildLayout` returns.
 */
export type LayoutNode = LayoutDir | LayoutFile | LayoutLink

export interface LayoutDir {
  readonly kind: 'dir'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  /** In readdir order. */
  readonly children: ReadonlyMap<string, LayoutNode>
}

/**
 * Metadata bytes are produced on demand: `size` is computed exactly on first access and
 * remembered; `data` is rebuilt on every access (identical bytes each time) so a layout of
 * 100k photos does not hold 100k JSON buffers for its whole life.
 */
export interface BytesContent {
  readonly type: 'bytes'
  readonly data: Buffer
  /** When present and it returns a promise, `data` is worth reading only after it settles. */
  settle?(): Promise<unknown> | undefined
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
   * The snapshot is a first catalog still coming in (its sets are not listed yet): no
   * `Not in any set/`, which would claim every photo so far is in no set.
   */
  partial?: boolean
  /** What the store knows of downloaded originals: puts `sha256` in their sidecars. */
  hashes?: OriginalHashes
}

/**
 * Asked each time a photo's sidecar is read, so a sidecar shows its original's sha256 as soon as
 * the download is recorded, without rebuilding the layout.
 */
export interface OriginalHashes {
  /** Size and sha256 of the original of (id, secret) as downloaded; undefined when not known. */
  hashOf(id: string, secret: string): { size: number; sha256: string } | undefined
  /** A download of (id, secret) that has all its bytes and is about to be recorded. */
  finishing?(id: string, secret: string): Promise<unknown> | undefined
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

export interface Layout {
  readonly root: LayoutDir
  /** `path` is '/'-separated and absolute ('/', '/photostream/1.jpg'); O(depth). */
  lookup(path: string): LayoutNode | undefined
  readonly stats: LayoutStats
}
