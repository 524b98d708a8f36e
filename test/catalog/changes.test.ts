/**
 * Every kind of change a user makes on Flickr, seen through a refresh: the new snapshot shows it,
 * and changedAtMs moves exactly where content changed (so metadata mtimes elsewhere stay put).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CatalogSnapshot, CollectionEntry } from '../../src/catalog/index.js'
import { mediaKey } from '../../src/catalog/index.js'
import { harness, refresh, type Harness } from './harness.js'

function changedPhotos(before: CatalogSnapshot, after: CatalogSnapshot): string[] {
  const out: string[] = []
  for (const [id, p] of after.photos) if (before.photos.get(id)?.changedAtMs !== p.changedAtMs) out.push(id)
  return out.sort()
}

function changedSets(before: CatalogSnapshot, after: CatalogSnapshot): string[] {
  const old = new Map(before.sets.map((s) => [s.id, s.changedAtMs]))
  return after.sets.filter((s) => old.get(s.id) !== s.changedAtMs).map((s) => s.id).sort()
}

function flatCollections(list: readonly CollectionEntry[], out = new Map<string, CollectionEntry>()): Map<string, CollectionEntry> {
  for (const c of list) {
    out.set(c.id, c)
    flatCollections(c.children, out)
  }
  return out
}

function changedCollections(before: CatalogSnapshot, after: CatalogSnapshot): string[] {
  const old = flatCollections(before.collections)
  return [...flatCollections(after.collections).values()].filter((c) => old.get(c.id)?.changedAtMs !== c.changedAtMs).map((c) => c.id).sort()
}

async function synced(t: Parameters<typeof harness>[0]): Promise<{ h: Harness; before: CatalogSnapshot }> {
  const h = await harness(t, { photos: 30, videos: 3, sets: 5, collections: 2, commentedFraction: 0.2 })
  await refresh(h)
  h.fake.resetCounts()
  return { h, before: h.catalog.snapshot() }
}

function photoWithoutComments(h: Harness): string {
  const id = h.fake.account.photostream.find((x) => h.fake.account.requirePhoto(x).comments.length === 0 && h.fake.account.requirePhoto(x).media === 'photo')
  assert.ok(id !== undefined)
  return id
}

void test('a refresh with no change on Flickr keeps every changedAtMs and reports no change', async (t) => {
  const { h, before } = await synced(t)
  const report = await refresh(h)
  const after = h.catalog.snapshot()
  assert.equal(report.changed, false)
  assert.deepEqual(changedPhotos(before, after), [])
  assert.deepEqual(changedSets(before, after), [])
  assert.deepEqual(changedCollections(before, after), [])
  assert.equal(after.photostreamChangedAtMs, before.photostreamChangedAtMs)
  assert.ok(after.refreshedAtMs > before.refreshedAtMs)
  assert.deepEqual([...after.media.keys()].sort(), [...before.media.keys()].sort())
})

for (const [what, patch] of [
  ['title', { title: 'A new title / with a slash' }],
  ['description', { description: 'Now described' }],
  ['tags', { tags: ['alpha', 'beta'] }],
] as Array<[string, { title?: string; description?: string; tags?: string[] }]>) {
  void test(`a ${what} edit changes that photo's record and only its changedAtMs`, async (t) => {
    const { h, before } = await synced(t)
    const id = photoWithoutComments(h)
    h.fake.account.editPhoto(id, patch)
    const report = await refresh(h)
    const after = h.catalog.snapshot()
    const raw = after.photos.get(id)?.raw as Record<string, unknown>
    if (what === 'title') assert.equal(raw.title, patch.title)
    if (what === 'description') assert.deepEqual(raw.description, { _content: 'Now described' })
    if (what === 'tags') assert.equal(raw.tags, 'alpha beta')
    assert.deepEqual(changedPhotos(before, after), [id])
    assert.equal(after.photos.get(id)?.changedAtMs, h.clock.ms)
    assert.deepEqual(changedSets(before, after), [])
    assert.equal(after.photostreamChangedAtMs, before.photostreamChangedAtMs)
    assert.deepEqual(report.photos, { total: before.photos.size, added: 0, changed: 1, deleted: 0 })
    // The original did not change: nothing asked of the media host, no comments fetched.
    assert.equal(h.mediaRequests(), 0)
    assert.equal(h.fake.counts()['flickr.photos.comments.getList'] ?? 0, 0)
  })
}

void test('a new comment is fetched (one call) and moves only that photo', async (t) => {
  const { h, before } = await synced(t)
  const id = photoWithoutComments(h)
  assert.equal(before.comments.has(id), false)
  h.fake.account.addComment(id, 'Lovely <b>light</b>')
  await refresh(h)
  const after = h.catalog.snapshot()
  const comments = after.comments.get(id)
  assert.equal(comments?.length, 1)
  assert.equal(comments[0]?._content, 'Lovely <b>light</b>')
  assert.deepEqual(changedPhotos(before, after), [id])
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'], 1)
  // A second comment on an already commented photo: fetched again because lastupdate moved.
  h.fake.resetCounts()
  const mid = after
  h.fake.account.addComment(id, 'Second')
  await refresh(h)
  assert.equal(h.catalog.snapshot().comments.get(id)?.length, 2)
  assert.deepEqual(changedPhotos(mid, h.catalog.snapshot()), [id])
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'], 1)
})

void test('a replaced original gets a new MediaEntry with its size resolved again, also in a new format', async (t) => {
  const { h, before } = await synced(t)
  const id = photoWithoutComments(h)
  const oldSecret = before.photos.get(id)?.secret as string
  const oldMedia = before.media.get(mediaKey(id, oldSecret))
  assert.equal(oldMedia?.size, h.fake.account.requirePhoto(id).bytes)
  h.fake.account.replaceOriginal(id, { format: 'png', bytes: 12_345 })
  await refresh(h)
  const after = h.catalog.snapshot()
  const photo = after.photos.get(id)
  assert.ok(photo !== undefined)
  assert.notEqual(photo.secret, oldSecret)
  assert.equal(photo.format, 'png')
  assert.equal(after.media.has(mediaKey(id, oldSecret)), false)
  const entry = after.media.get(mediaKey(id, photo.secret))
  assert.deepEqual({ size: entry?.size, ext: entry?.ext, kind: entry?.kind }, { size: 12_345, ext: 'png', kind: 'original' })
  assert.deepEqual(changedPhotos(before, after), [id])
  assert.equal(h.fake.counts()['media:HEAD'], 1)
})

void test('a replaced video in a new container gets its new extension from the media host', async (t) => {
  const { h, before } = await synced(t)
  const id = h.fake.account.photostream.find((x) => h.fake.account.requirePhoto(x).media === 'video') as string
  const oldEntry = before.media.get(mediaKey(id, before.photos.get(id)?.secret as string))
  assert.equal(oldEntry?.ext, h.fake.account.requirePhoto(id).videoFormat)
  h.fake.account.replaceOriginal(id, { format: 'avi', bytes: 54_321 })
  await refresh(h)
  const after = h.catalog.snapshot()
  const entry = after.media.get(mediaKey(id, after.photos.get(id)?.secret as string))
  assert.deepEqual({ ext: entry?.ext, size: entry?.size, kind: entry?.kind }, { ext: 'avi', size: 54_321, kind: 'original' })
  assert.equal(h.fake.counts()['flickr.photos.getSizes'], 1)
})

void test('a deleted photo leaves the photostream, its sets, comments and media; its sets move', async (t) => {
  const { h, before } = await synced(t)
  const id = h.fake.account.sets.flatMap((s) => s.photoIds).find((x) => h.fake.account.requirePhoto(x).comments.length > 0) ??
    h.fake.account.sets[0]?.photoIds[0]
  assert.ok(id !== undefined)
  const inSets = h.fake.account.setsContaining(id)
  const secret = before.photos.get(id)?.secret as string
  h.fake.account.deletePhoto(id)
  const report = await refresh(h)
  const after = h.catalog.snapshot()
  assert.equal(after.photos.has(id), false)
  assert.equal(after.photostream.includes(id), false)
  assert.equal(after.comments.has(id), false)
  assert.equal(after.media.has(mediaKey(id, secret)), false)
  for (const s of after.sets) assert.equal(s.photoIds.includes(id), false)
  assert.equal(report.photos.deleted, 1)
  assert.deepEqual(changedPhotos(before, after), [])
  const stillThere = inSets.filter((s) => after.sets.some((x) => x.id === s))
  assert.deepEqual(changedSets(before, after), stillThere.sort())
  assert.ok(after.photostreamChangedAtMs > before.photostreamChangedAtMs)
  assert.equal(h.mediaRequests(), 0)
})

void test('a new upload appears first in the photostream with its original resolved', async (t) => {
  const { h, before } = await synced(t)
  const p = h.fake.account.addPhoto({ title: 'fresh', bytes: 4321, originalformat: 'jpg' })
  const report = await refresh(h)
  const after = h.catalog.snapshot()
  assert.equal(after.photostream[0], p.id)
  assert.equal(after.photostream.length, before.photostream.length + 1)
  assert.equal(after.media.get(mediaKey(p.id, p.originalsecret))?.size, 4321)
  assert.deepEqual(changedPhotos(before, after), [p.id])
  assert.equal(report.photos.added, 1)
  assert.ok(after.photostreamChangedAtMs > before.photostreamChangedAtMs)
  assert.equal(h.fake.counts()['media:HEAD'], 1)
})

void test('a renamed, a reordered and a deleted set: each shows, only those sets move', async (t) => {
  const { h, before } = await synced(t)
  const [a, b, c] = h.fake.account.sets
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  h.fake.account.renameSet(a.id, 'Renamed set')
  const reordered = [...b.photoIds].reverse()
  assert.ok(reordered.length > 1)
  h.fake.account.reorderSet(b.id, reordered)
  const inCollections = [...flatCollections(before.collections).values()].filter((x) => x.setIds.includes(c.id)).map((x) => x.id)
  h.fake.account.deleteSet(c.id)
  const report = await refresh(h)
  const after = h.catalog.snapshot()
  assert.equal(after.sets.find((s) => s.id === a.id)?.title, 'Renamed set')
  assert.deepEqual(after.sets.find((s) => s.id === b.id)?.photoIds, reordered)
  assert.equal(after.sets.some((s) => s.id === c.id), false)
  assert.deepEqual(changedSets(before, after), [a.id, b.id].sort())
  assert.deepEqual(changedPhotos(before, after), [])
  assert.deepEqual(changedCollections(before, after), inCollections.sort())
  for (const col of flatCollections(after.collections).values()) assert.equal(col.setIds.includes(c.id), false)
  assert.deepEqual({ changed: report.sets.changed, deleted: report.sets.deleted }, { changed: 2, deleted: 1 })
})

void test('a changed collection tree: changed nodes move, identical ones keep their time, and an empty tree empties it', async (t) => {
  const { h, before } = await synced(t)
  const sets = h.fake.account.sets.map((s) => s.id)
  h.fake.account.setCollections([
    { id: 'c-1', title: 'Travel', setIds: [sets[0] as string, sets[1] as string], children: [{ id: 'c-2', title: 'Europe', setIds: [sets[2] as string] }] },
    { id: 'c-3', title: 'Family' },
  ])
  await refresh(h)
  const first = h.catalog.snapshot()
  assert.deepEqual(first.collections.map((c) => [c.id, c.title, c.setIds, c.children.map((x) => x.id)]), [
    ['c-1', 'Travel', [sets[0], sets[1]], ['c-2']],
    ['c-3', 'Family', [], []],
  ])
  assert.equal(first.collections[0]?.children[0]?.setIds[0], sets[2])
  assert.equal('set' in (first.collections[0]?.raw ?? {}), false)
  assert.deepEqual(changedSets(before, first), [])

  // Only Europe gains a set: Travel keeps its time (its record and child ids are the same).
  h.fake.account.setCollections([
    { id: 'c-1', title: 'Travel', setIds: [sets[0] as string, sets[1] as string], children: [{ id: 'c-2', title: 'Europe', setIds: [sets[2] as string, sets[3] as string] }] },
    { id: 'c-3', title: 'Family' },
  ])
  await refresh(h)
  const second = h.catalog.snapshot()
  assert.deepEqual(changedCollections(first, second), ['c-2'])

  h.fake.account.setCollections([])
  const report = await refresh(h)
  assert.deepEqual(h.catalog.snapshot().collections, [])
  assert.equal(report.collections.deleted, 3)
})

void test('a change of views alone moves changedAtMs but not changedAtMsIgnoringViews', async (t) => {
  const { h, before } = await synced(t)
  const id = photoWithoutComments(h)
  h.fake.account.requirePhoto(id).views += 5
  await refresh(h)
  const after = h.catalog.snapshot()
  assert.deepEqual(changedPhotos(before, after), [id])
  assert.equal(after.photos.get(id)?.changedAtMsIgnoringViews, before.photos.get(id)?.changedAtMsIgnoringViews)
})
