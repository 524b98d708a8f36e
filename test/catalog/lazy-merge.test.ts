/**
 * A small incremental change merged into the stored catalog without loading it
 * (src/catalog/lazy-merge.ts): from the same catalog and the same answers of the fake Flickr, the
 * catalog the merge saves is the one the whole refresh saves (the same head: chunks, pages, facts,
 * marks, generation), over many kinds of change, and the view served after it answers as the whole
 * catalog does. What it does not take (a catalog without pages) falls back to the whole refresh,
 * with the same result. Twin copies of one real catalog in temp roots, over HTTP.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { test } from 'node:test'
import KeyvSqlite from '@keyv/sqlite'
import { readProgress } from '../../src/catalog/checkpoint.js'
import { Catalog, catalogPath } from '../../src/catalog/index.js'
import { bucketGroups, BULK_MERGE_FROM_PHOTOS, MERGE_GROUP_PHOTOS, mergeLimit } from '../../src/catalog/lazy-merge.js'
import type { ListedPhoto } from '../../src/catalog/changes.js'
import { CatalogStore, MergeSave, type Head } from '../../src/catalog/persist.js'
import { prng } from '../../src/fake-flickr/generate.js'
import { PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { withReplaced } from '../support/replaced.js'
import { tempDir } from '../support/repo.js'
import { comparable, harness, randomChange, headOf } from './harness.js'
import { assertNoStrayChunks, assertSame, assertWhole, copyRoot, firstSync, refreshTwins, WEEK_MS, WRITER } from './twins.js'
import { assertViewOf } from './view-assert.js'

void test('random uploads, edits, comments, replaced originals and set edits: the merge saves what the whole refresh saves, at once or in groups', async (t) => {
  const h = await harness(t, { photos: 90, videos: 6, sets: 8, collections: 2, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  let base = await firstSync(t, h)
  const seed = 20261202
  const rand = prng(seed)
  let n = 0
  for (let round = 0; round < 8; round++) {
    const done: string[] = []
    const changes = 1 + Math.floor(rand() * 8)
    for (let i = 0; i < changes; i++) done.push(randomChange(h.fake.account, rand, n++))
    // Odd rounds in groups of 2 (the rows decoded group by group), even ones at once (the rows the quick refresh decoded).
    const groupPhotos = round % 2 === 1 ? 2 : MERGE_GROUP_PHOTOS
    const twins = await refreshTwins(t, h, base, { groupPhotos })
    await assertSame(twins, `seed ${seed} round ${round} (groups of ${groupPhotos}): ${done.join(', ')}`)
    base = twins.whole.root
  }
})

void test('each kind of change on its own, then a photo with no original and a transcode: the merge saves what the whole refresh saves', async (t) => {
  const h = await harness(t, { photos: 70, videos: 4, sets: 5, collections: 2, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  let base = await firstSync(t, h)
  const kinds: Array<[string, () => void]> = [
    ['a new photo at the head', () => void a.addPhoto({ title: 'new at the head' })],
    ['an edited title', () => void a.editPhoto(a.photostream[40] as string, { title: 'edited' })],
    ['new comments', () => {
      a.addComment(a.photostream[10] as string, 'one')
      a.addComment(a.photostream[60] as string, 'two')
    }],
    ['a replaced original', () => void a.replaceOriginal(a.photostream[33] as string, { bytes: 4321 })],
    ['a new video', () => void a.addPhoto({ media: 'video', title: 'a video' })],
    ['a photo added to a set', () => a.addToSet((a.sets[1] ?? a.sets[0])!.id, a.photostream[50] as string)],
    ['a photo removed from a set', () => {
      const s = a.sets.find((x) => x.photoIds.length > 1)!
      a.removeFromSet(s.id, s.photoIds[0] as string)
    }],
    ['a set renamed', () => void a.renameSet(a.sets[0]!.id, 'renamed')],
    ['a set reordered', () => {
      const s = a.sets.find((x) => x.photoIds.length > 1)!
      a.reorderSet(s.id, [...s.photoIds].reverse())
    }],
    ['a set added', () => void a.addSet({ title: 'added', photoIds: [a.photostream[2] as string, a.photostream[5] as string] })],
    ['the sets in another order', () => a.orderSets([...a.sets].map((s) => s.id).reverse())],
    ['a collection changed', () => void a.setCollections([{ title: 'only one', setIds: a.sets.slice(0, 2).map((s) => s.id) }])],
    ['an upload dated back onto another photo', () => void a.addPhoto({ title: 'dated back', dateupload: a.requirePhoto(a.photostream[20] as string).dateupload })],
    ['a photo deleted', () => a.deletePhoto(a.photostream[30] as string)],
    ['two photos deleted, one at the tail, and an upload', () => {
      a.deletePhoto(a.photostream[12] as string)
      a.deletePhoto(a.photostream[a.photostream.length - 1] as string)
      a.addPhoto({ title: 'beside the deletions' })
    }],
    ['a set\'s only photo deleted, and the set with it', () => {
      const only = a.photostream[44] as string
      a.addSet({ title: 'one photo', photoIds: [only] })
      a.deletePhoto(only)
    }],
    ['two uploads, one after the other', () => {
      a.addPhoto({ title: 'first of two' })
      const second = a.addPhoto({ title: 'second of two' })
      second.lastupdate = Math.max(...[...a.photos.values()].map((p) => p.lastupdate)) + 1
    }],
    // The newest lastupdate is deleted, the first upload reported again beside it (within the hour
    // before it): the marks keep the deleted one's time (incremental.ts marksAfter).
    ['the newer of the two deleted', () => a.deletePhoto(a.photostream.find((id) => a.requirePhoto(id).title === 'second of two') as string)],
    ['a new video whose original is refused: a transcode', () => {
      h.fake.faults.videoOriginal404 = true
      a.addPhoto({ media: 'video', title: 'transcoded' })
    }],
    ['the transcoded video deleted (with a newer edit: it had the newest lastupdate)', () => {
      const video = a.requirePhoto(a.photostream.find((id) => a.requirePhoto(id).title === 'transcoded') as string)
      a.deletePhoto(video.id)
      const edited = a.editPhoto(a.photostream[8] as string, { title: 'edited as the video goes' })
      // Past the video's, which the fake may have moved a second ahead of its clock.
      edited.lastupdate = Math.max(edited.lastupdate, video.lastupdate + 1)
    }],
    ['a new photo whose original cannot be had', () => {
      h.fake.faults.videoOriginal404 = false
      const p = a.addPhoto({ title: 'no original' })
      h.fake.faults.hostile[p.id] = 'html200'
    }],
  ]
  for (const [what, change] of kinds) {
    change()
    const twins = await refreshTwins(t, h, base)
    await assertSame(twins, what)
    base = twins.whole.root
  }
  // The photo with no original makes the next refresh a full listing (items that failed are listed
  // afresh), merged too (full-merge.ts), and still the same catalog.
  a.editPhoto(a.photostream[3] as string, { title: 'after the failure' })
  const next = await refreshTwins(t, h, base)
  await assertSame(next, 'after an item failed')
  assert.equal(next.merged.report.listing.mode, 'full')
})

void test('the photo changed last deleted alone is merged, its time kept in the marks until a full listing; a catalog saved without listing pages falls back to the whole refresh with the same result', async (t) => {
  const h = await harness(t, { photos: 60, videos: 2, sets: 3, commentedFraction: 0.2 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  // Every photo changed over 3 hours ago, then one edited now: recentlyUpdated reports nothing once
  // it is deleted, so no record the merge reads tells the next newest `lastupdate`.
  const hoursAgo = a.clock() - 3 * 3_600
  for (const p of a.photos.values()) p.lastupdate = Math.min(p.lastupdate, hoursAgo)
  const newestOf = (): number => Math.max(...[...a.photos.values()].map((p) => p.lastupdate))
  let base = await firstSync(t, h)
  const last = a.editPhoto(a.photostream[7] as string, { title: 'changed last' })
  base = (await refreshTwins(t, h, base)).whole.root
  const markOf = async (root: string): Promise<number | undefined> => (await headOf(root)).listing?.newestSec
  assert.equal(await markOf(base), last.lastupdate)
  a.deletePhoto(last.id)
  h.fake.resetCounts()
  const twins = await refreshTwins(t, h, base)
  await assertSame(twins, 'the photo changed last deleted alone')
  // One getSizes confirms the deletion for each twin; the page-1 check found it (incremental.ts
  // locateDeletions), without a full listing.
  assert.equal(h.fake.counts()['flickr.photos.getSizes'], 2)
  assert.equal(twins.merged.report.listing.mode, 'changes')
  assert.equal(twins.merged.report.photos.deleted, 1)
  assert.equal(await markOf(twins.merged.root), last.lastupdate, 'the deleted photo\'s time stays the mark')
  // A full listing after the deletion sets the mark back to the newest photo there is.
  const full = await refreshTwins(t, h, twins.whole.root, { fullListingEveryMs: 0 })
  await assertSame(full, 'a full listing')
  assert.equal(full.merged.report.listing.mode, 'full')
  assert.ok(newestOf() < last.lastupdate)
  assert.equal(await markOf(full.whole.root), newestOf())
  // The changes after it are still asked for and merged.
  a.editPhoto(a.photostream[3] as string, { title: 'edited after the deletion' })
  const after = await refreshTwins(t, h, twins.whole.root)
  await assertSame(after, 'an edit after the deletion')
  assert.equal(after.merged.report.photos.changed, 1)

  // Saved by a writer without a sizer: no pages, so no lazy view and nothing merged (it loads whole).
  const bare = await tempDir('flickrfs-merge-bare-')
  t.after(() => rm(bare, { recursive: true, force: true }))
  const c = await Catalog.open(bare, { now: h.clock.now })
  t.after(() => c.close())
  await c.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS })
  a.editPhoto(a.photostream[4] as string, { title: 'edited again' })
  h.tick()
  const lazy = await Catalog.open(bare, { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
  t.after(() => lazy.close())
  const quick = await lazy.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.equal(quick?.unchanged, undefined)
  const report = await lazy.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, letGo: true, ...(quick?.answers !== undefined ? { answered: quick.answers } : {}) })
  assert.equal(report.merged, undefined)
  assert.equal(report.photos.changed, 1)
})

void test('a catalog saved with an older flickrfs\'s buckets of 2,000 photos: merges keep them and save the same catalog otherwise; a whole save makes buckets of 128', async (t) => {
  // 300 photos: 4 buckets of up to 128, where an older flickrfs made 1 of up to 2,000.
  const h = await harness(t, { photos: 300, videos: 4, sets: 5, collections: 2, commentedFraction: 0.1 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  let root = await firstSync(t, h, { photosPerBucket: 2000 })
  assert.equal((await headOf(root)).chunks.photos.length, 1)
  // What a head holds besides its buckets (and the generation, made from every chunk key).
  const rest = (head: Head): unknown => ({ ...head, generation: undefined, chunks: { ...head.chunks, photos: undefined } })
  const changes: Array<[string, () => void]> = [
    ['an edited title', () => void a.editPhoto(a.photostream[120] as string, { title: 'edited in an old bucket' })],
    ['new comments', () => {
      a.addComment(a.photostream[10] as string, 'one')
      a.addComment(a.photostream[250] as string, 'two')
    }],
    ['a new photo at the head', () => void a.addPhoto({ title: 'new at the head' })],
    ['a set added', () => void a.addSet({ title: 'added', photoIds: [a.photostream[2] as string, a.photostream[200] as string] })],
    ['a photo deleted', () => a.deletePhoto(a.photostream[150] as string)],
  ]
  for (const [what, change] of changes) {
    change()
    const { whole, merged } = await refreshTwins(t, h, root)
    assert.equal(whole.report.merged, undefined, what)
    assert.equal(merged.report.merged, true, `${what}: merged into the bucket of 2,000`)
    const headW = await headOf(whole.root)
    const headM = await headOf(merged.root)
    assert.equal(headM.chunks.photos.length, 1, `${what}: the merge kept the older bucket`)
    assert.equal(headW.chunks.photos.length, 4, `${what}: the whole save made buckets of 128`)
    assert.deepEqual(rest(headM), rest(headW), `${what}: the same catalog in other buckets`)
    await assertWhole(merged.root, headM)
    await assertViewOf(merged.catalog.view(), whole.catalog.snapshot(), { atOnce: false, storesSizes: true })
    // A fresh reader of what the merge saved, whole, holds what the whole refresh holds.
    const reread = await Catalog.open(merged.root, { readOnly: true, now: h.clock.now })
    t.after(() => reread.close())
    assert.deepEqual(comparable(reread.snapshot()), comparable(whole.catalog.snapshot()), `${what}: the merged catalog, loaded whole`)
    root = merged.root
  }
  // A full listing is saved whole: from the older bucket to buckets of 128, the same from either side.
  a.deletePhoto(a.photostream[7] as string)
  const twins = await refreshTwins(t, h, root, { fullListingEveryMs: 0 })
  await assertSame(twins, 'a full listing of a catalog of older buckets', false)
  assert.equal(twins.merged.report.listing.mode, 'full')
  assert.equal((await headOf(twins.merged.root)).chunks.photos.length, 4)
})

void test('a bulk edit of every photo but a few is merged too, bucket group by bucket group, and saves what the whole refresh saves', async (t) => {
  const h = await harness(t, { photos: 3_020, videos: 0, sets: 3, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  // More than the one in 8 of the catalog a merge took before groups (3,000 here).
  for (const id of a.photostream.slice(0, 3_001)) a.editPhoto(id, { title: `bulk edit of ${id}` })
  const head = await headOf(base)
  const groups = bucketGroups(head, a.photostream.slice(0, 3_001).map((id) => ({ id }) as ListedPhoto), new Set(), 500)
  assert.ok(groups.length >= 5, `${groups.length} groups`)
  const twins = await refreshTwins(t, h, base, { groupPhotos: 500 })
  assert.equal(twins.merged.report.photos.changed, 3_001)
  await assertSame(twins, '3,001 photos edited, in groups of 500')
  // Edited again: the default group (MERGE_GROUP_PHOTOS) takes them at once, and saves the same.
  for (const id of a.photostream.slice(0, 3_001)) a.editPhoto(id, { title: `second edit of ${id}` })
  const atOnce = await refreshTwins(t, h, twins.whole.root, { groupPhotos: MERGE_GROUP_PHOTOS })
  assert.equal(atOnce.merged.report.photos.changed, 3_001)
  await assertSame(atOnce, '3,001 photos edited again, at once')
})

void test('below 50,000 photos a merge takes up to 3,000 changed photos, or one in 8; with more the whole refresh runs with the same result', async (t) => {
  assert.equal(BULK_MERGE_FROM_PHOTOS, 50_000)
  assert.deepEqual([0, 20_000, 24_007, 24_008, 49_999, 50_000, 1_000_000].map((n) => mergeLimit(n)), [3000, 3000, 3000, 3001, 6249, Infinity, Infinity])
  assert.deepEqual([199_999, 200_000].map((n) => mergeLimit(n, 200_000)), [24_999, Infinity], 'from another size given (LazyOpen.bulkMergeFromPhotos)')
  const h = await harness(t, { photos: 3_020, videos: 0, sets: 3, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  for (const id of a.photostream.slice(0, 3_000)) a.editPhoto(id, { title: `bulk edit of ${id}` })
  const twins = await refreshTwins(t, h, base, { bulkFrom: BULK_MERGE_FROM_PHOTOS })
  await assertSame(twins, '3,000 photos edited')
  // One more: recentlyUpdated reports the 3,000 again (the hour before the last listing), so 3,001.
  a.editPhoto(a.photostream[3_010] as string, { title: 'one more' })
  const over = await refreshTwins(t, h, twins.whole.root, { bulkFrom: BULK_MERGE_FROM_PHOTOS })
  await assertSame(over, '3,001 photos reported', false)
  assert.equal(over.merged.report.photos.changed, 1)
})

void test('a quick refresh of a catalog served lazily decodes the rows of no more reported photos than a merge group holds', async (t) => {
  const h = await harness(t, { photos: 40, videos: 0, sets: 2, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  const reportedRows = async (edited: number): Promise<number | undefined> => {
    for (const id of a.photostream.slice(0, edited)) a.editPhoto(id, { title: `edited ${edited}` })
    h.tick()
    const catalog = await Catalog.open(await copyRoot(t, base), { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: 5 } })
    t.after(() => catalog.close())
    const quick = await catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
    assert.ok(quick?.answers !== undefined)
    return quick.answers.reported?.rows.photos.size
  }
  assert.equal(await reportedRows(5), 5)
  // Six edited since the sync: none decoded here; the merge decodes them group by group.
  assert.equal(await reportedRows(6), undefined)
})

void test('bucket groups: each changed or deleted photo in one group, a bucket never in two, groups cut at about the size asked', () => {
  const head = { chunks: { photos: Array.from({ length: 64 }, (_, i) => `chunk:${i}`), photostream: '', sets: '', collections: '' } }
  const ids = Array.from({ length: 1_000 }, (_, i) => String(50_000_000_000 + i * 7919))
  const gone = new Set(ids.slice(900))
  const changed = ids.slice(0, 900).map((id) => ({ id }) as ListedPhoto)
  const groups = bucketGroups(head, changed, gone, 100)
  const seen = new Map<string, number>()
  const bucketGroup = new Map<number, number>()
  groups.forEach((g, i) => {
    for (const id of [...g.changed.map((p) => p.id), ...g.gone]) {
      assert.equal(seen.has(id), false, `${id} in two groups`)
      seen.set(id, i)
      const b = MergeSave.bucketOf(head, id)
      assert.equal(bucketGroup.get(b) ?? i, i, `bucket ${b} in two groups`)
      bucketGroup.set(b, i)
    }
    // A group is closed once it holds the size asked: it holds less than that and one bucket more.
    const size = g.changed.length + g.gone.length
    if (i < groups.length - 1) assert.ok(size >= 100 && size < 100 + 40, `group ${i}: ${size}`)
  })
  assert.equal(seen.size, 1_000)
  assert.deepEqual(groups.flatMap((g) => g.gone).sort(), [...gone].sort())
  assert.deepEqual(bucketGroups(head, [], new Set(), 100), [{ changed: [], gone: [] }])
})

void test('a merge that fails in a later group leaves the catalog as it was and none of its chunks; the next refresh merges what the whole refresh saves, and removes what a killed one left; the comments it had are not asked again', async (t) => {
  const h = await harness(t, { photos: 1_000, videos: 0, sets: 3, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  const before = await headOf(base)
  // 400 photos commented, in every bucket: each needs its comments asked (a failure there fails the
  // refresh). It fails in the last buckets' group, once the others' are written (a merge writes
  // its small chunks a statement's worth at a time: enough buckets go past one).
  for (const id of a.photostream.slice(0, 400)) a.addComment(id, `a comment on ${id}`)
  let asked = 0
  const failing = withReplaced(h.client, {
    getComments: async (id) => {
      if (++asked === 380) throw new Error('the network went down')
      return h.client.getComments(id)
    },
  })
  const root = await copyRoot(t, base)
  const catalog = await Catalog.open(root, { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: 40 } })
  t.after(() => catalog.close())
  h.tick()
  const quick = await catalog.refreshIfUnchanged(failing, { fullListingEveryMs: WEEK_MS })
  assert.ok(quick?.answers !== undefined)
  await assert.rejects(catalog.refresh(failing, h.media, { fullListingEveryMs: WEEK_MS, letGo: true, answered: quick.answers }), /network went down/)
  assert.ok(asked >= 380)
  assert.equal((await headOf(root)).generation, before.generation)
  await assertNoStrayChunks(root, 'after the failed merge')
  // What `flickrfs status` reads: the comment lists of every group so far, not of the last group alone.
  const progress = await readProgress(root)
  assert.ok(progress !== undefined && progress.comments.done >= 379 - 16 && progress.comments.done <= progress.comments.total && progress.comments.total <= 400,
    `progress: ${JSON.stringify(progress?.comments)}`)
  await catalog.close()
  // What a merge killed before its head leaves (abandon never ran): the next save removes it.
  const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(root)}` })
  await db.set('catalog:chunk:0123456789abcdef0123456789abcdef01234567', '__parts:2')
  await db.set('catalog:chunk:0123456789abcdef0123456789abcdef01234567:0', '[')
  await db.set('catalog:chunk:0123456789abcdef0123456789abcdef01234567:1', ']')
  await db.disconnect()
  h.fake.resetCounts()
  const twins = await refreshTwins(t, h, root, { groupPhotos: 40 })
  // The comment lists the failed merge had (its checkpoint's) are not asked again, by either twin: a
  // few of its last group at most (in flight when it failed), of 400.
  const again = h.fake.counts()['flickr.photos.comments.getList'] ?? 0
  assert.ok(again <= 2 * (400 - 379 + 16), `comment lists asked again: ${again}`)
  assert.equal(twins.merged.report.photos.changed, 400)
  await assertSame(twins, '400 commented, after a failed merge')
})

void test('transcodes retried with cookies between full listings are merged: each resolved again, and its original replaces the transcode', async (t) => {
  const h = await harness(t, { photos: 60, videos: 5, sets: 3, commentedFraction: 0.1 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  // Without the web session's cookies, video originals are refused: each video is a transcode.
  h.fake.faults.videoOriginal404 = true
  const base = await firstSync(t, h)
  const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
  assert.equal((await headOf(base)).facts?.transcodes.length, videos.length)

  // Cookies given (the fake then serves the originals), one video deleted, one photo edited: merged.
  a.deletePhoto(videos[1] as string)
  a.editPhoto(a.photostream[2] as string, { title: 'edited beside the retry' })
  const cookies = 'cookie_accid=1; cookie_epass=2'
  const twins = await refreshTwins(t, h, base, { cookies })
  await assertSame(twins, 'transcodes retried with cookies, one video deleted')
  assert.equal(twins.merged.report.listing.mode, 'changes')
  assert.equal(twins.merged.report.photos.deleted, 1)
  assert.equal(twins.merged.report.media.resolved, videos.length - 1)
  assert.equal((await headOf(twins.merged.root)).facts?.transcodes.length, 0)

  // Nothing left to retry: a refresh with cookies finds nothing changed, with no merge.
  const none = await refreshTwins(t, h, twins.whole.root, { cookies })
  assert.equal(none.merged.report.changed, false)
  assert.equal(none.merged.report.merged, undefined)
})

void test('cookies that no longer work: transcodes are asked again at the first refresh with them, then only once a day or with other cookies; each merged as the whole refresh saves it', async (t) => {
  const h = await harness(t, { photos: 60, videos: 5, sets: 3, commentedFraction: 0.1 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  // Video originals are refused without the web session, and with the cookies given too (expired).
  h.fake.faults.videoOriginal404 = true
  h.fake.faults.expiredCookies = true
  let base = await firstSync(t, h)
  let videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video').length
  assert.ok(videos > 0, 'the fixture has videos')
  const sizes = (): number => h.fake.counts()['flickr.photos.getSizes'] ?? 0
  const refresh = async (cookies: string, what: string, asked: boolean): Promise<void> => {
    h.fake.resetCounts()
    const twins = await refreshTwins(t, h, base, { cookies })
    // Each twin asks every video's sizes once when they are asked for, none otherwise.
    assert.equal(sizes(), asked ? 2 * videos : 0, `${what}: getSizes`)
    if (asked) await assertSame(twins, what)
    else {
      assert.equal(twins.whole.report.changed, false, what)
      assert.equal(twins.merged.report.merged, undefined, `${what}: nothing to merge`)
      // Both twins took the quick refresh: the whole refresh itself, at the same time, leaves the same marks.
      const root = await copyRoot(t, base)
      const direct = await Catalog.open(root, { now: h.clock.now, ...WRITER })
      t.after(() => direct.close())
      await direct.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, cookies })
      assert.equal(sizes(), 0, `${what}: the whole refresh asks nothing either`)
      assert.deepEqual((await headOf(twins.merged.root)).listing, (await headOf(root)).listing, `${what}: the marks`)
    }
    assert.equal((await headOf(twins.merged.root)).facts?.transcodes.length, videos, `${what}: still transcodes`)
    base = twins.whole.root
  }
  const stale = 'cookie_accid=1; cookie_epass=expired'
  await refresh(stale, 'the first refresh with cookies', true)
  h.tick(3_600_000)
  await refresh(stale, 'an hour later, the same cookies', false)
  await refresh('cookie_accid=1; cookie_epass=new', 'other cookies', true)
  h.tick(20 * 3_600_000)
  await refresh('cookie_accid=1; cookie_epass=new', '20 hours later', false)
  // A full listing between (the weekly one) keeps them too: merged without them.
  h.fake.resetCounts()
  const full = await refreshTwins(t, h, base, { cookies: 'cookie_accid=1; cookie_epass=new', fullListingEveryMs: 0 })
  assert.equal(sizes(), 0, 'a full listing: getSizes')
  await assertSame(full, 'a full listing')
  base = full.whole.root
  h.tick(4 * 3_600_000)
  await refresh('cookie_accid=1; cookie_epass=new', 'a day later', true)
  // A video uploaded and made a transcode by a refresh without cookies (a mount started without
  // them): never asked with these cookies, so the next refresh with them asks at once.
  a.addPhoto({ media: 'video', title: 'uploaded between' })
  videos++
  const without = await refreshTwins(t, h, base)
  await assertSame(without, 'a new video, no cookies')
  base = without.whole.root
  await refresh('cookie_accid=1; cookie_epass=new', 'the same cookies after a transcode they never saw', true)
  // Cookies that work (the session signed in again): the originals replace the transcodes at once.
  h.fake.faults.expiredCookies = false
  h.fake.resetCounts()
  const fixed = await refreshTwins(t, h, base, { cookies: 'cookie_accid=1; cookie_epass=fresh' })
  await assertSame(fixed, 'fresh cookies')
  assert.equal((await headOf(fixed.merged.root)).facts?.transcodes.length, 0)
})

void test('a lazily served catalog merges with the sets and collections its view holds: none read from the store again', async (t) => {
  const h = await harness(t, { photos: 60, videos: 0, sets: 4, collections: 1, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  a.editPhoto(a.photostream[5] as string, { title: 'edited' })
  a.renameSet(a.sets[1]!.id, 'renamed')
  const catalog = await Catalog.open(await copyRoot(t, base), { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
  t.after(() => catalog.close())
  h.tick()
  const quick = await catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.ok(quick?.answers !== undefined, 'something to merge')
  // The store's own method, counted (node:test's spy calls it through, and puts it back after the test).
  const read = t.mock.method(CatalogStore.prototype, 'readSetsAndCollections')
  const report = await catalog.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, answered: quick.answers })
  assert.equal(report.merged, true, 'merged without loading the catalog')
  assert.equal(report.photos.changed, 1)
  assert.equal(report.sets.changed, 1)
  assert.equal(read.mock.callCount(), 0, 'the sets and collections read from the store during the merge')
  assert.equal((await catalog.view().record(a.photostream[5] as string))?.raw.title, 'edited')
})
