import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { FuseStat } from './stat.js'
import type { StatfsResult } from './tree-stats.js'

/**
 * The only place that loads fuse-native. Typed narrowly to what we use, so that moving to a
 * maintained fork or a fuse3 binding only touches src/fs/.
 */
export const PINNED_FUSE_NATIVE = '2.2.6'

/* eslint-disable @typescript-eslint/no-explicit-any -- the untyped shape of fuse-native's own internals */
/** Any callback, untyped: only for fuse-native's internals here and bench/trivial-read-server.ts. */
export type FuseCallback = (...args: any[]) => void
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Answers an op that returns nothing: 0, or a negative errno. */
export type FuseDone = (errno: number) => void
/** Answers read and write: the byte count (0 at EOF), or a negative errno. */
export type FuseCount = (bytesOrErrno: number) => void
/** Answers an op that returns something: 0 and the result, or a negative errno alone. */
export interface FuseReply<R extends unknown[]> {
  (errno: 0, ...result: R): void
  (errno: number): void
}

/**
 * The ops fuse-native 2.2.6 calls, with the arguments its `_op_*` handlers pass (index.js): every
 * one optional, because fuse-native registers with libfuse only the ops the object has (an absent
 * one answers ENOSYS and the kernel stops asking). Offsets and sizes arrive as one number, joined
 * from two uint32 halves; `fh` is what `open` answered. Stat times may be ms or Date. Declared as
 * properties, not methods, so that an implementation's argument types are checked strictly.
 */
export interface FuseOps {
  init?: (cb: FuseDone) => void
  error?: (cb: FuseDone) => void
  access?: (path: string, mode: number, cb: FuseDone) => void
  statfs?: (path: string, cb: FuseReply<[statfs: StatfsResult]>) => void
  getattr?: (path: string, cb: FuseReply<[stat: FuseStat]>) => void
  /** fuse-native 2.2.6 calls `getattr` instead, without the handle (FsOps does not offer it). */
  fgetattr?: (path: string, fh: number, cb: FuseReply<[stat: FuseStat]>) => void
  flush?: (path: string, fh: number, cb: FuseDone) => void
  fsync?: (path: string, datasync: number, fh: number, cb: FuseDone) => void
  fsyncdir?: (path: string, datasync: number, fh: number, cb: FuseDone) => void
  /**
   * `stats` is optional; only mode and ino of each entry reach the kernel (libfuse 2.9). They are
   * in fuse-native's own form (dir-listing.ts wireStats), which loadFuse's readdir passes as they are.
   */
  readdir?: (path: string, cb: FuseReply<[names: string[], stats?: ArrayBufferView[]]>) => void
  truncate?: (path: string, size: number, cb: FuseDone) => void
  ftruncate?: (path: string, fh: number, size: number, cb: FuseDone) => void
  /** Times in ms. */
  utimens?: (path: string, atime: number, mtime: number, cb: FuseDone) => void
  readlink?: (path: string, cb: FuseReply<[target: string]>) => void
  chown?: (path: string, uid: number, gid: number, cb: FuseDone) => void
  chmod?: (path: string, mode: number, cb: FuseDone) => void
  mknod?: (path: string, mode: number, dev: number, cb: FuseDone) => void
  setxattr?: (path: string, name: string, value: Buffer, position: number, flags: number, cb: FuseDone) => void
  /** An answer of 0 with no value is ENODATA. */
  getxattr?: (path: string, name: string, position: number, cb: FuseReply<[value: Buffer | undefined]>) => void
  listxattr?: (path: string, cb: FuseReply<[names: string[]]>) => void
  removexattr?: (path: string, name: string, cb: FuseDone) => void
  open?: (path: string, flags: number, cb: FuseReply<[fh: number]>) => void
  opendir?: (path: string, flags: number, cb: FuseReply<[fh: number]>) => void
  /**
   * `buf` is libfuse's memory, valid only until the op is answered (or fuse-native's own timeout
   * answers it): never write into it afterwards.
   */
  read?: (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCount) => void
  write?: (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCount) => void
  release?: (path: string, fh: number, cb: FuseDone) => void
  releasedir?: (path: string, fh: number, cb: FuseDone) => void
  create?: (path: string, mode: number, cb: FuseReply<[fh: number]>) => void
  unlink?: (path: string, cb: FuseDone) => void
  rename?: (src: string, dest: string, cb: FuseDone) => void
  link?: (src: string, dest: string, cb: FuseDone) => void
  symlink?: (src: string, dest: string, cb: FuseDone) => void
  mkdir?: (path: string, mode: number, cb: FuseDone) => void
  rmdir?: (path: string, cb: FuseDone) => void
}

