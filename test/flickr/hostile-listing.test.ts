/**
 * Listings that do not add up (issue 10's rows "a photostream answer without its photo array" and
 * "pages: 1000000000 with the same page repeated"), through the real client against the fake.
 */
import { after, before, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ListingIncomplete } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

void describe('listings that do not add up', () => {
  let fake: FakeFlickr
  const calls = (method = 'flickr.people.getPhotos'): number => fake.counts()[method] ?? 0
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 41, photos: 32, videos: 0, sets: 2, collections: 0 }) })
  })
  beforeEach(() => {
    fake.faults.clear()
    fake.resetCounts()
  })
  after(() => fake.close())

  void test('row "photostream without its photo array while total stays": read again, then a typed failure, never an empty list', async () => {
    fake.faults.inject('dropList', { count: Infinity, target: 'flickr.people.getPhotos' })
    const err = await clientFor(fake).getPhotostream(['url_o']).then(() => assert.fail('an empty photostream was believed'), (e: unknown) => e)
    assert.ok(err instanceof ListingIncomplete, String(err))
    assert.equal(err.code, 'FLICKR_UNAVAILABLE')
    assert.equal(err.total, 32)
    assert.match(err.message, /does not add up .*no "photo" array while total says 32.*3 attempts.*Nothing was changed/)
    assert.equal(calls(), 3, 'the first read and two more')
  })

  void test('a listing that lost its array once is read again and comes back whole', async () => {
    fake.faults.inject('dropList', { count: 1, target: 'flickr.people.getPhotos' })
    const photos = await clientFor(fake).getPhotostream([])
    assert.deepEqual(photos.map((p) => p.id), fake.account.photostream)
    assert.equal(calls(), 2)
  })

  void test('a set listing without its array fails the same way', async () => {
    const set = fake.account.sets.find((s) => s.photoIds.length > 0)
    assert.ok(set)
    fake.faults.inject('dropList', { count: Infinity, target: 'flickr.photosets.getPhotos' })
    await assert.rejects(clientFor(fake).getSetPhotos(set.id, fake.account.user.id), ListingIncomplete)
  })

  void test('row "pages: 1000000000 with the same page repeated": stops at the first page with no new id', async () => {
    fake.faults.inject('endlessPages', { count: Infinity, target: 'flickr.people.getPhotos' })
    // One page holds the whole account: page 2 repeats it, and that ends the list, complete.
    const photos = await clientFor(fake).getPhotostream([])
    assert.deepEqual(photos.map((p) => p.id), fake.account.photostream)
    assert.ok(calls() <= Math.ceil(32 / 500) + 2, `${calls()} calls`)
  })

  void test('the same with pages of 10: never more than ceil(total/per_page)+2 pages a read, and a typed failure', async () => {
    fake.faults.inject('endlessPages', { count: Infinity, target: 'flickr.people.getPhotos' })
    const err = await clientFor(fake).paginate('flickr.people.getPhotos', { user_id: 'me', per_page: '10' }, 'photos', 'photo')
      .then(() => assert.fail('a listing of 10 out of 32 was believed'), (e: unknown) => e)
    assert.ok(err instanceof ListingIncomplete, String(err))
    assert.equal(err.got, 10)
    assert.ok(calls() <= 3 * (Math.ceil(32 / 10) + 2), `${calls()} calls`)
  })

  void test('a server whose pages keep bringing a new id or two is cut at ceil(total/per_page)+2 pages', async () => {
    // Not the fake: pages 1000000000, total 25, and each page page 1's items but one new id.
    const asked: number[] = []
    const { paginate } = await import('../../src/flickr/index.js')
    const err = await paginate((page) => {
      asked.push(page)
      const photo = [{ id: `new-${page}` }, ...Array.from({ length: 9 }, (_, i) => ({ id: `p1-${i}` }))]
      return Promise.resolve({ photos: { page, pages: 1_000_000_000, perpage: 10, total: 25, photo } })
    }, 'photos', 'photo', { perPage: 10 }).then(() => assert.fail('14 of 25 were believed'), (e: unknown) => e)
    assert.deepEqual(asked, [1, 2, 3, 4, 5])
    assert.ok(err instanceof ListingIncomplete, String(err))
    assert.equal(err.got, 14)
  })
})
