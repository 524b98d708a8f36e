/**
 * The API budget, counted by the fake's per-method counters: a first sync stays within
 * ⌈N/500⌉ + ⌈S/500⌉ + Σ⌈nₛ/500⌉ + 1 + C + V + 3 calls, a refresh with no change within
 * ⌈N/500⌉ + ⌈S/500⌉ + Σ⌈nₛ/500⌉ + 3 calls and no media request at all.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { harness, refresh, type Harness } from './harness.js'

function listingCalls(h: Harness): number {
  const a = h.fake.account
  const pages = (n: number): number => Math.ceil(n / 500)
  return pages(a.photostream.length) + pages(a.sets.length) + a.sets.reduce((n, s) => n + pages(s.photoIds.length), 0)
}

void test('first sync and a no-change refresh of a multi-page account stay within budget', async (t) => {
  const h = await harness(t, { photos: 1150, videos: 12, sets: 502, collections: 3, commentedFraction: 0.05 })
  // One set long enough to need two pages of photosets.getPhotos.
  h.fake.account.addSet({ title: 'Everything', photoIds: h.fake.account.photostream.slice(0, 620) })
  const a = h.fake.account
  const N = a.photostream.length
  const C = a.commented().length
  const V = a.photostream.filter((id) => a.requirePhoto(id).media === 'video').length
  assert.ok(C > 10 && V === 12 && a.sets.length > 500)

  const first = await refresh(h)
  const firstBudget = listingCalls(h) + 1 + C + V + 3
  const firstCalls = h.apiCalls()
  assert.ok(firstCalls <= firstBudget, `first sync made ${firstCalls} API calls, budget ${firstBudget}: ${JSON.stringify(h.fake.counts())}`)
  assert.equal(h.fake.counts()['flickr.photos.getInfo'] ?? 0, 0)
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'], C)
  assert.equal(h.fake.counts()['flickr.photos.getSizes'], V)
  assert.equal(h.fake.counts()['flickr.test.login'], 1)
  assert.equal(first.photos.total, N)
  const snap = h.catalog.snapshot()
  assert.equal(snap.media.size, N)
  assert.equal(snap.sets.find((s) => s.title === 'Everything')?.photoIds.length, 620)

  h.fake.resetCounts()
  const second = await refresh(h)
  const budget = listingCalls(h) + 3
  assert.ok(h.apiCalls() <= budget, `no-change refresh made ${h.apiCalls()} API calls, budget ${budget}: ${JSON.stringify(h.fake.counts())}`)
  assert.equal(h.mediaRequests(), 0)
  assert.equal(h.fake.counts()['flickr.test.login'] ?? 0, 0)
  assert.equal(second.changed, false)

  // The same holds after a restart: what was resolved is known from disk.
  await h.catalog.close()
  h.catalog = await h.reopen()
  h.fake.resetCounts()
  await refresh(h)
  assert.ok(h.apiCalls() <= budget)
  assert.equal(h.mediaRequests(), 0)
})

void test('comments are fetched only for commented photos whose lastupdate moved', async (t) => {
  const h = await harness(t, { photos: 60, videos: 2, sets: 3, commentedFraction: 0.3 })
  await refresh(h)
  const commented = h.fake.account.commented()
  assert.ok(commented.length >= 3)
  const [edited, untouched] = commented as [string, string]
  h.fake.resetCounts()
  h.fake.account.editPhoto(edited, { title: 'moved lastupdate' })
  await refresh(h)
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'], 1)
  assert.deepEqual(
    h.catalog.snapshot().comments.get(untouched)?.map((c) => c._content),
    h.fake.account.requirePhoto(untouched).comments.map((c) => c.text),
  )
})
