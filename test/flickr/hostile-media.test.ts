/**
 * The media client against the fake's hostile items (issue 10's table, the rows that live in the
 * client): what it refuses to fetch, how fast it gives up, and which failures it marks permanent.
 */
import { after, before, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MediaBodyError, MediaClient, MediaError, MediaUrlPolicy, VirtualClock, type MediaClientOptions } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

async function drain(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks)
}

/** Rejects with what `p` rejects with, or with 'still running' after `ms` (the hang the row is about). */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still running'>((resolve) => { timer = setTimeout(() => resolve('still running'), ms) })
  try {
    const r = await Promise.race([p.then(() => 'resolved' as const), late])
    return r
  } catch (err) {
    return err
  } finally {
    clearTimeout(timer)
  }
}

void describe('media client against hostile items', () => {
  let fake: FakeFlickr
  let photos: string[]
  let video = ''
  /** url_o of each photo as the API lists it now (hostile switches change it). */
  let listed: Map<string, string>
  const mediaGets = (): number => (fake.counts()['media:GET'] ?? 0) + (fake.counts()['media:HEAD'] ?? 0) + (fake.counts()['media:play'] ?? 0)
  const client = (opts: MediaClientOptions = {}): MediaClient =>
    new MediaClient({ clock: new VirtualClock(), origins: [fake.origin], maxRetries: 2, ...opts })
  const relist = async (): Promise<void> => {
    const stream = await clientFor(fake).getPhotostream(['url_o', 'media'])
    listed = new Map(stream.map((p) => [String(p.id), String(p.url_o)]))
  }
  const urlOf = (id: string): string => listed.get(id) ?? assert.fail(`no url_o for ${id}`)

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 31, photos: 14, videos: 1, sets: 1, collections: 0, meanPhotoBytes: 30_000, meanVideoBytes: 60_000 }) })
    photos = fake.account.photostream.filter((id) => fake.account.requirePhoto(id).media === 'photo')
    video = fake.account.photostream.find((id) => fake.account.requirePhoto(id).media === 'video') ?? ''
    await relist()
  })
  beforeEach(async () => {
    fake.faults.clear()
    fake.resetCounts()
    await relist()
  })
  after(() => fake.close())

  void test('row "HEAD or GET keeps failing (HTTP 500)": transient, retried within the budget, then a MediaError with permanent false', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'http500' }
    const m = client({ maxRetries: 3 })
    const err = await settleWithin(m.get(urlOf(id)), 5000)
    assert.ok(err instanceof MediaError, String(err))
    assert.equal(err.permanent, false)
    assert.equal(err.reason, 'http')
    assert.equal(fake.counts()['media:GET'], 4, 'first try and 3 retries')
  })

  void test('row "a file: or ftp: URL": refused before any request, never retried, permanent', async () => {
    const [a = '', b = ''] = photos
    fake.faults.hostile = { [a]: 'badScheme', [b]: 'fileScheme' }
    await relist()
    const m = client({ maxRetries: 5 })
    for (const id of [a, b]) {
      for (const call of [() => m.head(urlOf(id)), () => m.get(urlOf(id))]) {
        const err = await settleWithin(call(), 5000)
        assert.ok(err instanceof MediaError, String(err))
        assert.equal(err.reason, 'badUrl')
        assert.equal(err.permanent, true)
        assert.match(err.message, /only http: and https: URLs/)
      }
    }
    assert.equal(m.stats.retries, 0)
    assert.equal(mediaGets(), 0)
  })

  void test('row "a redirect loop": fails fast after a few hops, permanent, not retried', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'redirectLoop' }
    const m = client({ maxRetries: 5, maxRedirects: 4 })
    const err = await settleWithin(m.get(urlOf(id)), 5000)
    assert.ok(err instanceof MediaError, String(err))
    assert.equal(err.reason, 'redirects')
    assert.equal(err.permanent, true)
    assert.equal(fake.counts()['media:GET'], 5, 'the first request and 4 redirects, once')
  })

  void test('row "url_o on another host": refused without contacting it; a redirect to another host too', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'otherHost', [video]: 'otherHost' }
    await relist()
    assert.match(urlOf(id), /^http:\/\/localhost:/)
    const m = client()
    const err = await settleWithin(m.get(urlOf(id)), 5000)
    assert.ok(err instanceof MediaError, String(err))
    assert.equal(err.reason, 'otherHost')
    assert.equal(err.permanent, true)
    assert.equal(mediaGets(), 0, 'localhost was never asked')
    // A play URL on the allowed origin whose redirect leads to another host: the hop is refused.
    const sizes = await clientFor(fake).getSizes(video)
    const play = sizes.find((s) => s.label === 'Video Original')?.source ?? ''
    const viaRedirect = await settleWithin(m.head(play), 5000)
    assert.ok(viaRedirect instanceof MediaError, String(viaRedirect))
    assert.equal(viaRedirect.reason, 'otherHost')
    assert.equal(fake.counts()['media:play'], 1)
    assert.equal(fake.counts()['media:HEAD'] ?? 0, 0)
    // Without FLICKRFS_API_ORIGIN even the fake's own origin is not a Flickr host.
    const strict = await settleWithin(new MediaClient({ clock: new VirtualClock() }).head(urlOf(photos[1] ?? '')), 5000)
    assert.ok(strict instanceof MediaError && strict.reason === 'otherHost', String(strict))
  })

  void test('cookies go only to Flickr\'s web hosts (https) and to FLICKRFS_API_ORIGIN', () => {
    const policy = new MediaUrlPolicy(['http://127.0.0.1:8080'])
    const ok = (u: string): boolean => policy.cookiesAllowed(policy.check(u))
    assert.equal(ok('https://www.flickr.com/photos/x/1/play/orig/abc/'), true)
    assert.equal(ok('http://127.0.0.1:8080/photos/x/1/play/orig/abc/'), true)
    assert.equal(ok('http://www.flickr.com/photos/x/1/play/orig/abc/'), false, 'not in clear text')
    assert.equal(ok('https://live.staticflickr.com/65535/1_abc_o.jpg'), false, 'the CDN gets no session cookies')
    assert.throws(() => policy.check('https://www.flickr.com.evil.example/x'), MediaError)
    assert.throws(() => policy.check('http://127.0.0.1:8081/x'), MediaError)
    assert.throws(() => policy.check('https://user:pw@live.staticflickr.com/x'), MediaError)
    assert.equal(policy.check('https://farm66.staticflickr.com/65535/1_abc_o.jpg').hostname, 'farm66.staticflickr.com')
  })

  void test('row "media 200 with an HTML body": HEAD and GET fail (reason html), after the retry budget', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'html200' }
    const m = client({ maxRetries: 1 })
    for (const call of [() => m.head(urlOf(id)), () => m.get(urlOf(id))]) {
      const err = await settleWithin(call(), 5000)
      assert.ok(err instanceof MediaError, String(err))
      assert.equal(err.reason, 'html')
      assert.match(err.message, /HTML page/)
    }
  })

  void test('a request\'s `retries` (an item that failed last time) caps retries of bad answers, not of a throttling host', async () => {
    const id = photos[0] ?? ''
    const m = client({ maxRetries: 4 })
    fake.faults.hostile = { [id]: 'html200' }
    const heads = (): number => fake.counts()['media:HEAD'] ?? 0
    for (const [retries, asked] of [[undefined, 5], [1, 2], [0, 1]] as const) {
      fake.resetCounts()
      const err = await settleWithin(m.head(urlOf(id), retries === undefined ? {} : { retries }), 5000)
      assert.ok(err instanceof MediaError && err.reason === 'html', String(err))
      assert.equal(heads(), asked, `HEADs with retries ${retries}`)
    }
    fake.faults.hostile = { [id]: 'http500' }
    fake.resetCounts()
    const failed = await settleWithin(m.get(urlOf(id), { retries: 1 }), 5000)
    assert.ok(failed instanceof MediaError && failed.reason === 'http', String(failed))
    assert.equal(fake.counts()['media:GET'], 2, 'a 500 retried once')
    // 429 says the host throttles this client: the whole budget still applies.
    fake.faults.hostile = {}
    fake.resetCounts()
    fake.faults.inject('throttle429', { count: 3, target: 'media' })
    const got = await m.head(urlOf(id), { retries: 1 })
    assert.equal(got.size, fake.account.originalBytes(id).length)
    assert.equal(heads(), 4, 'three 429s, then the answer')
    // The 429s do not use up the bad answer's retry: two 429s, the HTML page, its one retry.
    fake.faults.hostile = { [id]: 'html200' }
    fake.resetCounts()
    fake.faults.inject('throttle429', { count: 2, target: 'media' })
    const html = await settleWithin(m.head(urlOf(id), { retries: 1 }), 5000)
    assert.ok(html instanceof MediaError && html.reason === 'html', String(html))
    assert.equal(heads(), 4, 'two 429s, the HTML page and one retry of it')
  })

  void test('row "stalls mid-body": the body fails after the idle deadline instead of hanging', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'stallMidBody' }
    const got = await client({ bodyIdleTimeoutMs: 300 }).get(urlOf(id))
    const started = performance.now()
    const err = await settleWithin(drain(got.body), 5000)
    assert.ok(err instanceof MediaBodyError, String(err))
    assert.equal(err.reason, 'stalled')
    assert.equal(err.code, 'TIMEOUT')
    assert.ok(performance.now() - started < 3000)
  })

  void test('row "Content-Length larger than the body": the body fails at the idle deadline, with every real byte delivered first', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'contentLengthTooBig' }
    const got = await client({ bodyIdleTimeoutMs: 300 }).get(urlOf(id))
    const seen: Buffer[] = []
    const err = await settleWithin((async () => {
      for await (const c of got.body) seen.push(Buffer.from(c))
    })(), 5000)
    assert.ok(err instanceof MediaBodyError, String(err))
    assert.equal(err.reason, 'stalled')
    assert.ok(Buffer.concat(seen).equals(fake.account.originalBytes(id)))
    assert.ok(got.size > fake.account.requirePhoto(id).bytes, 'the lie is what the server announced')
  })

  void test('a server that trickles fails the minimum rate', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'trickle' }
    const got = await client({ bodyIdleTimeoutMs: 2000, minBytesPerSec: 2048, rateWindowMs: 1000 }).get(urlOf(id))
    const err = await settleWithin(drain(got.body), 5000)
    assert.ok(err instanceof MediaBodyError, String(err))
    assert.equal(err.reason, 'stalled')
    assert.match(err.message, /too slowly/)
  })

  void test('a body that breaks off fails as before (the store resumes it): not a permanent error', async () => {
    const id = photos[0] ?? ''
    fake.faults.hostile = { [id]: 'truncate' }
    const got = await client().get(urlOf(id))
    const err = await settleWithin(drain(got.body), 5000)
    assert.ok(err instanceof Error && err !== null, String(err))
    assert.notEqual((err as { permanent?: boolean }).permanent, true)
  })

  void test('row "Content-Length lower than the real file": HEAD and GET agree on the short size; confirmSize finds the bytes past it', async () => {
    const [liar = '', honest = ''] = photos
    fake.faults.hostile = { [liar]: 'contentLengthTooSmall', [honest]: 'ignoreRange' }
    const m = client()
    const head = await m.head(urlOf(liar))
    const real = fake.account.requirePhoto(liar).bytes
    assert.ok(head.size < real, 'the lie itself: HEAD says less than the file has')
    const err = await settleWithin(m.confirmSize(urlOf(liar), head.size), 5000)
    assert.ok(err instanceof MediaError, String(err))
    assert.equal(err.reason, 'length')
    assert.equal(err.permanent, true)
    assert.match(err.message, new RegExp(`announced ${head.size} bytes .* longer \\(${real} bytes\\)`))
    // An honest server confirms, with a 416 or (ignoring Range) a 200 of the same size.
    const good = photos[2] ?? ''
    assert.equal(await m.confirmSize(urlOf(good), fake.account.requirePhoto(good).bytes), undefined)
    assert.equal(await m.confirmSize(urlOf(honest), fake.account.requirePhoto(honest).bytes), undefined)
    // A size below the real one is caught on an honest server too.
    await assert.rejects(m.confirmSize(urlOf(good), fake.account.requirePhoto(good).bytes - 10), MediaError)
  })

  void test('permanent and transient statuses: a 404 is permanent and asked once; a good item still downloads', async () => {
    const m = client({ maxRetries: 3 })
    const missing = urlOf(photos[0] ?? '').replace(/_o\./, '_z.')
    const err = await settleWithin(m.get(missing.replace(/\/media\/\d+\//, '/media/1/')), 5000)
    assert.ok(err instanceof MediaError, String(err))
    assert.equal(err.permanent, true)
    assert.equal(fake.counts()['media:GET'], 1)
    const good = photos[2] ?? ''
    const got = await m.get(urlOf(good))
    assert.ok((await drain(got.body)).equals(fake.account.originalBytes(good)))
  })
})
