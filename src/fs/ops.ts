/**
 * The FUSE ops: what the kernel asks of the mount, answered from the current tree (`ctx.tree()`)
 * and the originals' reader. This file owns the open files (handle → the version opened), what the
 * kernel was last told about each path (`told`), the reads in flight, and the one rule every op
 * obeys: its callback is called exactly once, on every path. `Reply` is that rule, in one place:
 * the first answer goes to the kernel, any later one is dropped, and an error becomes an errno
 * through errno.ts. A callback never called hangs the reader for good (mount.ts turns fuse-native's
 * per-op timers off: every op here answers at once or under its own deadline); one called twice
 * answers a request libfuse has already freed.
 *
 * `guard` runs an op under a Reply. A result computed synchronously answers at once, without a
 * promise: `ls -l` asks getattr once per entry, and a promise per call is a measurable share of
 * that. Only ops that wait (a read of an original) pay for one.
 *
 * A read goes, in order: the open file (`openFileOf`), then bytes held in memory (answered at
 * once), else bytes still loading (`FsBytes.load`: one load per file shared by every read that
 * waits for it, each read under its own deadline, `awaitLoad`), else the original: a deadline is
 * armed first (ETIMEDOUT, also on unmount), then the
 * reader's callback fast path for bytes on local disk (`readLocally`), falling back to its promise
 * path (`readFromStore`) when it declines or comes back short. Bytes land in a buffer of the
 * reader's own and are copied into libfuse's `buf` only while the op is still unanswered
 * (`answerWithData`): after a timeout libfuse has taken `buf` back. Bytes that load later are
 * copied under the same rule.
 */
import createDebug from '../util/debug.js'
import { LRUCache } from 'lru-cache'
import { constants } from 'node:fs'
import { posix } from 'node:path'
import { DirListingCache, wireStats, type StatWire } from './dir-listing.js'
import { EROFS, ETIMEDOUT, FsErrno, toNegErrno } from './errno.js'
import type { FuseCount, FuseDone, FuseOps, FuseReply } from './fuse-binding.js'
import { statOf, type FuseStat, type Owner } from './stat.js'
import { statfsOf, type StatfsResult } from './tree-stats.js'
import type { FsBytes, FsFile, FsNode, FsTree, OriginalReader, WaitFor } from './types.js'
import { WalkAhead, type WalkAheadOptions } from './walk-ahead.js'
import type { MediaEntry } from '../catalog/types.js'

const log = createDebug('flickrfs:fs')
// Not in node:fs constants; the same on every Linux.
const O_ACCMODE = 3

export interface OpsContext {
  tree(): FsTree
  originals: OriginalReader
  owner: Owner
  /** Deadline of one read of an original; answered with ETIMEDOUT. */
  readTimeoutMs: number
  /** Aborted on unmount: in-flight reads stop waiting. */
  closing: AbortSignal
  /** How long the kernel trusts an attribute we answered (the mount's attr/entry timeout). */
  attrTimeoutMs: number
  /** Bound on remembered answers (see `told` in FsOps). */
  maxToldEntries?: number
  /** Read-ahead across files (walk-ahead.ts). */
  walkAhead?: WalkAheadOptions
  /**
   * False: open and release are left to libfuse (see `fuseOps`), and a read is served by path.
   * For a tree that does not change while mounted (an offline mount): it saves two of a small
   * file's four hand-offs to this thread. Default true.
   */
  fileHandles?: boolean
  /**
   * Reads of originals on local disk use the reader's synchronous path (`readLocalSync`) and answer
   * at once: no thread-pool round trip, but no deadline either, and this thread waits for the disk.
   * For an offline mount of a local DEST. Default false.
   */
  syncLocalReads?: boolean
  /**
   * True: the tree never changes while mounted (an offline mount). Nothing is remembered per path
   * for a refresh (`told`, not even allocated), and a bytes file read without handles has its bytes
   * built once, at the getattr that measures its size, and kept for the reads that follow (a
   * backup client looks a file up, then reads it). Default false.
   */
  staticTree?: boolean
  /** Paths whose attributes come later (types.ts WaitFor): getattr, open, read of them and statfs wait. */
  waitFor?: WaitFor
}

