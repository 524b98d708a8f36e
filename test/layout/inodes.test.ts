import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assignInodes, buildLayout, pathHash, ROOT_INO, type LayoutDir, type LayoutNode } from '../../src/layout/index.js'
import { FNV_OFFSET, fnvNumberPrefix, fnvUpdate, settleCollisions } from '../../src/layout/inodes.js'
import { numberPrefix } from '../../src/layout/names.js'
import { collectionEntry, photoSpecs, setEntry, snapshot } from './fixture.js'
import { walk } from './tree.js'

function account(extraPhotos = 0) {
  const photos = photoSpecs(2000 + extraPhotos)
  return snapshot({
    photos,
    sets: Array.from({ length: 50 }, (_, i) => setEntry(String(9000 + i), `Set ${i}`, photos.slice(i * 30, i * 30 + 40).map((p) => p.id))),
    collections: [collectionEntry('1-1', 'C', ['9000', '9001'], [collectionEntry('1-2', 'K', ['9002'])])],
  })
}

/** Two distinct paths with the same first-choice hash, found by brute force (~60k tries). */
/**
 * settleCollisions as it was first written (an open-addressing table of the first choices): the
 * numbers it gives are on every mount's files, so the sorted version must give the very same.
 */
function settleByTable(inos: Uint32Array, pathOf: (index: number) => string): Uint32Array {
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
  const collided = new Map<number, number[]>()
  for (let i = 0; i < inos.length; i++) {
    const ino = inos[i] as number
    const slot = slotOf(ino)
    if (keys[slot] === 0) {
      keys[slot] = ino
      owners[slot] = i
    } else {
      const group = collided.get(ino)
      if (group === undefined) collided.set(ino, [owners[slot] as number, i])
      else group.push(i)
    }
  }
  const taken = new Set<number>()
  for (const ino of [...collided.keys()].sort((a, b) => a - b)) {
    const group = (collided.get(ino) as number[]).map((index) => ({ index, path: pathOf(index) }))
    group.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    group.forEach(({ index, path }, rank) => {
      if (rank === 0) return void (inos[index] = ino)
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

/** A deterministic generator (mulberry32), so a failure can be run again. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The layout's first tier (inodes.ts): photostream/ and its files. */
function inPhotostream(path: string): boolean {
  return path === '/photostream' || path.startsWith('/photostream/')
}

function collidingPair(): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const p = `/photostream/${i}.jpg`
    const h = pathHash(p)
    const other = seen.get(h)
    if (other !== undefined) return [other, p]
    seen.set(h, p)
  }
}

void describe('inodes', () => {
  void it('are the same for the same path across builds, and survive unrelated changes', () => {
    const a = new Map(walk(buildLayout(account()).root).map(([p, n]) => [p, n.ino]))
    const b = new Map(walk(buildLayout(account()).root).map(([p, n]) => [p, n.ino]))
    assert.deepEqual(a, b)
    const grown = new Map(walk(buildLayout(account(5)).root).map(([p, n]) => [p, n.ino]))
    let same = 0
    for (const [p, ino] of grown) if (a.get(p) === ino) same++
    // Paths the two builds share keep their numbers (barring a first-choice collision with a new path).
    assert.ok(same >= a.size - 2, `${same} of ${a.size}`)
  })
  void it('are unique, non-zero, below 2^31, and the root is 1', () => {
    const layout = buildLayout(account())
    assert.equal(layout.root.ino, ROOT_INO)
    const all = walk(layout.root).map(([, n]) => n.ino)
    assert.ok(all.length > 6000)
    assert.equal(new Set([...all, layout.root.ino]).size, all.length + 1)
    for (const ino of all) assert.ok(Number.isInteger(ino) && ino >= 2 && ino < 2 ** 31, String(ino))
  })
  void it('come from a fixed hash, so every process agrees', () => {
    // Pinned values: changing the hash would renumber every existing mount's files.
    assert.equal(pathHash('/photostream'), 1549293762)
    assert.equal(pathHash('/photostream/12345.jpg'), 1841546300)
  })
  void it('settle collisions by path order, whatever order the paths come in', () => {
    const [x, y] = collidingPair()
    assert.equal(pathHash(x), pathHash(y))
    const [first, second] = x < y ? [x, y] : [y, x]
    const forward = assignInodes(['/a', first, second, '/b'])
    const backward = assignInodes(['/b', second, first, '/a'])
    assert.equal(forward[1], pathHash(first), 'the path that sorts first keeps its hash')
    assert.notEqual(forward[2], forward[1])
    assert.equal(backward[2], forward[1])
    assert.equal(backward[1], forward[2])
    assert.equal(backward[0], forward[3])
    assert.equal(new Set(forward).size, 4)
  })
  void it('settle exactly as the first (hash-table) settling did, with many collisions and probes that land on first choices', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed)
      const n = 20_000
      const paths = Array.from({ length: n }, (_, i) => `/d${Math.floor(next() * 50)}/${i}-${Math.floor(next() * 1e9)}`)
      // First choices from a small range: ~n/4 distinct numbers, so most paths collide.
      const firsts = Uint32Array.from(paths, () => 2 + Math.floor(next() * (n / 4)))
      // Some paths' first choices are another path's first probe, so probes meet first choices.
      for (let i = 0; i < 500; i++) firsts[Math.floor(next() * n)] = pathHash(`${paths[Math.floor(next() * n)] as string}\u00001`)
      const expected = settleByTable(firsts.slice(), (i) => paths[i] as string)
      const got = firsts.slice()
      settleCollisions(got, (i) => paths[i] as string)
      assert.deepEqual(got, expected, `seed ${seed}`)
      assert.equal(new Set(got).size, n)
    }
    // No collision at all: the numbers stay as they are.
    const plain = Uint32Array.from([5, 3, 9, 2])
    const settled = plain.slice()
    settleCollisions(settled, () => assert.fail('no path is asked for without a collision'))
    assert.deepEqual(settled, plain)
  })

  void it('settle photostream/ first: its paths keep their numbers from any later path, whatever order they come in', () => {
    // A set folder's path and a photostream file's with one hash: '/S…' sorts before '/p…'.
    const later = new Map<number, string>()
    for (let i = 0; i < 100_000; i++) later.set(pathHash(`/Set 1 - A/${i}.jpg`), `/Set 1 - A/${i}.jpg`)
    let pair: [string, string] | undefined
    for (let i = 0; pair === undefined; i++) {
      const other = later.get(pathHash(`/photostream/${i}.jpg`))
      if (other !== undefined) pair = [`/photostream/${i}.jpg`, other]
    }
    const [inStream, inSet] = pair
    assert.ok(inSet < inStream)
    const [setIno, streamIno] = assignInodes([inSet, inStream], inPhotostream)
    assert.equal(streamIno, pathHash(inStream), 'photostream/ keeps its number')
    assert.notEqual(setIno, streamIno)
    assert.deepEqual(assignInodes([inStream, inSet], inPhotostream), Uint32Array.from([streamIno, setIno as number]))
    // In one tier the path sorting first keeps it.
    assert.equal(assignInodes([inSet, inStream])[0], pathHash(inSet))
  })
  void it('settle a later tier clear of every number of the first, its own collisions by path order', () => {
    for (const seed of [4, 5, 6]) {
      const next = random(seed)
      const n = 10_000
      const paths = Array.from({ length: n }, (_, i) => `/${next() < 0.5 ? 'photostream' : 'Set'}/${i}-${Math.floor(next() * 1e9)}`)
      // First choices from a small range, so both tiers collide within and across; some are another path's first probe.
      const firsts = Uint32Array.from(paths, () => 2 + Math.floor(next() * (n / 3)))
      for (let i = 0; i < 300; i++) firsts[Math.floor(next() * n)] = pathHash(`${paths[Math.floor(next() * n)] as string}\u00001`)
      const tierOf = (i: number): number => (inPhotostream(paths[i] as string) ? 0 : 1)
      const at = [0, 1].map((t) => paths.flatMap((_, i) => (tierOf(i) === t ? [i] : [])))
      const [first, rest] = at.map((idx) => Uint32Array.from(idx, (i) => firsts[i] as number)) as [Uint32Array, Uint32Array]
      const firstPaths = (at[0] as number[]).map((i) => paths[i] as string)
      const restPaths = (at[1] as number[]).map((i) => paths[i] as string)
      const expectedFirst = settleByTable(first.slice(), (k) => firstPaths[k] as string)
      const taken = settleCollisions(first, (k) => firstPaths[k] as string)
      assert.deepEqual(first, expectedFirst, 'the first tier settles as if alone')
      const restFirsts = rest.slice()
      settleCollisions(rest, (k) => restPaths[k] as string, undefined, taken)
      const held = new Set(first)
      assert.equal(new Set([...first, ...rest]).size, n, `seed ${seed}: every number once`)
      // A later path keeps its first choice only when no first-tier path holds it and no later path sharing it sorts before it.
      restFirsts.forEach((ino, k) => {
        const path = restPaths[k] as string
        const earlier = restPaths.some((p, j) => restFirsts[j] === ino && p < path)
        const keeps = !held.has(ino) && !earlier
        if (keeps) assert.equal(rest[k], ino, path)
        else {
          assert.notEqual(rest[k], ino, path)
          // A moved path takes one of its own probes.
          let found = false
          for (let p = 1; p < 64 && !found; p++) found = pathHash(`${path}\u0000${p}`) === rest[k]
          assert.ok(found, `${path} moved to one of its probes`)
        }
      })
    }
  })
  void it('move a set link that collides with one in a set sorting first, by its own path (the build names it from the members of its set)', () => {
    // Set A lists the photos in order, set B backwards: ~5 of their 2 × 100,000 links collide across them.
    const photos = photoSpecs(100_000)
    const ids = photos.map((p) => p.id)
    const layout = buildLayout(snapshot({ photos, sets: [setEntry('100', 'A', ids), setEntry('101', 'B', [...ids].reverse())] }))
    // Every node with its path, gathered without tree.ts walk's spread of each folder (too many arguments at 100,000).
    const nodes: Array<[string, LayoutNode]> = []
    const gather = (dir: LayoutDir, at: string): void => {
      for (const node of dir.children.values()) {
        nodes.push([`${at}/${node.name}`, node])
        if (node.kind === 'dir') gather(node, `${at}/${node.name}`)
      }
    }
    gather(layout.root, '')
    const expected = assignInodes(nodes.map(([p]) => p), inPhotostream)
    const movedInB = nodes.filter(([p, n]) => p.startsWith('/Set 101 - B/') && n.ino !== pathHash(p))
    assert.ok(movedInB.length > 0, 'a link of set B collided with one of set A and moved')
    nodes.forEach(([p, n], i) => assert.equal(n.ino, expected[i], p))
  })
  void it('hash a numbered link\'s prefix from its digits as they hash the prefix itself', () => {
    // The build hashes every set member's `<n>_` this way (fnvNumberPrefix): a digit too many or too
    // few, or another padding, would give links numbers their paths do not hash to.
    for (const count of [1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 12_345, 100_000, 1_000_000]) {
      for (const n of new Set([1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, Math.floor(count / 2), count - 1, count])) {
        if (n < 1 || n > count) continue
        for (const state of [FNV_OFFSET, 7, -123_456_789]) assert.equal(fnvNumberPrefix(state, n, count), fnvUpdate(state, numberPrefix(n, count)), `${n} of ${count}`)
      }
    }
  })
})
