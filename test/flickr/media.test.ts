import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { MediaClient, MediaHttpError, VirtualClock } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor, closedOrigin, rejectsWith } from './helpers.js'

let fake: FakeFlickr
let photoUrl: string
let photoId: string
let videoId: string
let videoPlayUrl: string

async function bytesOf(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks)
}

function media(opts: ConstructorParameters<typeof MediaClient>[0] = {}): MediaClient {
  return new MediaClient({ clock: new VirtualClock(), origins: [fake.origin], ...opts })
}

before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 5, photos: 4, videos: 2, sets: 1, meanPhotoBytes: 40_000, meanVideoBytes: 90_000 }) })
  const client = clientFor(fake)
  const stream = await client.getPhotostream(['url_o', 'media', 'original_format'])
  const photo = stream.find((p) => p.media === 'photo')
  const video = stream.find((p) => p.media === 'video')
  assert.ok(photo?.url_o && photo.id && video?.id)
  photoUrl = photo.url_o
  photoId = photo.id
  videoId = video.id
  const sizes = await client.getSizes(videoId)
  const orig = sizes.find((s) => s.label === 'Video Original')
  assert.ok(orig?.source)
  videoPlayUrl = orig.source
})
beforeEach(() => {
  fake.faults.clear()
})
after(async () => {
  await fake.close()
})

void test('head gives the exact size of an original; get streams it byte for byte', async () => {
  const expected = fake.account.originalBytes(photoId)
  const m = media()
  const head = await m.head(photoUrl)
  assert.equal(head.size, expected.length)
  assert.equal(head.finalUrl, photoUrl)
  const got = await m.get(photoUrl)
  assert.equal(got.status, 200)
  assert.equal(got.start, 0)
  assert.equal(got.size, expected.length)
  assert.ok((await bytesOf(got.body)).equals(expected))
})

void test('get with start resumes with a 206 and the rest of the bytes', async () => {
  const expected = fake.account.originalBytes(photoId)
  const start = Math.floor(expected.length / 3)
  const got = await media().get(photoUrl, { start })
  assert.equal(got.status, 206)
  assert.equal(got.start, start)
  assert.equal(got.size, expected.length)
  assert.ok((await bytesOf(got.body)).equals(expected.subarray(start)))
})

void test('a video play URL is followed through its redirect; the file name comes from Content-Disposition', async () => {
  const expected = fake.account.originalBytes(videoId)
  const head = await media().head(videoPlayUrl)
  assert.notEqual(head.finalUrl, videoPlayUrl)
  assert.match(head.filename ?? '', new RegExp(`^${videoId}\\.[a-z0-9]+$`))
  assert.equal(head.size, expected.length)
  const got = await media().get(videoPlayUrl)
  assert.equal(got.filename, head.filename)
  assert.ok((await bytesOf(got.body)).equals(expected))
})

void test('a 404 is not retried and carries its status; session cookies get past videoOriginal404', async () => {
  fake.faults.videoOriginal404 = true
  const m = media()
  const err = await rejectsWith(m.get(videoPlayUrl), 'MEDIA')
  assert.ok(err instanceof MediaHttpError)
  assert.equal(err.status, 404)
  assert.equal(m.stats.requests, 1)
  const ok = await m.head(videoPlayUrl, { cookies: 'cookie_accid=1; cookie_epass=2' })
  assert.equal(ok.size, fake.account.originalBytes(videoId).length)
})

void test('500 and 429 on media are retried and recover', async () => {
  const m = media({ random: () => 0.5 })
  fake.faults.inject('http500', { count: 2, target: 'media' })
  fake.faults.inject('throttle429', { count: 1, target: 'media' })
  const got = await m.get(photoUrl)
  assert.ok((await bytesOf(got.body)).equals(fake.account.originalBytes(photoId)))
  assert.equal(m.stats.retries, 3)
  fake.faults.inject('http500', { count: 10, target: 'media' })
  const err = await rejectsWith(media({ maxRetries: 1 }).head(photoUrl), 'MEDIA')
  assert.match(err.message, /HTTP 500.*\(2 attempts\)/)
})

void test('slow headers time out (TIMEOUT); an unreachable host is NETWORK', async () => {
  fake.faults.mediaLatencyMs = 500
  const err = await rejectsWith(media({ headersTimeoutMs: 100, maxRetries: 1 }).get(photoUrl), 'TIMEOUT')
  assert.match(err.message, /within 0\.1 s \(2 attempts\)/)
  fake.faults.mediaLatencyMs = 0
  const origin = await closedOrigin()
  const net = await rejectsWith(media({ maxRetries: 1, origins: [origin] }).get(`${origin}/media/x.jpg`), 'NETWORK')
  assert.match(net.message, /ECONNREFUSED/)
})

void test('the caller can abort a download', async () => {
  const ac = new AbortController()
  ac.abort(new Error('stop'))
  await assert.rejects(media().get(photoUrl, { signal: ac.signal }), /stop/)
})
