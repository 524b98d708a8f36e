import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { failureOf, sdkFor } from './sdk-client.js'

const EXTRAS =
  'description,license,date_upload,date_taken,owner_name,icon_server,original_format,last_update,geo,tags,machine_tags,o_dims,views,media,path_alias,url_o,count_comments,count_faves'

void describe('fake Flickr REST through the real flickr-sdk', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  // Each test that mutates works on its own copy: ids below come from this pristine account.
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 7, photos: 120, videos: 6, sets: 5, collections: 3, commentedFraction: 0.2 }) })
    flickr = sdkFor(fake).flickr
  })
  after(() => fake.close())

  void test('flickr.test.login names the token owner', async () => {
    const r = await flickr('flickr.test.login', {})
    assert.equal(r.stat, 'ok')
    assert.equal(r.user.id, fake.account.user.id)
    assert.deepEqual(r.user.username, { _content: fake.account.user.username })
  })

  void test('people.getPhotos pages the photostream newest first with the requested extras', async () => {
    const seen: string[] = []
    let pages = 1
    for (let page = 1; page <= pages; page++) {
      const r = await flickr('flickr.people.getPhotos', { user_id: 'me', extras: EXTRAS, per_page: '50', page: String(page) })
      pages = r.photos.pages
      assert.equal(typeof r.photos.total, 'number', 'total is a number in people.getPhotos')
      for (const p of r.photos.photo) seen.push(p.id)
    }
    assert.equal(pages, 3)
    assert.deepEqual(seen, fake.account.photostream)
    const r = await flickr('flickr.people.getPhotos', { user_id: 'me', extras: EXTRAS, per_page: '1' })
    const p = r.photos.photo[0]
    const rec = fake.account.requirePhoto(p.id)
    assert.deepEqual(p.description, { _content: rec.description })
    assert.equal(p.dateupload, String(rec.dateupload))
    assert.equal(p.lastupdate, String(rec.lastupdate))
    assert.equal(p.originalsecret, rec.originalsecret)
    assert.equal(p.url_o, `${fake.origin}/media/${rec.server}/${rec.id}_${rec.originalsecret}_o.${rec.originalformat}`)
    assert.equal(typeof p.width_o, 'number')
    assert.equal(typeof p.farm, 'number')
    assert.equal(typeof p.server, 'string')
    assert.equal(typeof p.count_comments, 'string')
    for (const k of ['datetaken', 'datetakenunknown', 'media', 'tags', 'machine_tags', 'views', 'count_faves', 'latitude', 'o_width', 'ownername', 'iconserver', 'pathalias', 'license']) {
      assert.ok(k in p, `extra ${k} present`)
    }
    const bare = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '1' })
    assert.equal(bare.photos.photo[0].url_o, undefined, 'no extras unless asked')
  })

  void test('per_page is capped at 500 and a page past the end repeats the last page', async () => {
    const big = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '900' })
    assert.equal(big.photos.perpage, 500)
    const last = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '50', page: '3' })
    const past = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '50', page: '9' })
    assert.deepEqual(past.photos.photo.map((p: { id: string }) => p.id), last.photos.photo.map((p: { id: string }) => p.id))
    assert.equal(past.photos.pages, 3)
  })

  void test('photosets.getList: set order, both title forms, counts photos and videos apart; pages on request', async () => {
    const r = await flickr('flickr.photosets.getList', {})
    assert.deepEqual(r.photosets.photoset.map((s: { id: string }) => s.id), fake.account.sets.map((s) => s.id))
    const s = r.photosets.photoset[0]
    const rec = fake.account.sets[0]!
    assert.deepEqual(s.title, { _content: rec.title })
    assert.deepEqual(s.description, { _content: rec.description })
    assert.equal(s.photos + s.videos, rec.photoIds.length)
    const paged = await flickr('flickr.photosets.getList', { per_page: '2', page: '3' })
    assert.equal(paged.photosets.pages, 3)
    assert.equal(paged.photosets.photoset.length, 1)
  })

  void test('photosets.getPhotos: album order, isprimary, per_page and perpage with drifting types', async () => {
    const set = fake.account.sets.find((s) => s.photoIds.some((id) => fake.account.requirePhoto(id).media === 'video'))
    assert.ok(set, 'some set holds a video')
    const r = await flickr('flickr.photosets.getPhotos', { photoset_id: set.id, user_id: fake.account.user.id, extras: 'media,url_o' })
    const ps = r.photoset
    assert.deepEqual(ps.photo.map((p: { id: string }) => p.id), set.photoIds)
    assert.equal(ps.photo.filter((p: { isprimary: string }) => p.isprimary === '1').length, 1)
    assert.equal(ps.per_page, '500')
    assert.equal(ps.perpage, 500)
    assert.equal(typeof ps.total, 'string', 'total is a string here, a number in people.getPhotos')
    assert.ok(ps.photo.some((p: { media: string }) => p.media === 'video'))
    assert.deepEqual(await failureOf(flickr('flickr.photosets.getPhotos', { photoset_id: '1', user_id: 'me' })), { code: 1, message: 'Photoset not found' })
  })

  void test('collections.getTree: nested, set/collection keys absent when empty, {} when none', async () => {
    const r = await flickr('flickr.collections.getTree', {})
    const top = r.collections.collection
    assert.equal(top.length, 3)
    const both = top.find((c: { set?: unknown; collection?: unknown }) => c.set !== undefined && c.collection !== undefined)
    assert.ok(both, 'a collection holds both sets and collections')
    assert.equal(typeof both.set[0].title, 'string')
    const leafWithoutChildren = top.find((c: { collection?: unknown }) => c.collection === undefined)
    assert.ok(leafWithoutChildren)
    assert.ok(!('collection' in leafWithoutChildren))
    const saved = fake.account.collections
    fake.account.setCollections([])
    try {
      const empty = await flickr('flickr.collections.getTree', {})
      assert.deepEqual(empty, { collections: {}, stat: 'ok' })
    } finally {
      fake.account.collections = saved
    }
  })

  void test('comments.getList drops the comment key when there are none', async () => {
    const withComments = fake.account.commented()[0]!
    const none = fake.account.photostream.find((id) => fake.account.requirePhoto(id).comments.length === 0)!
    const r = await flickr('flickr.photos.comments.getList', { photo_id: withComments })
    assert.equal(r.comments.comment.length, fake.account.requirePhoto(withComments).comments.length)
    assert.equal(typeof r.comments.comment[0]._content, 'string')
    const e = await flickr('flickr.photos.comments.getList', { photo_id: none })
    assert.deepEqual(e.comments, { photo_id: none })
  })

  void test('getSizes gives video labels; getInfo the rich record; getNotInSet the unfiled photos', async () => {
    const video = fake.account.photostream.map((id) => fake.account.requirePhoto(id)).find((p) => p.media === 'video')!
    const sizes = await flickr('flickr.photos.getSizes', { photo_id: video.id })
    const labels = sizes.sizes.size.map((s: { label: string }) => s.label)
    for (const l of ['Original', 'Site MP4', 'HD MP4', 'Video Original']) assert.ok(labels.includes(l), l)
    const orig = sizes.sizes.size.find((s: { label: string }) => s.label === 'Video Original')
    assert.equal(orig.source, `${fake.origin}/photos/${fake.account.user.pathAlias}/${video.id}/play/orig/${video.originalsecret}/`)
    const info = await flickr('flickr.photos.getInfo', { photo_id: video.id })
    assert.deepEqual(info.photo.title, { _content: video.title })
    assert.equal(info.photo.media, 'video')
    assert.equal(info.photo.dates.lastupdate, String(video.lastupdate))
    const notInSet = await flickr('flickr.photos.getNotInSet', { per_page: '500' })
    const expected = fake.account.notInSet()
    assert.ok(expected.length > 0)
    assert.deepEqual(notInSet.photos.photo.map((p: { id: string }) => p.id), expected)
    assert.deepEqual(await failureOf(flickr('flickr.photos.getInfo', { photo_id: '1' })), { code: 1, message: 'Photo not found' })
  })

  void test('an unknown method is code 112', async () => {
    const f = await failureOf(flickr('flickr.photos.nonesuch' as 'flickr.test.login', {}))
    assert.equal(f?.code, 112)
  })
})