export interface FuseNativeOptions {
  fsname?: string
  subtype?: string
  attrTimeout?: number
  entryTimeout?: number
  autoCache?: boolean
  defaultPermissions?: boolean
  allowOther?: boolean
  autoUnmount?: boolean
  debug?: boolean
  force?: boolean
  timeout?: number | false | Record<string, number | false>
}

export interface FuseInstance {
  readonly mnt: string
  mount(cb: (err: Error | null) => void): void
  /** Internal: the native thread struct that fuse_native_unmount needs. */
  readonly _thread: Buffer | null
}

interface FuseConstructor {
  new (mnt: string, ops: FuseOps, opts: FuseNativeOptions): FuseInstance
}

interface NativeBinding {
  fuse_native_unmount(mnt: string, thread: Buffer): void
}

const require = createRequire(import.meta.url)
let loaded: { Fuse: FuseConstructor; binding: NativeBinding; version: string } | undefined

type Signal = (errno: number, ...result: unknown[]) => void

/**
 * fuse-native's readdir turns every entry's stat object into a Uint32Array of its own at every call
 * (`stats.map(getStatArray)`): 200k typed arrays, each with its own malloc'd backing store, for one
 * `ls photostream` at 100,000 photos, and about 100 MB of RSS that stays. Our readdir hands over
 * stats already in that form (views into one buffer), so they go to the native side unchanged.
 */
function passStatsAsTheyAre(Fuse: FuseConstructor): void {
  const proto = Fuse.prototype as { _op_readdir: (this: { ops: FuseOps }, signal: Signal, path: string) => void }
  proto._op_readdir = function (signal, path) {
    const readdir = this.ops.readdir
    if (readdir === undefined) return signal(-38)
    readdir.call(this.ops, path, (err: number | undefined, names?: string[], stats?: ArrayBufferView[]) => {
      if (err) return signal(err)
      return signal(0, names ?? [], stats ?? [])
    })
  }
}

type NativeSignal = (handle: unknown, res: number, ...result: unknown[]) => void

/** fuse-native's getStatArray (index.js): the 18 uint32 of its stat form, 64-bit fields as two halves. */
function statWords(st: FuseStat): Uint32Array {
  const w = new Uint32Array(18)
  const put = (i: number, n: number): void => {
    const lo = n % 4294967296
    w[i] = lo
    w[i + 1] = (n - lo) / 4294967296
  }
  w[0] = st.mode
  w[1] = st.uid
  w[2] = st.gid
  put(3, st.size)
  w[6] = st.nlink
  w[7] = st.ino
  w[9] = st.blksize
  put(10, st.blocks)
  put(12, st.atime)
  put(14, st.mtime)
  put(16, st.ctime)
  return w
}

/**
 * Replaces fuse-native's handler of getattr, readlink, readdir, read, open and release (those the
 * ops object has) with one that calls the op and hands its answer to libfuse's waiting thread at
 * once. fuse-native's own (index.js makeHandler) copies the arguments twice, binds a signal
 * function, and defers the answer with process.nextTick; on a mount of small files that is a share
 * of every op (bench/RESULTS.md, "fuse-floor"). Answering inside the dispatch is safe: the native
 * side reads nothing of the request after the signal posts its semaphore. An answer given later (a
 * read that waits on disk or network, under ops.ts's deadline) is signalled the same way, from
 * whichever tick gives it, as fuse-native's nextTick does. Only for a mount without fuse-native's
 * op timers (`timeout: false`), whose wrapper this leaves out; the ops still answer exactly once
 * (ops.ts). Call after `new Fuse` and before `mount()`, which hands the handlers to the native side.
 */
