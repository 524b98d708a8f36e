/**
 * The CatalogView over the in-memory snapshot (src/catalog/view.ts) answers what the snapshot
 * holds, for every photo, set and collection of a generated account: refreshed from the fake
 * Flickr over HTTP, and loaded again from its sqlite file (where the originals are a MediaByPhoto).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { asCatalogView, mediaKey, withMediaOnly, type PhotoColumns } from '../../src/catalog/index.js'
import { assertViewOf } from './view-assert.js'
import { harness, refresh } from './harness.js'

const ACCOUNT = { photos: 60, videos: 8, sets: 6, collections: 3, commentedFraction: 0.3 }



void describe('CatalogView over the snapshot', () => {
  void it('answers what the snapshot holds for every photo, set and collection, refreshed and loaded', async (t) => {
    const h = await harness(t, ACCOUNT)
    await refresh(h)
    const snap = h.catalog.snapshot()
    // The account has what the view must carry: videos, comments, sets, collections.
    assert.equal(snap.photos.size, ACCOUNT.photos + ACCOUNT.videos)
    assert.ok([...snap.photos.values()].some((p) => p.media === 'video'))
    assert.ok(snap.comments.size > 0)
    assert.equal(snap.sets.length, ACCOUNT.sets)
    assert.ok(snap.collections.length > 0)
    await assertViewOf(h.catalog.view(), snap, { atOnce: true, storesSizes: false })
    const loaded = await h.reopen()
    await assertViewOf(loaded.view(), loaded.snapshot(), { atOnce: true, storesSizes: false })
  })

  void it('wraps a snapshot and hands a view back as it is', async (t) => {
    const h = await harness(t, { photos: 5, videos: 1, sets: 1, collections: 1 })
    await refresh(h)
    const snap = h.catalog.snapshot()
    const view = asCatalogView(snap)
    await assertViewOf(view, snap, { atOnce: true, storesSizes: false })
    assert.equal(asCatalogView(view), view)
  })

  void it('withMediaOnly hides the originals its filter refuses and nothing else', async (t) => {
    const h = await harness(t, ACCOUNT)
    await refresh(h)
    const snap = h.catalog.snapshot()
    const ids = [...snap.photos.keys()]
    const kept = new Set(ids.filter((_, i) => i % 2 === 0).map((id) => mediaKey(id, (snap.photos.get(id) as PhotoColumns).secret)))
    const view = withMediaOnly(h.catalog.view(), (id, secret) => kept.has(mediaKey(id, secret)))
    for (const id of ids) {
      const { secret } = snap.photos.get(id) as PhotoColumns
      const expected = kept.has(mediaKey(id, secret)) ? snap.media.get(mediaKey(id, secret)) : undefined
      assert.deepEqual(view.media(id, secret), expected, `original of ${id}`)
      assert.deepEqual(view.record(id), snap.photos.get(id))
    }
    assert.equal(view.photoCount, snap.photos.size)
    assert.equal(view.photostreamLength, snap.photostream.length)
    assert.deepEqual(view.sets, snap.sets)
  })
})
