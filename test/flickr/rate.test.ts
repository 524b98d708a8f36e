import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { realClock } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

let fake: FakeFlickr
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 9, photos: 2, videos: 0, sets: 0 }) })
})
after(async () => {
  await fake.close()
})

void test('the limiter holds its rate in real time: 20 calls at 10/s with burst 5 take at least 1.4 s', async () => {
  const client = clientFor(fake, { clock: realClock, ratePerSec: 10, burst: 5, concurrency: 20 })
  const started = performance.now()
  await Promise.all(Array.from({ length: 20 }, () => client.call('flickr.test.login')))
  const elapsed = performance.now() - started
  assert.ok(elapsed >= 1400, `took ${Math.round(elapsed)} ms`)
  assert.ok(elapsed < 5000, `took ${Math.round(elapsed)} ms`)
  assert.equal(client.stats.apiCalls, 20)
})

void test('at most `concurrency` calls are in flight', async () => {
  fake.faults.apiLatencyMs = 100
  try {
    const client = clientFor(fake, { clock: realClock, concurrency: 2 })
    const started = performance.now()
    await Promise.all(Array.from({ length: 8 }, () => client.call('flickr.test.login')))
    const elapsed = performance.now() - started
    // 8 calls, 2 at a time, 100 ms each: at least 4 rounds.
    assert.ok(elapsed >= 390, `took ${Math.round(elapsed)} ms`)
  } finally {
    fake.faults.apiLatencyMs = 0
  }
})
