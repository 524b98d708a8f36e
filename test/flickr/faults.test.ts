import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { FlickrClient, VirtualClock } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor, closedOrigin, rejectsWith } from './helpers.js'

let fake: FakeFlickr
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 3, photos: 12, videos: 1, sets: 2 }) })
})
beforeEach(() => {
  fake.faults.clear()
  fake.resetCounts()
})
after(async () => {
  await fake.close()
})

for (const kind of ['http500', 'stat105', 'html200', 'throttle429'] as const) {
  void test(`${kind} is retried, re-signed, and the call recovers`, async () => {
    const clock = new VirtualClock()
    const client = clientFor(fake, { clock, random: () => 0.5 })
    fake.faults.inject(kind, { count: 3, target: 'flickr.test.login' })
    const me = await client.testLogin()
    assert.equal(me.id, fake.account.user.id)
    assert.equal(fake.counts()['flickr.test.login'], 4)
    assert.deepEqual(client.stats, { apiCalls: 4, retries: 3 })
    // Full jitter at 0.5 under caps 1 s, 2 s, 4 s.
    assert.deepEqual(clock.sleeps, [500, 1000, 2000])
  })
}

void test('a fault that outlasts the retries fails with a clear FLICKR_UNAVAILABLE naming the method', async () => {
  const client = clientFor(fake, { maxRetries: 2 })
  fake.faults.inject('http500', { count: 10, target: 'flickr.photosets.getList' })
  const err = await rejectsWith(client.getSetList(), 'FLICKR_UNAVAILABLE')
  assert.match(err.message, /flickr\.photosets\.getList failed \(3 attempts\) with HTTP 500/)
  assert.match(err.message, /Try again later/)
  assert.equal(fake.counts()['flickr.photosets.getList'], 3)

  fake.faults.clear()
  fake.faults.inject('throttle429', { count: 10, target: 'flickr.test.login' })
  // Without patience for "too many requests" (next test), a 429 is one more transient failure.
  const impatient = clientFor(fake, { maxRetries: 2, rateLimitPatienceMs: 0 })
  const err429 = await rejectsWith(impatient.testLogin(), 'FLICKR_UNAVAILABLE')
  assert.match(err429.message, /rate-limiting.*HTTP 429.*--api-rate/)

  fake.faults.clear()
  fake.faults.inject('html200', { count: 10, target: 'flickr.test.login' })
  const errHtml = await rejectsWith(client.testLogin(), 'FLICKR_UNAVAILABLE')
  assert.match(errHtml.message, /HTML page instead of JSON/)

  fake.faults.clear()
  fake.faults.inject('stat105', { count: 10, target: 'flickr.test.login' })
  const err105 = await rejectsWith(client.testLogin(), 'FLICKR_UNAVAILABLE')
  assert.match(err105.message, /error 105/)
})

void test('a storm of 429s is waited out past maxRetries, up to rateLimitPatienceMs from the first, and said once as it starts and ends', async () => {
  const clock = new VirtualClock()
  const client = clientFor(fake, { clock, random: () => 0.5, maxRetries: 2, rateLimitPatienceMs: 5 * 60_000 })
  const told: boolean[] = []
  client.onThrottled((on) => told.push(on))
  // Twelve 429s: far past 2 retries, well within 5 minutes of backoff (at most a minute apart).
  fake.faults.inject('throttle429', { count: 12, target: 'flickr.test.login' })
  const me = await client.testLogin()
  assert.equal(me.id, fake.account.user.id)
  assert.equal(fake.counts()['flickr.test.login'], 13)
  assert.deepEqual(told, [true, false])
  // Backoff doubles up to its 60 s cap (full jitter at 0.5), as for any retry.
  assert.deepEqual(clock.sleeps.slice(0, 8), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])

  // One that never ends: failed once the patience is spent, with the rate-limit message.
  told.length = 0
  fake.faults.clear()
  fake.resetCounts()
  fake.faults.inject('throttle429', { count: Infinity, target: 'flickr.test.login' })
  const start = clock.now()
  const err = await rejectsWith(client.testLogin(), 'FLICKR_UNAVAILABLE')
  assert.match(err.message, /rate-limiting this API key: flickr\.test\.login got HTTP 429 \(\d+ attempts\)/)
  assert.ok(clock.now() - start >= 5 * 60_000, `gave up after ${clock.now() - start} ms`)
  assert.ok(clock.now() - start < 5 * 60_000 + 61_000, `and not much later: ${clock.now() - start} ms`)
  assert.deepEqual(told, [true, false])
  // Other transient failures keep maxRetries.
  fake.faults.clear()
  fake.faults.inject('http500', { count: 10, target: 'flickr.test.login' })
  await rejectsWith(client.testLogin(), 'FLICKR_UNAVAILABLE')
  assert.deepEqual(told, [true, false], 'a 500 is no rate limit')
})