void describe('live account changes are visible to the next call', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  let now = 2_000_000_000
  before(async () => {
    const account = generateAccount({ seed: 3, photos: 30, videos: 2, sets: 3, collections: 1 })
    account.clock = () => now
    fake = await startFakeFlickr({ account })
    flickr = sdkFor(fake).flickr
  })
  after(() => fake.close())

  void test('edits, replacements, comments show in recentlyUpdated by lastupdate, newest first', async () => {
    const a = fake.account
    const [id1, id2, id3] = [a.photostream[5]!, a.photostream[9]!, a.photostream[12]!]
    a.editPhoto(id1, { title: 'renamed' })
    now += 10
    const oldSecret = a.requirePhoto(id2).originalsecret
    a.replaceOriginal(id2, { format: 'png' })
    now += 10
    a.addComment(id3, 'nice')
    const r = await flickr('flickr.photos.recentlyUpdated', { min_date: String(2_000_000_000), extras: 'last_update,original_format' })
    assert.deepEqual(r.photos.photo.map((p: { id: string }) => p.id), [id3, id2, id1])
    assert.equal(typeof r.photos.total, 'string')
    assert.equal(r.photos.photo[1].originalformat, 'png')
    assert.notEqual(r.photos.photo[1].originalsecret, oldSecret)
    const c = await flickr('flickr.photos.comments.getList', { photo_id: id3 })
    assert.equal(c.comments.comment.at(-1)._content, 'nice')
  })

  void test('two edits in one second still move lastupdate', () => {
    const id = fake.account.photostream[0]!
    const before = fake.account.editPhoto(id, { title: 'x' }).lastupdate
    assert.ok(fake.account.editPhoto(id, { title: 'y' }).lastupdate > before)
  })

  void test('uploads land at the head, deletions vanish from stream and sets', async () => {
    const a = fake.account
    const added = a.addPhoto({ title: 'new upload', media: 'video', videoFormat: 'mp4' })
    const set = a.sets[0]!
    const gone = set.photoIds[0]!
    a.deletePhoto(gone)
    const r = await flickr('flickr.people.getPhotos', { user_id: 'me', extras: 'media', per_page: '500' })
    assert.equal(r.photos.photo[0].id, added.id)
    assert.equal(r.photos.photo[0].media, 'video')
    assert.ok(!r.photos.photo.some((p: { id: string }) => p.id === gone))
    if (a.getSet(set.id) !== undefined) {
      const s = await flickr('flickr.photosets.getPhotos', { photoset_id: set.id, user_id: 'me' })
      assert.ok(!s.photoset.photo.some((p: { id: string }) => p.id === gone))
    }
  })

  void test('set rename, reorder, add, delete and a new collection tree', async () => {
    const a = fake.account
    const s = a.sets[0]!
    a.renameSet(s.id, 'Renamed set')
    a.reorderSet(s.id, [...s.photoIds].reverse())
    const added = a.addSet({ title: 'Brand new', photoIds: [a.photostream[0]!, a.photostream[1]!] })
    const doomed = a.sets[a.sets.length - 1]!
    a.deleteSet(doomed.id)
    a.setCollections([{ title: 'Only', setIds: [added.id], children: [{ title: 'Inner', setIds: [s.id] }] }])
    const list = await flickr('flickr.photosets.getList', {})
    const ids = list.photosets.photoset.map((x: { id: string }) => x.id)
    assert.equal(ids[0], added.id, 'a new set comes first')
    assert.ok(!ids.includes(doomed.id))
    assert.deepEqual(list.photosets.photoset.find((x: { id: string }) => x.id === s.id).title, { _content: 'Renamed set' })
    const photos = await flickr('flickr.photosets.getPhotos', { photoset_id: s.id, user_id: 'me' })
    assert.deepEqual(photos.photoset.photo.map((p: { id: string }) => p.id), s.photoIds)
    const tree = await flickr('flickr.collections.getTree', {})
    assert.equal(tree.collections.collection.length, 1)
    assert.deepEqual(tree.collections.collection[0].collection[0].set.map((x: { id: string }) => x.id), [s.id])
  })
})

