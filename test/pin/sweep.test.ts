/**
 * The final sweep of a pin over originals already in place (src/pin/pin-run.ts #downloadAll): they
 * are checked as the sweep goes, a batch a turn, not all queued first. Queued first, a pin after a
 * small change to a 1,000,000-item mirror (read lazily) held every photo's objects at once
 * (bench/pin-big.ts).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import type { PinProgress } from '../../src/pin/pin.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { copyCatalogOnly, pinOnce, removeDir, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'

let fake: FakeFlickr
let work: string

before(async () => {
  fake = await startFake({ seed: 71, photos: 900, videos: 0, sets: 2, collections: 0, meanPhotoBytes: 600 })
  work = await tempDir()
})
after(async () => {
  await fake.close()
  await removeDir(work)
})

void test('originals in place are checked while the sweep goes on, not once every one is queued', async () => {
  const dest = join(work, 'dest')
  const first = await pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS })
  assert.deepEqual(first.failures, [])
  // One photo edited: the next pin runs whole and finds the other 899 originals in place.
  const id = fake.account.photostream[0] as string
  fake.account.editPhoto(id, { title: 'edited for the sweep' })
  const seen: PinProgress[] = []
  // Read lazily, as a mirror of 400,000 photos and more is: the change is merged, and only the
  // sweep meets the originals in place (a catalog loaded whole queues them as its refresh lists them).
  const r = await pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS, lazyCatalogFromPhotos: 0, onProgress: (p) => seen.push({ ...p }) })
  assert.deepEqual(r.failures, [])
  assert.equal(r.checkedAgainstRecord, false, 'the pin ran whole')
  const total = Math.max(...seen.map((p) => p.queued))
  assert.equal(total, 900)
  // Past the first batch (and the edited photo, checked as the refresh reported it), the sweep has
  // not queued the rest yet.
  const past = seen.find((p) => p.phase === 'downloading' && p.done >= 300)
  assert.ok(past !== undefined, 'progress told while downloading')
  assert.ok(past.queued < total, `${past.done} originals counted in place with ${past.queued} of ${total} queued`)
})

void test('a first pin of a known catalog queues only so many originals ahead of the download slots, read whole or lazily', async () => {
  // A catalog a mount made (here the one a first pin left), in a DEST with nothing else: every
  // original is to download. Queued all at once, a million of them held 3.7 GB (bench/pin-big.ts).
  const source = join(work, 'source')
  assert.deepEqual((await pinOnce(fake, source)).failures, [])
  const queueAhead = 64
  for (const mode of ['whole', 'lazy'] as const) {
    const dest = join(work, `first-${mode}`)
    await copyCatalogOnly(source, dest)
    // Read whole, a change to merge makes the pin's own refresh tell every original it knows at once.
    if (mode === 'whole') fake.account.editPhoto(fake.account.photostream[1] as string, { title: 'edited before a first pin' })
    fake.faults.mediaLatencyMs = 2
    let ahead = 0
    const r = await pinOnce(fake, dest, {
      queueAhead,
      concurrency: 4,
      lazyCatalogFromPhotos: mode === 'lazy' ? 0 : Number.MAX_SAFE_INTEGER,
      onProgress: (p) => (ahead = Math.max(ahead, p.waiting ?? Infinity)),
    }).finally(() => (fake.faults.mediaLatencyMs = 0))
    assert.deepEqual(r.failures, [], mode)
    assert.equal(r.downloaded, 900, `${mode}: every original downloaded`)
    // The sweep looks at the backlog after each batch it queues (256). Downloads past their slot
    // that wait for their record's commit are not counted: under load a commit takes long and its
    // batch grows (store/record-batch.ts), so `queued - done` has no such bound.
    assert.ok(ahead <= queueAhead + 256, `${mode}: at most ${queueAhead + 256} originals waiting, saw ${ahead}`)
    assert.ok(ahead > 0, `${mode}: originals were seen waiting`)
  }
})

void test('a first pin says when its catalog is being saved, and only then', async () => {
  const dest = join(work, 'saving')
  const seen: PinProgress[] = []
  const r = await pinOnce(fake, dest, { onProgress: (p) => seen.push({ ...p }) })
  assert.deepEqual(r.failures, [])
  const first = seen.findIndex((p) => p.saving === true)
  assert.ok(first > 0, 'progress told while the catalog was saved')
  // Every original was sized by then (the save is the refresh's last step), and the saving ends with the refresh.
  assert.equal(seen[first]?.phase, 'downloading')
  assert.equal(seen[first]?.expected, 900)
  const after = seen.slice(first).findIndex((p) => p.saving !== true)
  assert.ok(after > 0, 'a later progress no longer says so')
  assert.ok(seen.slice(first + after).every((p) => p.saving !== true))
  assert.equal(seen.at(-1)?.phase, 'writing')
})
