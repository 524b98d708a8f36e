/**
 * FLICKR.md's quirks, served by the fake over HTTP: numbers that drift between strings and numbers,
 * list keys that vanish when empty, the last page repeated past the end, short pages, an empty
 * collection tree sent as `{}`, and dates Flickr does not know.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { harness, refresh } from './harness.js'

void test('numeric fields read the same whether Flickr sends strings or numbers', async (t) => {
  const h = await harness(t, { photos: 40, videos: 2, commentedFraction: 0.3 })
  await refresh(h)
  const snap = h.catalog.snapshot()
  const kinds = new Set<string>()
  for (const p of snap.photos.values()) {
    const fake = h.fake.account.requirePhoto(p.id)
    kinds.add(typeof p.raw.count_comments).add(typeof p.raw.dateupload).add(typeof p.raw.farm)
    assert.equal(p.countComments, fake.comments.length)
    assert.equal(p.dateUpload, fake.dateupload)
    assert.equal(p.lastUpdate, fake.lastupdate)
    assert.equal(p.media, fake.media)
    // The record is kept exactly as Flickr sent it (drift included).
    assert.equal(typeof p.raw.id, 'string')
  }
  assert.ok(kinds.has('string') && kinds.has('number'), 'the fake drifts: both kinds are seen')
  assert.equal(snap.comments.size, h.fake.account.commented().length)
})

void test('absent arrays: collections without sets or children, photos without comments', async (t) => {
  const h = await harness(t, { photos: 10, videos: 0, sets: 2, collections: 0, commentedFraction: 0 })
  const [s1] = h.fake.account.sets
  assert.ok(s1 !== undefined)
  h.fake.account.setCollections([{ id: 'c-empty', title: 'Nothing yet' }, { id: 'c-only-child', title: 'Parent', children: [{ id: 'c-leaf', title: 'Leaf', setIds: [s1.id] }] }])
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.deepEqual(snap.collections.map((c) => [c.id, c.setIds, c.children.map((x) => x.id)]), [
    ['c-empty', [], []],
    ['c-only-child', [], ['c-leaf']],
  ])
  assert.deepEqual(snap.collections[1]?.children[0]?.setIds, [s1.id])
  assert.equal(snap.comments.size, 0)
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'] ?? 0, 0)
})

void test('an account with no collections (getTree answers {}) has an empty tree', async (t) => {
  const h = await harness(t, { photos: 5, videos: 0, sets: 1, collections: 0 })
  h.fake.account.setCollections([])
  await refresh(h)
  assert.deepEqual(h.catalog.snapshot().collections, [])
  assert.equal(h.fake.counts()['flickr.collections.getTree'], 1)
})

void test('short pages and repeated last pages still give the whole photostream once, in order', async (t) => {
  const h = await harness(t, { photos: 1480, videos: 3, sets: 2, collections: 1 })
  h.fake.faults.shortPages = true
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.deepEqual(snap.photostream, h.fake.account.photostream)
  assert.equal(new Set(snap.photostream).size, snap.photostream.length)
  assert.equal(snap.photos.size, h.fake.account.photostream.length)
  for (const s of h.fake.account.sets) assert.deepEqual(snap.sets.find((x) => x.id === s.id)?.photoIds, s.photoIds)
})

void test('unknown dates taken are null, real ones are kept as Flickr gives them', async (t) => {
  const h = await harness(t, { photos: 6, videos: 0, sets: 1 })
  const [zero, real] = h.fake.account.photostream as [string, string]
  h.fake.account.editPhoto(zero, { datetaken: '0000-00-00 00:00:00' })
  h.fake.account.editPhoto(real, { datetaken: '2011-07-04 21:15:09' })
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.equal(snap.photos.get(zero)?.dateTaken, null)
  assert.equal(snap.photos.get(zero)?.raw.datetaken, '0000-00-00 00:00:00')
  assert.equal(snap.photos.get(real)?.dateTaken, '2011-07-04 21:15:09')
})
