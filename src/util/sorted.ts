/**
 * Binary search in an ascending typed array: where `key` is, or -1. The lazy view's id index
 * (catalog/lazy-view.ts) and the layout's inode settling (layout/inodes.ts) both keep their
 * numbers sorted in a typed array rather than in a Map, which costs far more per number.
 */
export function sortedIndexOf(sorted: Float64Array | Uint32Array, key: number): number {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const k = sorted[mid] as number
    if (k === key) return mid
    if (k < key) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}
