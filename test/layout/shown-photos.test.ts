import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildLayout } from '../../src/layout/index.js'
import { ShownPhotos } from '../../src/layout/shown-photos.js'
import { setEntry, snapshot } from './fixture.js'
import { walk } from './tree.js'

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

void describe('ShownPhotos', () => {
  void it('answers as a Map of the same ids would, full to its capacity, for every id asked', () => {
    const next = random(7)
    // Flickr-like decimal ids, ids no number stands for (leading zero, letters, past 2^53), and near misses of each.
    const ids = new Set<string>()
    while (ids.size < 20_000) {
      const r = next()
      if (r < 0.7) ids.add(String(Math.floor(next() * 2 ** 53)))
      else if (r < 0.8) ids.add(String(Math.floor(next() * 1000)))
      else if (r < 0.85) ids.add(`0${Math.floor(next() * 1000)}`)
      else if (r < 0.9) ids.add(`a${Math.floor(next() * 1000)}`)
      else ids.add(String(2 ** 53 + Math.floor(next() * 1000) * 2))
    }
    const shown = new ShownPhotos(ids.size)
    const reference = new Map<string, number>()
    for (const id of ids) {
      assert.equal(shown.get(id), undefined, id)
      const k = shown.add(id)
      assert.equal(k, reference.size)
      reference.set(id, k)
    }
    assert.equal(shown.size, ids.size)
    const asked = [...ids, '0', '00', '1', '01', '1a', '', String(2 ** 53), String(2 ** 53 + 1), '99999999999999999']
    for (const id of asked) assert.equal(shown.get(id), reference.get(id), id)
    // A hint of where it may be (beside it, on it, anywhere, out of range) never changes the answer.
    for (const id of asked) {
      const k = reference.get(id) ?? 7
      for (const near of [-2, -1, 0, k - 1, k, k + 1, k - 2, k + 2, ids.size - 1, ids.size, 12_345]) assert.equal(shown.get(id, near), reference.get(id), `${id} near ${near}`)
    }
  })

  void it('tells 123 from 0123 and 0123 from 123, whichever came first', () => {
    const a = new ShownPhotos(2)
    a.add('123')
    assert.equal(a.get('0123'), undefined)
    const b = new ShownPhotos(2)
    b.add('0123')
    assert.equal(b.get('123'), undefined)
    assert.equal(b.add('123'), 1)
    assert.deepEqual([b.get('0123'), b.get('123')], [0, 1])
  })

  void it('adds the id it is given, not the one a get last missed', () => {
    const shown = new ShownPhotos(4)
    assert.equal(shown.get('1'), undefined)
    assert.equal(shown.add('2'), 0)
    assert.equal(shown.get('77'), undefined)
    assert.equal(shown.add('a'), 1)
    assert.deepEqual(['1', '2', '77', 'a'].map((id) => shown.get(id)), [undefined, 0, undefined, 1])
  })
})

void describe('buildLayout with ids no number stands for', () => {
  void it('shows 7 and 07 as two photos, each once and each in its sets, and a repeat of either once', () => {
    const layout = buildLayout(
      snapshot({
        photos: [{ id: '7' }, { id: '07' }, { id: 'x7' }],
        photostream: ['7', '07', '7', 'x7', '07'],
        sets: [setEntry('100', 'A', ['07', 'x7']), setEntry('101', 'B', ['7'])],
      }),
    )
    const paths = walk(layout.root).map(([p]) => p)
    assert.deepEqual(paths.filter((p) => p.startsWith('/photostream/') && !p.endsWith('metadata') && !p.endsWith('SHA256SUMS')), ['/photostream/7.jpg', '/photostream/07.jpg', '/photostream/x7.jpg'])
    assert.deepEqual(paths.filter((p) => p.startsWith('/Set ') && !p.endsWith('metadata')).sort(), ['/Set 100 - A', '/Set 100 - A/1_07.jpg', '/Set 100 - A/2_x7.jpg', '/Set 101 - B', '/Set 101 - B/1_7.jpg'])
    assert.deepEqual(paths.filter((p) => p.startsWith('/Not in any set/')), [])
  })
})
