/**
 * The no-change refresh of a lazily served catalog (src/catalog/quick-refresh.ts with the view's
 * lists, LazyView.listsOf): it decides from the view it serves, reading neither the photostream
 * order nor the sets again, and its verdict is the one made from the stored lists (readLists) for
 * every change a set's listing alone shows; a head another writer saved since the view was opened
 * is read from its chunks. Real catalogs in temp roots, a real store (its list reads counted),
 * the fake Flickr over HTTP.
 */
import assert from 'node:assert/strict'
import { cp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Catalog, catalogPath, type CatalogOpenOptions } from '../../src/catalog/index.js'
import { LazyView } from '../../src/catalog/lazy-view.js'
import { CatalogStore, MergeSave, type Head } from '../../src/catalog/persist.js'
import { refreshIfUnchanged, type QuickRefreshOptions, type QuickRefreshResult } from '../../src/catalog/quick-refresh.js'
import type { FakeAccount } from '../../src/fake-flickr/index.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { openSqliteAdapter } from '../../src/util/sqlite.js'
import { tempDir } from '../support/repo.js'
import { harness, headOf, type Harness } from './harness.js'

const WEEK_MS = 7 * 86_400_000
/** Small pages, so that the photostream spans several of them. */
const WRITER: CatalogOpenOptions = { sidecarSizer: photoSidecarSizer, listingPagePhotos: 25 }
const LAZY: CatalogOpenOptions = { ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } }
const ACCOUNT = { photos: 90, videos: 4, sets: 6, collections: 2, commentedFraction: 0.2 }

/**
 * The account as the tests need it, before its first sync: Flickr's clock stopped (a set changed
 * again keeps its `date_update`, so only its listing shows the change), set 0 changed just now
 * (within the overlap hour: listed again by every refresh) and holding a photo that is not in the
 * photostream (as an upload between two listings is: the catalog leaves it out of the set, so the
 * set's counts never match its stored members and it is listed again every time).
 */
function prepare(h: Harness): { a: FakeAccount; listed: string; hidden: string } {
  const a = h.fake.account
  const now = Math.floor(Date.now() / 1000)
  a.clock = () => now
  // Our clock ahead of Flickr's: min_date is bound by the newest lastupdate, so sets not changed lately are not listed.
  h.clock.ms = Date.now() + 2 * 3_600_000
  const hidden = a.addPhoto({ title: 'not in the photostream' }).id
  a.photostream.splice(a.photostream.indexOf(hidden), 1)
  const listed = (a.sets[0] as { id: string }).id
  a.addToSet(listed, hidden)
  return { a, listed, hidden }
}

async function firstSync(t: TestContext, h: Harness): Promise<string> {
  const root = await tempDir('flickrfs-quick-lazy-')
  t.after(() => rm(root, { recursive: true, force: true }))
  const c = await Catalog.open(root, { now: h.clock.now, ...WRITER })
  try {
    assert.equal((await c.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS })).listing.mode, 'full')
  } finally {
    await c.close()
  }
  return root
}

async function copyRoot(t: TestContext, from: string): Promise<string> {
  const root = await tempDir('flickrfs-quick-lazy-copy-')
  await cp(join(from, '.flickrfs'), join(root, '.flickrfs'), { recursive: true })
  t.after(() => rm(root, { recursive: true, force: true }))
  return root
}

/** A real store of `root` whose reads of the lists are counted (every read its own). */
async function countingStore(t: TestContext, root: string): Promise<{ store: CatalogStore; reads: { lists: number } }> {
  const real = await CatalogStore.open(root)
  t.after(() => real.close())
  const reads = { lists: 0 }
  const store = Object.create(real) as CatalogStore
  store.readLists = (head: Head) => {
    reads.lists++
    return real.readLists(head)
  }
  return { store, reads }
}

function quick(store: CatalogStore, h: Harness, held: Pick<QuickRefreshOptions, 'served' | 'decodeReportedUpTo'> = {}): Promise<QuickRefreshResult | undefined> {
  return refreshIfUnchanged(store, h.client, { fullListingEveryMs: WEEK_MS, retrying: 0, retryTranscodes: false, root: h.root, apiConcurrency: 4, ...held }, h.clock.now)
}

