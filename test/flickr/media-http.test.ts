/**
 * The media client's own HTTP (node:http / node:https, media-http.ts) against the fake over real
 * sockets: connections kept alive and given back only when a body was read to its end, retries on
 * 5xx and 429, a body cut off, aborts before and after the answer, the headers deadline, and https.
 */
import { after, before, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MediaBodyError, MediaClient, MediaError, VirtualClock, type MediaClientOptions } from '../../src/flickr/index.js'
import { mediaAgents, type MediaAgents } from '../../src/flickr/media-http.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor, rejectsWith } from './helpers.js'
import { tempDir } from '../support/repo.js'

/** Sockets of `agents` in use and idle (kept alive), over every host. */
function sockets(agents: MediaAgents): { busy: number; free: number } {
  const count = (o: NodeJS.ReadOnlyDict<unknown[]>): number => Object.values(o).reduce((n, list) => n + (list?.length ?? 0), 0)
  const a = agents.http
  return { busy: count(a.sockets), free: count(a.freeSockets) }
}

/** Reads exactly `bytes` bytes and cancels, as the store does once everything announced is in. */
async function readAnnounced(body: ReadableStream<Uint8Array>, bytes: number): Promise<Buffer> {
  const reader = body.getReader()
  const chunks: Buffer[] = []
  let got = 0
  try {
    while (got < bytes) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(Buffer.from(value))
      got += value.byteLength
    }
  } finally {
    await reader.cancel()
  }
  return Buffer.concat(chunks)
}

async function drain(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks)
}

