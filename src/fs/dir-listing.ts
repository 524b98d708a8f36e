import { LRUCache } from 'lru-cache'
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
 * How far apart the entries' stats start in the one buffer: 2 words. fuse-native reads all 18 words
 * of each entry into a struct stat, but libfuse 2.9's readdir filler passes only st_ino (word 7) and
 * the type bits of st_mode (word 0) to the kernel, so only those two words of an entry must be its
 * own: with a stride of 2 an entry's mode is at an even word and its inode at an odd one, and no two
 * entries share either. The other 16 words an entry is read with are its neighbours' and go unused.
 * 8 bytes an entry instead of 72: 16 MB instead of 144 MB for the 2,000,002 entries of photostream/
 * at 1,000,000 items (a stride of 8 words, before, was 64 MB).
 */
const WIRE_STRIDE = 2

/**
 * The entries' stats in fuse-native's own form, as views into one buffer made for this readdir:
 * fuse-native would otherwise make a Uint32Array with its own backing store per entry, at every
 * readdir (about 120 MB of RSS for the 200k entries of photostream/ at 100,000 photos; this is
 * one 1.6 MB buffer and light views, and the listing itself keeps 8 bytes per entry). A view is a
 * DataView: fuse-native reads each with `napi_get_buffer_info`, which takes any ArrayBufferView,
 * and a DataView is 16 bytes smaller than a typed array's view (~3 MB of the first `ls` of
 * photostream/ at 100,000 photos: bench/RESULTS.md "sync-290").
 */
export function wireStats(l: DirListing): StatWire[] {
  const n = l.names.length
  const words = new Uint32Array(n * WIRE_STRIDE + (STAT_WORDS - WIRE_STRIDE))
  const out = new Array<StatWire>(n)
  for (let i = 0; i < n; i++) {
    const at = i * WIRE_STRIDE
    words[at] = l.modes[i] as number
    words[at + 7] = l.inos[i] as number
    out[i] = new StatWire(words.buffer, at * 4, STAT_WORDS * 4)
  }
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
        if (at === n) throw new Error(`${dir.ino}: a folder listed more children than its size`)
        modes[at] = modeOf(child)
        inos[at] = child.ino
        names[at++] = name
      }
      // A directory that makes its children on demand lists them without making them.
      if (dir.eachChild !== undefined) dir.eachChild(add)
      else for (const [name, child] of dir.children) add(name, child)
      if (at !== n) throw new Error(`${dir.ino}: a folder listed fewer children than its size`)
      listing = { names, modes, inos }
      this.cache.set(dir, listing)
    }
    return listing
  }
}
