/**
 * What a refresh holds beside the catalog it starts from (issue 11 item 4): a full listing takes
 * each record Flickr sends again unchanged as the previous catalog's very object as its page comes
 * in (one copy of an unchanged account, not two), and a changed one as sent. And `onAssembled`
 * hands over the next snapshot before its save, as the very object the save then swaps in, after
 * `onListingsDone`, which comes once every listing is in.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CatalogSnapshot, MediaEvent, RefreshProgress } from '../../src/catalog/index.js'
import { harness, refresh } from './harness.js'

void test('a full listing takes unchanged records as the previous catalog\'s objects as each page comes; a changed one as sent', async (t) => {
  const h = await harness(t, { photos: 1_200, videos: 3, sets: 3, collections: 0, commentedFraction: 0.05 })
  await refresh(h)
  const before = h.catalog.snapshot()
  const edited = h.fake.account.photostream.find((id) => h.fake.account.requirePhoto(id).comments.length === 0) as string
  h.fake.account.editPhoto(edited, { title: 'Edited between the refreshes' })
  // Announced as each page is in (the known originals are reused page by page): the records those pages hold.
  const seen = new Map<string, MediaEvent['photo']>()
  const report = await refresh(h, { onMedia: (ev) => seen.set(ev.photo.id, ev.photo) })
  assert.equal(report.listing.mode, 'full')
  assert.equal(seen.size, before.photos.size)
  for (const [id, photo] of seen) {
    const old = before.photos.get(id)!
    if (id === edited) {
      assert.notEqual(photo.raw, old.raw)
      assert.equal(photo.raw.title, 'Edited between the refreshes')
    } else {
      assert.equal(photo.raw, old.raw, `${id}: the previous catalog's record itself`)
    }
  }
  const after = h.catalog.snapshot()
  assert.equal(report.photos.changed, 1)
  assert.equal(after.photos.get(edited)?.raw.title, 'Edited between the refreshes')
  for (const [id, p] of after.photos) if (id !== edited) assert.equal(p, before.photos.get(id), `${id} kept`)
})

void test('onAssembled: the next snapshot before its save, the very object then swapped in', async (t) => {
  const h = await harness(t, { photos: 20, videos: 1, sets: 2, collections: 1, commentedFraction: 0.3 })
  const phases: string[] = []
  let assembled: { snap: CatalogSnapshot; current: CatalogSnapshot; phasesBefore: string[] } | undefined
  await refresh(h, {
    onProgress: (p: RefreshProgress) => void phases.push(p.phase),
    onAssembled: (snap) => {
      assert.equal(assembled, undefined, 'once')
      assembled = { snap, current: h.catalog.snapshot(), phasesBefore: [...phases] }
    },
  })
  assert.ok(assembled !== undefined)
  assert.equal(assembled.current.refreshedAtMs, 0, 'not swapped in yet')
  assert.ok(!assembled.phasesBefore.includes('saving'), `before the save: ${assembled.phasesBefore.join(' ')}`)
  assert.equal(h.catalog.snapshot(), assembled.snap)
  assert.equal(assembled.snap.photos.size, 21)
})

void test('onListingsDone: once, after every onMedia and onListed (comments last) and before onAssembled', async (t) => {
  const h = await harness(t, { photos: 20, videos: 1, sets: 2, collections: 1, commentedFraction: 0.3 })
  const events: string[] = []
  await refresh(h, {
    onMedia: () => void events.push('media'),
    onListed: (ev) => void events.push(ev.kind),
    onListingsDone: () => void events.push('done'),
    onAssembled: () => void events.push('assembled'),
  })
  assert.equal(events.filter((e) => e === 'done').length, 1)
  const done = events.indexOf('done')
  assert.deepEqual(events.slice(done), ['done', 'assembled'])
  assert.equal(events.filter((e) => e === 'media').length, 21, 'every original before it')
  for (const kind of ['photostream', 'setList', 'set', 'collections', 'comments']) assert.ok(events.slice(0, done).includes(kind), `${kind} before it`)
})
