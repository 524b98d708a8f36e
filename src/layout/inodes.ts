/**
 * Inode numbers from paths. The root is 1; every other node gets a 32-bit FNV-1a hash of its path
 * (with murmur3's finaliser, so paths that differ only in their last digits spread out) folded into
 * [2, 2^31). The same path gets the same number in every build and every process.
 *
 * Collisions (about 20 expected among 300k paths) are settled so the result depends only on the
 * set of paths, not on build order: within a group sharing a hash, the path that sorts first keeps
 * it; the others, group by group in ascending hash order and path order within a group, probe
 * hash(path + "\0" + k) for k = 1, 2, … until they find a number that is no path's first choice
 * and not yet taken by an earlier probe.
 */
import { ascendingUint32, sortedIndexOf } from '../util/sorted.js'

export const ROOT_INO = 1
const RANGE = 2 ** 31 - 2
export const FNV_OFFSET = 0x811c9dc5

/** FNV-1a state after `text`, continuing from `state` (so a child's state extends its dir's). */
export function fnvUpdate(state: number, text: string): number {
  let h = state
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h
}

/**
 * fnvUpdate(state, numberPrefix(n, count)) (names.ts: `<n>_`, n zero-padded to count's digits),
 * without making the prefix: the build hashes one for every set member (1,000,000 strings at
 * 1,000,000 photos in sets). `1 <= n <= count`, both safe integers (numberPrefix checks them when a
 * name is made). test/layout/inodes.test.ts holds it to the string's hash.
 */
export function fnvNumberPrefix(state: number, n: number, count: number): number {
  let width = 1
  for (let c = count; c >= 10; c = Math.floor(c / 10)) width++
  let digits = 1
  let unit = 1
  while (unit * 10 <= n) {
    unit *= 10
    digits++
  }
  let h = state
  for (let i = digits; i < width; i++) h = Math.imul(h ^ 0x30, 0x01000193)
  for (let rest = n; unit >= 1; unit /= 10) {
    const digit = Math.floor(rest / unit)
    rest -= digit * unit
    h = Math.imul(h ^ (0x30 + digit), 0x01000193)
  }
  return Math.imul(h ^ 0x5f, 0x01000193)
}

/** The inode number for an FNV state. */
export function inoFromState(state: number): number {
  let h = state
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return ((h >>> 0) % RANGE) + 2
}

export function pathHash(path: string): number {
  return inoFromState(fnvUpdate(FNV_OFFSET, path))
}

/** Inode for each path, in the same order. Paths must be distinct and must not include the root. */
export function assignInodes(paths: readonly string[]): Uint32Array {
  const firstChoices = new Uint32Array(paths.length)
  for (let i = 0; i < paths.length; i++) firstChoices[i] = pathHash(paths[i] as string)
  return settleCollisions(firstChoices, (i) => paths[i] as string)
}

/**
 * Turns first-choice numbers into unique ones (in place), asking for paths only when they collide.
 * Collisions are found in a sorted copy (ascendingUint32, a radix sort: ~0.3 s for the ~3 million
 * numbers of a 1,000,000-item layout with V8's native sort, where a hash table of them took ~2.5 s,
 * most of it cache misses), which also answers "is this number some path's first choice" by binary search.
 * `moved` is told each index whose number is no longer its first choice, once it is settled.
 */
export function settleCollisions(inos: Uint32Array, pathOf: (index: number) => string, moved?: (index: number) => void): Uint32Array {
  const sorted = ascendingUint32(inos)
  const collided = collidedNumbers(sorted)
  if (collided.length === 0) return inos
  const groups = new Map<number, number[]>()
  // A number's low 16 bits say whether it may be one that collided: the few collided numbers (~2,000
  // among 3,000,000 at 1,000,000 items) mark few of the 65,536, so most numbers are passed over
  // without asking the Map (asking it of every number was ~0.1 s of a 1,000,000-item build).
  const maybe = new Uint8Array(1 << 16)
  for (const ino of collided) {
    groups.set(ino, [])
    maybe[ino & 0xffff] = 1
  }
  for (let i = 0; i < inos.length; i++) {
    const ino = inos[i] as number
    if (maybe[ino & 0xffff] === 1) groups.get(ino)?.push(i)
  }

  const taken = new Set<number>()
  // `collided` is ascending: groups in ascending hash order, as the header says.
  for (const ino of collided) {
    const group = (groups.get(ino) as number[]).map((index) => ({ index, path: pathOf(index) }))
    group.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    group.forEach(({ index, path }, rank) => {
      if (rank === 0) {
        inos[index] = ino
        return
      }
      for (let k = 1; ; k++) {
        const candidate = pathHash(`${path}\u0000${k}`)
        if (sortedIndexOf(sorted, candidate) < 0 && !taken.has(candidate)) {
          taken.add(candidate)
          inos[index] = candidate
          moved?.(index)
          return
        }
      }
    })
  }
  return inos
}

/** The numbers that occur more than once in `sorted`, each once, ascending. */
function collidedNumbers(sorted: Uint32Array): number[] {
  const out: number[] = []
  for (let i = 1; i < sorted.length; i++) {
    const n = sorted[i] as number
    if (n === sorted[i - 1] && n !== out[out.length - 1]) out.push(n)
  }
  return out
}
