import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assignInodes, buildLayout, pathHash, ROOT_INO } from '../../src/layout/index.js'
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
})
