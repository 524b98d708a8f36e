/**
 * The lazy view (src/catalog/lazy-view.ts): a read-only catalog opened `lazy` answers from the
 * listing pages a writer with a sidecar sizer saved and from one photo bucket at a time, exactly
 * what the whole snapshot answers; a catalog saved without pages opens whole; a save after a small
 * change rewrites only its page; a bucket another writer removed fails its promise, never answers
 * from another catalog; a writer opened lazy loads every record for a refresh and serves the view
 * again after one that lets go. Real catalogs refreshed from the fake Flickr over HTTP, in temp roots.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Catalog, type CatalogSnapshot, type SidecarSizer } from '../../src/catalog/index.js'
import { collectGarbageNow } from '../../src/util/old-generation.js'
import { CatalogStore } from '../../src/catalog/persist.js'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { buildLayout, buildLayoutInSteps, type Layout, type LayoutNode } from '../../src/layout/index.js'
import { collectionEntry, photoSpecs, setEntry, snapshot, type PhotoSpec } from '../layout/fixture.js'
import { loadBytes, walk } from '../layout/tree.js'
import { tempDir } from '../support/repo.js'
import { rm } from 'node:fs/promises'
import { assertViewOf } from './view-assert.js'
import { forgetRecordHashes, harness, headOf, type Harness } from './harness.js'

const ACCOUNT = { photos: 60, videos: 8, sets: 6, collections: 3, commentedFraction: 0.3 }
/** Small pages, so that a 68-photo account has five of them. */
const PAGE = 16

/**
 * The layout's sizer, as the writable openers pass it (layout/metadata.ts), counting the photos it
 * measured: a page is packed again exactly when its photos are measured again (a page packed again
 * unchanged gets the same content-addressed key, so the keys alone cannot tell).
 */
const sized = { photos: 0 }
const sizer: SidecarSizer = {
  format: photoSidecarSizer.format,
  sizes: (photo, media, comments) => {
    sized.photos++
    return photoSidecarSizer.sizes(photo, media, comments)
  },
}

/** A writer that saves listing pages, refreshed once. */
async function writer(h: Harness): Promise<Catalog> {
  const w = await h.reopen({ sidecarSizer: sizer, listingPagePhotos: PAGE })
  h.tick()
  await w.refresh(h.client, h.media)
  return w
}