/** Removes the chunk `key` from ROOT's catalog file (with its parts), as a reader of it would find it gone. */
async function removeChunk(root: string, key: string): Promise<void> {
  const adapter = openSqliteAdapter(catalogPath(root), { busyTimeout: 15_000 })
  try {
    await adapter.query('DELETE FROM keyv WHERE key = ? OR key GLOB ?', `catalog:${key}`, `catalog:${key}:*`)
  } finally {
    await adapter.disconnect()
  }
}

void test('a lazily served catalog decides "nothing changed" from its view: the lists are not read again', async (t) => {
  const h = await harness(t, ACCOUNT)
  prepare(h)
  const base = await firstSync(t, h)
  h.tick()

  const served = await countingStore(t, await copyRoot(t, base))
  const view = await LazyView.open(served.store, (await served.store.readHead()) as Head)
  assert.ok(view !== undefined)
  served.reads.lists = 0
  const fromView = await quick(served.store, h, { served: view })
  assert.ok(fromView?.unchanged !== undefined, 'nothing changed')
  assert.equal(served.reads.lists, 0, 'the view answers for its head: no list read')

  const read = await countingStore(t, await copyRoot(t, base))
  const fromChunks = await quick(read.store, h)
  assert.equal(read.reads.lists, 1, 'without a view the lists are read')
  const pick = (r: QuickRefreshResult | undefined): unknown => {
    const report = r?.unchanged?.report
    return { photos: report?.photos, sets: report?.sets, collections: report?.collections, listing: report?.listing, generation: report?.generation }
  }
  assert.deepEqual(pick(fromView), pick(fromChunks), 'the same verdict and report as from the stored lists')
  assert.ok((fromView?.unchanged?.report.listing.setsListed ?? 0) >= 1, 'a set was listed again: its members were looked up in the view')

  // The catalog serves its view to its own quick refresh: with the photostream order gone from the
  // file after the view was opened, it still decides, where a read of the lists would find nothing.
  const root = await copyRoot(t, base)
  const lazy = await Catalog.open(root, { now: h.clock.now, ...LAZY })
  t.after(() => lazy.close())
  await removeChunk(root, (await headOf(root)).chunks.photostream)
  const asked = await lazy.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.ok(asked?.unchanged !== undefined, 'decided from the view served')
})

