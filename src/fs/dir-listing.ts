import { LRUCache } from 'lru-cache'
import { modeOf } from './stat.js'
import type { FsDir } from './types.js'

export interface DirListing {
  names: string[]
  /** Only mode and ino: libfuse 2.9 uses them for d_type and d_ino, nothing else. */
  stats: { mode: number; ino: number }[]
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
      const names = ['.', '..']
      const stats = [
        { mode: modeOf(dir), ino: dir.ino },
        { mode: 0o040555, ino: parentIno },
      ]
      for (const [name, child] of dir.children) {
        names.push(name)
        stats.push({ mode: modeOf(child), ino: child.ino })
      }
      listing = { names, stats }
      this.cache.set(dir, listing)
    }
    return listing
  }
}