interface OpenFile {
  /** The node as it was at open: a refresh never mixes two versions inside one open file. */
  node: FsFile
  /**
   * Bytes content read once at open (the layout may rebuild it on every access); for bytes that
   * load later, set by the first read the load answers.
   */
  data: Buffer | undefined
}

/**
 * The load of one file's bytes in flight (`FsBytes.load`), shared by every read that waits for it.
 * Let go when its last waiting read timed out: the next read starts afresh.
 */
interface Load {
  readonly promise: Promise<Buffer>
  waiting: number
}

export interface FsOpsStats {
  openFiles: number
  readsInFlight: number
}

/** An errno the op answers when it cannot answer a value (negative, as FUSE wants it). */
type Errno = number

/**
 * The exactly-once rule: the first answer is sent, later ones are dropped. Errors are mapped to an
 * errno by errno.ts; unexpected ones (not an FsErrno) are logged, as is every failure of a read
 * (`where`), which is rare and worth a line, unlike getattr's ENOENT.
 */
class Reply<T> {
  private done = false
  constructor(
    private readonly op: string,
    private readonly sendValue: (value: T) => void,
    private readonly sendErrno: (errno: Errno) => void,
  ) {}

  get answered(): boolean {
    return this.done
  }

  value(value: T): void {
    if (this.done) return
    this.done = true
    this.sendValue(value)
  }

  errno(errno: Errno): void {
    if (this.done) return
    this.done = true
    this.sendErrno(errno)
  }

  error(err: unknown, where?: string): void {
    if (this.done) return
    const errno = toNegErrno(err)
    if (where !== undefined || !(err instanceof FsErrno)) log('%s%s failed (%d): %O', this.op, where ?? '', errno, err)
    this.errno(errno)
  }
}

/** Returned by an op that has taken over answering its Reply itself (a read of an original). */
const ANSWERS_LATER = Symbol('answers later')

/**
 * Runs one op under a Reply: a throw or a rejection becomes an errno, a sync result answers
 * without a promise, and `ANSWERS_LATER` leaves the answer to the op.
 */
function guard<T>(
  op: string,
  fn: (reply: Reply<T>) => T | Promise<T> | typeof ANSWERS_LATER,
  ok: (value: T) => void,
  fail: (errno: Errno) => void,
): void {
  const reply = new Reply(op, ok, fail)
  try {
    const r = fn(reply)
    if (r === ANSWERS_LATER) return
    if (r instanceof Promise) {
      r.then(
        (v: T) => reply.value(v),
        (err: unknown) => reply.error(err),
      )
    } else {
      reply.value(r)
    }
  } catch (err) {
    reply.error(err)
  }
}

function find(tree: FsTree, path: string): FsNode {
  const node = tree.lookup(path)
  if (!node) throw new FsErrno('ENOENT')
  return node
}

/** Reads until `want` bytes: a short read inside the file would make the kernel zero-fill. */
async function readOriginalFully(reader: OriginalReader, file: FsFile, pos: number, want: number, signal: AbortSignal): Promise<Buffer> {
  if (file.content.type !== 'original') throw new FsErrno('EIO')
  const media = file.content.media
  const first = await reader.read(media, pos, want, signal)
  if (first.length >= want) return first
  const parts = [first]
  let got = first.length
  while (got < want) {
    const more = await reader.read(media, pos + got, want - got, signal)
    if (more.length === 0) throw new FsErrno('EIO', `original ${media.id} ended at ${pos + got}, catalog says ${file.size}`)
    parts.push(more)
    got += more.length
  }
  return Buffer.concat(parts, got)
}

/** One read of an original, from the moment its deadline is armed until it is answered. */
interface PendingRead {
  readonly path: string
  readonly pos: number
  /** Bytes to answer: the length asked, cut at the end of the file. */
  readonly want: number
  /** libfuse's buffer: written only through `answerWithData`, which checks the op is still open. */
  readonly buf: Buffer
  readonly file: FsFile
  readonly media: MediaEntry
  readonly reply: Reply<number>
  timer: NodeJS.Timeout | undefined
  /** What the deadline stops besides answering: the read in flight, whichever path it took. */
  current: { abort(): void } | undefined
}

