/**
 * The fake's hostile mode, seen over plain HTTP: each switch does to one item what faults.ts says,
 * and leaves every other item as faithful as before.
 */
import { after, before, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { generateAccount, LIE_BYTES, LONG_FORMAT, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { sdkFor } from './sdk-client.js'

interface Raw {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** The body did not end (we stopped waiting). */
  open: boolean
}

/** A raw HTTP/1.1 request that gives up waiting for the body after `waitMs` (the socket is then dropped). */
function raw(url: string, opts: { method?: string; range?: string; waitMs?: number } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {}
    if (opts.range !== undefined) headers.range = opts.range
    const req = request(url, { method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = []
      const done = (open: boolean): void => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), open })
      }
      const timer = setTimeout(() => {
        done(true)
        req.destroy()
      }, opts.waitMs ?? 2000)
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => done(false))
      res.on('error', () => done(true))
      res.on('aborted', () => done(true))
    })
    req.on('error', (err) => reject(err))
    req.end()
  })
}

void describe('fake Flickr hostile items', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  let ids: string[]
  const urlOf = (id: string): string => {
    const p = fake.account.requirePhoto(id)
    return `${fake.origin}/media/${p.server}/${p.id}_${p.originalsecret}_o.${p.originalformat}`
  }
  const listed = async (): Promise<Array<Record<string, string>>> =>
    ((await flickr('flickr.people.getPhotos', { user_id: 'me', extras: 'url_o,original_format', per_page: '500' })).photos.photo) as Array<Record<string, string>>

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 21, photos: 12, videos: 1, sets: 1, collections: 0, meanPhotoBytes: 20_000 }) })
    flickr = sdkFor(fake).flickr
    ids = fake.account.photostream.filter((id) => fake.account.requirePhoto(id).media === 'photo')
  })
  beforeEach(() => fake.faults.clear())
  after(() => fake.close())

  void test('http500 and html200 hit only the hostile item, every time', async () => {
    const [a = '', b = '', c = ''] = ids
    fake.faults.hostile = { [a]: 'http500', [b]: 'html200' }
    for (let i = 0; i < 3; i++) {
      assert.equal((await raw(urlOf(a))).status, 500)
      const html = await raw(urlOf(b))
      assert.equal(html.status, 200)
      assert.match(String(html.headers['content-type']), /^text\/html/)
      assert.match(html.body.toString(), /<html/i)
    }
    const good = await raw(urlOf(c))
    assert.equal(good.status, 200)
    assert.ok(good.body.equals(fake.account.originalBytes(c)))
  })

  void test('badScheme, fileScheme, otherHost and longExt change the URL the API names (url_o and the Original size)', async () => {
    const [a = '', b = '', c = '', d = '', e = ''] = ids
    fake.faults.hostile = { [a]: 'badScheme', [b]: 'fileScheme', [c]: 'otherHost', [d]: 'longExt' }
    const byId = new Map((await listed()).map((p) => [p.id, p]))
    const port = new URL(fake.origin).port
    assert.match(byId.get(a)?.url_o ?? '', /^ftp:\/\/127\.0\.0\.1:\d+\/media\//)
    assert.equal(byId.get(b)?.url_o, 'file:///etc/passwd')
    assert.match(byId.get(c)?.url_o ?? '', new RegExp(`^http://localhost:${port}/media/`))
    assert.equal(byId.get(d)?.originalformat, LONG_FORMAT)
    assert.ok(byId.get(d)?.url_o?.endsWith(`.${LONG_FORMAT}`))
    assert.equal(byId.get(e)?.url_o, urlOf(e), 'other items untouched')
    const sizes = (await flickr('flickr.photos.getSizes', { photo_id: a })).sizes.size as Array<Record<string, string>>
    assert.match(sizes.find((s) => s.label === 'Original')?.source ?? '', /^ftp:/)
    // The long-format URL and the other-host URL both serve the real original.
    assert.ok((await raw(byId.get(d)?.url_o ?? '')).body.equals(fake.account.originalBytes(d)))
    assert.ok((await raw(byId.get(c)?.url_o ?? '')).body.equals(fake.account.originalBytes(c)))
  })

  void test('redirectLoop redirects to the same path again, forever', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: 'redirectLoop' }
    let url = urlOf(a)
    for (let i = 1; i <= 4; i++) {
      const r = await raw(url)
      assert.equal(r.status, 302)
      const next = new URL(String(r.headers.location))
      assert.equal(next.pathname, new URL(urlOf(a)).pathname)
      assert.equal(next.searchParams.get('hop'), String(i))
      url = next.href
    }
  })

  void test('ignoreRange answers a ranged GET with 200 and the whole file', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: 'ignoreRange' }
    const r = await raw(urlOf(a), { range: 'bytes=100-' })
    assert.equal(r.status, 200)
    assert.ok(r.body.equals(fake.account.originalBytes(a)))
  })

  void test('truncate closes each body after half of what it announced', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: 'truncate' }
    const size = fake.account.requirePhoto(a).bytes
    const r = await raw(urlOf(a))
    assert.equal(Number(r.headers['content-length']), size)
    assert.ok(r.open, 'the body breaks off')
    assert.ok(r.body.length <= Math.floor(size / 2), `${r.body.length} of ${size}`)
  })

  void test('contentLengthTooBig: HEAD and GET say more than the file has; the body stops at the real end and stays open', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: 'contentLengthTooBig' }
    const size = fake.account.requirePhoto(a).bytes
    const head = await raw(urlOf(a), { method: 'HEAD' })
    assert.equal(Number(head.headers['content-length']), size + LIE_BYTES)
    const get = await raw(urlOf(a), { waitMs: 500 })
    assert.equal(Number(get.headers['content-length']), size + LIE_BYTES)
    assert.ok(get.open)
    assert.ok(get.body.equals(fake.account.originalBytes(a)))
    const ranged = await raw(urlOf(a), { range: `bytes=${size}-`, waitMs: 300 })
    assert.equal(ranged.status, 206)
    assert.equal(ranged.headers['content-range'], `bytes ${size}-${size + LIE_BYTES - 1}/${size + LIE_BYTES}`)
    assert.equal(ranged.body.length, 0)
    assert.ok(ranged.open)
  })

  void test('contentLengthTooSmall: HEAD and a 200 say less than the file; a 206 states the true size', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: 'contentLengthTooSmall' }
    const size = fake.account.requirePhoto(a).bytes
    const head = await raw(urlOf(a), { method: 'HEAD' })
    assert.equal(Number(head.headers['content-length']), size - LIE_BYTES)
    const ranged = await raw(urlOf(a), { range: `bytes=${size - LIE_BYTES}-` })
    assert.equal(ranged.status, 206)
    assert.equal(ranged.headers['content-range'], `bytes ${size - LIE_BYTES}-${size - 1}/${size}`)
    assert.ok(ranged.body.equals(fake.account.originalBytes(a).subarray(size - LIE_BYTES)))
  })

  void test('stallMidBody sends up to the middle of the file, then nothing; trickle sends 64 bytes per 250 ms', async () => {
    const [a = '', b = ''] = ids
    fake.faults.hostile = { [a]: 'stallMidBody', [b]: 'trickle' }
    const size = fake.account.requirePhoto(a).bytes
    const stalled = await raw(urlOf(a), { waitMs: 600 })
    assert.equal(stalled.status, 200)
    assert.ok(stalled.open)
    assert.ok(stalled.body.equals(fake.account.originalBytes(a).subarray(0, Math.floor(size / 2))))
    const slow = await raw(urlOf(b), { waitMs: 1100 })
    assert.ok(slow.open)
    assert.ok(slow.body.length >= 64 && slow.body.length <= 64 * 6, `${slow.body.length} bytes in 1.1 s`)
  })

  void test('a list of behaviours combines them: ignoreRange with truncate restarts from 0 and breaks off every time', async () => {
    const [a = ''] = ids
    fake.faults.hostile = { [a]: ['ignoreRange', 'truncate'] }
    const size = fake.account.requirePhoto(a).bytes
    const r = await raw(urlOf(a), { range: `bytes=${Math.floor(size / 2)}-` })
    assert.equal(r.status, 200)
    assert.ok(r.open)
    assert.ok(r.body.equals(fake.account.originalBytes(a).subarray(0, r.body.length)))
  })
})

