/**
 * Deletions found without a full listing (src/catalog/incremental.ts locateDeletions): against the
 * fake Flickr over HTTP, a photostream of 6 pages of 500 loses items at its head, its tail, a page
 * boundary, side by side and at random places, beside other changes. Each incremental refresh
 * finds them with fewer pages than a full listing and no set listed but those that moved, and its
 * catalog is the very catalog a full listing of the same account gives. What it cannot vouch for
 * (an upload while it searches, more gone than a full listing's calls would find, or than it
 * looks for) lists everything; a page sent short is asked again.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { RefreshReport } from '../../src/catalog/index.js'
import { DELETIONS_LOCATED_MAX } from '../../src/catalog/incremental.js'
import { prng } from '../../src/fake-flickr/generate.js'
import { fullCatalog, harness, listingContent, randomChange, refresh, type Harness } from './harness.js'

const WEEK_MS = 7 * 86_400_000
const PER_PAGE = 500

async function sixPages(t: TestContext): Promise<Harness> {
  const h = await harness(t, { photos: 2_590, videos: 10, sets: 12, collections: 1, commentedFraction: 0.05 })
  const first = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(first.listing.mode, 'full')
  assert.equal(h.fake.account.photostream.length, 2_600)
  return h
}

/** One incremental refresh after `change`, checked against a full listing of the same account. */
async function deleteAndCheck(h: Harness, full: Awaited<ReturnType<typeof fullCatalog>>, what: string, change: () => number): Promise<{ report: RefreshReport; calls: Record<string, number> }> {
  const deleted = change()
  h.fake.resetCounts()
  const report = await refresh(h, { fullListingEveryMs: WEEK_MS })
  const calls = h.fake.counts()
  await full.refresh(h.client, h.media)
  assert.equal(report.listing.mode, 'changes', `${what}: ${report.listing.reason ?? ''}`)
  assert.equal(report.photos.deleted, deleted, what)
  assert.equal(report.clientCalls.getPhotostream ?? 0, 0, what)
  const pages = Math.ceil(h.fake.account.photostream.length / PER_PAGE)
  // Never more pages than a full listing, which would list every set besides (a short page asked twice aside).
  const asked = calls['flickr.people.getPhotos'] ?? 0
  assert.ok(asked >= 1 && asked <= pages + (h.fake.faults.shortPages ? 2 : 0), `${what}: ${asked} pages of ${pages} asked`)
  assert.ok((calls['flickr.photos.getSizes'] ?? 0) >= deleted, `${what}: each deletion confirmed`)
  assert.ok(report.listing.setsListed < h.fake.account.sets.length, `${what}: ${report.listing.setsListed} sets listed`)
  assert.deepEqual(listingContent(h.catalog.snapshot()), listingContent(full.snapshot()), what)
  return { report, calls }
}

void test('deletions at the head, the tail, a page boundary, side by side and at random are found with a few pages, and the catalog is a full listing\'s', async (t) => {
  const h = await sixPages(t)
  const full = await fullCatalog(t, h)
  await full.refresh(h.client, h.media)
  const a = h.fake.account
  const remove = (...places: number[]): number => {
    const ids = places.map((p) => (p < 0 ? a.photostream[a.photostream.length + p] : a.photostream[p]) as string)
    for (const id of ids) a.deletePhoto(id)
    return ids.length
  }
  const ends = await deleteAndCheck(h, full, 'the newest and the oldest item', () => remove(0, -1))
  // Page 1 (the check every incremental refresh asks) and the last one tell it all.
  assert.equal(ends.calls['flickr.people.getPhotos'], 2)
  assert.equal(ends.calls['flickr.photos.getSizes'], 2)
  await deleteAndCheck(h, full, 'two side by side, with an upload and an edit', () => {
    a.addPhoto({ title: 'new one' })
    a.editPhoto(a.photostream[900] as string, { title: 'edited' })
    return remove(1_200, 1_201)
  })
  await deleteAndCheck(h, full, 'each side of a page boundary, and one more', () => remove(499, 500, 2_000))
  const rand = prng(20261203)
  for (let round = 0; round < 4; round++) {
    const done: string[] = []
    for (let i = Math.floor(rand() * 3); i > 0; i--) done.push(randomChange(a, rand, round * 10 + i))
    const places = new Set<number>()
    for (let i = 1 + Math.floor(rand() * 4); i > 0; i--) places.add(Math.floor(rand() * a.photostream.length))
    done.push(`deleted at ${[...places].join(', ')}`)
    await deleteAndCheck(h, full, `random round ${round}: ${done.join(', ')}`, () => remove(...places))
  }
})

void test('a page sent short is asked again; an upload during the search, deletions that cost more to find than a full listing, or more than it looks for, make a full listing', async (t) => {
  const h = await sixPages(t)
  const full = await fullCatalog(t, h)
  const a = h.fake.account
  h.fake.faults.shortPages = true
  await deleteAndCheck(h, full, 'one deletion, short pages', () => {
    a.deletePhoto(a.photostream[1_700] as string)
    return 1
  })
  h.fake.faults.shortPages = false

  // An upload while the search asks its pages: the count it holds moved, so it cannot vouch.
  a.deletePhoto(a.photostream[2_200] as string)
  let during = ''
  h.fake.beforeMethod = (method, params) => {
    if (method !== 'flickr.people.getPhotos' || params.get('page') === '1' || during !== '') return
    during = a.addPhoto({ title: 'uploaded during the search' }).id
  }
  const moved = await refresh(h, { fullListingEveryMs: WEEK_MS })
  h.fake.beforeMethod = undefined
  await full.refresh(h.client, h.media)
  assert.notEqual(during, '')
  assert.equal(moved.listing.mode, 'full')
  assert.match(moved.listing.reason ?? '', /the photostream changed meanwhile \(Flickr counted 2598, then 2599\)/)
  assert.ok(h.catalog.snapshot().photos.has(during))
  assert.deepEqual(listingContent(h.catalog.snapshot()), listingContent(full.snapshot()))

  // Finding 8 gone among 6 pages would cost more calls than listing the 6 pages (and 8 more at most).
  for (let i = 0; i < 8; i++) a.deletePhoto(a.photostream[300 * i + 17] as string)
  const costly = await refresh(h, { fullListingEveryMs: WEEK_MS })
  await full.refresh(h.client, h.media)
  assert.equal(costly.listing.mode, 'full')
  assert.match(costly.listing.reason ?? '', /8 items are gone among 6 pages: a full listing asks fewer calls than finding them/)
  assert.equal(costly.photos.deleted, 8)
  assert.deepEqual(listingContent(h.catalog.snapshot()), listingContent(full.snapshot()))

  const many = DELETIONS_LOCATED_MAX + 1
  for (const id of a.photostream.slice(100, 100 + many)) a.deletePhoto(id)
  const report = await refresh(h, { fullListingEveryMs: WEEK_MS })
  await full.refresh(h.client, h.media)
  assert.equal(report.listing.mode, 'full')
  assert.match(report.listing.reason ?? '', new RegExp(`${many} items are gone, more than ${DELETIONS_LOCATED_MAX}`))
  assert.equal(report.photos.deleted, many)
  assert.deepEqual(listingContent(h.catalog.snapshot()), listingContent(full.snapshot()))
})
