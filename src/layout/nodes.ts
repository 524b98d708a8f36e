import type { MediaEntry, PhotoEntry, RawRecord } from '../catalog/types.js'
import { FNV_OFFSET } from './inodes.js'
import { jsonBytes, photoMetadata } from './metadata.js'
import type { BytesContent, LayoutDir, LayoutFile, LayoutLink, LayoutNode, OriginalContent } from './types.js'

// Mutable while buildLayout assembles the tree and assigns inodes; exposed only through the
// readonly interfaces of types.ts. A large account has ~300k of these, so they carry no closures
// and metadata files are their own content object.

export class DirNode implements LayoutDir {
  readonly kind = 'dir'
  ino = 0
  mtimeMs = 0
  readonly children = new Map<string, LayoutNode>()
  constructor(
    readonly name: string,
    /** Absolute path ('' for the root) and its FNV state: children's inodes extend it. */
    readonly path: string,
    readonly fnv: number = FNV_OFFSET,
  ) {}
}

export class OriginalFileNode implements LayoutFile {
  readonly kind = 'file'
  ino = 0
  readonly content: OriginalContent
  readonly size: number
  constructor(
    readonly name: string,
    readonly mtimeMs: number,
    media: MediaEntry,
  ) {
    this.content = { type: 'original', media }
    this.size = media.size
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
    const bytes = jsonBytes(this.value())
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

export class PhotoSidecarNode extends JsonFileNode {
  constructor(
    name: string,
    mtimeMs: number,
    private readonly photo: PhotoEntry,
    private readonly media: MediaEntry,
    private readonly comments: readonly RawRecord[] | undefined,
    private readonly storeInfo: { size: number; sha256: string } | undefined,
    private readonly ignoreViews: boolean,
  ) {
    super(name, mtimeMs)
  }
  protected value(): unknown {
    const { photo, media, comments, storeInfo, ignoreViews } = this
    return photoMetadata({ photo, media, comments, storeInfo, ignoreViews })
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
