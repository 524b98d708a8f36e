/** Below this many numbers ascendingUint32 leaves the sort to V8: the radix's counts alone are 256 KB. */
const RADIX_FROM = 1 << 16

/**
 * A sorted copy of `values`. From RADIX_FROM numbers, a radix sort in two passes of 16 bits: at the
 * ~3,000,000 inode numbers of a 1,000,000-item layout V8's native sort took ~0.3 s of the build a
 * mount waits for (layout/inodes.ts settleCollisions; bench/RESULTS.md "mountfast").
 */
export function ascendingUint32(values: Uint32Array): Uint32Array {
  if (values.length < RADIX_FROM) return values.slice().sort()
  const counts = new Uint32Array(1 << 16)
  const low = new Uint32Array(values.length)
  scatterBy(values, low, counts, 0)
  const out = new Uint32Array(values.length)
  counts.fill(0)
  scatterBy(low, out, counts, 16)
  return out
}

/** One stable pass: `from` into `to` in the order of their 16 bits at `shift`. */
function scatterBy(from: Uint32Array, to: Uint32Array, counts: Uint32Array, shift: number): void {
  const n = from.length
  for (let i = 0; i < n; i++) {
    const d = ((from[i] as number) >>> shift) & 0xffff
    counts[d] = (counts[d] as number) + 1
  }
  let start = 0
  for (let d = 0; d < counts.length; d++) {
    const c = counts[d] as number
    counts[d] = start
    start += c
  }
  for (let i = 0; i < n; i++) {
    const v = from[i] as number
    const d = (v >>> shift) & 0xffff
    const at = counts[d] as number
    counts[d] = at + 1
    to[at] = v
  }
}

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