void test('changes only a set\'s listing shows: the view\'s verdict is the stored lists\', and the merged catalog keeps only members in the catalog', async (t) => {
  const h = await harness(t, ACCOUNT)
  const { a, listed, hidden } = prepare(h)
  const base = await firstSync(t, h)
  const rootL = await copyRoot(t, base)
  const rootW = await copyRoot(t, base)
  // Served lazily all along (after a merge, the view of the merged head and its lists in memory).
  const lazy = await Catalog.open(rootL, { now: h.clock.now, ...LAZY })
  t.after(() => lazy.close())
  const set = (): { photoIds: string[] } => a.requireSet(listed)
  const notIn = (media: 'photo' | 'video'): string =>
    a.photostream.find((id) => !set().photoIds.includes(id) && a.requirePhoto(id).media === media) as string
  const cases: Array<[string, () => void, 'unchanged' | 'merge']> = [
    ['nothing (the set listed again still holds the photo not in the catalog)', () => undefined, 'unchanged'],
    ['a member swapped for another photo (the same counts and date_update)', () => {
      const ids = set().photoIds
      const at = ids.findIndex((id) => id !== hidden && a.requirePhoto(id).media === 'photo')
      ids[at] = notIn('photo')
    }, 'merge'],
    ['a member added', () => a.addToSet(listed, notIn('photo')), 'merge'],
    ['a member removed', () => a.removeFromSet(listed, set().photoIds.find((id) => id !== hidden) as string), 'merge'],
    ['a second member not in the catalog', () => {
      const other = a.addPhoto({ title: 'not in the photostream either' }).id
      a.photostream.splice(a.photostream.indexOf(other), 1)
      a.addToSet(listed, other)
    }, 'merge'],
    ['nothing again', () => undefined, 'unchanged'],
    // The same counts and date_update, and each member looked up only where it is not the stored one.
    ['the last member in the catalog swapped for one that is not', () => {
      const ids = set().photoIds
      const at = ids.findLastIndex((id) => a.photostream.includes(id) && a.requirePhoto(id).media === 'photo' && id !== a.requireSet(listed).primary)
      const out = a.addPhoto({ title: 'not in the photostream, swapped in' }).id
      a.photostream.splice(a.photostream.indexOf(out), 1)
      ids[at] = out
    }, 'merge'],
    ['a member not in the catalog swapped for one that is, put last', () => {
      const ids = set().photoIds
      ids.splice(ids.indexOf(hidden), 1)
      ids.push(notIn('photo'))
    }, 'merge'],
  ]
  for (const [what, change, expected] of cases) {
    change()
    h.tick()
    // The stored lists' verdict: a catalog opened deferred, which reads them (readLists).
    const whole = await Catalog.open(rootW, { now: h.clock.now, ...WRITER, deferLoad: true })
    try {
      const fromView = await lazy.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
      const fromChunks = await whole.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
      const verdict = (r: QuickRefreshResult | undefined): string => (r?.unchanged !== undefined ? 'unchanged' : r?.answers !== undefined ? 'merge' : 'none')
      assert.equal(verdict(fromChunks), expected, `${what}: from the stored lists`)
      assert.equal(verdict(fromView), expected, `${what}: from the view`)
      const setsListed = fromView?.unchanged?.report.listing.setsListed ?? fromView?.answers?.setPhotos.size ?? 0
      assert.ok(setsListed >= 1, `${what}: the set was listed`)
      if (expected === 'merge') {
        const merged = await lazy.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, letGo: true, answered: fromView?.answers as NonNullable<QuickRefreshResult['answers']> })
        assert.equal(merged.merged, true, `${what}: merged lazily`)
        await whole.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, answered: fromChunks?.answers as NonNullable<QuickRefreshResult['answers']> })
      }
    } finally {
      await whole.close()
    }
    assert.deepEqual(await headOf(rootL), await headOf(rootW), `${what}: the same catalog saved`)
    const members = lazy.view().sets.find((s) => s.id === listed)?.photoIds ?? []
    assert.deepEqual(members, set().photoIds.filter((id) => a.photostream.includes(id)), `${what}: the set's members in the catalog`)
  }
})

void test('a head another writer saved since the view was opened: the lists are read from its chunks', async (t) => {
  const h = await harness(t, ACCOUNT)
  const { a } = prepare(h)
  const base = await firstSync(t, h)
  const root = await copyRoot(t, base)
  const { store, reads } = await countingStore(t, root)
  const view = await LazyView.open(store, (await store.readHead()) as Head)
  assert.ok(view !== undefined)
  const lazy = await Catalog.open(root, { now: h.clock.now, ...LAZY })
  t.after(() => lazy.close())

  // Another writer takes in a photo added to a set not listed since: the view's lists are then not the head's.
  const moved = a.sets[2] as { id: string }
  a.addToSet(moved.id, a.photostream.find((id) => !a.requireSet(moved.id).photoIds.includes(id)) as string)
  h.tick()
  const other = await Catalog.open(root, { now: h.clock.now, ...WRITER, deferLoad: true })
  try {
    const first = await other.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
    assert.ok(first?.answers !== undefined && first.unchanged === undefined)
    const report = await other.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, answered: first.answers })
    assert.equal(report.sets.changed, 1)
  } finally {
    await other.close()
  }

  h.tick()
  reads.lists = 0
  const after = await quick(store, h, { served: view })
  assert.equal(reads.lists, 1, 'the view is of an older head: the lists are read')
  assert.ok(after?.unchanged !== undefined, 'nothing changed since the other writer\'s save')
  h.tick()
  const served = await lazy.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.ok(served?.unchanged !== undefined, 'the catalog serving the older view decides from the head on disk')
  assert.deepEqual(lazy.view().sets.find((s) => s.id === moved.id)?.photoIds, a.requireSet(moved.id).photoIds, 'and then serves it')
})