/** Answers a read of `len` bytes at `pos` from bytes in memory: how many were copied into `buf` (0 at EOF). */
function copyBytes(data: Buffer, buf: Buffer, len: number, pos: number): number {
  if (pos >= data.length) return 0
  return data.copy(buf, 0, pos, Math.min(pos + len, data.length))
}

/** The ops this adapter serves; every other one stays absent, so libfuse answers ENOSYS. */
const SERVED_OPS = [
  'init', 'getattr', 'readdir', 'readlink', 'open', 'read', 'release', 'statfs',
  'write', 'create', 'mkdir', 'mknod', 'unlink', 'rmdir', 'rename', 'link', 'symlink',
  'chmod', 'chown', 'truncate', 'ftruncate', 'utimens', 'setxattr', 'removexattr',
] as const
type ServedOp = (typeof SERVED_OPS)[number]
/** Left to libfuse without file handles: it answers open with fh 0 and release with success. */
const HANDLE_OPS: ReadonlySet<ServedOp> = new Set(['open', 'release'])

/** How much longer than the attribute timeout `told` keeps an answer (see FsOps's constructor). */
const TOLD_MARGIN_MS = 1_000

/**
 * The ops object handed to fuse-native, which calls them as methods (`this.ops.read(…)`).
 * fgetattr is not offered: libfuse then answers it with getattr of the path, and the kernel asks it
 * only once the attributes it holds have expired, when `told` may move on with it.
 * fuse-native registers every op name the object has, so no other member may carry an op's name
 * (`error`, `access`, `flush`, …). getxattr/listxattr stay unimplemented on purpose: ENOSYS once,
 * and the kernel stops asking (ls -l would otherwise ask for ACLs of every file).
 */
export class FsOps implements FuseOps, Required<Pick<FuseOps, ServedOp>> {
  private readonly listings = new DirListingCache()
  /**
   * What the kernel was last told about each path, for as long as it may still believe it.
   * libfuse 2.9 cannot invalidate the kernel's attribute cache, so after a refresh the kernel
   * keeps the old size of a changed file until attrTimeout runs out. An open in that window gets
   * the version the kernel was told, whole, instead of new bytes cut at the old size; once the
   * kernel asks again it is told (and then served) the new version.
   */
  private readonly told: LRUCache<string, FsNode> | undefined
  private readonly handles = new Map<number, OpenFile>()
  private nextFh = 1
  private readsInFlight = 0
  /**
   * Every read in flight, stopped on unmount: a read through `originals.read` registers its
   * deadline's AbortController, a local read (a pread cannot be aborted) an object that answers it.
   * AbortSignal.any() per read, and an AbortController per local read, cost a measurable share of
   * the 128 KiB read path.
   */
  private readonly inFlight = new Set<{ abort(): void }>()
  private readonly walkAhead: WalkAhead
  /**
   * Bytes content of files read without a handle: built once per file version, not once per
   * 128 KiB read, and bounded (a sidecar is rebuilt on demand once it falls out).
   */
  private readonly pathData = new LRUCache<FsFile, Buffer>({ maxSize: 16 << 20, sizeCalculation: (b) => Math.max(1, b.length) })
  /** Loads of bytes content in flight, by file version: concurrent reads of one file share one. */
  private readonly loads = new Map<FsFile, Load>()
  /** `ctx.waitFor` until its `ready` resolves: then no op looks at it again. A rejected one stays, for its EIO. */
  private waitFor: WaitFor | undefined

  constructor(private readonly ctx: OpsContext) {
    this.waitFor = ctx.waitFor
    ctx.waitFor?.ready.then(() => (this.waitFor = undefined), () => undefined)
    this.walkAhead = new WalkAhead(() => ctx.tree(), ctx.originals, ctx.closing, ctx.walkAhead)
    // The kernel's attribute timeout starts when the answer reaches it, a little after it is set
    // here (later still on a loaded machine): keep it a second longer, so that `told` never forgets
    // first. Any later getattr or lookup replaces the entry anyway.
    // Not for a static tree: believed and current never differ there, and an LRU of 500,000 with a
    // TTL allocates its arrays up front (about 140 ms and 20 MB at an offline mount's start).
    this.told = ctx.staticTree === true
      ? undefined
      : new LRUCache<string, FsNode>({ max: ctx.maxToldEntries ?? 500_000, ttl: ctx.attrTimeoutMs + TOLD_MARGIN_MS, updateAgeOnGet: false })
    ctx.closing.addEventListener('abort', () => {
      for (const r of this.inFlight) r.abort()
    }, { once: true })
  }

