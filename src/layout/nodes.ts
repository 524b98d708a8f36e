import type { MediaEntry, PhotoEntry, RawRecord } from '../catalog/types.js'
import { FNV_OFFSET } from './inodes.js'
import { jsonBytes, photoMetadata } from './metadata.js'
import type { BytesContent, LayoutDir, LayoutFile, LayoutLink, LayoutNode, OriginalContent, OriginalHashes } from './types.js'

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

const SHA256_HEX = /^[0-9a-f]{64}$/
const PLACEHOLDER_SHA256 = '0'.repeat(64)

/**
 * A photo's sidecar. Its size is always that of its complete form, with the original's sha256
 * (64 hex digits, so the length does not depend on the hash), because `stat` answers before the
 * original is downloaded and rsync, tar and cp read the original just before its sidecar: the
 * sidecar they read then is complete and of the size they listed.
 *
 * Until the hash is known the bytes are the same JSON without `sha256`, padded with spaces before
 * the last newline to that size, and the mtime is 1 ms later than the complete form's. rsync's
 * quick check compares whole seconds, so a backup is never copied twice for it; libfuse's
 * auto_cache compares the exact mtime (at every open: ac_attr_timeout=0), so the kernel drops the
 * page-cached padded bytes at the first open after the hash is known.
 */
export interface PhotoSidecarParts {
  name: string
  /** The mtime of the complete form (with sha256). */
  completeMtimeMs: number
  photo: PhotoEntry
  media: MediaEntry
  comments: readonly RawRecord[] | undefined
  hashes: OriginalHashes | undefined
  ignoreViews: boolean
}

export class PhotoSidecarNode implements LayoutFile, BytesContent {
  readonly kind = 'file'
  readonly type = 'bytes'
  ino = 0
  #size = -1
  readonly name: string
  private readonly completeMtimeMs: number
  private readonly photo: PhotoEntry
  private readonly media: MediaEntry
  private readonly comments: readonly RawRecord[] | undefined
  private readonly hashes: OriginalHashes | undefined
  private readonly ignoreViews: boolean
  // Copied field by field (not kept as one object): ~100k sidecars, and one fewer object each.
  constructor(parts: PhotoSidecarParts) {
    this.name = parts.name
    this.completeMtimeMs = parts.completeMtimeMs
    this.photo = parts.photo
    this.media = parts.media
    this.comments = parts.comments
    this.hashes = parts.hashes
    this.ignoreViews = parts.ignoreViews
  }
  get content(): BytesContent {
    return this
  }
  get mtimeMs(): number {
    return this.hash() === undefined ? this.completeMtimeMs + 1 : this.completeMtimeMs
  }
  get size(): number {
    if (this.#size < 0) this.#size = this.bytes({ size: this.media.size, sha256: PLACEHOLDER_SHA256 }).length
    return this.#size
  }
  get data(): Buffer {
    const hash = this.hash()
    if (hash !== undefined) return this.bytes(hash)
    const bytes = this.bytes(undefined)
    const pad = this.size - bytes.length
    // By construction pad is the length of `,\n    "sha256": "<64 hex>"`; the check keeps size and
    // bytes from ever disagreeing.
    if (pad < 0) throw new Error(`sidecar ${this.name}: JSON without sha256 is longer than with it`)
    return Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.alloc(pad, ' '), bytes.subarray(bytes.length - 1)])
  }
  /** A download of the original about to be recorded: worth waiting for before reading `data`. */
  settle(): Promise<unknown> | undefined {
    return this.hashes?.finishing?.(this.photo.id, this.photo.secret)
  }
  private hash(): { size: number; sha256: string } | undefined {
    const h = this.hashes?.hashOf(this.photo.id, this.photo.secret)
    // Only a hash of these very bytes fits the size stat reported.
    return h !== undefined && h.size === this.media.size && SHA256_HEX.test(h.sha256) ? h : undefined
  }
  private bytes(storeInfo: { size: number; sha256: string } | undefined): Buffer {
    const { photo, media, comments, ignoreViews } = this
    return jsonBytes(photoMetadata({ photo, media, comments, storeInfo, ignoreViews }))
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
