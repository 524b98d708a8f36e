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
