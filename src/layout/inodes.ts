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
 * An open-addressing table of typed arrays, because a Map of 300k numbers costs far more.
 */
export function settleCollisions(inos: Uint32Array, pathOf: (index: number) => string): Uint32Array {
  let capacity = 1024
  while (capacity < inos.length * 2) capacity *= 2
  const mask = capacity - 1
  const keys = new Uint32Array(capacity)
  const owners = new Int32Array(capacity)
  const slotOf = (ino: number): number => {
    let slot = ino & mask
    while (keys[slot] !== 0 && keys[slot] !== ino) slot = (slot + 1) & mask
    return slot
  }
  let collided: Map<number, number[]> | undefined
  for (let i = 0; i < inos.length; i++) {
    const ino = inos[i] as number
    const slot = slotOf(ino)
    if (keys[slot] === 0) {
      keys[slot] = ino
      owners[slot] = i
    } else {
      collided ??= new Map()
      const group = collided.get(ino)
      if (group === undefined) collided.set(ino, [owners[slot] as number, i])
      else group.push(i)
    }
  }
  if (collided === undefined) return inos

  const taken = new Set<number>()
  for (const ino of [...collided.keys()].sort((a, b) => a - b)) {
    const group = (collided.get(ino) as number[]).map((index) => ({ index, path: pathOf(index) }))
    group.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    group.forEach(({ index, path }, rank) => {
      if (rank === 0) {
        inos[index] = ino
        return
      }
      for (let k = 1; ; k++) {
        const candidate = pathHash(`${path}\u0000${k}`)
        if (keys[slotOf(candidate)] !== candidate && !taken.has(candidate)) {
          taken.add(candidate)
          inos[index] = candidate
          return
        }
      }
    })
  }
  return inos
}