  /**
   * What to hand fuse-native, which registers every op the object has: this object, or with
   * `fileHandles: false` one without open and release, which libfuse 2.9 then answers itself
   * (success, fh 0) without a hand-off to this thread.
   */
  fuseOps(): FuseOps {
    if (this.ctx.fileHandles !== false) return this
    const ops: FuseOps = {}
    for (const name of SERVED_OPS) {
      if (!HANDLE_OPS.has(name)) Object.assign(ops, { [name]: this[name].bind(this) })
    }
    return ops
  }

  stats(): FsOpsStats {
    return { openFiles: this.handles.size, readsInFlight: this.readsInFlight }
  }

  init(cb: FuseDone): void {
    cb(0)
  }

  getattr(path: string, cb: FuseReply<[FuseStat]>): void {
    guard('getattr', () => this.once(path, () => this.statTelling(path)), (st) => cb(0, st), (e) => cb(e))
  }

  readdir(path: string, cb: FuseReply<[string[], StatWire[]]>): void {
    guard(
      'readdir',
      () => this.once(path, () => {
        const tree = this.ctx.tree()
        const node = find(tree, path)
        if (node.kind !== 'dir') throw new FsErrno('ENOTDIR')
        const parent = path === '/' ? node : tree.lookup(posix.dirname(path))
        return this.listings.get(node, parent?.ino ?? node.ino)
      }, true),
      (l) => cb(0, l.names, wireStats(l)),
      (e) => cb(e),
    )
  }

  readlink(path: string, cb: FuseReply<[string]>): void {
    guard(
      'readlink',
      () => this.once(path, () => {
        const node = find(this.ctx.tree(), path)
        if (node.kind !== 'link') throw new FsErrno('EINVAL')
        return node.target
      }),
      (t) => cb(0, t),
      (e) => cb(e),
    )
  }

  open(path: string, flags: number, cb: FuseReply<[number]>): void {
    guard('open', () => this.once(path, () => this.openFile(path, flags)), (fh) => cb(0, fh), (e) => cb(e))
  }

