import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { failureOf, httpStatusOf, sdkFor } from './sdk-client.js'

void describe('fake Flickr fault injection', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  let mediaUrl: string
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 5, photos: 260, videos: 0, sets: 2, collections: 0 }) })
    flickr = sdkFor(fake).flickr
    const p = fake.account.requirePhoto(fake.account.photostream[0]!)
    mediaUrl = `${fake.origin}/media/${p.server}/${p.id}_${p.originalsecret}_o.${p.originalformat}`
  })
  after(() => fake.close())

  void test('http500 targeted at one method hits only that method, the next n times', async () => {
    fake.faults.inject('http500', { count: 2, target: 'flickr.people.getPhotos' })
    assert.equal((await flickr('flickr.test.login', {})).stat, 'ok')
    assert.equal((await httpStatusOf(flickr('flickr.people.getPhotos', { user_id: 'me' }))).status, 500)
    assert.equal((await httpStatusOf(flickr('flickr.people.getPhotos', { user_id: 'me' }))).status, 500)
    assert.equal((await flickr('flickr.people.getPhotos', { user_id: 'me' })).stat, 'ok')
    assert.equal(fake.faults.pending(), 0)
  })

  void test('stat105: HTTP 200 with stat fail code 105', async () => {
    fake.faults.stat105 = 1
    assert.equal((await failureOf(flickr('flickr.photosets.getList', {})))?.code, 105)
    assert.equal((await flickr('flickr.photosets.getList', {})).stat, 'ok')
  })

  void test('html200: HTTP 200 with an HTML page, which flickr-sdk fails to parse', async () => {
    fake.faults.inject('html200', { target: 'api' })
    await assert.rejects(flickr('flickr.test.login', {}), SyntaxError)
    fake.faults.inject('html200', { target: 'media' })
    const res = await fetch(mediaUrl)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(await res.text(), /<html/i)
  })

  void test('throttle429: short HTML body, on API and on media, no Retry-After', async () => {
    fake.faults.throttle429 = 1
    const api = await httpStatusOf(flickr('flickr.test.login', {}))
    assert.equal(api.status, 429)
    assert.match(api.body, /Too Many Requests/)
    fake.faults.inject('throttle429', { target: 'media' })
    assert.equal((await flickr('flickr.test.login', {})).stat, 'ok', 'a media-targeted fault spares the API')
    const media = await fetch(mediaUrl)
    assert.equal(media.status, 429)
    assert.equal(media.headers.get('retry-after'), null)
    await media.text()
    assert.equal((await fetch(mediaUrl)).status, 200)
  })

  void test('faults on the OAuth endpoints answer before any signature check', async () => {
    fake.faults.inject('http500', { target: 'oauth:request_token' })
    const { oauth } = sdkFor(fake, { oauthToken: false, oauthTokenSecret: false })
    assert.equal((await httpStatusOf(oauth.request('oob'))).status, 500)
    assert.ok((await oauth.request('oob')).requestToken)
  })

  void test('latency delays API and media responses separately', async () => {
    fake.faults.apiLatencyMs = 400
    let t = performance.now()
    await flickr('flickr.test.login', {})
    assert.ok(performance.now() - t >= 390)
    fake.faults.apiLatencyMs = 0
    fake.faults.mediaLatencyMs = 400
    t = performance.now()
    await (await fetch(mediaUrl)).arrayBuffer()
    assert.ok(performance.now() - t >= 390)
    t = performance.now()
    await flickr('flickr.test.login', {})
    assert.ok(performance.now() - t < 350, "media latency does not slow the API")
    fake.faults.mediaLatencyMs = 0
  })

  void test('shortPages: a non-last page comes back short once; asked again it is whole', async () => {
    fake.faults.shortPages = true
    try {
      const first = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '100', page: '1' })
      assert.ok(first.photos.photo.length < 100)
      assert.equal(first.photos.pages, 3)
      const again = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '100', page: '1' })
      assert.equal(again.photos.photo.length, 100)
      const last = await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '100', page: '3' })
      assert.equal(last.photos.photo.length, 60, 'the last page is never shortened')
    } finally {
      fake.faults.shortPages = false
    }
  })

  void test('clear() disarms everything', async () => {
    fake.faults.inject('http500', { count: 5 })
    fake.faults.http500 = 3
    fake.faults.apiLatencyMs = 50
    fake.faults.clear()
    assert.equal(fake.faults.pending(), 0)
    assert.equal((await flickr('flickr.test.login', {})).stat, 'ok')
  })
})
