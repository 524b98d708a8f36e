/**
 * The CatalogView over the in-memory snapshot (src/catalog/view.ts) answers what the snapshot
 * holds, for every photo, set and collection of a generated account: refreshed from the fake
 * Flickr over HTTP, and loaded again from its sqlite file (where the originals are a MediaByPhoto).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { asCatalogView, mediaKey, withMediaOnly, type CatalogSnapshot, type CatalogView, type PhotoColumns } from '../../src/catalog/index.js'
import { harness, refresh } from './harness.js'

const ACCOUNT = { photos: 60, videos: 8, sets: 6, collections: 3, commentedFraction: 0.3 }

function columnsOf(p: PhotoColumns): PhotoColumns {
  const { id, secret, media, changedAtMs, changedAtMsIgnoringViews, dateTaken, dateUpload } = p
  return { id, secret, media, changedAtMs, changedAtMsIgnoringViews, dateTaken, dateUpload }
}

/** Every answer of `view` against `snap`, photo by photo. */
function assertViewOf(view: CatalogView, snap: CatalogSnapshot): void {
  assert.equal(view.userId, snap.userId)
  assert.equal(view.userName, snap.userName)
  assert.equal(view.refreshedAtMs, snap.refreshedAtMs)
  assert.equal(view.photostreamChangedAtMs, snap.photostreamChangedAtMs)
  assert.equal(view.photostreamLength, snap.photostream.length)
  snap.photostream.forEach((id, pos) => assert.equal(view.photostreamId(pos), id, `photostream position ${pos}`))
  assert.equal(view.photoCount, snap.photos.size)
  for (const [id, entry] of snap.photos) {
    const columns = view.photo(id)
    assert.ok(columns !== undefined, `photo ${id}`)
    assert.deepEqual(columnsOf(columns), columnsOf(entry), `columns of ${id}`)
    assert.deepEqual(view.record(id), entry, `record of ${id}`)
    assert.deepEqual(view.comments(id), snap.comments.get(id), `comments of ${id}`)
    assert.deepEqual(view.media(id, entry.secret), snap.media.get(mediaKey(id, entry.secret)), `original of ${id}`)
    assert.equal(view.media(id, `${entry.secret}x`), undefined, `no original of ${id} under another secret`)
  }
  const visited: string[] = []
  view.eachPhoto((p) => visited.push(p.id))
  assert.deepEqual(visited.sort(), [...snap.photos.keys()].sort())
  assert.equal(view.photo('no-such-photo'), undefined)
  assert.equal(view.record('no-such-photo'), undefined)
  assert.deepEqual(view.sets, snap.sets)
  assert.deepEqual(view.collections, snap.collections)
}

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
    assertViewOf(h.catalog.view(), snap)
    const loaded = await h.reopen()
    assertViewOf(loaded.view(), loaded.snapshot())
  })

  void it('wraps a snapshot and hands a view back as it is', async (t) => {
    const h = await harness(t, { photos: 5, videos: 1, sets: 1, collections: 1 })
    await refresh(h)
    const snap = h.catalog.snapshot()
    const view = asCatalogView(snap)
    assertViewOf(view, snap)
    assert.equal(asCatalogView(view), view)
  })

  void it('withMediaOnly hides the originals its filter refuses and nothing else', async (t) => {
    const h = await harness(t, ACCOUNT)
    await refresh(h)
    const snap = h.catalog.snapshot()
    const ids = [...snap.photos.keys()]
    const kept = new Set(ids.filter((_, i) => i % 2 === 0).map((id) => mediaKey(id, (snap.photos.get(id) as PhotoColumns).secret)))
    const view = withMediaOnly(h.catalog.view(), (key) => kept.has(key))
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