  read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCount): void {
    guard<number>('read', (reply) => {
      const waiting = this.waitingFor(path)
      if (waiting === undefined) return this.startRead(path, fh, buf, len, pos, reply)
      // libfuse's `buf` stays this op's until it is answered, however long the wait.
      waiting.then(() => {
        const n = this.startRead(path, fh, buf, len, pos, reply)
        if (n !== ANSWERS_LATER) reply.value(n)
      }).catch((err: unknown) => reply.error(err, ` ${path} @${pos}`))
      return ANSWERS_LATER
    }, cb, cb)
  }

  release(_path: string, fh: number, cb: FuseDone): void {
    guard('release', () => this.handles.delete(fh), () => cb(0), (e) => cb(e))
  }

  statfs(_path: string, cb: FuseReply<[StatfsResult]>): void {
    // Its totals sum every file's size, the files that wait too.
    guard('statfs', () => {
      const waiting = [this.waitFor?.ready, this.ctx.tree().building?.done].filter((w) => w !== undefined)
      return waiting.length === 0 ? statfsOf(this.ctx.tree().root) : Promise.all(waiting).then(() => statfsOf(this.ctx.tree().root))
    }, (s) => cb(0, s), (e) => cb(e))
  }

  // Everything that would change the tree. The `ro` mount flag stops most of these in the kernel
  // already; answering them keeps the message right if it ever does not. Nothing here can throw,
  // so they answer directly.
  write(_p: string, _fh: number, _b: Buffer, _l: number, _o: number, cb: FuseCount): void { cb(EROFS) }
  create(_p: string, _m: number, cb: FuseReply<[number]>): void { cb(EROFS) }
  mkdir(_p: string, _m: number, cb: FuseDone): void { cb(EROFS) }
  mknod(_p: string, _m: number, _d: number, cb: FuseDone): void { cb(EROFS) }
  unlink(_p: string, cb: FuseDone): void { cb(EROFS) }
  rmdir(_p: string, cb: FuseDone): void { cb(EROFS) }
  rename(_s: string, _d: string, cb: FuseDone): void { cb(EROFS) }
  link(_s: string, _d: string, cb: FuseDone): void { cb(EROFS) }
  symlink(_s: string, _d: string, cb: FuseDone): void { cb(EROFS) }
  chmod(_p: string, _m: number, cb: FuseDone): void { cb(EROFS) }
  chown(_p: string, _u: number, _g: number, cb: FuseDone): void { cb(EROFS) }
  truncate(_p: string, _s: number, cb: FuseDone): void { cb(EROFS) }
  ftruncate(_p: string, _fh: number, _s: number, cb: FuseDone): void { cb(EROFS) }
  utimens(_p: string, _a: number, _m: number, cb: FuseDone): void { cb(EROFS) }
  setxattr(_p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: FuseDone): void { cb(EROFS) }
  removexattr(_p: string, _n: string, cb: FuseDone): void { cb(EROFS) }

  /**
   * `answer()` at once, or once `path`'s attributes are known when they come later (`waitFor`), or
   * once the part of the tree it is in is built (the tree's `building`; `listing`: a readdir).
   */
  private once<T>(path: string, answer: () => T, listing = false): T | Promise<T> {
    const waiting = this.waitingFor(path, listing)
    return waiting === undefined ? answer() : waiting.then(answer)
  }

  /**
   * What an op on `path` must wait for first, if anything: one Set lookup while something is
   * awaited, none after, and the tree's own part still being built.
   */
  private waitingFor(path: string, listing = false): Promise<void> | undefined {
    const w = this.waitFor
    const ready = w !== undefined && w.paths.has(path) ? w.ready : undefined
    const building = this.ctx.tree().building
    const built = building !== undefined && building.waits(path, listing) ? building.done : undefined
    if (built === undefined) return ready
    return ready === undefined ? built : Promise.all([ready, built]).then(() => undefined)
  }

  /** The stat of `path` in the current tree, remembered in `told` when it is a file. */
  private statTelling(path: string): FuseStat {
    const node = find(this.ctx.tree(), path)
    if (node.kind === 'file') {
      this.told?.set(path, node)
      if (this.measuresAtStat(node)) this.bytesOf(node, node.content)
    }
    return statOf(node, this.ctx.owner)
  }

  /**
   * Whether getattr builds `node`'s bytes: on a static tree without handles, when its size is their
   * length (not known apart): built once, for the size and for the reads to come, which statOf
   * would otherwise build for the size alone. Never when the size is known (`sizeKnown`): stat
   * then starts no load (over rows, a query per stat); the first read loads.
   */
  private measuresAtStat(node: FsFile): node is FsFile & { content: FsBytes } {
    return node.content.type === 'bytes' && node.content.sizeKnown !== true && this.ctx.staticTree === true && this.ctx.fileHandles === false
  }

  private openFile(path: string, flags: number): number {
    if ((flags & O_ACCMODE) !== constants.O_RDONLY || (flags & constants.O_TRUNC) !== 0) {
      throw new FsErrno('EROFS')
    }
    const node = this.believedFile(path)
    this.walkAhead.opened(path, node)
    return this.register(node)
  }

  /** The version of the file at `path` the kernel was last told about, else the current one. */
  private believedFile(path: string): FsFile {
    const current = this.ctx.tree().lookup(path)
    const believed = this.told?.get(path)
    const node = believed?.kind === 'file' && believed !== current ? believed : current
    if (!node) throw new FsErrno('ENOENT')
    if (node.kind === 'dir') throw new FsErrno('EISDIR')
    if (node.kind !== 'file') throw new FsErrno('EINVAL')
    return node
  }

  /**
   * A new handle for `file`; bytes content is read once, here (the layout may rebuild it on every
   * access). Bytes that load later are not waited for: the load starts, open answers, and the
   * open file keeps the bytes once they come (reads that come earlier wait for them).
   */
  private register(file: FsFile): number {
    const open: OpenFile = { node: file, data: undefined }
    if (file.content.type === 'bytes') {
      const loading = this.load(file, file.content)
      if (Buffer.isBuffer(loading)) open.data = loading
      else loading.promise.then((data) => (open.data ??= data), () => undefined)
    }
    while (this.handles.has(this.nextFh)) this.nextFh = this.nextFh >= 0xffff_fff0 ? 1 : this.nextFh + 1
    const fh = this.nextFh
    this.nextFh = this.nextFh >= 0xffff_fff0 ? 1 : this.nextFh + 1
    this.handles.set(fh, open)
    return fh
  }

  /**
   * Answers bytes in hand and EOF at once; bytes still loading and an original's read answer
   * later, under their deadline.
   */
  private startRead(path: string, fh: number, buf: Buffer, len: number, pos: number, reply: Reply<number>): number | typeof ANSWERS_LATER {
    const open = this.openFileOf(path, fh, pos)
    if (open.data) return copyBytes(open.data, buf, len, pos)
    const file = open.node
    if (pos >= file.size) return 0
    if (file.content.type === 'bytes') {
      const loading = this.load(file, file.content)
      if (Buffer.isBuffer(loading)) return copyBytes((open.data = loading), buf, len, pos)
      return this.awaitLoad(path, open, loading, buf, len, pos, reply)
    }
    const want = Math.min(len, file.size - pos)
    if (this.ctx.syncLocalReads === true && this.ctx.originals.readLocalSync && !this.ctx.closing.aborted) {
      // Straight into libfuse's buffer: the op is unanswered for as long as this call runs.
      const n = this.ctx.originals.readLocalSync(file.content.media, pos, want, buf)
      if (n !== undefined && n >= want) return want
      // Not on disk, or short (the promise path reads again and answers EIO if it really is).
    }
    const req: PendingRead = { path, pos, want, buf, file, media: file.content.media, reply, timer: undefined, current: undefined }
    // Local disks stall too: every read, however it is served, has its deadline.
    req.timer = setTimeout(() => {
      req.current?.abort()
      log('read %s @%d timed out after %d ms', path, pos, this.ctx.readTimeoutMs)
      this.answerRead(req, ETIMEDOUT)
    }, this.ctx.readTimeoutMs)
    try {
      if (!this.readLocally(req)) this.readFromStore(req)
    } catch (err) {
      this.failRead(req, err)
    }
    return ANSWERS_LATER
  }

  /**
   * The open file behind `fh`. Without handles (fh 0, libfuse's), or one not ours (should not
   * happen): the file as `open` would have chosen it now, its bytes content built once per version.
   * The first read of a file (offset 0) then stands for its open in the walk-ahead.
   */
  private openFileOf(path: string, fh: number, pos: number): OpenFile {
    const open = this.handles.get(fh)
    if (open) return open
    const node = this.believedFile(path)
    if (node.content.type !== 'bytes') {
      if (pos === 0) this.walkAhead.opened(path, node)
      return { node, data: undefined }
    }
    return { node, data: this.bytesOf(node, node.content) }
  }

  /**
   * The bytes of a bytes file read without a handle: built once per version while they stay in
   * `pathData` (16 MiB; once they fall out, the next getattr or read builds them again). Undefined
   * while they load (the load puts them there when it is done).
   */
  private bytesOf(node: FsFile, content: FsBytes): Buffer | undefined {
    let data = this.pathData.get(node)
    if (!data) {
      data = this.bytesNow(node, content)
      if (data) this.pathData.set(node, data)
    }
    return data
  }

  /** `content`'s bytes when they are in hand at once; else undefined, their load started. */
  private bytesNow(file: FsFile, content: FsBytes): Buffer | undefined {
    if (!content.load) return content.data
    const loading = this.load(file, content)
    return Buffer.isBuffer(loading) ? loading : undefined
  }

  /**
   * `content.load`: its bytes when it answers at once, else the load of `file` in flight, started
   * now unless one already is (concurrent reads share it).
   */
  private load(file: FsFile, content: FsBytes): Buffer | Load {
    const running = this.loads.get(file)
    if (running) return running
    if (!content.load) return content.data
    // The mount's own signal, not an AbortController per load: one costs ~3–5 µs (a third of the
    // JS of a sidecar's getattr and read, bench/sidecar-ops-ab.ts), and a load that answers at
    // once, as every one does today, never needs it.
    const got = content.load(this.ctx.closing)
    if (Buffer.isBuffer(got)) return got
    const load: Load = { promise: got, waiting: 0 }
    this.loads.set(file, load)
    got
      .then(
        (data) => {
          if (this.ctx.fileHandles === false && this.loads.get(file) === load) this.pathData.set(file, data)
        },
        () => undefined,
      )
      .finally(() => {
        if (this.loads.get(file) === load) this.loads.delete(file)
      })
      .catch(() => undefined)
    return load
  }

  /**
   * A read of bytes still loading: answered once, by the bytes (copied into libfuse's `buf` only
   * while the op is unanswered), by the load's error, or by ETIMEDOUT at its deadline or unmount,
   * as a read of an original is. The last read to give up on a load lets it go (the next read
   * starts another; what it brings is dropped).
   */
  private awaitLoad(path: string, open: OpenFile, load: Load, buf: Buffer, len: number, pos: number, reply: Reply<number>): typeof ANSWERS_LATER {
    const file = open.node
    load.waiting++
    this.readsInFlight++
    const finish = (answer: () => void): void => {
      if (reply.answered) return
      clearTimeout(timer)
      this.inFlight.delete(waiter)
      this.readsInFlight--
      load.waiting--
      answer()
    }
    const giveUp = (): void => {
      finish(() => reply.value(ETIMEDOUT))
      if (load.waiting === 0 && this.loads.get(file) === load) this.loads.delete(file)
    }
    const waiter = { abort: giveUp }
    const timer = setTimeout(() => {
      log('read %s @%d timed out after %d ms waiting for its bytes', path, pos, this.ctx.readTimeoutMs)
      giveUp()
    }, this.ctx.readTimeoutMs)
    this.inFlight.add(waiter)
    load.promise.then(
      (data) => {
        open.data ??= data
        finish(() => reply.value(copyBytes(data, buf, len, pos)))
      },
      (err: unknown) => finish(() => reply.error(err, ` ${path} @${pos}`)),
    )
    if (this.ctx.closing.aborted) giveUp()
    return ANSWERS_LATER
  }

  /**
   * The fast path: no promise, no AbortController, when the bytes are already on local disk.
   * False when the reader declines (or the mount is closing); `readFromStore` is then used.
   */
  private readLocally(req: PendingRead): boolean {
    const reader = this.ctx.originals
    if (this.ctx.closing.aborted || !reader.readLocal) return false
    const local = { abort: (): void => this.answerRead(req, ETIMEDOUT) }
    const started = reader.readLocal(req.media, req.pos, req.want, (err, data) => {
      this.readsInFlight--
      this.inFlight.delete(local)
      if (req.reply.answered) return
      if (err || !data) return this.failRead(req, err)
      if (data.length >= req.want) return this.answerWithData(req, data)
      // Ended early: the promise path reads again and answers EIO if the file really is short.
      this.readFromStore(req)
    })
    if (started !== true) return false
    req.current = local
    this.readsInFlight++
    this.inFlight.add(local)
    return true
  }

  /** Through `originals.read`, stopped by the deadline or unmount through its AbortController. */
  private readFromStore(req: PendingRead): void {
    const deadline = new AbortController()
    req.current = deadline
    this.readsInFlight++
    this.inFlight.add(deadline)
    if (this.ctx.closing.aborted) deadline.abort()
    readOriginalFully(this.ctx.originals, req.file, req.pos, req.want, deadline.signal)
      .then(
        (data) => this.answerWithData(req, data),
        (err: unknown) => this.failRead(req, err),
      )
      .finally(() => {
        this.readsInFlight--
        this.inFlight.delete(deadline)
      })
      .catch(() => undefined)
  }

  /**
   * Bytes read into the reader's own buffer, copied into libfuse's only while the op is still
   * open: after a timeout, libfuse has taken `buf` back and writing into it would write into
   * freed memory.
   */
  private answerWithData(req: PendingRead, data: Buffer): void {
    if (req.reply.answered) return
    this.answerRead(req, data.copy(req.buf, 0, 0, Math.min(data.length, req.want)))
  }

  private answerRead(req: PendingRead, bytesOrErrno: number): void {
    clearTimeout(req.timer)
    req.reply.value(bytesOrErrno)
  }

  private failRead(req: PendingRead, err: unknown): void {
    clearTimeout(req.timer)
    req.reply.error(err, ` ${req.path} @${req.pos}`)
  }
}
