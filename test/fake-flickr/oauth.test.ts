import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { OAuth } from 'flickr-sdk'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { failureOf, httpStatusOf, sdkFor } from './sdk-client.js'

const REST = 'https://api.flickr.com/services/rest'

void describe('fake Flickr OAuth 1.0a', () => {
  let fake: FakeFlickr
  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ photos: 5, videos: 0, sets: 1, collections: 0 }) })
  })
  after(() => fake.close())

  /** A REST GET signed by flickr-sdk's own OAuth class, sent raw so a test can tamper with it. */
  function signedRest(params: Record<string, string>, o: { signUrl?: string; tokenSecret?: string; nonce?: string } = {}): URLSearchParams {
    const c = fake.credentials
    const oauth = new OAuth(c.apiKey, c.apiSecret)
    const all: Record<string, string> = {
      format: 'json',
      nojsoncallback: '1',
      ...oauth.params(),
      oauth_token: c.oauthToken,
      ...params,
    }
    if (o.nonce !== undefined) all.oauth_nonce = o.nonce
    all.oauth_signature = oauth.signature('GET', o.signUrl ?? REST, all, o.tokenSecret ?? c.oauthTokenSecret)
    return new URLSearchParams(all)
  }

  async function rawRest(q: URLSearchParams, init?: RequestInit): Promise<{ stat: string; code?: number }> {
    const res = await fetch(`${fake.origin}/services/rest?${q.toString()}`, init)
    assert.equal(res.status, 200)
    return (await res.json()) as { stat: string; code?: number }
  }

  void test('a whole oob login with flickr-sdk: request token, approve, access token that works', async () => {
    const { oauth } = sdkFor(fake, { oauthToken: false, oauthTokenSecret: false })
    const { requestToken, requestTokenSecret } = await oauth.request('oob')
    const page = await fetch(`${fake.origin}/services/oauth/authorize?oauth_token=${encodeURIComponent(requestToken)}&perms=read`)
    assert.equal(page.status, 200)
    const verifier = /(\d{3}-\d{3}-\d{3})/.exec(await page.text())?.[1]
    assert.ok(verifier, 'the authorize page shows a 9-digit verifier')
    const login = sdkFor(fake, { oauthToken: requestToken, oauthTokenSecret: requestTokenSecret })
    const access = await login.oauth.verify(verifier)
    assert.equal(access.nsid, fake.account.user.id)
    assert.equal(access.username, fake.account.user.username)
    assert.equal(access.fullname, 'Fake User')
    const me = await sdkFor(fake, { oauthToken: access.oauthToken, oauthTokenSecret: access.oauthTokenSecret }).flickr('flickr.test.login', {})
    assert.equal(me.user.id, fake.account.user.id)
    // A request token is good for one exchange only.
    assert.equal((await httpStatusOf(login.oauth.verify(verifier))).status, 401)
  })

  void test('a callback login: authorize redirects with oauth_token and oauth_verifier; approve() gives the same verifier', async () => {
    const { oauth } = sdkFor(fake, { oauthToken: false, oauthTokenSecret: false })
    const { requestToken, requestTokenSecret } = await oauth.request('http://127.0.0.1:9/callback?state=x')
    const verifier = fake.approve(requestToken)
    assert.match(verifier, /^\d{3}-\d{3}-\d{3}$/)
    const res = await fetch(`${fake.origin}/services/oauth/authorize?oauth_token=${encodeURIComponent(requestToken)}&perms=read`, { redirect: 'manual' })
    assert.equal(res.status, 302)
    const to = new URL(res.headers.get('location') ?? '')
    assert.equal(to.origin + to.pathname, 'http://127.0.0.1:9/callback')
    assert.equal(to.searchParams.get('state'), 'x')
    assert.equal(to.searchParams.get('oauth_token'), requestToken)
    assert.equal(to.searchParams.get('oauth_verifier'), verifier)
    const wrong = sdkFor(fake, { oauthToken: requestToken, oauthTokenSecret: requestTokenSecret })
    const bad = await httpStatusOf(wrong.oauth.verify('000-000-000'))
    assert.equal(bad.status, 401)
    assert.equal(bad.body, 'oauth_problem=verifier_invalid')
    const ok = await wrong.oauth.verify(verifier)
    assert.equal(ok.nsid, fake.account.user.id)
  })

  void test('OAuth endpoints answer 401 text/plain oauth_problem=… on bad signature, unknown token, reused nonce', async () => {
    const { oauth } = sdkFor(fake, { oauthToken: false, oauthTokenSecret: false })
    const forged = createForgedOAuth()
    const sig = await httpStatusOf(forged.request('oob'))
    assert.deepEqual(sig, { status: 401, body: 'oauth_problem=signature_invalid' })
    const unknown = sdkFor(fake, { oauthToken: '72157000000000000-0000000000000000', oauthTokenSecret: 'x' })
    assert.deepEqual(await httpStatusOf(unknown.oauth.verify('123-456-789')), { status: 401, body: 'oauth_problem=token_rejected' })
    // Replay one signed request_token call byte for byte.
    const c = fake.credentials
    const o = new OAuth(c.apiKey, c.apiSecret)
    const params: Record<string, string> = { oauth_callback: 'oob', ...o.params() }
    params.oauth_signature = o.signature('GET', 'https://www.flickr.com/services/oauth/request_token', params)
    const url = `${fake.origin}/services/oauth/request_token?${new URLSearchParams(params).toString()}`
    const first = await fetch(url)
    assert.equal(first.status, 200)
    assert.match(await first.text(), /^oauth_callback_confirmed=true&oauth_token=[^&]+&oauth_token_secret=/)
    const replay = await fetch(url)
    assert.equal(replay.status, 401)
    assert.equal(replay.headers.get('content-type'), 'text/plain;charset=UTF-8')
    assert.equal(await replay.text(), 'oauth_problem=nonce_used')
    assert.ok(oauth, 'sdk oauth service exists')
  })

  function createForgedOAuth() {
    const c = fake.credentials
    const fakeWithWrongSecret = { ...fake, credentials: { ...c, apiSecret: 'not-the-secret' } }
    return sdkFor(fakeWithWrongSecret, { oauthToken: false, oauthTokenSecret: false }).oauth
  }

  void test('REST: a raw request signed correctly passes; tampered, off-host or replayed ones get 96', async () => {
    assert.equal((await rawRest(signedRest({ method: 'flickr.test.login' }))).stat, 'ok')
    const tampered = signedRest({ method: 'flickr.test.login' })
    tampered.set('extras', 'url_o')
    assert.equal((await rawRest(tampered)).code, 96)
    // Signed over our own host instead of api.flickr.com: Flickr would reject it, so must we.
    assert.equal((await rawRest(signedRest({ method: 'flickr.test.login' }, { signUrl: `${fake.origin}/services/rest` }))).code, 96)
    assert.equal((await rawRest(signedRest({ method: 'flickr.test.login' }, { tokenSecret: 'wrong' }))).code, 96)
    const once = signedRest({ method: 'flickr.test.login' }, { nonce: 'fixed-nonce-123' })
    assert.equal((await rawRest(once)).stat, 'ok')
    assert.equal((await rawRest(once)).code, 96, 'a reused nonce is refused')
  })

  void test('a timestamp far from the server clock is refused: 401 timestamp_refused, REST 96', async () => {
    const c = fake.credentials
    const o = new OAuth(c.apiKey, c.apiSecret)
    const stale = String(Math.floor(Date.now() / 1000) - 2 * 3600)
    const params: Record<string, string> = { oauth_callback: 'oob', ...o.params(), oauth_timestamp: stale }
    params.oauth_signature = o.signature('GET', 'https://www.flickr.com/services/oauth/request_token', params)
    const res = await fetch(`${fake.origin}/services/oauth/request_token?${new URLSearchParams(params).toString()}`)
    assert.equal(res.status, 401)
    assert.equal(await res.text(), 'oauth_problem=timestamp_refused')
    const rest: Record<string, string> = { method: 'flickr.test.login', format: 'json', nojsoncallback: '1', ...o.params(), oauth_token: c.oauthToken, oauth_timestamp: stale }
    rest.oauth_signature = o.signature('GET', REST, rest, c.oauthTokenSecret)
    assert.equal((await rawRest(new URLSearchParams(rest))).code, 96)
  })

  void test('REST: bad consumer key is 100, unknown or revoked token is 98, no token is 99', async () => {
    const badKey = signedRest({ method: 'flickr.test.login' })
    badKey.set('oauth_consumer_key', 'nope')
    assert.equal((await rawRest(badKey)).code, 100)
    const unknown = signedRest({ method: 'flickr.test.login', oauth_token: 'nope' })
    assert.equal((await rawRest(unknown)).code, 98)
    const noToken = new URLSearchParams({ method: 'flickr.test.login', format: 'json', nojsoncallback: '1', api_key: fake.credentials.apiKey })
    assert.equal((await rawRest(noToken)).code, 99)

    const { oauth } = sdkFor(fake, { oauthToken: false, oauthTokenSecret: false })
    const rt = await oauth.request('oob')
    const access = await sdkFor(fake, { oauthToken: rt.requestToken, oauthTokenSecret: rt.requestTokenSecret }).oauth.verify(fake.approve(rt.requestToken))
    const client = sdkFor(fake, { oauthToken: access.oauthToken, oauthTokenSecret: access.oauthTokenSecret })
    assert.equal((await client.flickr('flickr.test.login', {})).stat, 'ok')
    fake.revokeToken(access.oauthToken)
    const revoked = await failureOf(client.flickr('flickr.test.login', {}))
    assert.deepEqual(revoked, { code: 98, message: 'Invalid auth token' })
    // A request token is not an access token.
    const rt2 = await oauth.request('oob')
    const early = await failureOf(sdkFor(fake, { oauthToken: rt2.requestToken, oauthTokenSecret: rt2.requestTokenSecret }).flickr('flickr.test.login', {}))
    assert.equal(early?.code, 98)
  })

  void test('POST: multipart (flickr-sdk write methods) and urlencoded bodies are verified like GET', async () => {
    const { flickr } = sdkFor(fake)
    const id = fake.account.photostream[0]!
    // setMeta is not served, so 112 (not 96) proves the multipart signature was accepted.
    const f = await failureOf(flickr('flickr.photos.setMeta', { photo_id: id, title: 't', description: 'd' }))
    assert.equal(f?.code, 112)
    const c = fake.credentials
    const o = new OAuth(c.apiKey, c.apiSecret)
    const params: Record<string, string> = { method: 'flickr.test.login', format: 'json', nojsoncallback: '1', ...o.params(), oauth_token: c.oauthToken }
    params.oauth_signature = o.signature('POST', REST, params, c.oauthTokenSecret)
    const res = await fetch(`${fake.origin}/services/rest`, { method: 'POST', body: new URLSearchParams(params) })
    assert.equal(((await res.json()) as { stat: string }).stat, 'ok')
    params.oauth_nonce = 'another'
    const res2 = await fetch(`${fake.origin}/services/rest`, { method: 'POST', body: new URLSearchParams(params) })
    assert.equal(((await res2.json()) as { code: number }).code, 96)
  })
})