void test('an unreachable server gives NETWORK after retries', async () => {
  const origin = await closedOrigin()
  const client = new FlickrClient({ ...fake.credentials, apiOrigin: origin, clock: new VirtualClock(), maxRetries: 2 })
  const err = await rejectsWith(client.testLogin(), 'NETWORK')
  assert.match(err.message, /Could not reach http:\/\/127\.0\.0\.1:\d+ \(FLICKRFS_API_ORIGIN\) for flickr\.test\.login: ECONNREFUSED \(3 attempts\)/)
  assert.equal(client.stats.apiCalls, 3)
})

void test('a slow server gives TIMEOUT after retries, and a timeout once is survived', async () => {
  fake.faults.apiLatencyMs = 400
  const client = clientFor(fake, { timeoutMs: 100, maxRetries: 1 })
  const started = performance.now()
  const err = await rejectsWith(client.testLogin(), 'TIMEOUT')
  assert.ok(performance.now() - started < 2000, 'the timeout cut the wait short')
  assert.match(err.message, /did not answer flickr\.test\.login within 0\.1 s \(2 attempts\)/)

  // Slow for the first attempt only: the retry gets through.
  fake.faults.apiLatencyMs = 400
  const patient = clientFor(fake, { timeoutMs: 150 })
  const pending = patient.testLogin()
  setTimeout(() => { fake.faults.apiLatencyMs = 0 }, 50)
  assert.equal((await pending).id, fake.account.user.id)
  assert.ok(patient.stats.retries >= 1)
})

void test('error 98 (revoked token) is one clear line and is not retried', async () => {
  const revoked = await startFakeFlickr({ account: generateAccount({ seed: 4, photos: 2, videos: 0, sets: 0 }) })
  try {
    revoked.revokeToken(revoked.credentials.oauthToken)
    const client = clientFor(revoked)
    const err = await rejectsWith(client.testLogin(), 'AUTH_REVOKED')
    assert.equal(err.message, 'Your Flickr authorization was revoked or expired. Run `flickrfs login` again; where the token comes from FLICKR_OAUTH_TOKEN (the environment, an --env-file), put the new one from token.json there, since it wins over token.json.')
    assert.equal(client.stats.apiCalls, 1)
  } finally {
    await revoked.close()
  }
})

void test('error 100 (bad key) and 96 (bad signature) name what to check', async () => {
  const badKey = clientFor(fake, { apiKey: 'not-the-key' })
  const e100 = await rejectsWith(badKey.testLogin(), 'AUTH_BAD_KEY')
  assert.match(e100.message, /Flickr rejected the API key \(Invalid API Key.*\)\. Check FLICKR_API_KEY and FLICKR_API_SECRET/)
  assert.doesNotMatch(e100.message, /not-the-key/)

  const badSecret = clientFor(fake, { apiSecret: 'wrong-secret' })
  const e96 = await rejectsWith(badSecret.testLogin(), 'AUTH_FAILED')
  assert.match(e96.message, /signature.*error 96.*FLICKR_API_SECRET/)
  assert.equal(badSecret.stats.apiCalls, 1)
})

void test('any other stat fail is FLICKR_API with the method and the code', async () => {
  const err = await rejectsWith(clientFor(fake).getSizes('999999999'), 'FLICKR_API')
  assert.equal(err.message, 'Flickr call flickr.photos.getSizes failed with error 1: Photo not found.')
  const err112 = await rejectsWith(clientFor(fake).call('flickr.no.such.method'), 'FLICKR_API')
  assert.match(err112.message, /flickr\.no\.such\.method failed with error 112/)
})