export function answerAtOnce(fuse: FuseInstance, ops: FuseOps): void {
  const native = loadFuse().binding as unknown as Record<string, unknown>
  const handlers = (fuse as unknown as { _handlers: unknown[] })._handlers
  const op = (name: string): number => native[`op_${name}`] as number
  const signal = (name: string): NativeSignal => native[`fuse_native_signal_${name}`] as NativeSignal
  const noStat = new Uint32Array(18)
  const { getattr, readlink, readdir, read, open, release } = ops
  if (getattr) {
    const answer = signal('getattr')
    handlers[op('getattr')] = (h: unknown, _op: number, path: string) =>
      getattr.call(ops, path, (err: number, st?: FuseStat) => answer(h, err, err === 0 && st ? statWords(st) : noStat))
  }
  if (readlink) {
    const answer = signal('readlink')
    handlers[op('readlink')] = (h: unknown, _op: number, path: string) =>
      readlink.call(ops, path, (err: number, target?: string) => answer(h, err, target ?? ''))
  }
  if (readdir) {
    const answer = signal('readdir')
    // Stats in fuse-native's form already (dir-listing.ts), as passStatsAsTheyAre hands them over.
    handlers[op('readdir')] = (h: unknown, _op: number, path: string) =>
      readdir.call(ops, path, (err: number, names?: string[], stats?: ArrayBufferView[]) => answer(h, err, err === 0 ? names ?? [] : [], err === 0 ? stats ?? [] : []))
  }
  if (read) {
    const answer = signal('read')
    // The buffer's memory is libfuse's: fuse-native's signal detaches it once answered.
    handlers[op('read')] = (h: unknown, _op: number, path: string, fh: number, buf: Buffer, len: number, lo: number, hi: number) =>
      read.call(ops, path, fh, buf, len, lo + hi * 4294967296, (n: number) => answer(h, n, 0, buf.buffer))
  }
  // open and release: only an online mount offers them (file handles). The handle crosses as
  // fuse-native's own signal takes it (an int32; 0 leaves libfuse's fh as it is).
  if (open) {
    const answer = signal('open')
    handlers[op('open')] = (h: unknown, _op: number, path: string, flags: number) =>
      open.call(ops, path, flags, (err: number, fh?: number) => answer(h, err, err === 0 ? fh ?? 0 : 0))
  }
  if (release) {
    const answer = signal('release')
    handlers[op('release')] = (h: unknown, _op: number, path: string, fh: number) =>
      release.call(ops, path, fh, (err: number) => answer(h, err))
  }
}

export function loadFuse(): { Fuse: FuseConstructor; binding: NativeBinding; version: string } {
  if (loaded) return loaded
  try {
    const pkgPath = require.resolve('fuse-native/package.json')
    const version = (require(pkgPath) as { version: string }).version
    if (version !== PINNED_FUSE_NATIVE) {
      // Our mount options ride in `fsname` unescaped (see mount-options.ts); that relies on 2.2.6.
      throw new FlickrfsError(
        'FUSE',
        `fuse-native ${version} is installed but flickrfs is pinned to ${PINNED_FUSE_NATIVE}; reinstall with npm ci`,
      )
    }
    const Fuse = require('fuse-native') as FuseConstructor
    passStatsAsTheyAre(Fuse)
    // Same .node file as fuse-native's own, so the same native module instance.
    const dir = dirname(pkgPath)
    const nodeGypBuild = createRequire(join(dir, 'index.js'))('node-gyp-build') as (d: string) => NativeBinding
    loaded = { Fuse, binding: nodeGypBuild(dir), version }
    return loaded
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    throw new FlickrfsError(
      'FUSE',
      'could not load fuse-native: install libfuse2 and fuse3 (apt-get install libfuse2 fuse3)',
      { cause: err },
    )
  }
}
