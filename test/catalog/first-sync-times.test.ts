/**
 * The change time a refresh stamps on an entry new to the catalog (what every sidecar and set
 * metadata file shows as its mtime and ctime): Flickr's own edit time for what the first sync
 * finds, so two photos edited at different times never share one; the refresh's clock for what a
 * later refresh brings in, when the mount's content changed; never a time in the future.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { harness, refresh } from './harness.js'

void test("the first sync stamps each photo with its lastupdate and each set with its date_update", async (t) => {
  const h = await harness(t, { photos: 30, videos: 2, sets: 4, collections: 1, commentedFraction: 0.3 })
  const account = h.fake.account
  // One photo edited "after" the catalog's clock: Flickr's time is not trusted beyond it.
  const future = account.photostream[0] as string
  account.requirePhoto(future).lastupdate = Math.floor(h.clock.ms / 1000) + 3600
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.equal(snap.photos.size, 32)
  for (const [id, p] of snap.photos) {
    const want = id === future ? h.clock.ms : account.requirePhoto(id).lastupdate * 1000
    assert.equal(p.changedAtMs, want, id)
    assert.equal(p.changedAtMsIgnoringViews, want, id)
  }
  assert.ok(new Set([...snap.photos.values()].map((p) => p.changedAtMs)).size > 20, 'photos keep their own times')
  assert.equal(snap.sets.length, 4)
  for (const s of snap.sets) assert.equal(s.changedAtMs, (account.sets.find((x) => x.id === s.id)?.dateUpdate ?? 0) * 1000, s.id)
})

void test('a photo and a set new in a later refresh carry that refresh time', async (t) => {
  const h = await harness(t, { photos: 10, sets: 2, collections: 0 })
  await refresh(h)
  const account = h.fake.account
  account.clock = () => Math.floor(h.clock.ms / 1000) - 600
  const added = account.addPhoto({ title: 'new upload' })
  const set = account.addSet({ title: 'A new set', photoIds: [added.id] })
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.equal(snap.photos.get(added.id)?.changedAtMs, h.clock.ms)
  assert.equal(snap.sets.find((s) => s.id === set.id)?.changedAtMs, h.clock.ms)
})
