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
 * Entries a window of stat views holds (wireStats): one JS call from the binding per window, not
 * one per entry.
 */
export const STAT_WINDOW = 4096

/**
 * The entries' stats in fuse-native's own form, made a window at a time as fuse-native reads them.
 *
 * fuse-native 2.2.6's readdir (fuse-native.c) walks the names and, for entry i, gets element i of
 * this array, reads its 18 words into a struct stat at once and hands it to libfuse's filler, before
 * it asks for element i + 1. libfuse 2.9's filler passes only st_ino and the type bits of st_mode
 * to the kernel (d_ino, d_type). So STAT_WINDOW views into one small buffer do for every entry:
 * element i is view i % STAT_WINDOW, a real element of the array, except at the start of each
 * window (i a multiple of STAT_WINDOW), which is a hole: the binding's read of it falls through to
 * the array's prototype, a Proxy, which writes that window's modes and inodes into the buffer and
 * answers its first view. The binding then reads the rest of the window as plain elements, with no
 * call into JS. test/fs/mount-lifecycle.test.ts checks d_ino and d_type entry by entry through a
 * real mount, over more than two windows, and fails if fuse-native ever read the elements in
 * another order.
 *
 * Before, every element was a hole the Proxy answered: one call from C++ into JS per entry, each
 * with its key made a string, which the binding's loop keeps reachable to its end (it opens no
 * handle scope per entry). At 1,000,000 items (2,000,002 entries in photostream/) `ls` showed its
 * first name 0.76-0.93x as soon after an online mount was up, and the mount peaked 40-150 MB lower
 * (bench/RESULTS.md, "Session 47"). And before that, one DataView per entry:
 * ~170 MB of heap and a 16 MB buffer at the moment the mount's RSS peaks (bench/listing-memory.ts);
 * the array's own slots are 8 bytes an entry, for as long as the readdir. Read from JS (tests),
 * read in order: element i holds entry i's stat once its window's first element was read (the
 * first window is written at once), and until another window's is.
 */
export function wireStats(l: DirListing): StatWire[] {
  const n = l.names.length
  const size = Math.max(1, Math.min(STAT_WINDOW, n))
  const buffer = new ArrayBuffer(size * STAT_WORDS * 4)
  const words = new Uint32Array(buffer)
  const views: StatWire[] = []
  for (let r = 0; r < size; r++) {
    views.push(new StatWire(buffer, r * STAT_WORDS * 4, STAT_WORDS * 4))
    words[r * STAT_WORDS + 6] = 1 // nlink
  }
  let written = -1
  const write = (start: number): void => {
    const end = Math.min(n, start + size)
    for (let j = start; j < end; j++) {
      const at = (j - start) * STAT_WORDS
      words[at] = l.modes[j] as number
      words[at + 7] = l.inos[j] as number
    }
    written = start
  }
  write(0)
  const windows = new Proxy(Array.prototype, {
    get(target, key, receiver) {
      const i = typeof key === 'string' ? Number(key) : NaN
      if (!(Number.isInteger(i) && i >= 0 && i < n)) return Reflect.get(target, key, receiver) as unknown
      const start = i - (i % size)
      if (start !== written) write(start)
      return views[i - start]
    },
  })
  // Made at its length (V8 keeps it a fast array of 8-byte slots; grown by writes, the copies took
  // ~3 times as long), a hole left at each window's start.
  const out = new Array<StatWire>(n)
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size)
    for (let j = start + 1; j < end; j++) out[j] = views[j - start] as StatWire
  }
  Object.setPrototypeOf(out, windows)
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
