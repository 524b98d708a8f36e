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
 * How far apart the entries' stats start in the one buffer: 8 words, so that an entry's words 0–7
 * (mode, nlink, ino) are its own and its words 8–17 are the next entries' first ones. fuse-native
 * reads all 18 into a struct stat, but libfuse 2.9's readdir filler passes only st_ino and the type
 * bits of st_mode to the kernel, so the fields that overlap are never used. 32 bytes an entry
 * instead of 72: 64 MB instead of 144 MB for the 2,000,002 entries of photostream/ at 1,000,000 items.
 */
const WIRE_STRIDE = 8

/**
 * The entries' stats in fuse-native's own form, as views into one buffer made for this readdir:
 * fuse-native would otherwise make a Uint32Array with its own backing store per entry, at every
 * readdir (about 120 MB of RSS for the 200k entries of photostream/ at 100,000 photos; this is
 * one 6 MB buffer and light views, and the listing itself keeps 8 bytes per entry).
 */
export function wireStats(l: DirListing): StatWire[] {
  const n = l.names.length
  const words = new StatWire(n * WIRE_STRIDE + (STAT_WORDS - WIRE_STRIDE))
  const out = new Array<StatWire>(n)
  for (let i = 0; i < n; i++) {
    const at = i * WIRE_STRIDE
    words[at] = l.modes[i] as number
    words[at + 6] = 1
    words[at + 7] = l.inos[i] as number
    out[i] = words.subarray(at, at + STAT_WORDS) as StatWire
  }
  return out
}

/** One entry's stat in fuse-native's form, still readable as `{ mode, ino }`. (`subarray` keeps the class.) */
export class StatWire extends Uint32Array {
  get mode(): number {
    return this[0] as number
  }
  get ino(): number {
    return this[7] as number
  }
}

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
      const names = ['.', '..']
      const modes = new Uint32Array(n)
      const inos = new Uint32Array(n)
      modes[0] = modeOf(dir)
      inos[0] = dir.ino
      modes[1] = 0o040555
      inos[1] = parentIno
      const add = (name: string, child: Pick<FsNode, 'kind' | 'ino'>): void => {
        modes[names.length] = modeOf(child)
        inos[names.length] = child.ino
        names.push(name)
      }
      // A directory that makes its children on demand lists them without making them.
      if (dir.eachChild !== undefined) dir.eachChild(add)
      else for (const [name, child] of dir.children) add(name, child)
      listing = { names, modes, inos }
      this.cache.set(dir, listing)
    }
    return listing
  }
}
