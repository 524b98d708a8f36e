import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'

/**
 * The only place that loads fuse-native. Typed narrowly to what we use, so that moving to a
 * maintained fork or a fuse3 binding only touches src/fs/.
 */
export const PINNED_FUSE_NATIVE = '2.2.6'

/* eslint-disable @typescript-eslint/no-explicit-any -- fuse-native's callback shapes vary per op */
export type FuseCallback = (...args: any[]) => void
export type FuseOps = Record<string, (...args: any[]) => void>
/* eslint-enable @typescript-eslint/no-explicit-any */

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

/** What fuse-native 2.2.6's Fuse class has beyond the public API, used by `passHandleToFgetattr`. */
type OpHandler = (signal: FuseCallback, ...args: unknown[]) => void
interface FuseInternals {
  _op_fgetattr?: OpHandler
}

/**
 * fuse-native 2.2.6 drops the file handle of fgetattr: its `_op_fgetattr` calls `ops.getattr(path)`.
 * libfuse's auto_cache asks fgetattr at each open, and the answer must describe the version that
 * open serves, which after a refresh may not be the current one. This routes fgetattr to
 * `ops.fgetattr(path, fh, cb)`, reusing fuse-native's own `_op_getattr` to turn the stat into its
 * native form (it only reads `this.ops.getattr`). The version is pinned, so these internals hold.
 */
export function passHandleToFgetattr(fuse: FuseInstance, fgetattr: (path: string, fh: number, cb: FuseCallback) => void): void {
  const getattr = (Object.getPrototypeOf(fuse) as { _op_getattr?: unknown })._op_getattr
  if (typeof getattr !== 'function') throw new FlickrfsError('FUSE', `fuse-native ${PINNED_FUSE_NATIVE} internals changed (no _op_getattr); reinstall with npm ci`)
  const toNative = getattr as (this: { ops: FuseOps }, signal: FuseCallback, path: string) => void
  ;(fuse as FuseInstance & FuseInternals)._op_fgetattr = (signal: FuseCallback, path: unknown, fh: unknown) =>
    toNative.call({ ops: { getattr: (p: string, cb: FuseCallback) => fgetattr(p, Number(fh), cb) } }, signal, String(path))
}

interface FuseConstructor {
  new (mnt: string, ops: FuseOps, opts: FuseNativeOptions): FuseInstance
}

interface NativeBinding {
  fuse_native_unmount(mnt: string, thread: Buffer): void
}

const require = createRequire(import.meta.url)
let loaded: { Fuse: FuseConstructor; binding: NativeBinding; version: string } | undefined

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
