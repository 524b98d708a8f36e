import type { FuseNativeOptions } from './fuse-binding.js'

export interface KernelCacheOptions {
  /** Seconds the kernel trusts attributes and names: the tree only changes on refresh. */
  attrTimeoutSec: number
  /** Seconds the kernel remembers that a name does not exist. */
  negativeTimeoutSec: number
  allowOther: boolean
  autoUnmount: boolean
  debug: boolean
  /** Our own deadline for one read; fuse-native's must be later so ours always answers first. */
  readTimeoutMs: number
  /**
   * fuse-native's own timer on every op, the safety net for a callback never called (default true).
   * A setTimeout and a clearTimeout per op: about a quarter of a tar's time through a minimal
   * filesystem (bench/RESULTS.md, "fuse-floor"). Without it, a missed callback hangs its reader.
   */
  opTimeouts?: boolean
}

/**
 * libfuse options that fuse-native 2.2.6 does not expose. It joins option values into one `-o`
 * string without escaping, so they ride along after the fsname. Each was checked to take effect.
 * `ro`: the kernel refuses writes before they reach us. `use_ino`: our stable inode numbers reach
 * stat and readdir (backup tools use them). `max_background`: parallel readers (thumbnailers) all
 * start at once instead of in waves of 12.
 */
export function fsnameHack(negativeTimeoutSec: number): string {
  return `flickrfs,ro,use_ino,negative_timeout=${negativeTimeoutSec},max_background=64,congestion_threshold=48`
}

export function fuseNativeOptions(o: KernelCacheOptions): FuseNativeOptions {
  return {
    fsname: fsnameHack(o.negativeTimeoutSec),
    subtype: 'flickrfs',
    attrTimeout: o.attrTimeoutSec,
    entryTimeout: o.attrTimeoutSec,
    // Keep the page cache across opens while size and mtime are unchanged. Never direct_io:
    // it breaks mmap and makes the kernel read past st_size.
    autoCache: true,
    defaultPermissions: true,
    allowOther: o.allowOther,
    autoUnmount: o.autoUnmount,
    debug: o.debug,
    timeout: o.opTimeouts === false ? false : { default: 15_000, read: o.readTimeoutMs + 5_000 },
  }
}
