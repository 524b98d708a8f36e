import { LRUCache } from 'lru-cache'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { modeOf } from './stat.js'
import type { FsDir, FsNode } from './types.js'

export interface DirListing {
  names: string[]
  /** Only mode and ino of each entry: libfuse 2.9 uses them for d_type and d_ino, nothing else. */
  modes: Uint32Array
  inos: Uint32Array
}

/** fuse-native 2.2.6's stat form: 18 uint32 per entry (mode at 0, nlink at 6, ino at 7). */
export const STAT_WORDS = 18

/**
 * The entries' stats in fuse-native's own form, each made when fuse-native reads it.
 *
 * fuse-native 2.2.6's readdir (fuse-native.c) walks the names and, for entry i, gets element i of
 * this array, reads its 18 words into a struct stat at once and hands it to libfuse's filler, before
 * it asks for element i + 1. So one view does for every entry: it is written with entry i's mode and
 * inode when element i is asked for. The array holds no element of its own, only its length; its
 * prototype, a Proxy, answers each index. libfuse 2.9's filler passes only st_ino and the type bits
 * of st_mode to the kernel (d_ino, d_type): test/fs/mount-lifecycle.test.ts checks both, entry by
 * entry, through a real mount, and fails if fuse-native ever read the elements in another order.
 *
 * Before, one DataView per entry into one buffer: at 1,000,000 items the first listing of
 * photostream/ made 2,000,002 of them, ~170 MB of heap and a 16 MB buffer at the moment the mount's
 * RSS peaks (bench/listing-memory.ts). Read from JS (tests), `stats[i]` is entry i's view until the
 * next element is asked for; holes are skipped by `map` and `forEach`, so read by index.
 */
export function wireStats(l: DirListing): StatWire[] {
  const n = l.names.length
  const view = new StatWire(new ArrayBuffer(STAT_WORDS * 4))
  const words = new Uint32Array(view.buffer)
  words[6] = 1 // nlink
  const entries = new Proxy(Array.prototype, {
    get(target, key, receiver) {
      const i = typeof key === 'string' ? Number(key) : NaN
      if (!(Number.isInteger(i) && i >= 0 && i < n)) return Reflect.get(target, key, receiver) as unknown
      words[0] = l.modes[i] as number
      words[7] = l.inos[i] as number
      return view
    },
  })
  const out: StatWire[] = []
  out.length = n
  Object.setPrototypeOf(out, entries)
  return out
}

/**
 * One entry's stat in fuse-native's form (18 uint32 in the machine's order, as the native side
 * reads them), still readable as `{ mode, ino }`.
 */
export class StatWire extends DataView<ArrayBuffer> {
  get mode(): number {
    return this.getUint32(0, LITTLE_ENDIAN)
  }
  get ino(): number {
    return this.getUint32(7 * 4, LITTLE_ENDIAN)
  }
}

/** The machine's byte order: the words are written through a Uint32Array, so in it. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * Listings keyed by the (immutable) directory object, so a refresh that swaps the tree simply
 * misses and old listings age out. Bounded by entry count: photostream/ may hold 100k names.
 */
export class DirListingCache {
  private readonly cache: LRUCache<FsDir, DirListing>

  constructor(maxEntries = 400_000) {
    this.cache = new LRUCache<FsDir, DirListing>({
      maxSize: maxEntries,
      sizeCalculation: (l) => Math.max(1, l.names.length),
    })
  }

  get(dir: FsDir, parentIno: number): DirListing {
    let listing = this.cache.get(dir)
    if (!listing) {
      const n = dir.children.size + 2
      // Made at its length: grown by push, the 2,000,002 names of photostream/ at 1,000,000 items
      // left ~40 MB of outgrown arrays beside the listing until the next full GC.
      const names = new Array<string>(n)
      const modes = new Uint32Array(n)
      const inos = new Uint32Array(n)
      names[0] = '.'
      modes[0] = modeOf(dir)
      inos[0] = dir.ino
      names[1] = '..'
      modes[1] = 0o040555
      inos[1] = parentIno
      let at = 2
      const add = (name: string, child: Pick<FsNode, 'kind' | 'ino'>): void => {
        if (at === n) throw new FlickrfsError('INTERNAL', `folder ${dir.ino} listed more children than its size`)
        modes[at] = modeOf(child)
        inos[at] = child.ino
        names[at++] = name
      }
      // A directory that makes its children on demand lists them without making them.
      if (dir.eachChild !== undefined) dir.eachChild(add)
      else for (const [name, child] of dir.children) add(name, child)
      if (at !== n) throw new FlickrfsError('INTERNAL', `folder ${dir.ino} listed fewer children than its size`)
      listing = { names, modes, inos }
      this.cache.set(dir, listing)
    }
    return listing
  }
}
