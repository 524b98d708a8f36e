/**
 * The fake's change feeds, as docs/FLICKR.md describes them: recentlyUpdated pages by lastupdate
 * (which moves on any edit and when a comment is added) and gives the very records people.getPhotos
 * gives with the same extras; activity.userPhotos (unverified) reports comments only, 50 a page at
 * most; an upload dated back lands in upload order; every change of a set's members moves date_update.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { PHOTO_EXTRAS } from '../../src/catalog/ports.js'
import { sdkFor } from './sdk-client.js'

void describe('change feeds of the fake Flickr', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  let now = 2_000_000_000
  before(async () => {
    const account = generateAccount({ seed: 9, photos: 200, videos: 3, sets: 4, collections: 1, commentedFraction: 0 })
    account.clock = () => now
    fake = await startFakeFlickr({ account })
    flickr = sdkFor(fake).flickr
  })
  after(() => fake.close())

  async function allPages(method: 'flickr.photos.recentlyUpdated' | 'flickr.activity.userPhotos', params: Record<string, string>, envelope: 'photos' | 'items', item: 'photo' | 'item') {
    const out: Array<Record<string, unknown>> = []
    let pages = 1
    let perpage = 0
    for (let page = 1; page <= pages; page++) {
      const r = await flickr(method as 'flickr.test.login', { ...params, page: String(page) })
      pages = Number(r[envelope].pages)
      perpage = Number(r[envelope].perpage)
      out.push(...(r[envelope][item] as Array<Record<string, unknown>>))
    }
    return { out, pages, perpage }
  }

  void test('recentlyUpdated: every edit, replacement and comment since min_date, by lastupdate, paged, with the records of people.getPhotos', async () => {
    const a = fake.account
    const touched: string[] = []
    for (let i = 0; i < 23; i++) {
      const id = a.photostream[(i * 7) % a.photostream.length] as string
      now += 5
      if (i % 3 === 0) a.editPhoto(id, { tags: [`t${i}`] })
      else if (i % 3 === 1) a.addComment(id, `comment ${i}`)
      else a.replaceOriginal(id)
      touched.unshift(id)
    }
    const want = [...new Set(touched)]
    const { out, pages, perpage } = await allPages('flickr.photos.recentlyUpdated', { min_date: String(2_000_000_001), extras: PHOTO_EXTRAS.join(','), per_page: '5' }, 'photos', 'photo')
    assert.equal(perpage, 5)
    assert.equal(pages, Math.ceil(want.length / 5))
    assert.deepEqual(out.map((p) => p.id), want)
    const lastupdates = out.map((p) => Number(p.lastupdate))
    assert.deepEqual(lastupdates, [...lastupdates].sort((x, y) => y - x))
    const listing = await flickr('flickr.people.getPhotos', { user_id: 'me', extras: PHOTO_EXTRAS.join(','), per_page: '500' })
    const byId = new Map((listing.photos.photo as Array<Record<string, unknown>>).map((p) => [p.id, p]))
    for (const p of out) assert.deepEqual(p, byId.get(p.id))
    // Only what moved on or after min_date: views alone move nothing.
    a.requirePhoto(a.photostream[1] as string).views += 3
    const later = await flickr('flickr.photos.recentlyUpdated', { min_date: String(now + 1) })
    assert.equal(later.photos.total, '0')
  })

  void test('activity.userPhotos (unverified): recent comments only, at most 50 items a page, edits not reported', async () => {
    const a = fake.account
    // Past the 1h timeframe of the comments of the test before.
    now += 7200
    const edited = a.photostream[60] as string
    a.editPhoto(edited, { title: 'an edit is no activity' })
    const commented: string[] = []
    for (let i = 0; i < 55; i++) {
      const id = a.photostream[100 + i] as string
      now += 1
      a.addComment(id, `activity ${i}`)
      commented.unshift(id)
    }
    const { out, perpage } = await allPages('flickr.activity.userPhotos', { timeframe: '1h', per_page: '100' }, 'items', 'item')
    assert.equal(perpage, 50)
    assert.deepEqual(out.map((i) => i.id), commented)
    assert.ok(!out.some((i) => i.id === edited))
    const first = out[0] as { activity: { event: Array<{ type: string; _content: string }> } }
    assert.deepEqual(first.activity.event.map((e) => [e.type, e._content]), [['comment', 'activity 54']])
  })

  void test('an upload dated back lands in upload order, with lastupdate now', () => {
    const a = fake.account
    const older = a.requirePhoto(a.photostream[10] as string)
    const p = a.addPhoto({ title: 'scanned', dateupload: older.dateupload })
    assert.equal(a.photostream[10], p.id, 'at one upload date, the later upload first')
    assert.equal(p.lastupdate, now)
    const uploads = a.photostream.map((id) => a.requirePhoto(id).dateupload)
    assert.deepEqual(uploads, [...uploads].sort((x, y) => y - x))
  })

  void test('removing a photo from a set moves date_update, like adding one', () => {
    const a = fake.account
    const s = a.sets.find((x) => x.photoIds.length > 2)
    assert.ok(s)
    now += 50
    a.removeFromSet(s.id, s.photoIds[1] as string)
    assert.equal(s.dateUpdate, now)
  })
})
