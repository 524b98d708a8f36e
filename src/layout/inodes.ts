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
 *
 * A layout settles its paths in two tiers (build-layout.ts): photostream/ and its files first, as
 * above among themselves, so that their numbers are final before the rest of the tree is built
 * (a mount serves photostream/ while it builds the set folders); then every other path, as above
 * among themselves, except that a number of the first tier is taken: a later path whose hash is one
 * moves (every path of its group does), and no probe lands on one.
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

/**
 * Inode for each path, in the same order. Paths must be distinct and must not include the root.
 * `firstTier`: the paths settled first (a layout's photostream/ and its files); the rest then keep
 * clear of their numbers (the header).
 */
export function assignInodes(paths: readonly string[], firstTier: (path: string) => boolean = () => true): Uint32Array {
  const inos = new Uint32Array(paths.length)
  const settleTier = (inTier: boolean, before?: TakenNumbers): TakenNumbers => {
    const at = paths.flatMap((p, i) => (firstTier(p) === inTier ? [i] : []))
    const numbers = Uint32Array.from(at, (i) => pathHash(paths[i] as string))
    const taken = settleCollisions(numbers, (k) => paths[at[k] as number] as string, undefined, before)
    at.forEach((i, k) => (inos[i] = numbers[k] as number))
    return taken
  }
  settleTier(false, settleTier(true))
  return inos
}

/**
 * The numbers an earlier settle holds (its tier: header), for a later one to keep clear of: every
 * first choice (one path of each kept it) and the numbers its probes took.
 */
export interface TakenNumbers {
  /** Its first choices, ascending (repeats and all). */
  readonly sorted: Uint32Array
  readonly probed: ReadonlySet<number>
}

/**
 * Turns first-choice numbers into unique ones (in place), asking for paths only when they collide.
 * Collisions are found in a sorted copy (ascendingUint32, a radix sort: ~0.3 s for the ~3 million
 * numbers of a 1,000,000-item layout with V8's native sort, where a hash table of them took ~2.5 s,
 * most of it cache misses), which also answers "is this number some path's first choice" by binary search.
 * `moved` is told each index whose number is no longer its first choice, once it is settled.
 * `before`: the numbers of an earlier tier, which these keep clear of (the header). Returns the
 * numbers these now hold, for a tier after them.
 */
export function settleCollisions(inos: Uint32Array, pathOf: (index: number) => string, moved?: (index: number) => void, before?: TakenNumbers): TakenNumbers {
  const sorted = ascendingUint32(inos)
  const probed = new Set<number>()
  const result: TakenNumbers = { sorted, probed }
  const collided = collidedNumbers(sorted, before?.sorted)
  if (collided.length === 0 && (before === undefined || before.probed.size === 0)) return result
  // An earlier tier's probe may have landed on one of these first choices: that number is taken too.
  const held = before === undefined ? collided : mergeAscending(collided, [...before.probed].filter((n) => sortedIndexOf(sorted, n) >= 0).sort((a, b) => a - b))
  if (held.length === 0) return result
  const groups = new Map<number, number[]>()
  // A number's low 16 bits say whether it may be one that collided: the few collided numbers (~2,000
  // among 3,000,000 at 1,000,000 items) mark few of the 65,536, so most numbers are passed over
  // without asking the Map (asking it of every number was ~0.1 s of a 1,000,000-item build).
  const maybe = new Uint8Array(1 << 16)
  for (const ino of held) {
    groups.set(ino, [])
    maybe[ino & 0xffff] = 1
  }
  for (let i = 0; i < inos.length; i++) {
    const ino = inos[i] as number
    if (maybe[ino & 0xffff] === 1) groups.get(ino)?.push(i)
  }

  const takenBefore = (n: number): boolean => before !== undefined && (sortedIndexOf(before.sorted, n) >= 0 || before.probed.has(n))
  // `held` is ascending: groups in ascending hash order, as the header says.
  for (const ino of held) {
    const group = (groups.get(ino) as number[]).map((index) => ({ index, path: pathOf(index) }))
    group.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    // A number an earlier tier holds is kept by none of these.
    const keeps = takenBefore(ino) ? -1 : 0
    group.forEach(({ index, path }, rank) => {
      if (rank === keeps) {
        inos[index] = ino
        return
      }
      for (let k = 1; ; k++) {
        const candidate = pathHash(`${path}\u0000${k}`)
        if (sortedIndexOf(sorted, candidate) < 0 && !probed.has(candidate) && !takenBefore(candidate)) {
          probed.add(candidate)
          inos[index] = candidate
          moved?.(index)
          return
        }
      }
    })
  }
  return result
}

/** The numbers of two ascending lists, ascending, each once. */
function mergeAscending(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const n = j >= b.length || (i < a.length && (a[i] as number) <= (b[j] as number)) ? (a[i++] as number) : (b[j++] as number)
    if (n !== out[out.length - 1]) out.push(n)
  }
  return out
}

/**
 * The numbers that occur more than once in `sorted`, or once there and in `alsoSorted` (an earlier
 * tier's first choices, ascending), each once, ascending: one walk through both.
 */
function collidedNumbers(sorted: Uint32Array, alsoSorted?: Uint32Array): number[] {
  const out: number[] = []
  const also = alsoSorted ?? new Uint32Array(0)
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted[i] as number
    if (n === out[out.length - 1]) continue
    if (i > 0 && n === sorted[i - 1]) {
      out.push(n)
      continue
    }
    while (j < also.length && (also[j] as number) < n) j++
    if (j < also.length && also[j] === n) out.push(n)
  }
  return out
}