void test('more photos reported than a merge group holds are weighed a group at a time: reported again unchanged, nothing changed; one changed, merged', async (t) => {
  const h = await harness(t, { photos: 1_000, videos: 0, sets: 3, collections: 1, commentedFraction: 0.2 })
  const { a } = prepare(h)
  // Every photo edited at Flickr's (stopped) time: recentlyUpdated reports each again at every
  // refresh, as the run after a bulk edit is told of it again in its hour of overlap.
  for (const id of a.photostream) a.editPhoto(id, { title: `bulk edit of ${id}` })
  const base = await firstSync(t, h)
  h.tick()
  const head = await headOf(base)
  assert.ok(head.chunks.photos.length >= 4, `photos in several buckets (${head.chunks.photos.length})`)

  /** A store of a copy of `base` whose decodes of reported rows are counted, each by its number of ids. */
  const decoding = async (): Promise<{ store: CatalogStore; decodes: number[] }> => {
    const real = await CatalogStore.open(await copyRoot(t, base))
    t.after(() => real.close())
    const decodes: number[] = []
    const store = Object.create(real) as CatalogStore
    store.decodeBucketsOf = (at: Head, ids: Iterable<string>) => {
      const all = [...ids]
      decodes.push(all.length)
      return real.decodeBucketsOf(at, all)
    }
    return { store, decodes }
  }
  const perGroup = 100
  const weighed = await decoding()
  const inGroups = await quick(weighed.store, h, { decodeReportedUpTo: perGroup })
  assert.ok(inGroups?.unchanged !== undefined, 'all reported again, none changed: nothing changed')
  assert.equal(inGroups.unchanged.report.listing.changesReported, 1_000)
  assert.ok(weighed.decodes.length >= 4, `decoded group by group: ${JSON.stringify(weighed.decodes)}`)
  assert.equal(weighed.decodes.reduce((x, y) => x + y, 0), 1_000, 'each reported photo decoded once')
  // A group is whole buckets: at most one bucket's photos past perGroup.
  const perBucket = Math.ceil(1_000 / head.chunks.photos.length)
  assert.ok(Math.max(...weighed.decodes) < perGroup + 2 * perBucket, `no group held them all: ${JSON.stringify(weighed.decodes)}`)
  // The same verdict as with every row decoded at once.
  const atOnce = await decoding()
  const whole = await quick(atOnce.store, h)
  assert.deepEqual(atOnce.decodes, [1_000])
  const pick = (r: QuickRefreshResult | undefined): unknown => {
    const report = r?.unchanged?.report
    return { photos: report?.photos, sets: report?.sets, collections: report?.collections, listing: report?.listing, media: report?.media }
  }
  assert.deepEqual(pick(inGroups), pick(whole))

  // One photo of the last group changed: something to merge, and no row is held for the merge.
  const last = a.photostream.reduce((x, y) => (MergeSave.bucketOf(head, y) > MergeSave.bucketOf(head, x) ? y : x))
  a.editPhoto(last, { title: 'edited once more' })
  const changed = await decoding()
  const found = await quick(changed.store, h, { decodeReportedUpTo: perGroup })
  assert.equal(found?.unchanged, undefined, 'a change was found')
  assert.ok(found?.answers !== undefined && found.answers.reported === undefined, 'no reported rows held for the merge')
  assert.equal(changed.decodes.reduce((x, y) => x + y, 0), 1_000, 'every group weighed up to the last, where the change is')
  const root = await copyRoot(t, base)
  const lazy = await Catalog.open(root, { now: h.clock.now, ...WRITER, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: perGroup } })
  t.after(() => lazy.close())
  const report = await lazy.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, answered: found.answers })
  assert.equal(report.merged, true)
  assert.equal(report.photos.changed, 1)
})
