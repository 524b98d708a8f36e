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
export const ROOT_INO = 1
const RANGE = 2 ** 31 - 2

export function pathHash(path: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return ((h >>> 0) % RANGE) + 2
}

/** Inode for each path, in the same order. Paths must be distinct and must not include the root. */
export function assignInodes(paths: readonly string[]): Uint32Array {
  const inos = new Uint32Array(paths.length)
  const firstByHash = new Map<number, number>()
  const collided = new Map<number, number[]>()
  for (let i = 0; i < paths.length; i++) {
    const h = pathHash(paths[i] as string)
    inos[i] = h
    const first = firstByHash.get(h)
    if (first === undefined) firstByHash.set(h, i)
    else {
      const group = collided.get(h)
      if (group === undefined) collided.set(h, [first, i])
      else group.push(i)
    }
  }
  if (collided.size === 0) return inos

  const taken = new Set<number>()
  const hashes = [...collided.keys()].sort((a, b) => a - b)
  for (const h of hashes) {
    const group = (collided.get(h) as number[]).sort((a, b) => compare(paths[a] as string, paths[b] as string))
    for (const index of group.slice(1)) {
      const path = paths[index] as string
      for (let k = 1; ; k++) {
        const candidate = pathHash(`${path}\u0000${k}`)
        if (!firstByHash.has(candidate) && !taken.has(candidate)) {
          taken.add(candidate)
          inos[index] = candidate
          break
        }
      }
    }
  }
  return inos
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