void describe('fake Flickr hostile listings', () => {
  let fake: FakeFlickr
  let flickr: ReturnType<typeof sdkFor>['flickr']
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 22, photos: 32, videos: 0, sets: 1, collections: 0 }) })
    flickr = sdkFor(fake).flickr
  })
  beforeEach(() => fake.faults.clear())
  after(() => fake.close())

  void test('dropList: the photostream comes without its photo array while total stays', async () => {
    fake.faults.inject('dropList', { count: 1, target: 'flickr.people.getPhotos' })
    const hit = (await flickr('flickr.people.getPhotos', { user_id: 'me' })).photos
    assert.equal(hit.total, 32)
    assert.equal('photo' in hit, false)
    assert.equal((await flickr('flickr.photosets.getList', { per_page: '10', page: '1' })).photosets.photoset.length, 1, 'other methods untouched')
    assert.equal((await flickr('flickr.people.getPhotos', { user_id: 'me' })).photos.photo.length, 32, 'a count of 1 hits once')
  })

  void test('endlessPages: pages 1000000000 and every page is page 1', async () => {
    fake.faults.inject('endlessPages', { count: Infinity, target: 'flickr.people.getPhotos' })
    const first = (await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '10', page: '1' })).photos
    const far = (await flickr('flickr.people.getPhotos', { user_id: 'me', per_page: '10', page: '77' })).photos
    assert.equal(first.pages, 1_000_000_000)
    assert.equal(far.pages, 1_000_000_000)
    assert.equal(far.page, 77)
    assert.equal(far.total, 32)
    assert.deepEqual(far.photo.map((p: { id: string }) => p.id), first.photo.map((p: { id: string }) => p.id))
  })
})
