/**
 * What Python clients of Flickr need from the fake, as Flickr answers them: OAuth in an
 * Authorization header (python flickrapi), checkToken in XML, an empty getNotInSet page past the
 * end and video redirects named like the original (the original flickrmirrorer). The last test runs
 * that tool itself, unmodified, when it and Debian's python3-flickrapi are on this machine.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { readdir, readFile, readlink, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateAccount, startFakeFlickr, type FakeFlickr, type FakePhoto } from '../../src/fake-flickr/index.js'
import { oauthHeaderParams } from '../../src/fake-flickr/request-params.js'
import { endpointOf, locateTool, mirrorerAccountOptions, runMirrorer } from '../../bench/flickrmirrorer.js'
import { tempDir } from '../support/repo.js'

/** RFC 3986 percent-encoding, written out again here so the test does not reuse the fake's. */
const pct = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** A POST to /services/rest/ as flickrapi makes it: call parameters in the query, OAuth in the header. */
async function headerSignedCall(fake: FakeFlickr, params: Record<string, string>, opts: { tamper?: boolean; token?: string } = {}): Promise<Response> {
  const c = fake.credentials
  const oauth: Record<string, string> = {
    oauth_nonce: randomBytes(12).toString('hex'),
    oauth_timestamp: String(Math.floor(Date.now() / 1000)),
    oauth_version: '1.0',
    oauth_signature_method: 'HMAC-SHA1',
    oauth_consumer_key: c.apiKey,
    oauth_token: opts.token ?? c.oauthToken,
  }
  const all = { ...params, ...oauth }
  const normalized = Object.keys(all).sort().map((k) => `${pct(k)}=${pct(all[k] ?? '')}`).join('&')
  const base = ['POST', 'https://api.flickr.com/services/rest/', normalized].map(pct).join('&')
  let signature = createHmac('sha1', `${pct(c.apiSecret)}&${pct(c.oauthTokenSecret)}`).update(base).digest('base64')
  // Another first character (a fixed 'A' left one signature in 64 untouched, and the call valid).
  if (opts.tamper === true) signature = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`
  const header = 'OAuth ' + Object.entries({ ...oauth, oauth_signature: signature }).map(([k, v]) => `${k}="${pct(v)}"`).join(', ')
  return fetch(`${fake.origin}/services/rest/?${new URLSearchParams(params).toString()}`, { method: 'POST', headers: { authorization: header } })
}

void describe('fake Flickr for Python clients', () => {
  let fake: FakeFlickr
  let video: FakePhoto

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 5, photos: 30, videos: 3, sets: 2, collections: 1 }), namedVideoPaths: true })
    video = fake.account.photostream.map((id) => fake.account.requirePhoto(id)).find((p) => p.media === 'video')!
  })
  after(() => fake.close())

  void test('the Authorization header: oauth_* parameters percent-decoded, realm and junk left out', () => {
    const got = oauthHeaderParams('OAuth realm="x", oauth_nonce="a%2Fb", oauth_token="72157-ab", other="1", oauth_bad=unquoted')
    assert.deepEqual([...got], [['oauth_nonce', 'a/b'], ['oauth_token', '72157-ab']])
    assert.equal(oauthHeaderParams('Basic Zm9vOmJhcg==').size, 0)
    assert.equal(oauthHeaderParams(undefined).size, 0)
  })

  void test('a call signed in the Authorization header over the canonical URL is answered; a bad signature is 96', async () => {
    const ok = await headerSignedCall(fake, { method: 'flickr.test.login', format: 'json', nojsoncallback: '1' })
    const body = (await ok.json()) as { stat: string; user?: { id: string } }
    assert.equal(body.stat, 'ok')
    assert.equal(body.user?.id, fake.account.user.id)
    const bad = (await (await headerSignedCall(fake, { method: 'flickr.test.login', format: 'json', nojsoncallback: '1' }, { tamper: true })).json()) as { code: number }
    assert.equal(bad.code, 96)
  })

  void test('checkToken answers in XML for format=rest (and without a format); a revoked token is err 98', async () => {
    const res = await headerSignedCall(fake, { method: 'flickr.auth.oauth.checkToken', format: 'rest', nojsoncallback: '1' })
    assert.match(res.headers.get('content-type') ?? '', /^text\/xml/)
    const xml = await res.text()
    assert.match(xml, /^<\?xml version="1.0" encoding="utf-8" \?>\n<rsp stat="ok">/)
    assert.match(xml, /<perms>read<\/perms>/)
    assert.ok(xml.includes(`<token>${fake.credentials.oauthToken}</token>`))
    assert.ok(xml.includes(`<user nsid="${fake.account.user.id}" username="${fake.account.user.username}" fullname="${fake.account.user.fullname}" />`))
    const noFormat = await (await headerSignedCall(fake, { method: 'flickr.photosets.getList' })).text()
    assert.match(noFormat, /<photosets [^>]*total="2"[^>]*>\n\t\t<photoset id="[^"]+"[^>]*>\n\t\t\t<title>[^<]+<\/title>/)
    const json = (await (await headerSignedCall(fake, { method: 'flickr.auth.oauth.checkToken', format: 'json', nojsoncallback: '1' })).json()) as { oauth: { perms: { _content: string } } }
    assert.equal(json.oauth.perms._content, 'read')
    const other = await startFakeFlickr({ account: generateAccount({ seed: 1, photos: 1, videos: 0 }) })
    try {
      other.revokeToken(other.credentials.oauthToken)
      const revoked = await (await headerSignedCall(other, { method: 'flickr.auth.oauth.checkToken', format: 'rest' })).text()
      assert.match(revoked, /<rsp stat="fail">\n\t<err code="98" msg="Invalid auth token" \/>/)
    } finally {
      await other.close()
    }
  })

  void test('getNotInSet past the end is an empty page; people.getPhotos past the end still repeats the last', async () => {
    const call = async (method: string, page: string): Promise<{ page: number; photo: Array<{ id: string }> }> => {
      const body = (await (await headerSignedCall(fake, { method, format: 'json', nojsoncallback: '1', per_page: '10', page })).json()) as { photos: { page: number; photo: Array<{ id: string }> } }
      return body.photos
    }
    const unfiled = fake.account.notInSet().length
    assert.ok(unfiled > 0 && unfiled <= 10, `setting: ${unfiled} items in no set`)
    assert.equal((await call('flickr.photos.getNotInSet', '1')).photo.length, unfiled)
    assert.deepEqual((await call('flickr.photos.getNotInSet', '2')).photo, [])
    const last = Math.ceil(fake.account.photostream.length / 10)
    assert.deepEqual((await call('flickr.people.getPhotos', String(last + 1))).photo, (await call('flickr.people.getPhotos', String(last))).photo)
  })

  void test('namedVideoPaths: the play URL redirects to <id>_<secret>.<fmt>, the same bytes as orig; a wrong name is 404', async () => {
    const play = `${fake.origin}/photos/${fake.account.user.id}/${video.id}/play/orig/${video.originalsecret}/`
    const hop = await fetch(play, { redirect: 'manual' })
    assert.equal(hop.status, 302)
    const to = new URL(hop.headers.get('location') ?? '')
    assert.equal(to.pathname, `/media/video/${video.id}/${video.originalsecret}/${video.id}_${video.originalsecret}.${video.videoFormat}`)
    const named = Buffer.from(await (await fetch(to)).arrayBuffer())
    const orig = Buffer.from(await (await fetch(`${fake.origin}/media/video/${video.id}/${video.originalsecret}/orig.${video.videoFormat}`)).arrayBuffer())
    assert.equal(named.length, video.bytes)
    assert.ok(named.equals(orig))
    const wrong = await fetch(`${fake.origin}/media/video/${video.id}/${video.originalsecret}/${video.id}_${video.secret}.${video.videoFormat}`)
    assert.equal(wrong.status, 404)
  })
})

void describe('the original flickrmirrorer against the fake', async () => {
  const tool = await locateTool()
  const skip = 'unavailable' in tool ? tool.unavailable : false

  void test('mirrors every original, album and collection; a second run downloads nothing', { skip, timeout: 120_000 }, async () => {
    if ('unavailable' in tool) return
    const fake = await startFakeFlickr({ account: generateAccount(mirrorerAccountOptions(40)), namedVideoPaths: true })
    const dest = await tempDir('flickrfs-test-mirrorer-')
    try {
      const first = await runMirrorer(tool, endpointOf(fake), dest)
      assert.equal(first.code, 0, first.stderr)
      const files = await readdir(join(dest, 'photostream'))
      for (const id of fake.account.photostream) {
        const p = fake.account.requirePhoto(id)
        const name = p.media === 'video' ? `${p.id}_${p.originalsecret}.${p.videoFormat}` : `${p.id}.${p.originalformat}`
        assert.ok(files.includes(name), `${name} is mirrored`)
        assert.ok((await readFile(join(dest, 'photostream', name))).equals(fake.account.originalBytes(id)), `${name} has the original's bytes`)
      }
      const albums = await readdir(join(dest, 'Albums'))
      assert.equal(albums.length, fake.account.sets.length)
      const unfiled = await readdir(join(dest, 'Not in any album'))
      assert.equal(unfiled.length, fake.account.notInSet().length)
      assert.match(await readlink(join(dest, 'Not in any album', unfiled[0] ?? '')), /^\.\.\/photostream\//)
      assert.equal((await readdir(join(dest, 'Collections'))).length, fake.account.collections.length)
      const counts = fake.counts()
      assert.equal(counts['media:GET'], fake.account.photostream.length)
      assert.equal(counts['flickr.auth.oauth.checkToken'], 1)

      fake.resetCounts()
      const again = await runMirrorer(tool, endpointOf(fake), dest)
      assert.equal(again.code, 0, again.stderr)
      const later = fake.counts()
      assert.equal((later['media:GET'] ?? 0) + (later['media:HEAD'] ?? 0) + (later['media:play'] ?? 0), 0, 'no media request on a no-change run')
    } finally {
      await fake.close()
      await rm(dest, { recursive: true, force: true })
    }
  })

  after(() => ('unavailable' in tool ? undefined : tool.cleanup()))
})
