import type { MediaEntry } from '../catalog/types.js'

/**
 * What the mount needs from a layout, and nothing more. src/layout's `Layout` satisfies these
 * shapes structurally, so fs/ does not depend on how the layout is built and tests can hand-build
 * trees.
 */
export type FsNode = FsDir | FsFile | FsLink

export interface FsDir {
  readonly kind: 'dir'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  readonly children: ReadonlyMap<string, FsNode>
  /**
   * How many children are directories, when the directory knows without walking its children (a
   * layout directory whose children are made on demand): stat's nlink uses it.
   */
  readonly subdirCount?: number
  /**
   * The children's names, kinds and inodes in `children`'s order, without making their nodes, when
   * the directory makes its children on demand: readdir uses it. `child` may be one object reused
   * from call to call: read it, do not keep it.
   */
  eachChild?(fn: (name: string, child: { readonly kind: FsNode['kind']; readonly ino: number }) => void): void
}

export interface FsFile {
  readonly kind: 'file'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  /** Exact byte size, known before any byte is read. */
  readonly size: number
  readonly content: FsBytes | { readonly type: 'original'; readonly media: MediaEntry }
}

/**
 * A file whose bytes the tree makes (metadata, sidecars, SHA256SUMS). `size` (the node's) is exact
 * before any byte is made: getattr never waits for the bytes.
 */
export interface FsBytes {
  readonly type: 'bytes'
  /**
   * The bytes, at once. May be a getter that rebuilds them on each access: read it once per open.
   * Not read when `load` is there.
   */
  readonly data: Buffer
  /**
   * The bytes when they may have to come from elsewhere (a sidecar built from a record read from
   * disk): a Buffer when they are in hand at once, else a promise. Called once per open (a read
   * without a handle: once per file version while its bytes stay cached), never twice at a time
   * for one node: concurrent reads share one load. `signal` aborts when the mount stops; a load
   * that every waiting read gave up on (their deadlines) is let go, not stopped: the next read
   * starts another. A rejection is the waiting reads' EIO.
   */
  load?(signal: AbortSignal): Buffer | Promise<Buffer>
  /**
   * True when the node's `size` is known without the bytes (a sidecar's length stored in its
   * catalog): getattr then starts no load, which may be a query to disk. Otherwise `size` may make
   * the bytes to measure them, so a static tree makes them once, at getattr, for the size and the
   * reads that follow (ops.ts `measuresAtStat`).
   */
  readonly sizeKnown?: boolean
}

export interface FsLink {
  readonly kind: 'link'
  readonly name: string
  readonly mtimeMs: number
  readonly ino: number
  readonly target: string
}

export interface FsTree {
  /**
   * Set while part of the tree is still being built (a mount comes up with photostream/ built and
   * builds the set folders while it serves it): an op on a path it `waits` for (`listing`: a
   * readdir of it) answers once `done` resolves, from the tree as it is then; a rejection is EIO.
   */
  readonly building?: { readonly done: Promise<void>; waits(path: string, listing: boolean): boolean } | undefined
  readonly root: FsDir
  /**
   * '/'-separated absolute path ('/', '/photostream/1.jpg'). A file node it returns never changes;
   * a file whose content moves on between refreshes (photostream/SHA256SUMS) is returned as a new
   * node each time it does, so what the kernel was told (`told` in ops.ts) stays what it opens.
   */
  lookup(path: string): FsNode | undefined
}

/**
 * Files whose attributes the tree cannot tell yet when the mount comes up (photostream/SHA256SUMS
 * while the store's index loads: src/service/live-mount.ts). getattr, open and read of a path in
 * `paths`, and statfs (which sums every size), wait for `ready`, then answer from the tree as it is
 * then; a rejection of `ready` is their EIO, for good. Every other op answers at once meanwhile: a
 * listing needs only names, modes and inodes.
 */
export interface WaitFor {
  readonly ready: Promise<void>
  readonly paths: ReadonlySet<string>
}

/** Where the mount gets the tree to show; asked on every op, so a refresh is a swap. */
export interface TreeSource {
  current(): FsTree
}

/** The bytes of originals (src/store in production). May return fewer bytes than asked only at EOF. */
export interface OriginalReader {
  read(media: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer>
  /**
   * Optional fast path for bytes already on local disk: starts the read and returns true, then
   * calls `done` exactly once, never synchronously, with a Buffer of the reader's own (shorter than
   * `length` only at the end of the data). Returns false, and never calls `done`, when it cannot
   * serve the read this way; `read()` is then used.
   */
  readLocal?(media: MediaEntry, position: number, length: number, done: (err: Error | null, data: Buffer | undefined) => void): boolean
  /**
   * Optional read-ahead across files (walk-ahead.ts): gets the original onto local disk in the
   * background and keeps it there until `signal` aborts, which also stops a download no reader has
   * joined. Never rejects: a failure is the reader's to meet and report on its own read.
   * `onFetched`, when given, is called once the network part is over (the bytes are on local disk,
   * or the fetch failed or never started), which may be well before the promise settles (the file
   * still has to be made durable and recorded): the walk-ahead then frees its download slot.
   */
  prefetch?(media: MediaEntry, signal: AbortSignal, onFetched?: () => void): Promise<void>
  /** False when `prefetch` can never fetch anything (offline, read-only): the walk-ahead then plans nothing. */
  readonly prefetches?: boolean
  /**
   * Optional synchronous fast path (used only when the mount asks for it, `syncLocalReads`): reads
   * bytes already on local disk straight into `into` and returns how many (fewer than `length`
   * only at the end of the data), or undefined, having read nothing, when they are not there.
   */
  readLocalSync?(media: MediaEntry, position: number, length: number, into: Buffer): number | undefined
  /** The bound of the local cache, when there is one: read-ahead holds only a fraction of it. */
  readonly cacheMaxBytes?: number | undefined
}