/** Waits until `cond` holds (socket bookkeeping settles a tick after a body ends), or fails. */
async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`still not ${what} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

void describe('media client over node:http', () => {
  let fake: FakeFlickr
  let photos: string[]
  let urls: Map<string, string>
  let agents: MediaAgents
  const client = (opts: MediaClientOptions = {}): MediaClient =>
    new MediaClient({ clock: new VirtualClock(), origins: [fake.origin], agents, ...opts })
  const urlOf = (id: string): string => urls.get(id) ?? assert.fail(`no url_o for ${id}`)
  const bytesOf = (id: string): Buffer => fake.account.originalBytes(id)

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 12, photos: 6, videos: 0, sets: 0, collections: 0, meanPhotoBytes: 200_000 }) })
    photos = [...fake.account.photostream]
    const stream = await clientFor(fake).getPhotostream(['url_o'])
    urls = new Map(stream.map((p) => [String(p.id), String(p.url_o)]))
  })
  beforeEach(() => {
    fake.faults.clear()
    fake.resetCounts()
    agents?.http.destroy()
    agents = mediaAgents({ maxSockets: 4 })
  })
  after(async () => {
    agents.http.destroy()
    await fake.close()
  })

  void test('a body read to its announced end gives its connection back, and the next GET goes over it', async () => {
    const [a = '', b = ''] = photos
    const m = client()
    const first = await m.get(urlOf(a), { start: 0 })
    assert.equal(first.status, 206)
    assert.ok((await readAnnounced(first.body, first.size)).equals(bytesOf(a)))
    await until(() => sockets(agents).free === 1 && sockets(agents).busy === 0, 'one idle connection')
    const idle = Object.values(agents.http.freeSockets).flat()[0]
    const second = await m.get(urlOf(b))
    assert.equal(sockets(agents).free, 0, 'the idle connection is in use again')
    assert.equal(Object.values(agents.http.sockets).flat()[0], idle, 'the same socket')
    assert.ok((await drain(second.body)).equals(bytesOf(b)))
    await until(() => sockets(agents).free === 1, 'back in the pool')
  })

  void test('a body cancelled half-way closes its connection (nothing half-read is ever reused)', async () => {
    const [a = '', b = ''] = photos
    const m = client()
    const got = await m.get(urlOf(a))
    const reader = got.body.getReader()
    const { value } = await reader.read()
    assert.ok(value !== undefined && value.byteLength < got.size)
    await reader.cancel()
    await until(() => sockets(agents).busy === 0, 'closed')
    assert.equal(sockets(agents).free, 0)
    // The client goes on with a fresh connection.
    assert.ok((await drain((await m.get(urlOf(b))).body)).equals(bytesOf(b)))
  })

  void test('5xx and 429 are retried on the same client until an answer; the budget runs out with the last status', async () => {
    const id = photos[1] ?? ''
    const m = client({ maxRetries: 3, random: () => 0 })
    fake.faults.inject('http500', { count: 1, target: 'media' })
    fake.faults.inject('throttle429', { count: 2, target: 'media' })
    const got = await m.get(urlOf(id))
    assert.ok((await drain(got.body)).equals(bytesOf(id)))
    assert.equal(m.stats.retries, 3)
    assert.equal(fake.counts()['media:GET'], 4)
    fake.faults.inject('throttle429', { count: 10, target: 'media' })
    const err = await rejectsWith(client({ maxRetries: 2, random: () => 0 }).get(urlOf(id)), 'MEDIA')
    assert.ok(err instanceof MediaError && !err.permanent)
    assert.match(err.message, /rate-limiting downloads: .* HTTP 429 \(3 attempts\)/)
  })

  void test('a body cut off mid-way fails with a transient error after the bytes that came, and the next GET works', async () => {
    const id = photos[2] ?? ''
    fake.faults.inject('truncateMedia', { count: 1, target: 'media' })
    const m = client()
    const got = await m.get(urlOf(id))
    const seen: Buffer[] = []
    const err = await (async () => {
      try {
        for await (const c of got.body) seen.push(Buffer.from(c))
        return undefined
      } catch (e) {
        return e
      }
    })()
    assert.ok(err instanceof Error, `the body must fail, got ${String(err)}`)
    assert.ok(!(err instanceof MediaBodyError && err.permanent), 'a cut is worth a resume')
    const part = Buffer.concat(seen)
    assert.ok(part.length > 0 && part.length < got.size)
    assert.ok(part.equals(bytesOf(id).subarray(0, part.length)), 'what came is the start of the file')
    const rest = await m.get(urlOf(id), { start: part.length })
    assert.equal(rest.status, 206)
    assert.ok(Buffer.concat([part, await drain(rest.body)]).equals(bytesOf(id)))
  })

  void test('an abort before the answer stops the request at once; one after it stops the body', async () => {
    const id = photos[3] ?? ''
    fake.faults.mediaLatencyMs = 2000
    const ac = new AbortController()
    const started = performance.now()
    setTimeout(() => ac.abort(new Error('stop now')), 50)
    await assert.rejects(client().get(urlOf(id), { signal: ac.signal }), /stop now/)
    assert.ok(performance.now() - started < 1000, 'not after the server answered')
    await until(() => sockets(agents).busy === 0, 'closed')
    fake.faults.mediaLatencyMs = 0
    const got = await client().get(urlOf(id))
    await got.body.cancel(new Error('enough'))
    await until(() => sockets(agents).busy === 0, 'closed')
  })

  void test('no answer within the headers deadline is a TIMEOUT, retried, and leaves no connection behind', async () => {
    const id = photos[4] ?? ''
    fake.faults.mediaLatencyMs = 1000
    const m = client({ headersTimeoutMs: 100, maxRetries: 1 })
    const err = await rejectsWith(m.get(urlOf(id)), 'TIMEOUT')
    assert.match(err.message, /within 0\.1 s \(2 attempts\)/)
    assert.equal(m.stats.requests, 2)
    await until(() => sockets(agents).busy === 0, 'closed')
  })

  void test('https: the same client over TLS (a proxy in front of the fake with a certificate made here)', async (t) => {
    const dir = await tempDir('flickrfs-tls-')
    t.after(() => rm(dir, { recursive: true, force: true }))
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    try {
      await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
    } catch (err) {
      t.skip(`openssl cannot make a test certificate here: ${String(err)}`)
      return
    }
    const to = new URL(fake.origin)
    const proxy: HttpsServer = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers)
        upRes.pipe(res)
      })
      up.on('error', () => res.destroy())
      req.pipe(up)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const origin = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const tls = mediaAgents({ ca: await readFile(cert) })
    try {
      const id = photos[5] ?? ''
      const path = new URL(urlOf(id)).pathname
      const m = new MediaClient({ clock: new VirtualClock(), origins: [origin], agents: tls, maxRetries: 0 })
      const got = await m.get(origin + path, { start: 0 })
      assert.equal(got.size, bytesOf(id).length)
      assert.ok((await drain(got.body)).equals(bytesOf(id)))
      // A certificate nobody vouches for is refused (the shared agents know only the system's CAs).
      const untrusted = new MediaClient({ clock: new VirtualClock(), origins: [origin], maxRetries: 0 })
      const err = await untrusted.get(origin + path).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof MediaError, String(err))
      assert.doesNotMatch(err.message, /secret|BEGIN/)
    } finally {
      tls.https.destroy()
      proxy.closeAllConnections()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    }
  })
})
