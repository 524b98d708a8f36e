import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Semaphore, TokenBucket, VirtualClock } from '../../src/flickr/index.js'
import { backoffMs } from '../../src/flickr/retry.js'

void test('token bucket spends its burst at once, then refills at the rate', async () => {
  const clock = new VirtualClock()
  const bucket = new TokenBucket(2, 5, clock)
  const times: number[] = []
  await Promise.all(Array.from({ length: 11 }, async () => {
    await bucket.take()
    times.push(clock.now())
  }))
  assert.deepEqual(times.slice(0, 5), [0, 0, 0, 0, 0])
  // Six more at 2/s: the last one 3 s after the burst.
  assert.ok(Math.abs((times[10] ?? 0) - 3000) < 1, `last token at ${times[10]}`)
  for (let i = 6; i < 11; i++) assert.ok((times[i] ?? 0) > (times[i - 1] ?? 0))
})

void test('token bucket never holds more than its burst after a long idle', async () => {
  const clock = new VirtualClock()
  const bucket = new TokenBucket(1, 3, clock)
  await clock.sleep(3_600_000)
  const start = clock.now()
  for (let i = 0; i < 4; i++) await bucket.take()
  assert.ok(clock.now() - start >= 999, 'the fourth call had to wait for a refill')
})

void test('semaphore keeps at most N holders and serves waiters in order', async () => {
  const sem = new Semaphore(2)
  let active = 0
  let peak = 0
  const order: number[] = []
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const release = await sem.acquire()
    order.push(i)
    active++
    peak = Math.max(peak, active)
    await new Promise((r) => setTimeout(r, 5))
    active--
    release()
    release() // a second release must not free a second slot
  }))
  assert.equal(peak, 2)
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
})

void test('backoff is full jitter under an exponential cap', () => {
  const p = { baseDelayMs: 1000, maxDelayMs: 60_000 }
  assert.equal(backoffMs(0, { ...p, random: () => 0.999999 }), 999)
  assert.equal(backoffMs(3, { ...p, random: () => 0.5 }), 4000)
  assert.equal(backoffMs(20, { ...p, random: () => 0.5 }), 30_000)
  assert.equal(backoffMs(2, { ...p, random: () => 0 }), 0)
})

void test('Retry-After is read as seconds or a date, and capped', async () => {
  const { retryAfterMs } = await import('../../src/flickr/retry.js')
  const res = (v?: string) => new Response(null, { status: 429, headers: v === undefined ? {} : { 'retry-after': v } })
  assert.equal(retryAfterMs(res(), 60_000), undefined)
  assert.equal(retryAfterMs(res('7'), 60_000), 7000)
  assert.equal(retryAfterMs(res('7200'), 60_000), 60_000)
  assert.equal(retryAfterMs(res(new Date(1_000_000 + 5000).toUTCString()), 60_000, 1_000_000), 5000)
  assert.equal(retryAfterMs(res('soon'), 60_000), undefined)
})