void describe('a large account pages like Flickr', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 8, photos: 2900, videos: 100, sets: 600, collections: 2 }) })
    flickr = sdkFor(fake).flickr
  })
  after(() => fake.close())

  void test('a set over 500 members pages by its own pages/total; 600 sets take two getList pages', async () => {
    const big = fake.account.sets.find((s) => s.photoIds.length > 500)
    assert.ok(big, 'a set over 500 members exists')
    const ids: string[] = []
    const first = await flickr('flickr.photosets.getPhotos', { photoset_id: big.id, user_id: 'me' })
    assert.equal(first.photoset.pages, 2)
    assert.equal(Number(first.photoset.total), big.photoIds.length)
    ids.push(...first.photoset.photo.map((p: { id: string }) => p.id))
    const second = await flickr('flickr.photosets.getPhotos', { photoset_id: big.id, user_id: 'me', page: '2' })
    ids.push(...second.photoset.photo.map((p: { id: string }) => p.id))
    assert.deepEqual(ids, big.photoIds)
    const p1 = await flickr('flickr.photosets.getList', { per_page: '500', page: '1' })
    const p2 = await flickr('flickr.photosets.getList', { per_page: '500', page: '2' })
    assert.equal(p1.photosets.pages, 2)
    assert.equal(p1.photosets.photoset.length + p2.photosets.photoset.length, 600)
    const stream = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '500', page: '6' })
    assert.equal(stream.photos.total, 3000)
    assert.equal(stream.photos.photo.length, 500)
  })
})

void describe('an empty account', () => {
  let fake: FakeFlickr
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ photos: 0, videos: 0, sets: 0, collections: 0 }) })
  })
  after(() => fake.close())

  void test('lists are empty with pages 0, sets [] and no collections {}', async () => {
    const { flickr } = sdkFor(fake)
    const r = await flickr('flickr.people.getPhotos', { user_id: 'me' })
    assert.deepEqual(r.photos, { page: 1, pages: 0, perpage: 100, total: 0, photo: [] })
    const sets = await flickr('flickr.photosets.getList', {})
    assert.deepEqual(sets.photosets.photoset, [])
    assert.deepEqual((await flickr('flickr.collections.getTree', {})).collections, {})
  })
})

void test('a fake closed twice stops serving once and resolves both times (a hook and its after may both close it)', async () => {
  const fake = await startFakeFlickr({ account: generateAccount({ photos: 0, videos: 0, sets: 0, collections: 0 }) })
  await fake.close()
  await fake.close()
  await assert.rejects(fetch(`${fake.origin}/services/rest/`), 'nothing listens any more')
})
