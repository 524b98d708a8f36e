/**
 * The API budget, counted by the fake's per-method counters: a first sync stays within
 * ⌈N/500⌉ + ⌈S/500⌉ + Σ⌈nₛ/500⌉ + 1 + C + V + 3 calls, a refresh with no change within
 * ⌈N/500⌉ + ⌈S/500⌉ + Σ⌈nₛ/500⌉ + 3 calls and no media request at all.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { rm } from 'node:fs/promises'
import { Catalog } from '../../src/catalog/index.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { tempDir } from '../support/repo.js'
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

void test('a refresh of a catalog that knows its sets asks the set list\'s pages together from the start, whichever kind, with no call more', async (t) => {
  // 1,200 sets: 3 pages of getList. The fake answers after 150 ms: what is asked within 100 ms of the
  // first page was asked before any page answered.
  const h = await harness(t, { photos: 150, videos: 1, sets: 1_200, collections: 1, commentedFraction: 0.02 })
  await refresh(h)
  h.fake.faults.apiLatencyMs = 150
  const listCalls = (): number => h.fake.counts()['flickr.photosets.getList'] ?? 0
  const askedTogether = async (run: () => Promise<unknown>): Promise<number> => {
    h.fake.resetCounts()
    h.tick()
    const running = run()
    const deadline = Date.now() + 10_000
    while (listCalls() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2))
    await new Promise((r) => setTimeout(r, 100))
    const early = listCalls()
    await running
    assert.equal(listCalls(), 3, 'each page once')
    return early
  }
  // The check a mount's refresh and a pin make first, on the loaded catalog (nothing changed).
  const week = 7 * 24 * 3_600_000
  assert.equal(await askedTogether(() => h.catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: week })), 3, 'the check of nothing changed')
  assert.equal(await askedTogether(() => refresh(h)), 3, 'an incremental refresh')
  assert.equal(await askedTogether(() => refresh(h, { fullListingEveryMs: 0 })), 3, 'a full listing')

  // A catalog read lazily (as a mount reads one of 400,000 photos or more) knows its sets from its view.
  const root = await tempDir('flickrfs-budget-lazy-')
  t.after(() => rm(root, { recursive: true, force: true }))
  const writer = await Catalog.open(root, { now: h.clock.now, sidecarSizer: photoSidecarSizer })
  h.fake.faults.apiLatencyMs = 0
  await writer.refresh(h.client, h.media, { fullListingEveryMs: 0 })
  await writer.close()
  h.fake.faults.apiLatencyMs = 150
  const lazy = await Catalog.open(root, { now: h.clock.now, sidecarSizer: photoSidecarSizer, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
  t.after(() => lazy.close())
  assert.equal(await askedTogether(() => lazy.refreshIfUnchanged(h.client, { fullListingEveryMs: week })), 3, 'the check of nothing changed, read lazily')
})
