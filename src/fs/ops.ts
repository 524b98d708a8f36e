import createDebug from 'debug'
import { LRUCache } from 'lru-cache'
import { constants } from 'node:fs'
import { posix } from 'node:path'
import { DirListingCache } from './dir-listing.js'
import { EROFS, ETIMEDOUT, FsErrno, toNegErrno } from './errno.js'
import type { FuseCallback, FuseOps } from './fuse-binding.js'
import { statOf, type Owner } from './stat.js'
import { statfsOf } from './tree-stats.js'
import type { FsFile, FsNode, FsTree, OriginalReader } from './types.js'
import { settledWithin } from '../util/abort.js'

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
  /** Bound on remembered answers (see `told` in createOps). */
  maxToldEntries?: number
}

interface OpenFile {
  /** The node as it was at open: a refresh never mixes two versions inside one open file. */
  node: FsFile
  /** Bytes content read once at open (the layout may rebuild it on every access). */
  data: Buffer | undefined
}

export interface FsOpsStats {
  openFiles: number
  readsInFlight: number
}

/**
 * Runs one op so that its callback is called exactly once: a throw or a rejection becomes an
 * errno (one mapping, in errno.ts), and a second answer is dropped. Sync results answer without a
 * promise, because getattr is called once per file by `ls -l`.
 */
