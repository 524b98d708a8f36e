/**
 * A merge in bucket groups (lazy-merge.ts finishMerge) lets go of each group's reported photos
 * once the group is written: after a bulk edit of 360,000 photos of 1,000,000 each record as
 * recentlyUpdated answered it, and as the merge listed it, was held to the commit (~2 KB a photo).
 * Each record recentlyUpdated answers is watched with a WeakRef; as the last photo's comments are
 * asked (in the last group), a full GC leaves none of the photos asked long before (earlier groups).
 * And the groups waiting for their turn hold their photos packed: as the first group asks its
 * first comments, a full GC leaves only that group's (before, all 1,000).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Catalog } from '../../src/catalog/index.js'
import type { CatalogApi } from '../../src/catalog/ports.js'
import { CatalogStore } from '../../src/catalog/persist.js'
import { PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { collectGarbageNow } from '../../src/util/old-generation.js'
import { withReplaced } from '../support/replaced.js'
import { harness } from './harness.js'
import { copyRoot, firstSync, WEEK_MS, WRITER } from './twins.js'

const PHOTOS = 1_000
/** A group is ~40 photos and one bucket more (~16 photos a bucket here): photos asked this many calls before are of groups done. */
const GROUPS_BACK = 200

/** `api`, each record recentlyUpdated answers watched in `reported`, and each getComments's photo told to `asked` first. */
function watching(api: CatalogApi, reported: Map<string, WeakRef<object>>, asked: (id: string) => void): CatalogApi {
  return withReplaced(api, {
    getRecentlyUpdated: async (minDateSec, extras) => {
      const photos = await api.getRecentlyUpdated(minDateSec, extras)
      for (const p of photos) if (typeof p === 'object' && p !== null) reported.set(String((p as { id?: unknown }).id), new WeakRef(p))
      return photos
    },
    getComments: (id) => {
      asked(id)
      return api.getComments(id)
    },
  })
}

void test('a merge in groups holds the reported photos of the groups waiting only packed, and none of a group it has written', async (t) => {
  const h = await harness(t, { photos: PHOTOS, videos: 0, sets: 3, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  // Every photo commented: each group asks its photos' comments, which tells how far the merge is.
  for (const id of a.photostream) a.addComment(id, `a comment on ${id}`)
  const reported = new Map<string, WeakRef<object>>()
  const order: string[] = []
  let heldAtFirst: number | undefined
  let heldOfGroupsDone: string[] | undefined
  const client = watching(h.client, reported, (id) => {
    order.push(id)
    // As the first group asks its first comments: what is still held of the records recentlyUpdated answered.
    if (order.length === 1) {
      collectGarbageNow()
      heldAtFirst = [...reported.values()].filter((r) => r.deref() !== undefined).length
    }
    if (order.length !== PHOTOS) return
    collectGarbageNow()
    heldOfGroupsDone = order.slice(0, PHOTOS - GROUPS_BACK).filter((done) => reported.get(done)?.deref() !== undefined)
  })
  const catalog = await Catalog.open(await copyRoot(t, base), { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: 40, bulkMergeFromPhotos: 0 } })
  t.after(() => catalog.close())
  h.tick()
  const quick = await catalog.refreshIfUnchanged(client, { fullListingEveryMs: WEEK_MS })
  assert.ok(quick?.answers !== undefined, 'something to merge')
  const report = await catalog.refresh(client, h.media, { fullListingEveryMs: WEEK_MS, answered: quick.answers })
  assert.equal(report.merged, true, 'merged without loading the catalog')
  assert.equal(report.photos.changed, PHOTOS)
  assert.equal(reported.size, PHOTOS, 'recentlyUpdated reported every photo')
  assert.equal(order.length, PHOTOS, 'each photo\'s comments asked once')
  // The first group's alone: a group never splits a bucket (8 buckets of ~125 photos here), so one bucket.
  assert.ok(heldAtFirst !== undefined && heldAtFirst <= PHOTOS / 4, `reported records held as the first group begins: ${heldAtFirst} of ${PHOTOS} (the first group's alone expected)`)
  assert.equal(heldOfGroupsDone?.length, 0, `reported photos of groups written still held (of ${PHOTOS - GROUPS_BACK})`)
  // The photo asked last is of the last group, which waited packed.
  const id = order.at(-1) as string
  assert.equal((await catalog.view().comments(id))?.at(-1)?._content, `a comment on ${id}`, 'a photo of a packed group merged with its comment')
  assert.equal((await catalog.view().record(id))?.raw.title, a.requirePhoto(id).title, 'and its record as listed')
})

void test('a merge that falls back after its first group (another writer saved meanwhile): the whole refresh asks recentlyUpdated again, and saves the change', async (t) => {
  const h = await harness(t, { photos: 300, videos: 0, sets: 2, commentedFraction: 0 })
  h.clock.ms = Date.now() + 2 * 3_600_000
  const a = h.fake.account
  const base = await firstSync(t, h)
  for (const id of a.photostream) a.addComment(id, `a comment on ${id}`)
  const root = await copyRoot(t, base)
  const other = await CatalogStore.open(root)
  t.after(() => other.close())
  let asked = 0
  // Half-way through the merge's comments, another writer (not under the root lock: an older flickrfs) saves a head.
  const client = watching(h.client, new Map(), () => {
    if (++asked !== 150) return
    void (async () => {
      const head = await other.readHead()
      assert.ok(head?.listing !== undefined)
      assert.ok(await other.saveUnchanged(head, { refreshedAtMs: head.refreshedAtMs, listing: head.listing }, h.clock.now()))
    })()
  })
  const catalog = await Catalog.open(root, { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: 40, bulkMergeFromPhotos: 0 } })
  t.after(() => catalog.close())
  h.tick()
  const quick = await catalog.refreshIfUnchanged(client, { fullListingEveryMs: WEEK_MS })
  assert.ok(quick?.answers !== undefined, 'something to merge')
  h.fake.resetCounts()
  const report = await catalog.refresh(client, h.media, { fullListingEveryMs: WEEK_MS, answered: quick.answers })
  assert.notEqual(report.merged, true, 'the merge fell back to the whole refresh')
  assert.ok(asked > 300, `the merge asked comments before it fell back (${asked})`)
  assert.equal(h.fake.counts()['flickr.photos.recentlyUpdated'], 1, 'the records the merge let go of, asked again')
  assert.equal(report.photos.changed, 300)
  const id = a.photostream[7] as string
  assert.equal(catalog.snapshot().comments.get(id)?.at(-1)?._content, `a comment on ${id}`)
})
