import type { MediaEntry } from '../catalog/types.js'
import { jsonBytes } from './metadata.js'
import type { BytesContent, LayoutDir, LayoutFile, LayoutLink, LayoutNode, OriginalContent } from './types.js'

// Mutable while buildLayout assembles the tree and assigns inodes; exposed only through the
// readonly interfaces of types.ts.

export class DirNode implements LayoutDir {
  readonly kind = 'dir'
  ino = 0
  mtimeMs = 0
  readonly children = new Map<string, LayoutNode>()
  constructor(readonly name: string) {}
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
 * JSON built on demand from a value captured at build time (so it can never drift from the size
 * measured earlier). The length is remembered; the bytes are not, to keep a large layout small.
 */
export class LazyJsonContent implements BytesContent {
  readonly type = 'bytes'
  #size: number | undefined
  constructor(private readonly build: () => unknown) {}
  get data(): Buffer {
    const bytes = jsonBytes(this.build())
    this.#size ??= bytes.length
    return bytes
  }
  get size(): number {
    this.#size ??= this.data.length
    return this.#size
  }
}

export class MetadataFileNode implements LayoutFile {
  readonly kind = 'file'
  ino = 0
  readonly content: LazyJsonContent
  constructor(
    readonly name: string,
    readonly mtimeMs: number,
    build: () => unknown,
  ) {
    this.content = new LazyJsonContent(build)
  }
  get size(): number {
    return this.content.size
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