function guard<T>(op: string, fn: () => T | Promise<T>, ok: (v: T) => void, fail: (errno: number) => void): void {
  let done = false
  const onError = (err: unknown): void => {
    if (done) return
    done = true
    const errno = toNegErrno(err)
    if (!(err instanceof FsErrno)) log('%s failed (%d): %O', op, errno, err)
    fail(errno)
  }
  try {
    const r = fn()
    if (r instanceof Promise) {
      r.then(
        (v: T) => {
          if (done) return
          done = true
          ok(v)
        },
        onError,
      )
    } else {
      done = true
      ok(r)
    }
  } catch (err) {
    onError(err)
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

export function createOps(ctx: OpsContext): { ops: FuseOps; stats: () => FsOpsStats } {
  const listings = new DirListingCache()
  // What the kernel was last told about each path, for as long as it may still believe it.
  // libfuse 2.9 cannot invalidate the kernel's attribute cache, so after a refresh the kernel
  // keeps the old size of a changed file until attrTimeout runs out. An open in that window gets
  // the version the kernel was told, whole, instead of new bytes cut at the old size; once the
  // kernel asks again it is told (and then served) the new version.
  const told = new LRUCache<string, FsNode>({ max: ctx.maxToldEntries ?? 500_000, ttl: ctx.attrTimeoutMs, updateAgeOnGet: false })
  const handles = new Map<number, OpenFile>()
  let nextFh = 1
  let readsInFlight = 0

  const refuse = (cb: FuseCallback): void => cb(EROFS)

  /**
   * Waits for `settling` (errors ignored: the bytes are then read as they are), but never longer
   * than a read may take, and not past unmount.
   */
  async function settled(settling: Promise<unknown>): Promise<void> {
    await settledWithin(settling, ctx.readTimeoutMs, ctx.closing)
  }

  function openFile(path: string, flags: number): number | Promise<number> {
    if ((flags & O_ACCMODE) !== constants.O_RDONLY || (flags & constants.O_TRUNC) !== 0) {
      throw new FsErrno('EROFS')
    }
    const current = ctx.tree().lookup(path)
    const believed = told.get(path)
    const node = believed?.kind === 'file' && believed !== current ? believed : current
    if (!node) throw new FsErrno('ENOENT')
    if (node.kind === 'dir') throw new FsErrno('EISDIR')
    if (node.kind !== 'file') throw new FsErrno('EINVAL')
    const file = node
    const register = (): number => {
      const data = file.content.type === 'bytes' ? file.content.data : undefined
      while (handles.has(nextFh)) nextFh = nextFh >= 0xffff_fff0 ? 1 : nextFh + 1
      const fh = nextFh
      nextFh = nextFh >= 0xffff_fff0 ? 1 : nextFh + 1
      handles.set(fh, { node: file, data })
      return fh
    }
    // A sidecar whose original is being recorded this very moment: its final bytes are near.
    const settling = file.content.type === 'bytes' ? file.content.settle?.() : undefined
    return settling ? settled(settling).then(register) : register()
  }

  // Every read in flight, stopped on unmount: a read through `originals.read` registers its
  // deadline's AbortController, a local read (a pread cannot be aborted) an object that answers it.
  // AbortSignal.any() per read, and an AbortController per local read, cost a measurable share of
  // the 128 KiB read path.
  const inFlight = new Set<{ abort(): void }>()
  ctx.closing.addEventListener('abort', () => {
    for (const r of inFlight) r.abort()
  }, { once: true })

  function read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void {
    let settled = false
    let timer: NodeJS.Timeout | undefined
    // What the deadline stops besides answering: the read in flight, whichever path it took.
    let current: { abort(): void } | undefined
    const answer = (n: number): void => {
      if (settled) return
      settled = true
      if (timer) clearTimeout(timer)
      cb(n)
    }
    const fail = (err: unknown): void => {
      if (settled) return
      const errno = toNegErrno(err)
      log('read %s @%d failed (%d): %O', path, pos, errno, err)
      answer(errno)
    }
    try {
      let open = handles.get(fh)
      if (!open) {
        // Not ours (should not happen): serve from the current tree rather than fail.
        const node = find(ctx.tree(), path)
        if (node.kind !== 'file') throw new FsErrno('EISDIR')
        open = { node, data: node.content.type === 'bytes' ? node.content.data : undefined }
      }
      if (open.data) {
        if (pos >= open.data.length) return answer(0)
        return answer(open.data.copy(buf, 0, pos, Math.min(pos + len, open.data.length)))
      }
      const file = open.node
      const size = file.size
      if (pos >= size) return answer(0)
      if (file.content.type !== 'original') throw new FsErrno('EIO')
      const media = file.content.media
      const want = Math.min(len, size - pos)
      // Local disks stall too: every read, however it is served, has its deadline.
      timer = setTimeout(() => {
        current?.abort()
        log('read %s @%d timed out after %d ms', path, pos, ctx.readTimeoutMs)
        answer(ETIMEDOUT)
      }, ctx.readTimeoutMs)

      // Into our own buffer, copied only while the op is still open: after a timeout, libfuse has
      // taken `buf` back and writing into it would write into freed memory.
      const viaPromise = (): void => {
        const deadline = new AbortController()
        current = deadline
        readsInFlight++
        inFlight.add(deadline)
        if (ctx.closing.aborted) deadline.abort()
        readOriginalFully(ctx.originals, file, pos, want, deadline.signal)
          .then(
            (data) => {
              if (settled) return
              answer(data.copy(buf, 0, 0, Math.min(data.length, want)))
            },
            fail,
          )
          .finally(() => {
            readsInFlight--
            inFlight.delete(deadline)
          })
          .catch(() => undefined)
      }

      // The fast path: no promise, no AbortController, when the bytes are already on local disk.
      const local = { abort: (): void => answer(ETIMEDOUT) }
      const started = !ctx.closing.aborted && ctx.originals.readLocal?.(media, pos, want, (err, data) => {
        readsInFlight--
        inFlight.delete(local)
        if (settled) return
        if (err || !data) return fail(err)
        if (data.length >= want) return answer(data.copy(buf, 0, 0, want))
        // Ended early: the promise path reads again and answers EIO if the file really is short.
        viaPromise()
      }) === true
      if (started) {
        current = local
        readsInFlight++
        inFlight.add(local)
      } else {
        viaPromise()
      }
    } catch (err) {
      answer(toNegErrno(err))
    }
  }

  const ops: FuseOps = {
    init: (cb: FuseCallback) => cb(0),
    getattr: (path: string, cb: FuseCallback) =>
      guard(
        'getattr',
        () => {
          const node = find(ctx.tree(), path)
          if (node.kind === 'file') told.set(path, node)
          return statOf(node, ctx.owner)
        },
        (st) => cb(0, st),
        (e) => cb(e),
      ),
    // libfuse asks this at each open (auto_cache with ac_attr_timeout=0) to decide whether the
    // kernel may keep its cached pages, and the kernel asks it for fstat once attributes expire.
    // Both concern one open file, so the answer is the version that open serves: answering the
    // current one would let `told` run ahead of what the kernel believes after a refresh.
    fgetattr: (path: string, fh: number, cb: FuseCallback) =>
      guard(
        'fgetattr',
        () => {
          const open = handles.get(fh)
          if (open) return statOf(open.node, ctx.owner)
          const node = find(ctx.tree(), path)
          if (node.kind === 'file') told.set(path, node)
          return statOf(node, ctx.owner)
        },
        (st) => cb(0, st),
        (e) => cb(e),
      ),
    readdir: (path: string, cb: FuseCallback) =>
      guard(
        'readdir',
        () => {
          const tree = ctx.tree()
          const node = find(tree, path)
          if (node.kind !== 'dir') throw new FsErrno('ENOTDIR')
          const parent = path === '/' ? node : tree.lookup(posix.dirname(path))
          return listings.get(node, parent?.ino ?? node.ino)
        },
        (l) => cb(0, l.names, l.stats),
        (e) => cb(e),
      ),
    readlink: (path: string, cb: FuseCallback) =>
      guard(
        'readlink',
        () => {
          const node = find(ctx.tree(), path)
          if (node.kind !== 'link') throw new FsErrno('EINVAL')
          return node.target
        },
        (t) => cb(0, t),
        (e) => cb(e),
      ),
    open: (path: string, flags: number, cb: FuseCallback) =>
      guard('open', () => openFile(path, flags), (fh) => cb(0, fh), (e) => cb(e)),
    read: (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCallback) => read(path, fh, buf, len, pos, cb),
    release: (_path: string, fh: number, cb: FuseCallback) =>
      guard('release', () => handles.delete(fh), () => cb(0), (e) => cb(e)),
    statfs: (_path: string, cb: FuseCallback) =>
      guard('statfs', () => statfsOf(ctx.tree().root), (s) => cb(0, s), (e) => cb(e)),
    // Everything that would change the tree. The `ro` mount flag stops most of these in the
    // kernel already; answering them keeps the message right if it ever does not.
    write: (_p: string, _fh: number, _b: Buffer, _l: number, _o: number, cb: FuseCallback) => cb(EROFS),
    create: (_p: string, _m: number, cb: FuseCallback) => refuse(cb),
    mkdir: (_p: string, _m: number, cb: FuseCallback) => refuse(cb),
    mknod: (_p: string, _m: number, _d: number, cb: FuseCallback) => refuse(cb),
    unlink: (_p: string, cb: FuseCallback) => refuse(cb),
    rmdir: (_p: string, cb: FuseCallback) => refuse(cb),
    rename: (_s: string, _d: string, cb: FuseCallback) => refuse(cb),
    link: (_s: string, _d: string, cb: FuseCallback) => refuse(cb),
    symlink: (_s: string, _d: string, cb: FuseCallback) => refuse(cb),
    chmod: (_p: string, _m: number, cb: FuseCallback) => refuse(cb),
    chown: (_p: string, _u: number, _g: number, cb: FuseCallback) => refuse(cb),
    truncate: (_p: string, _s: number, cb: FuseCallback) => refuse(cb),
    ftruncate: (_p: string, _fh: number, _s: number, cb: FuseCallback) => refuse(cb),
    utimens: (_p: string, _a: number, _m: number, cb: FuseCallback) => refuse(cb),
    setxattr: (_p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: FuseCallback) => refuse(cb),
    removexattr: (_p: string, _n: string, cb: FuseCallback) => refuse(cb),
    // getxattr/listxattr stay unimplemented on purpose: ENOSYS once, and the kernel stops asking
    // (ls -l would otherwise ask for ACLs of every file).
  }
  return { ops, stats: () => ({ openFiles: handles.size, readsInFlight }) }
}
