/**
 * A full listing sizes each photostream page's originals as soon as that page is in (pin's
 * downloads start from the first page), and the result is the same as sizing them at the end.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RefreshProgress } from '../../src/catalog/index.js'
import { mediaKey } from '../../src/catalog/index.js'
import { harness, refresh } from './harness.js'

void test('originals of the first photostream page are announced while the next pages are still being listed', async (t) => {
  // 1,100 photos: three pages of at most 500.
  const h = await harness(t, { photos: 1100, videos: 0, sets: 1, commentedFraction: 0 })
  let phase: RefreshProgress['phase'] | undefined
  let pagesAtFirstMedia = -1
  let phaseAtFirstMedia: string | undefined
  let events = 0
  h.catalog.on('progress', (p) => { phase = p.phase })
  h.catalog.on('media', () => {
    if (events === 0) {
      phaseAtFirstMedia = phase
      pagesAtFirstMedia = h.fake.counts()['flickr.people.getPhotos'] ?? 0
    }
    events++
  })
  // Slow pages, immediate media answers: page 1's originals are sized long before page 3 is in.
  h.fake.faults.apiLatencyMs = 60
  h.fake.resetCounts()
  const report = await refresh(h)
  const snap = h.catalog.snapshot()
  assert.equal(snap.photostream.length, 1100)
  assert.equal(h.fake.counts()['flickr.people.getPhotos'], 3)
  assert.equal(phaseAtFirstMedia, 'listing', 'the first original is announced before the photostream listing is over')
  assert.ok(pagesAtFirstMedia >= 1 && pagesAtFirstMedia < 3, `first original announced after ${pagesAtFirstMedia} of 3 pages were asked`)
  // Each original sized once, none missing, none twice.
  assert.equal(events, 1100)
  assert.equal(report.media.resolved, 1100)
  assert.equal(h.fake.counts()['media:HEAD'], 1100)
  for (const id of snap.photostream) {
    const p = snap.photos.get(id)
    assert.ok(p && snap.media.get(mediaKey(p.id, p.secret))?.size === h.fake.account.requirePhoto(id).bytes, `original of ${id} sized`)
  }
})
