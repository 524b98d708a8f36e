/**
 * API calls over node:http (origin-transport.ts) instead of fetch: a compressed answer is decoded,
 * calls one after another share one kept-alive connection, and a redirect is followed, through a
 * real proxy in front of the fake.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createGzip } from 'node:zlib'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

let fake: FakeFlickr
let proxy: Server
let origin = ''
let connections = 0
let gzipped = 0

before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 41, photos: 30, videos: 0, sets: 2, collections: 0 }) })
  const to = new URL(fake.origin)
  // Gzips every answer the client accepts compressed; /moved/… redirects to the same path without the prefix.
  proxy = createServer((req, res) => {
    if (req.url?.startsWith('/moved/') === true) {
      res.writeHead(307, { location: req.url.slice('/moved'.length) }).end()
      return
    }
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, 'accept-encoding': 'identity' } }, (upRes) => {
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
      const headers = { ...upRes.headers }
      delete headers['content-length']
      if (gzip) {
        gzipped++
        res.writeHead(upRes.statusCode ?? 502, { ...headers, 'content-encoding': 'gzip' })
        upRes.pipe(createGzip()).pipe(res)
      } else {
        res.writeHead(upRes.statusCode ?? 502, headers)
        upRes.pipe(res)
      }
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  proxy.on('connection', () => connections++)
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
})
after(async () => {
  proxy.closeAllConnections()
  await new Promise<void>((resolve) => proxy.close(() => resolve()))
  await fake.close()
})

void test('compressed answers are decoded, and calls in a row share one connection', async () => {
  const direct = await clientFor(fake).getPhotostream(['url_o'])
  const viaProxy = clientFor(fake, { apiOrigin: origin })
  connections = 0
  gzipped = 0
  const first = await viaProxy.getPhotostream(['url_o'])
  const sets = await viaProxy.getSetList()
  const again = await viaProxy.getPhotostream(['url_o'])
  assert.deepEqual(first.map((p) => p.id), direct.map((p) => p.id))
  assert.deepEqual(again, first)
  assert.equal(sets.length, 2)
  assert.ok(gzipped >= 3, `the answers came gzipped (${gzipped})`)
  assert.equal(connections, 1, 'one kept-alive connection for calls one after another')
})

void test('a redirect is followed as fetch would', async () => {
  const viaRedirect = clientFor(fake, { apiOrigin: `${origin}/moved` })
  const login = await viaRedirect.testLogin()
  assert.equal(login.id, fake.account.user.id)
})