async function openLazy(h: Harness): Promise<Catalog> {
  return h.reopen({ readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
}

void describe('LazyView: a read-only catalog that decodes one bucket at a time', () => {
  void it('answers what the whole snapshot answers, for every photo, set and collection', async (t) => {
    const h = await harness(t, ACCOUNT)
    await writer(h)
    const whole = (await h.reopen({ readOnly: true })).snapshot()
    // The account has what the pages must carry: videos, comments, several pages, sets, collections.
    assert.equal(whole.photos.size, ACCOUNT.photos + ACCOUNT.videos)
    assert.ok([...whole.photos.values()].some((p) => p.media === 'video'))
    assert.ok(whole.comments.size > 0)
    assert.ok(whole.collections.length > 0)
    const head = await headOf(h.root)
    assert.equal(head.chunks.listing?.length, Math.ceil(whole.photos.size / PAGE))
    assert.equal(head.pages?.streamLength, whole.photostream.length)

    const lazy = await openLazy(h)
    assert.throws(() => lazy.snapshot(), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')
    const view = lazy.view()
    await assertViewOf(view, whole, { atOnce: false, storesSizes: true })
    // A bucket is decoded once and kept: the same record object again.
    const id = whole.photostream[0] as string
    assert.equal(await view.record(id), await view.record(id))
    assert.equal(lazy.contentKey(), (await h.reopen({ readOnly: true })).contentKey())
  })

  void it('opens a catalog saved without listing pages whole, as before', async (t) => {
    const h = await harness(t, { photos: 20, videos: 2, sets: 2 })
    h.tick()
    await h.catalog.refresh(h.client, h.media)
    assert.equal((await headOf(h.root)).chunks.listing, undefined)
    const lazy = await openLazy(h)
    const snap = lazy.snapshot()
    assert.equal(snap.photos.size, 22)
    assert.equal(lazy.view().sidecarSize(snap.photostream[0] as string, false), undefined)
    // Pages of another format are not used either.
    await writer(h)
    const other = await h.reopen({ readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT + 1 } })
    assert.equal(other.snapshot().photos.size, 22)
  })

  void it('a save after a small change rewrites only the page it touched; a save of no change writes none', async (t) => {
    const h = await harness(t, ACCOUNT)
    const w = await writer(h)
    const before = (await headOf(h.root)).chunks.listing as string[]
    sized.photos = 0
    h.tick()
    await w.refresh(h.client, h.media)
    assert.deepEqual((await headOf(h.root)).chunks.listing, before, 'no change: every page kept')
    assert.equal(sized.photos, 0, 'no change: no page packed again')

    const stream = w.snapshot().photostream
    const pos = 40
    h.fake.account.editPhoto(stream[pos] as string, { title: 'Edited' })
    sized.photos = 0
    h.tick()
    await w.refresh(h.client, h.media)
    assert.equal(sized.photos, PAGE, 'one change: its page alone packed again')
    const after = (await headOf(h.root)).chunks.listing as string[]
    assert.equal(after.length, before.length)
    const changed = after.flatMap((key, page) => (key === before[page] ? [] : [page]))
    assert.deepEqual(changed, [Math.floor(pos / PAGE)])
    const lazy = await openLazy(h)
    assert.equal((await lazy.view().record(stream[pos] as string))?.raw.title, 'Edited')
  })

  void it('a writer opened lazy serves the view, loads whole only to refresh, and lets go after a refresh asked to', async (t) => {
    const h = await harness(t, ACCOUNT)
    await writer(h)
    const whole = (await h.reopen({ readOnly: true })).snapshot()
    // Pages an older flickrfs saved, without record hashes: a full listing is not merged (full-merge.ts).
    await forgetRecordHashes(h.root)
    const w = await h.reopen({ sidecarSizer: sizer, listingPagePhotos: PAGE, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
    const changes: number[] = []
    w.on('change', () => changes.push(w.view().photoCount))
    assert.throws(() => w.snapshot(), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')
    await assertViewOf(w.view(), whole, { atOnce: false, storesSizes: true })

    // A refresh no merge takes (here a full listing of those pages) compares with every record: it
    // loads them (an empty start would list every photo as new).
    const id = whole.photostream[7] as string
    h.fake.account.editPhoto(id, { title: 'Edited while lazy' })
    h.tick()
    const kept = await w.refresh(h.client, h.media)
    assert.equal(kept.merged, undefined)
    assert.deepEqual({ added: kept.photos.added, changed: kept.photos.changed, deleted: kept.photos.deleted }, { added: 0, changed: 1, deleted: 0 })
    assert.equal(w.snapshot().photos.get(id)?.raw.title, 'Edited while lazy', 'without letGo the refreshed snapshot stays loaded')
    assert.deepEqual(changes, [whole.photos.size])

    // letGo: the saved catalog is served lazily again, before listeners hear of it, even with nothing changed.
    h.tick()
    const same = await w.refresh(h.client, h.media, { letGo: true })
    assert.equal(same.changed, false)
    assert.throws(() => w.snapshot(), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')
    assert.equal((await w.view().record(id))?.raw.title, 'Edited while lazy')
    assert.equal(changes.length, 2, 'told once more: the view listeners built from was let go')
    await assertViewOf(w.view(), (await h.reopen({ readOnly: true })).snapshot(), { atOnce: false, storesSizes: true })
  })

  void it('a refresh that lets go tells listeners once its snapshot is garbage, not while the refresh still holds it', async (t) => {
    const h = await harness(t, ACCOUNT)
    // A first sync, as a mount of an empty cache runs it: a writer opened lazy, refreshed with letGo.
    const w = await h.reopen({ sidecarSizer: sizer, listingPagePhotos: PAGE, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
    let assembled: WeakRef<CatalogSnapshot> | undefined
    const collectedWhenTold: boolean[] = []
    // What a listener builds now (the mount's tree over the view) would otherwise be made beside
    // every record the sync held: at 1,000,000 items that was the sync's peak.
    w.on('change', () => {
      collectGarbageNow()
      collectedWhenTold.push(assembled !== undefined && assembled.deref() === undefined)
    })
    h.tick()
    const report = await w.refresh(h.client, h.media, { letGo: true, onAssembled: (snap) => (assembled = new WeakRef(snap)) })
    assert.equal(report.photos.added, ACCOUNT.photos + ACCOUNT.videos)
    assert.equal(w.servesLazily, true)
    assert.deepEqual(collectedWhenTold, [true], 'told once, before refresh() resolved, with the snapshot it saved already collectable')
  })

  void it('a bucket read again is not scanned again: its rows\' bounds are kept by its key, and its answers are the same', async (t) => {
    const h = await harness(t, ACCOUNT)
    await writer(h)
    const whole = (await h.reopen({ readOnly: true })).snapshot()
    const store = await CatalogStore.open(h.root, { readOnly: true })
    try {
      const head = await headOf(h.root)
      for (const key of head.chunks.photos) {
        const first = await store.readBucket(key)
        const again = await store.readBucket(key)
        assert.ok(first !== undefined && again !== undefined && first !== again)
        assert.ok(first.rowBounds !== undefined, 'scanned')
        assert.equal(again.rowBounds, first.rowBounds, 'the very bounds of the first read, not a scan of their own')
        for (const [id, photo] of whole.photos) {
          assert.deepEqual(again.record(id), first.record(id))
          if (first.record(id) !== undefined) assert.deepEqual(again.record(id)?.raw, photo.raw)
        }
      }
    } finally {
      await store.close()
    }
  })

  void it('a photo of a bucket read before is read as its own row alone, with the same answers: each bucket is read once however often a reader comes back to it', async (t) => {
    const h = await harness(t, ACCOUNT)
    // 4 photos a bucket: 32 buckets, four times what the view keeps, met again and again in photostream order.
    const w = await h.reopen({ sidecarSizer: sizer, listingPagePhotos: PAGE, photosPerBucket: 4 })
    h.tick()
    await w.refresh(h.client, h.media)
    const whole = w.snapshot()
    const head = await headOf(h.root)
    assert.ok(head.chunks.photos.length > 16, `${head.chunks.photos.length} buckets`)
    const store = await CatalogStore.open(h.root, { readOnly: true })
    t.after(() => store.close())
    const bucketsRead: string[] = []
    let rowsRead = 0
    const readBucket = store.readBucket.bind(store)
    const readRow = store.readRow.bind(store)
    store.readBucket = (key) => {
      bucketsRead.push(key)
      return readBucket(key)
    }
    store.readRow = async (key, id) => {
      const row = await readRow(key, id)
      if (row !== null) rowsRead++
      return row
    }
    const { LazyView } = await import('../../src/catalog/lazy-view.js')
    const view = await LazyView.open(store, head)
    assert.ok(view !== undefined)
    // A pin's tree write: each sidecar's record and comments, in photostream order, a few at once; twice.
    for (let pass = 0; pass < 2; pass++) {
      for (let from = 0; from < whole.photostream.length; from += 4) {
        await Promise.all(whole.photostream.slice(from, from + 4).map(async (id) => {
          const [record, comments] = await Promise.all([view.record(id), view.comments(id)])
          assert.deepEqual(record, whole.photos.get(id), `photo ${id}'s record`)
          assert.deepEqual(comments, whole.comments.get(id), `photo ${id}'s comments`)
        }))
      }
    }
    assert.equal(bucketsRead.length, new Set(bucketsRead).size, 'no bucket read twice')
    assert.equal(bucketsRead.length, head.chunks.photos.length)
    assert.ok(rowsRead > 0, `${rowsRead} rows read alone`)
    assert.equal(await view.record('4242424242'), undefined, 'a photo the catalog does not hold')
  })

  void it('a bucket another writer removed rejects; reload opens the new catalog', async (t) => {
    const h = await harness(t, ACCOUNT)
    const w = await writer(h)
    const lazy = await openLazy(h)
    const old = lazy.view()
    const id = w.snapshot().photostream[5] as string
    h.fake.account.editPhoto(id, { title: 'Renamed' })
    h.tick()
    await w.refresh(h.client, h.media)
    await assert.rejects(Promise.resolve(old.record(id)), (err: unknown) => err instanceof FlickrfsError && err.code === 'CATALOG' && /gone/.test(err.message))
    await assert.rejects(Promise.resolve(old.comments(id)), (err: unknown) => err instanceof FlickrfsError && err.code === 'CATALOG')
    // The listing in hand still answers (it is of the old catalog, whole).
    assert.equal(old.photo(id)?.id, id)
    assert.equal(await lazy.reload(), true)
    const view = lazy.view()
    assert.notEqual(view, old)
    assert.equal((await view.record(id))?.raw.title, 'Renamed')
    await assertViewOf(view, w.snapshot(), { atOnce: false, storesSizes: true })
  })
})

/** Everything stat and read show of a node, its bytes awaited as fs/ and pin/ read them. */
async function seen(node: LayoutNode): Promise<unknown> {
  const common = { kind: node.kind, name: node.name, ino: node.ino, mtimeMs: node.mtimeMs }
  if (node.kind === 'dir') return { ...common, count: node.children.size }
  if (node.kind === 'link') return { ...common, target: node.target }
  if (node.content.type === 'original') return { ...common, size: node.size, media: node.content.media }
  const bytes = await loadBytes(node)
  assert.equal(bytes.length, node.size, `${node.name}: stat size and bytes`)
  return { ...common, size: node.size, data: bytes.toString('utf8') }
}

async function treeOf(layout: Layout): Promise<unknown[]> {
  const out: unknown[] = []
  for (const [path, node] of walk(layout.root)) out.push([path, await seen(node)])
  return out
}

void describe('LazyView over a catalog of every odd case', () => {
  for (const order of ['an order with a duplicate and gaps', 'the pages\' own order, each id once'] as const) {
  void it(`makes the same layout as the whole catalog: ids that are not numbers, no original, ${order}`, async (t) => {
    const specs: PhotoSpec[] = photoSpecs(150).map((s, i) => ({
      ...s,
      ...(i % 7 === 0 ? { media: 'video' as const, format: 'mov', mediaEntry: { ext: 'mov', kind: 'transcode' as const, label: 'HD MP4' } } : {}),
      ...(i % 11 === 0 ? { mediaEntry: false as const } : {}),
      ...(i % 13 === 0 ? { comments: [{ id: `c${i}`, author: 'a', _content: `comment ${i} ünïcode` }] } : {}),
      ...(i % 5 === 0 ? { dateTaken: null } : {}),
      changedAtMs: 1_700_000_000_000 + i * 1_234,
    }))
    specs.push({ id: '../escape' }, { id: 'has space' }, { id: 'abc' }, { id: '0123' })
    const ids = specs.map((s) => s.id)
    const photostream = order === 'an order with a duplicate and gaps' ? [...ids.filter((id) => id !== '50010' && id !== '50020'), '50001'] : ids
    const sets = Array.from({ length: 6 }, (_, i) => setEntry(String(72157600000000000 + i), `Set ${i}`, ids.slice(i * 11, i * 11 + 17)))
    const collections = [collectionEntry('1-1', 'Top', [sets[0]?.id ?? ''], [collectionEntry('1-2', 'Inner', [sets[1]?.id ?? ''])])]
    const snap = snapshot({ photos: specs, photostream, sets, collections })
    // As Flickr says it (the fixture's record keeps a date): what a load derives from the record is the entry's.
    for (const p of snap.photos.values()) if (p.dateTaken === null) p.raw.datetakenunknown = '1'
    const root = await tempDir('flickrfs-lazy-')
    t.after(() => rm(root, { recursive: true, force: true }))
    const store = await CatalogStore.open(root)
    const head = await store.save({ snap, commentsFetchedAt: new Map() }, 1_700_000_400_000, undefined, { sizer, photosPerPage: 40 })
    await store.close()
    assert.equal(head.chunks.listing?.length, Math.ceil(snap.photos.size / 40))
    if (order === 'an order with a duplicate and gaps') assert.equal(head.pages?.streamLength, undefined, 'the order is not the pages\' own: it is read')
    else assert.equal(head.pages?.streamLength, ids.length, 'the order is the pages\' own')

    const whole = await Catalog.open(root, { readOnly: true })
    const lazy = await Catalog.open(root, { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
    t.after(async () => {
      await whole.close()
      await lazy.close()
    })
    assert.throws(() => lazy.snapshot())
    await assertViewOf(lazy.view(), whole.snapshot(), { atOnce: false, storesSizes: true })
    // Such an order needs no look for an id listed twice (build-layout.ts): the same tree all the same.
    assert.equal(lazy.view().photostreamListsEachOnce, order !== 'an order with a duplicate and gaps')
    for (const ignoreViews of [false, true]) {
      const wholeLayout = buildLayout(whole.view(), { ignoreViews })
      const expected = await treeOf(wholeLayout)
      assert.ok(expected.length > 300)
      const lazyLayout = buildLayout(lazy.view(), { ignoreViews })
      assert.deepEqual(await treeOf(lazyLayout), expected, `ignoreViews ${ignoreViews}`)
      // And for the same reasons: the photos with no original yet, the records left out as unsafe.
      assert.deepEqual(lazyLayout.stats, wholeLayout.stats)
      assert.ok(wholeLayout.stats.photosWithoutMedia > 0 && wholeLayout.stats.unsafeRecords > 0)
      const steps = buildLayoutInSteps(lazy.view(), { ignoreViews })
      await steps.finish()
      assert.deepEqual(await treeOf(steps.layout), expected, `in steps, ignoreViews ${ignoreViews}`)
    }
  })
  }
})
