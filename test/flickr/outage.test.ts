/**
 * OutageWatch (src/flickr/outage.ts): when a request that cannot reach Flickr goes on trying past
 * its retries. The rule alone on a VirtualClock, then the media client against the fake Flickr
 * over HTTP with the fake closing every connection (faults.unreachable). The CLI's side is
 * test/cli/outage.test.ts.
 */
import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { lookup as dnsLookup } from 'node:dns'
import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { connect, type LookupFunction, type NetConnectOpts } from 'node:net'
import type { Duplex } from 'node:stream'
import { MediaClient, OutageWatch, VirtualClock } from '../../src/flickr/index.js'
import type { MediaAgents } from '../../src/flickr/media-http.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

const PATIENCE = 600_000

void test('an outage only after Flickr was reached, while nothing reaches it, for the patience from the last answer', () => {
  const clock = new VirtualClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const told: boolean[] = []
  watch.onChange((on) => told.push(on))
  const advance = async (ms: number): Promise<void> => clock.sleep(ms)
  // Nothing reached yet: a run that starts without a network keeps its retries only.
  assert.equal(watch.keepTrying(watch.now(), 'ECONNRESET'), false)
  return (async () => {
    watch.reached()
    await advance(1_000)
    const tried = watch.now()
    await advance(1_000)
    assert.equal(watch.keepTrying(tried, 'ECONNRESET'), true, 'nothing answered since the try began')
    assert.equal(watch.keepTrying(tried, 'ECONNRESET'), true)
    assert.deepEqual(told, [true], 'said once')
    // Another request got through during this one's try: this one's trouble is its own.
    const tried2 = watch.now()
    await advance(10)
    watch.reached()
    assert.deepEqual(told, [true, false], 'the end said when Flickr answers')
    assert.equal(watch.keepTrying(tried2, 'ECONNRESET'), false)
    // The patience counts from the last answer.
    await advance(PATIENCE - 1)
    assert.equal(watch.keepTrying(watch.now(), 'ECONNRESET'), true)
    await advance(1)
    assert.equal(watch.keepTrying(watch.now(), 'ECONNRESET'), false)
  })()
})

let fake: FakeFlickr
let photoUrls: string[]

before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 9, photos: 3, videos: 0, sets: 1, meanPhotoBytes: 5_000 }) })
  const stream = await clientFor(fake).getPhotostream(['url_o'])
  photoUrls = stream.map((p) => p.url_o).filter((u): u is string => typeof u === 'string')
  assert.equal(photoUrls.length, 3)
})
beforeEach(() => {
  fake.faults.clear()
  fake.resetCounts()
})
after(async () => fake.close())

/** A VirtualClock that ends the fake's outage after `sleeps` waits of the client. */
class OutageEndsAfter extends VirtualClock {
  constructor(private remaining: number) {
    super()
  }

  override async sleep(ms: number): Promise<void> {
    if (--this.remaining === 0) fake.faults.unreachable = false
    return super.sleep(ms)
  }
}

void test('the media client waits out an outage past its retries once it has reached Flickr, and says when it ends', async () => {
  const clock = new OutageEndsAfter(12)
  const watch = new OutageWatch(clock, PATIENCE)
  const told: boolean[] = []
  watch.onChange((on) => told.push(on))
  const media = new MediaClient({ clock, outage: watch, origins: [fake.origin], maxRetries: 5 })
  await (await media.get(photoUrls[0] as string)).body.cancel()
  fake.resetCounts()
  fake.faults.unreachable = true
  const answer = await media.get(photoUrls[1] as string)
  await answer.body.cancel()
  assert.equal(answer.status, 200)
  assert.ok((fake.counts().unreachable ?? 0) >= 12, `tries closed past the 5 retries: ${fake.counts().unreachable}`)
  assert.deepEqual(told, [true, false])
})

void test('without having reached Flickr, or past the patience, the media client fails as before', async () => {
  const clock = new VirtualClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const media = new MediaClient({ clock, outage: watch, origins: [fake.origin], maxRetries: 5 })
  fake.faults.unreachable = true
  await assert.rejects(media.get(photoUrls[0] as string), /ECONNRESET \(6 attempts\)/)
  fake.faults.unreachable = false
  await (await media.get(photoUrls[0] as string)).body.cancel()
  fake.resetCounts()
  fake.faults.unreachable = true
  await assert.rejects(media.get(photoUrls[2] as string), /ECONNRESET \(\d+ attempts\)/)
  const tries = fake.counts().unreachable ?? 0
  // Backoff capped at a minute: at least 10 minutes of waits, each under a minute.
  assert.ok(tries > 10, `tried through the patience (${tries})`)
  assert.ok(clock.now() >= PATIENCE, 'gave up only after the patience')
})

/** Agents whose name lookups fail with `code` (as getaddrinfo does with no DNS server) the first `failures` times. */
function agentsWithFailingLookup(code: string, failures: number): MediaAgents {
  let left = failures
  const lookup: LookupFunction = (host, opts, done) => {
    if (left-- > 0) return done(Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code, hostname: host }), '', 4)
    return dnsLookup(host, opts, done)
  }
  class Agent extends HttpAgent {
    override createConnection(options: ClientRequestArgs): Duplex {
      return connect({ ...options, lookup } as NetConnectOpts)
    }
  }
  return { http: new Agent(), https: new HttpsAgent() }
}

void test('a name lookup that fails for a moment (EAI_AGAIN: no DNS server) is retried like a lost connection', async () => {
  const origin = fake.origin.replace('127.0.0.1', 'localhost')
  const url = (photoUrls[0] as string).replace(fake.origin, origin)
  const media = new MediaClient({ clock: new VirtualClock(), origins: [origin], maxRetries: 5, agents: agentsWithFailingLookup('EAI_AGAIN', 3) })
  const answer = await media.get(url)
  await answer.body.cancel()
  assert.equal(answer.status, 200)
  assert.equal(media.stats.retries, 3)
})

void test("a lookup failing with one of Node's own ERR_ codes is not retried: no retry fixes it", async () => {
  const origin = fake.origin.replace('127.0.0.1', 'localhost')
  const url = (photoUrls[0] as string).replace(fake.origin, origin)
  const media = new MediaClient({ clock: new VirtualClock(), origins: [origin], maxRetries: 5, agents: agentsWithFailingLookup('ERR_INVALID_ARG_VALUE', 1) })
  await assert.rejects(media.get(url), /ERR_INVALID_ARG_VALUE/)
  assert.equal(media.stats.retries, 0)
})
