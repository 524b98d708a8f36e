import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { generateAccount, startFakeFlickr, type FakeFlickr, type FakePhoto } from '../../src/fake-flickr/index.js'
import { sdkFor } from './sdk-client.js'

void describe('fake Flickr media', () => {
  let fake: FakeFlickr
  let photo: FakePhoto
  let video: FakePhoto
  const originalUrl = (p: FakePhoto): string => `${fake.origin}/media/${p.server}/${p.id}_${p.originalsecret}_o.${p.originalformat}`
  const playUrl = (p: FakePhoto): string => `${fake.origin}/photos/${fake.account.user.pathAlias}/${p.id}/play/orig/${p.originalsecret}/`

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 11, photos: 10, videos: 4, sets: 2, collections: 0 }) })
    const items = fake.account.photostream.map((id) => fake.account.requirePhoto(id))
    photo = items.find((p) => p.media === 'photo')!
    video = items.find((p) => p.media === 'video')!
  })
  after(() => fake.close())

  void test('an original is served whole with Content-Length and Accept-Ranges, the same bytes every time', async () => {
    const res = await fetch(originalUrl(photo))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('accept-ranges'), 'bytes')
    assert.equal(Number(res.headers.get('content-length')), photo.bytes)
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(body.length, photo.bytes)
    assert.ok(body.equals(fake.account.originalBytes(photo.id)))
    const again = Buffer.from(await (await fetch(originalUrl(photo))).arrayBuffer())
    assert.ok(again.equals(body))
  })

  void test('Range gives 206 with Content-Range, at any offset; HEAD gives headers only; bad ranges 416', async () => {
    const whole = fake.account.originalBytes(photo.id)
    for (const [start, end] of [[0, 0], [17, 100], [4099, photo.bytes - 1]] as const) {
      const res = await fetch(originalUrl(photo), { headers: { Range: `bytes=${start}-${end}` } })
      assert.equal(res.status, 206)
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${photo.bytes}`)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start, end + 1)))
    }
    const open = await fetch(originalUrl(photo), { headers: { Range: 'bytes=1000-' } })
    assert.equal(open.status, 206)
    assert.ok(Buffer.from(await open.arrayBuffer()).equals(whole.subarray(1000)))
    const head = await fetch(originalUrl(photo), { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(Number(head.headers.get('content-length')), photo.bytes)
    assert.equal((await head.arrayBuffer()).byteLength, 0)
    const bad = await fetch(originalUrl(photo), { headers: { Range: `bytes=${photo.bytes}-` } })
    assert.equal(bad.status, 416)
    assert.equal(bad.headers.get('content-range'), `bytes */${photo.bytes}`)
  })

  void test('replacing an original: the old secret is 404, the new one serves new bytes', async () => {
    const p = fake.account.addPhoto({ title: 'to replace', bytes: 5000 })
    const oldUrl = originalUrl(p)
    const oldBytes = Buffer.from(await (await fetch(oldUrl)).arrayBuffer())
    fake.account.replaceOriginal(p.id, { format: 'png', bytes: Buffer.from('new content') })
    assert.equal((await fetch(oldUrl)).status, 404)
    const res = await fetch(originalUrl(p))
    assert.equal(res.headers.get('content-type'), 'image/png')
    const now = Buffer.from(await res.arrayBuffer())
    assert.equal(now.toString(), 'new content')
    assert.ok(!now.equals(oldBytes))
  })

  void test('video original: play URL redirects to a file named by Content-Disposition; formats differ', async () => {
    const formats = new Set<string>()
    for (const v of fake.account.photostream.map((id) => fake.account.requirePhoto(id)).filter((p) => p.media === 'video')) {
      const res = await fetch(playUrl(v))
      assert.equal(res.status, 200)
      assert.ok(res.redirected)
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="${v.id}.${v.videoFormat}"`)
      assert.equal((await res.arrayBuffer()).byteLength, v.bytes)
      formats.add(v.videoFormat ?? '')
    }
    assert.ok(formats.size >= 3, `several containers: ${[...formats].join(',')}`)
    const head = await fetch(playUrl(video), { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(Number(head.headers.get('content-length')), video.bytes)
    assert.equal(head.headers.get('content-disposition'), `attachment; filename="${video.id}.${video.videoFormat}"`)
    const manual = await fetch(playUrl(video), { redirect: 'manual' })
    assert.equal(manual.status, 302)
    assert.ok(manual.headers.get('location')?.startsWith(`${fake.origin}/media/video/${video.id}/`))
  })

  void test('videoOriginal404: play URLs 404 without both session cookies; transcodes still work', async () => {
    fake.faults.videoOriginal404 = true
    try {
      assert.equal((await fetch(playUrl(video))).status, 404)
      assert.equal((await fetch(playUrl(video), { headers: { Cookie: 'cookie_accid=1' } })).status, 404)
      const withCookies = await fetch(playUrl(video), { headers: { Cookie: 'foo=bar; cookie_accid=123; cookie_epass=abc' } })
      assert.equal(withCookies.status, 200)
      await withCookies.arrayBuffer()
      const sizes = await sdkFor(fake).flickr('flickr.photos.getSizes', { photo_id: video.id })
      for (const label of ['HD MP4', 'Site MP4']) {
        const s = sizes.sizes.size.find((x: { label: string }) => x.label === label)
        const res = await fetch(s.source)
        assert.equal(res.status, 200, label)
        assert.equal(res.headers.get('content-type'), 'video/mp4')
        assert.ok((await res.arrayBuffer()).byteLength > 0)
      }
    } finally {
      fake.faults.videoOriginal404 = false
    }
  })

  void test('every getSizes source and url_o resolves', async () => {
    const sizes = await sdkFor(fake).flickr('flickr.photos.getSizes', { photo_id: photo.id })
    for (const s of sizes.sizes.size) {
      const res = await fetch(s.source, { method: 'HEAD' })
      assert.equal(res.status, 200, s.label)
    }
  })

  void test('counts: media GET/HEAD/play, bytes sent, GETs open at once, per API method, reset', async () => {
    fake.resetCounts()
    await (await fetch(originalUrl(photo))).arrayBuffer()
    await fetch(originalUrl(photo), { method: 'HEAD' })
    await (await fetch(playUrl(video))).arrayBuffer()
    await sdkFor(fake).flickr('flickr.people.getPhotos', { user_id: 'me' })
    await sdkFor(fake).flickr('flickr.people.getPhotos', { user_id: 'me', page: '2' })
    assert.deepEqual(fake.counts(), {
      'media:GET': 2,
      'media:HEAD': 1,
      'media:play': 1,
      'media:bytes': photo.bytes + video.bytes,
      'media:peak': 1,
      'flickr.people.getPhotos': 2,
    })
    fake.resetCounts()
    assert.deepEqual(fake.counts(), {})
  })

  void test('truncateMedia: Content-Length promised, the connection closes early; the next request is whole', async () => {
    fake.faults.inject('truncateMedia', { count: 1, target: 'media' })
    const got = await new Promise<{ length: number; declared: number; aborted: boolean }>((resolve) => {
      const req = request(originalUrl(photo), (res) => {
        let length = 0
        res.on('data', (c: Buffer) => (length += c.length))
        res.on('error', () => undefined)
        res.on('close', () => resolve({ length, declared: Number(res.headers['content-length']), aborted: !res.complete }))
      })
      req.on('error', () => undefined)
      req.end()
    })
    assert.equal(got.declared, photo.bytes)
    assert.ok(got.aborted)
    assert.ok(got.length < photo.bytes)
    const whole = await fetch(originalUrl(photo))
    assert.equal((await whole.arrayBuffer()).byteLength, photo.bytes)
  })
})
