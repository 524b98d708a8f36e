import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor, closedOrigin, rejectsWith } from './helpers.js'

let fake: FakeFlickr
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 7, photos: 57, videos: 6, sets: 5, collections: 2 }) })
})
after(async () => {
  await fake.close()
})

void test('testLogin names the token owner', async () => {
  const me = await clientFor(fake).testLogin()
  assert.equal(me.id, fake.account.user.id)
  assert.equal(me.username, fake.account.user.username)
})

void test('the photostream comes back whole, in order, one call per page and never past the last', async () => {
  const client = clientFor(fake)
  fake.resetCounts()
  const photos = await client.paginate('flickr.people.getPhotos', { user_id: 'me', per_page: '10' }, 'photos', 'photo')
  assert.deepEqual(photos.map((p) => p.id), fake.account.photostream)
  // 63 items at 10 a page = 7 pages; the fake repeats page 7 for page 8, so an 8th call would be a bug.
  assert.equal(fake.counts()['flickr.people.getPhotos'], 7)
  assert.equal(client.stats.apiCalls, 7)
  assert.equal(client.stats.retries, 0)
})

void test('getPhotostream with extras returns the full list with extra fields', async () => {
  const photos = await clientFor(fake).getPhotostream(['url_o', 'original_format', 'media', 'last_update'])
  assert.equal(photos.length, fake.account.photostream.length)
  assert.ok(photos.every((p) => typeof p.url_o === 'string' && p.url_o.startsWith(fake.origin)))
})

void test('short pages before the last are asked again and nothing is lost', async () => {
  fake.faults.shortPages = true
  try {
    const client = clientFor(fake)
    fake.resetCounts()
    const photos = await client.paginate('flickr.people.getPhotos', { user_id: 'me', per_page: '10' }, 'photos', 'photo')
    assert.deepEqual(photos.map((p) => p.id), fake.account.photostream)
    const calls = fake.counts()['flickr.people.getPhotos'] ?? 0
    assert.ok(calls > 7, `short pages were re-asked (${calls} calls)`)
    assert.ok(calls <= 7 + 2 * 7)
  } finally {
    fake.faults.shortPages = false
  }
})

void test('numbers as strings or numbers page alike (photoset per_page/total as strings)', async () => {
  const client = clientFor(fake)
  const sets = await client.getSetList()
  assert.deepEqual(sets.map((s) => s.id), fake.account.sets.map((s) => s.id))
  const set = fake.account.sets.reduce((a, b) => (b.photoIds.length > a.photoIds.length ? b : a))
  fake.resetCounts()
  const members = await client.paginate('flickr.photosets.getPhotos',
    { photoset_id: set.id, user_id: fake.account.user.id, per_page: '3' }, 'photoset', 'photo')
  assert.deepEqual(members.map((p) => p.id), set.photoIds.filter((id) => fake.account.photos.has(id)))
  assert.equal(fake.counts()['flickr.photosets.getPhotos'], Math.max(1, Math.ceil(members.length / 3)))
  // recentlyUpdated answers `total` as a string.
  const recent = await client.getRecentlyUpdated(0)
  assert.equal(recent.length, fake.account.photostream.length)
})

void test('collections, comments and sizes come back as arrays, empty when Flickr drops the key', async () => {
  const client = clientFor(fake)
  const tree = await client.getCollectionTree()
  assert.equal(tree.length, fake.account.collections.length)
  const commented = fake.account.commented()[0]
  assert.ok(commented, 'the generated account has a commented photo')
  const comments = await client.getComments(commented)
  assert.equal(comments.length, fake.account.photos.get(commented)?.comments.length)
  const silent = fake.account.photostream.find((id) => (fake.account.photos.get(id)?.comments.length ?? 0) === 0)
  assert.ok(silent)
  assert.deepEqual(await client.getComments(silent), [])
  const sizes = await client.getSizes(silent)
  assert.ok(sizes.some((s) => s.label === 'Original'))

  const empty = await startFakeFlickr({ account: generateAccount({ seed: 2, photos: 3, videos: 0, sets: 0, collections: 0 }) })
  try {
    assert.deepEqual(await clientFor(empty).getCollectionTree(), [])
    assert.deepEqual(await clientFor(empty).getSetList(), [])
  } finally {
    await empty.close()
  }
})

void test('prefetchSetList asks the set list at once; the next getSetList takes it, the one after asks again', async () => {
  const client = clientFor(fake)
  fake.resetCounts()
  const ids = fake.account.sets.map((s) => s.id)
  client.prefetchSetList()
  const deadline = Date.now() + 5_000
  while ((fake.counts()['flickr.photosets.getList'] ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  assert.equal(fake.counts()['flickr.photosets.getList'], 1, 'asked before getSetList was')
  assert.deepEqual((await client.getSetList()).map((s) => s.id), ids)
  assert.equal(fake.counts()['flickr.photosets.getList'], 1, 'the prefetched list, not asked again')
  assert.deepEqual((await client.getSetList()).map((s) => s.id), ids)
  assert.equal(fake.counts()['flickr.photosets.getList'], 2, 'taken once')
})

void test('prefetchSetList given the last count asks all the pages that count needs at once, and reads them in order', async (t) => {
  // 1,200 sets: 3 pages of 500. The fake answers after 150 ms, so what is asked within 100 ms was asked before any answer.
  const many = await startFakeFlickr({ account: generateAccount({ seed: 5, photos: 60, sets: 1_200 }) })
  t.after(() => many.close())
  const ids = many.account.sets.map((s) => s.id)
  assert.equal(ids.length, 1_200)
  many.faults.apiLatencyMs = 150
  const asked = async (expectedSets?: number): Promise<number> => {
    many.resetCounts()
    const client = clientFor(many)
    client.prefetchSetList(expectedSets)
    await new Promise((r) => setTimeout(r, 100))
    const early = many.counts()['flickr.photosets.getList'] ?? 0
    assert.deepEqual((await client.getSetList()).map((s) => s.id), ids)
    assert.equal(many.counts()['flickr.photosets.getList'], 3, 'each page once')
    return early
  }
  assert.equal(await asked(1_150), 3, 'the count says 3 pages: all asked with the first')
  assert.equal(await asked(), 1, 'no count: page 1 alone, the rest once it names them')
  assert.equal(await asked(400), 1, 'a count of one page: page 1 alone')
})

void test('a prefetched set list that failed fails its taker, and is no unhandled rejection without one', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    const origin = await closedOrigin()
    const taken = clientFor(fake, { apiOrigin: origin, maxRetries: 0 })
    taken.prefetchSetList()
    await rejectsWith(taken.getSetList(), 'NETWORK')
    clientFor(fake, { apiOrigin: origin, maxRetries: 0 }).prefetchSetList()
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
