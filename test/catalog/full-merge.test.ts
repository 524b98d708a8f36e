/**
 * A full listing merged into the stored catalog without loading it (src/catalog/full-merge.ts):
 * from the same catalog and the same fake Flickr, the catalog the merge saves is the one the whole
 * refresh saves (the same head: chunks, pages, facts, marks, generation), over random changes,
 * view counts that move without `lastupdate`, and deletions; and what it does not take (pages
 * without record hashes, more changes than it takes) falls back to the whole refresh with the same
 * result. Twin copies of one real catalog in temp roots, over HTTP.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Catalog, readProgress } from '../../src/catalog/index.js'
import { BULK_MERGE_FROM_PHOTOS } from '../../src/catalog/lazy-merge.js'
import { prng } from '../../src/fake-flickr/generate.js'
import { PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { waitUntil } from '../support/wait.js'
import { forgetRecordHashes, harness, headOf, randomChange } from './harness.js'
import { assertSame, copyRoot, firstSync, refreshTwins, WRITER } from './twins.js'

/** Every refresh a full listing. */
const FULL = { fullListingEveryMs: 0 }

void test('full listings after random changes, view counts and deletions: the merge saves what the whole refresh saves', async (t) => {
  const h = await harness(t, { photos: 90, videos: 6, sets: 8, collections: 2, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  let base = await firstSync(t, h)
  const seed = 20261203
  const rand = prng(seed)
  let n = 0
  for (let round = 0; round < 6; round++) {
    const done: string[] = []
    const changes = 1 + Math.floor(rand() * 6)
    for (let i = 0; i < changes; i++) done.push(randomChange(a, rand, n++))
    // Views move without `lastupdate` (only a full listing sees them), and photos go.
    const viewed = a.requirePhoto(a.photostream[Math.floor(rand() * a.photostream.length)] as string)
    viewed.views += 1 + round
    done.push(`views of ${viewed.id}`)
    if (round % 2 === 1) {
      const id = a.photostream[Math.floor(rand() * a.photostream.length)] as string
      a.deletePhoto(id)
      done.push(`delete ${id}`)
    }
    const twins = await refreshTwins(t, h, base, FULL)
    const what = `seed ${seed} round ${round}: ${done.join(', ')}`
    await assertSame(twins, what)
    assert.equal(twins.merged.report.listing.mode, 'full', what)
    base = twins.whole.root
  }

  // View counts alone: each of those photos changed (its sidecar's views), no other.
  const ids = [a.photostream[3], a.photostream[50], a.photostream[80]] as string[]
  for (const id of ids) a.requirePhoto(id).views += 7
  const views = await refreshTwins(t, h, base, FULL)
  await assertSame(views, 'view counts alone')
  assert.equal(views.merged.report.photos.changed, ids.length)
  assert.equal(views.merged.report.photos.added, 0)

  // Nothing at all: the same content as before, merged.
  const before = await headOf(views.whole.root)
  const none = await refreshTwins(t, h, views.whole.root, FULL)
  await assertSame(none, 'nothing changed')
  assert.equal(none.merged.report.changed, false)
  assert.deepEqual((await headOf(none.merged.root)).chunks, before.chunks)
})

void test('a catalog whose pages hold no record hashes (an older flickrfs) is listed whole once; the next full listing is merged', async (t) => {
  const h = await harness(t, { photos: 60, videos: 2, sets: 4, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  await forgetRecordHashes(base)
  a.editPhoto(a.photostream[5] as string, { title: 'edited before the upgrade' })
  const first = await refreshTwins(t, h, base, FULL)
  await assertSame(first, 'pages without record hashes', false)
  assert.equal((await headOf(first.merged.root)).pages?.recordHashes, true, 'the whole save wrote them')
  a.editPhoto(a.photostream[6] as string, { title: 'edited after' })
  const next = await refreshTwins(t, h, first.merged.root, FULL)
  await assertSame(next, 'the next full listing')
  assert.equal(next.merged.report.photos.changed, 1)
})

void test('a full listing that finds most photos changed: from 50,000 photos merged, in bucket groups, listing the photostream once; below, the whole refresh; both save what the whole refresh saves', async (t) => {
  const h = await harness(t, { photos: 3_020, videos: 0, sets: 2, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  // Views alone: the merge finds each of these changed by its record (more than one in 8).
  for (const id of a.photostream.slice(0, 3_001)) a.requirePhoto(id).views += 1
  // A catalog this small is under BULK_MERGE_FROM_PHOTOS: the whole refresh runs.
  const over = await refreshTwins(t, h, base, { ...FULL, bulkFrom: BULK_MERGE_FROM_PHOTOS })
  await assertSame(over, '3,001 photos changed, below the bulk merge\'s size', false)
  assert.equal(over.merged.report.photos.changed, 3_001)
  // The same change from the same catalog, merged as a catalog of 50,000 photos or more merges it.
  h.fake.resetCounts()
  const bulk = await refreshTwins(t, h, base, { ...FULL, groupPhotos: 500 })
  await assertSame(bulk, '3,001 photos changed')
  assert.equal(bulk.merged.report.photos.changed, 3_001)
  // Each twin listed the photostream once.
  const pages = Math.ceil(a.photostream.length / 500)
  const asked = h.fake.counts()['flickr.people.getPhotos'] ?? 0
  assert.ok(asked >= 2 * pages && asked <= 2 * pages + 2, `photostream pages asked: ${asked} (${pages} a listing)`)
})

void test('a full listing cut off in its sets goes on from the sets it saved: they are not asked again, and the merge saves what the whole refresh saves', async (t) => {
  const SETS = 80
  const h = await harness(t, { photos: 40, videos: 0, sets: SETS, commentedFraction: 0.1 }, { maxRetries: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  a.editPhoto(a.photostream[2] as string, { title: 'edited before the cut' })
  const root = await copyRoot(t, base)
  const open = (): Promise<Catalog> => Catalog.open(root, { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT }, checkpoint: { everyResults: 5 } })
  h.tick()
  const cut = await open()
  h.fake.resetCounts()
  // The sets are asked 16 at a time, each answered 100 ms after it is asked. The cut comes once 20
  // are answered (the fake's log: a fault strikes a call when it answers, so one merely asked would
  // fail too), hundreds of ms before the last of the 80 would be.
  h.fake.faults.apiLatencyMs = 100
  const log: NonNullable<typeof h.fake.restLog> = (h.fake.restLog = [])
  t.after(() => (h.fake.restLog = undefined))
  const sets = (): number => h.fake.counts()['flickr.photosets.getPhotos'] ?? 0
  const answered = (): number => log.filter((c) => c.method === 'flickr.photosets.getPhotos' && !Number.isNaN(c.answeredMs)).length
  const running = cut.refresh(h.client, h.media, FULL)
  running.catch(() => undefined)
  await waitUntil('20 sets are answered', () => Promise.resolve(answered() >= 20), 10_000, 10)
  h.fake.faults.inject('http500', { count: Infinity, target: 'api' })
  await assert.rejects(running)
  await cut.close()
  h.fake.faults.clear()
  const progress = await readProgress(root)
  const saved = progress?.sets?.done ?? 0
  assert.ok((progress?.sets?.total ?? 0) === SETS, `the progress counts the sets: ${JSON.stringify(progress?.sets)}`)
  const before = sets()
  // The next run takes the sets saved (planSets counts them done) and lists only the others.
  const next = await open()
  t.after(() => next.close())
  const report = await next.refresh(h.client, h.media, FULL)
  assert.equal(report.merged, true)
  const again = sets() - before
  assert.ok(again < SETS - 15 && again === report.listing.setsListed, `sets listed again: ${again} (${report.listing.setsListed} reported; ${saved} saved by the time of the cut's planSets)`)
  assert.equal(await readProgress(root), undefined, 'a completed merge leaves no progress')
  // The same catalog as a whole refresh of the base (no progress there) makes, at the same time.
  const whole = await copyRoot(t, base)
  const w = await Catalog.open(whole, { now: h.clock.now, ...WRITER, deferLoad: true })
  t.after(() => w.close())
  assert.equal((await w.refresh(h.client, h.media, FULL)).merged, undefined)
  assert.deepEqual(await headOf(root), await headOf(whole))
})

void test('deletions the search will not look for, beside an edit and a view count: the photostream is listed whole and merged, the whole refresh\'s catalog', async (t) => {
  const h = await harness(t, { photos: 90, videos: 4, sets: 6, collections: 1, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  // Six gone from a one-page photostream: finding them would cost more calls than listing it (incremental.ts).
  for (let i = 0; i < 6; i++) a.deletePhoto(a.photostream[10 * i + 3] as string)
  a.editPhoto(a.photostream[1] as string, { title: 'edited beside the deletions' })
  a.requirePhoto(a.photostream[2] as string).views += 4
  const twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'six deletions in one page, an edit, a view count')
  const { listing, photos } = twins.merged.report
  assert.equal(listing.mode, 'full')
  assert.match(listing.reason ?? '', /something was deleted: 6 items are gone among 1 pages/)
  assert.deepEqual({ deleted: photos.deleted, changed: photos.changed }, { deleted: 6, changed: 2 })
  assert.equal(twins.whole.report.listing.reason, listing.reason)
})

void test('items that failed last time: the photostream listing they call for (not the sets) is merged, resolves them again, and counts what is still unresolved', async (t) => {
  const h = await harness(t, { photos: 80, videos: 3, sets: 4, collections: 1, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
  // Two originals that cannot be had: a URL that leads nowhere (fixed on Flickr later without its
  // lastupdate moving), and an HTML page instead of the image.
  const lost = a.requirePhoto(photos[4] as string)
  const server = lost.server
  lost.server = 'gone'
  const html = photos[30] as string
  h.fake.faults.hostile[html] = 'html200'
  let base = await firstSync(t, h)
  const unresolved = async (root: string): Promise<number | undefined> => (await headOf(root)).facts?.unresolved
  assert.equal(await unresolved(base), 2)

  // Not due for a week, but they call for the photostream listed whole (not the sets): merged, both still unavailable.
  h.fake.resetCounts()
  let twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'nothing fixed')
  assert.equal(twins.merged.report.listing.reason, 'items that failed last time are listed afresh')
  assert.equal(twins.merged.report.listing.setsListed, 0)
  assert.equal(h.fake.counts()['flickr.photosets.getPhotos'] ?? 0, 0, 'no set listed by either twin')
  assert.deepEqual(twins.merged.report.media.unavailable.map((u) => u.id).sort(), [lost.id, html].sort())
  assert.equal(await unresolved(twins.merged.root), 2)
  assert.deepEqual((await headOf(twins.merged.root)).listing?.relisted, { atMs: h.clock.ms, count: 1, failing: 2 })
  base = twins.whole.root

  // Within the hour after that listing: both tried again from the records held, the photostream not listed.
  h.fake.resetCounts()
  twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'tried again within the hour')
  assert.equal(twins.merged.report.listing.mode, 'changes')
  assert.equal(twins.merged.report.listing.reason, undefined)
  assert.equal(h.fake.counts()['flickr.people.getPhotos'] ?? 0, 2, 'the page-1 check alone, once by each twin')
  // Each twin: the HTML page asked twice (it failed before: one retry, not the client's 2), the URL that leads nowhere once (a 404).
  assert.equal(h.fake.counts()['media:HEAD'] ?? 0, 6, 'the failed originals asked again by each twin, with fewer retries')
  assert.deepEqual(twins.merged.report.media.unavailable.map((u) => u.id).sort(), [lost.id, html].sort())
  assert.equal(await unresolved(twins.merged.root), 2)
  assert.equal((await headOf(twins.merged.root)).listing?.relisted?.count, 1)
  base = twins.whole.root

  // One fixed (its record the same as before, so only a fresh listing gives it), beside an edit:
  // an hour after the last listing for them, the photostream is listed again; resolved, one left.
  lost.server = server
  a.editPhoto(photos[9] as string, { title: 'edited beside the fix' })
  h.tick(3_600_000)
  twins = await refreshTwins(t, h, base)
  assert.equal(twins.merged.report.listing.reason, 'items that failed last time are listed afresh')
  assert.equal((await headOf(twins.merged.root)).listing?.relisted?.count, 2)
  await assertSame(twins, 'one fixed')
  assert.equal(twins.merged.report.media.resolved, 1)
  assert.deepEqual(twins.merged.report.media.unavailable.map((u) => u.id), [html])
  assert.equal(twins.merged.report.photos.changed, 2, 'the fixed photo (its original now known) and the edited one')
  assert.equal(await unresolved(twins.merged.root), 1)
  base = twins.whole.root

  // The other deleted on Flickr: nothing unresolved is left, and the next refresh is incremental again.
  a.deletePhoto(html)
  twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'the other deleted')
  assert.equal(twins.merged.report.photos.deleted, 1)
  assert.equal(await unresolved(twins.merged.root), 0)
  base = twins.whole.root
  a.editPhoto(photos[11] as string, { title: 'after the failures' })
  twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'an edit after the failures')
  assert.equal(twins.merged.report.listing.mode, 'changes')
  base = twins.whole.root

  // A download that failed (a pin's resolveAgain): its original resolved again, the photostream listed whole and merged.
  const again = photos[20] as string
  twins = await refreshTwins(t, h, base, { resolveAgain: new Set([again]) })
  await assertSame(twins, 'resolved again')
  assert.equal(twins.merged.report.listing.mode, 'full')
  assert.equal(twins.merged.report.media.resolved, 1)

  // The weekly full listing due while an item fails: every set listed too, merged (resolvedAgain keeps it changed).
  h.fake.faults.hostile[photos[40] as string] = 'html200'
  a.replaceOriginal(photos[40] as string, { bytes: 5_000 })
  base = (await refreshTwins(t, h, twins.whole.root)).whole.root
  assert.equal(await unresolved(base), 1)
  twins = await refreshTwins(t, h, base, { fullListingEveryMs: 0 })
  await assertSame(twins, 'a full listing while an item fails')
  assert.equal(twins.merged.report.listing.reason, 'full listings every time')
  assert.equal(twins.merged.report.listing.setsListed, a.sets.length)
  assert.deepEqual(twins.merged.report.media.unavailable.map((u) => u.id), [photos[40]])
})

void test('transcodes retried with cookies in a full listing are merged: a video whose original comes back replaces its transcode', async (t) => {
  const h = await harness(t, { photos: 60, videos: 4, sets: 3, commentedFraction: 0.1 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  h.fake.faults.videoOriginal404 = true
  const base = await firstSync(t, h)
  assert.equal((await headOf(base)).facts?.transcodes.length, 4)
  h.fake.faults.videoOriginal404 = false
  const twins = await refreshTwins(t, h, base, { cookies: 'cookie_accid=1; cookie_epass=2', fullListingEveryMs: 0 })
  await assertSame(twins, 'transcodes retried')
  assert.equal(twins.merged.report.media.resolved, 4)
  assert.equal((await headOf(twins.merged.root)).facts?.transcodes.length, 0)
})
