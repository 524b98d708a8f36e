/**
 * OutageWatch (src/flickr/outage.ts): when a request that cannot reach Flickr goes on trying past
 * its retries. The rule alone on a VirtualClock, then the media client against the fake Flickr
 * over HTTP with the fake closing every connection (faults.unreachable). The CLI's side is
 * test/cli/outage.test.ts.
 */
import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { lookup as dnsLookup } from 'node:dns'
import { getEventListeners } from 'node:events'
import { Agent as HttpAgent, createServer, type ClientRequestArgs, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent as HttpsAgent } from 'node:https'
import { connect, type LookupFunction, type NetConnectOpts } from 'node:net'
import type { Duplex } from 'node:stream'
import { MediaClient, OutageWatch, realClock, VirtualClock, type Clock } from '../../src/flickr/index.js'
import type { MediaAgents } from '../../src/flickr/media-http.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { clientFor } from './helpers.js'

const PATIENCE = 600_000

/**
 * A clock whose sleeps end only when the test lets them go, or when their signal aborts: which
 * request tries again when is the test's to say, with no real waiting and no race. Every reading
 * of the time is a new millisecond, so two events never share one.
 */
class HeldClock implements Clock {
  #t = 0
  /** The sleeps not yet ended, in the order they began. */
  readonly pending = new Set<() => void>()

  now(): number {
    return ++this.#t
  }

  sleep(_ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(end)
        reject(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)))
      }
      const end = (): void => {
        this.pending.delete(end)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      if (signal?.aborted === true) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.add(end)
    })
  }

  /** Ends the sleep that began first. */
  releaseOne(): void {
    const [first] = this.pending
    assert.ok(first !== undefined, 'a sleep to end')
    first()
  }

  releaseAll(): void {
    for (const end of [...this.pending]) end()
  }

  #stopped = false

  /** Resolves once `n` sleeps are pending (polled between turns of the event loop), or once stopPolling is called. */
  async sleeping(n: number): Promise<void> {
    while (!this.#stopped && this.pending.size !== n) await new Promise((resolve) => setImmediate(resolve))
  }

  /** Ends every sleeping() still polling (one that lost a race). */
  stopPolling(): void {
    this.#stopped = true
  }
}

void test('a backoff the outage holds ends when something reaches Flickr; one after a try others got through during does not', async () => {
  const clock = new HeldClock()
  const watch = new OutageWatch(clock, PATIENCE)
  // Something reached Flickr after `since`: the request's own host failed while others answered.
  const since = watch.now()
  watch.reached()
  const own = watch.backoff(60_000, since)
  // Nothing did since: the outage holds this request.
  const held = watch.backoff(60_000, watch.now())
  assert.equal(clock.pending.size, 2)
  watch.reached()
  await held
  assert.equal(clock.pending.size, 1, 'the one whose host failed while others answered sleeps on')
  clock.releaseAll()
  await own
})

void test('a backoff the outage holds still ends at once when its signal aborts, and leaves nothing behind', async () => {
  const clock = new HeldClock()
  const watch = new OutageWatch(clock, PATIENCE)
  watch.reached()
  const stop = new AbortController()
  const held = watch.backoff(60_000, watch.now(), stop.signal)
  assert.equal(getEventListeners(stop.signal, 'abort').length, 1)
  stop.abort(new Error('Ctrl-C'))
  await assert.rejects(held, /Ctrl-C/)
  assert.equal(clock.pending.size, 0, 'no sleep left')
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'no listener left on the signal')
  // A later answer wakes nothing (the aborted one is gone), and an aborted signal rejects at once.
  watch.reached()
  await assert.rejects(watch.backoff(60_000, watch.now(), stop.signal), /Ctrl-C/)
  assert.equal(clock.pending.size, 0)
})

void test('woken or aborted, a real backoff of a minute leaves no timer behind', async () => {
  const watch = new OutageWatch(realClock, PATIENCE)
  watch.reached()
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  const held = watch.backoff(60_000, watch.now())
  assert.equal(timers(), before + 1)
  watch.reached()
  await held
  assert.equal(timers(), before, 'woken: its timer cleared')
  const stop = new AbortController()
  const aborted = watch.backoff(60_000, watch.now(), stop.signal)
  stop.abort(new Error('Ctrl-C'))
  await assert.rejects(aborted, /Ctrl-C/)
  assert.equal(timers(), before, 'aborted: its timer cleared')
})

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

void test('an answer to a try sent before the network went away says nothing of now: it ends no outage and frees no request', async () => {
  const clock = new VirtualClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const told: boolean[] = []
  watch.onChange((on) => told.push(on))
  watch.reached()
  await clock.sleep(1_000)
  // A download sent just before the network went away, still in flight.
  const inFlight = watch.now()
  await clock.sleep(10)
  // Another request fails its retries in the outage's first moments.
  const since = watch.now()
  await clock.sleep(10)
  assert.equal(watch.keepTrying(since, 'ECONNRESET'), true)
  // The download sent before is answered now: that was the network before the outage.
  watch.reached(inFlight)
  assert.deepEqual(told, [true], 'the outage is not over')
  assert.equal(watch.holds(since), true, 'the other request is still held')
  assert.equal(watch.reachedSince(since), false)
  // A try begun after it gets through: now Flickr can be reached.
  await clock.sleep(10)
  const later = watch.now()
  await clock.sleep(10)
  watch.reached(later)
  assert.deepEqual(told, [true, false])
  assert.equal(watch.holds(since), false)
  assert.equal(watch.reachedSince(since), true)
})

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

void test('when an outage ends, the requests it held go on as soon as one gets through, API calls with them', async () => {
  const clock = new HeldClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const told: boolean[] = []
  watch.onChange((on) => told.push(on))
  const media = new MediaClient({ clock, outage: watch, origins: [fake.origin], maxRetries: 2 })
  const api = clientFor(fake, { clock, outage: watch, maxRetries: 2 })
  await (await media.get(photoUrls[0] as string)).body.cancel()
  fake.faults.unreachable = true
  fake.resetCounts()
  const done: string[] = []
  const requests = [
    ...photoUrls.map(async (url) => {
      await (await media.get(url)).body.cancel()
      done.push('media')
    }),
    api.testLogin().then(() => done.push('api')),
  ]
  // Four tries each, past the retries: every backoff after the first is one the outage holds.
  for (let round = 0; round < 3; round++) {
    await clock.sleeping(4)
    clock.releaseAll()
  }
  await clock.sleeping(4)
  assert.ok((fake.counts().unreachable ?? 0) >= 16, `four tries each closed: ${fake.counts().unreachable}`)
  assert.deepEqual(told, [true])
  fake.faults.unreachable = false
  // One backoff ends; the first answer ends the others' at once, without their clock.
  clock.releaseOne()
  let settled = false
  const outcome = await Promise.race([
    Promise.all(requests).then(() => 'all went on'),
    (async () => {
      while (!settled && !(done.length >= 1 && clock.pending.size === 3)) await new Promise((resolve) => setImmediate(resolve))
      return 'the other three slept on'
    })(),
  ])
  settled = true
  assert.equal(outcome, 'all went on')
  assert.deepEqual(done.toSorted(), ['api', 'media', 'media', 'media'])
  assert.equal((fake.counts()['media:GET'] ?? 0) + (fake.counts()['flickr.test.login'] ?? 0), 4, 'each went on with one more try')
  assert.deepEqual(told, [true, false])
})

void test('a request the outage held past its retries has them anew once Flickr answers again', async () => {
  const clock = new HeldClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const media = new MediaClient({ clock, outage: watch, origins: [fake.origin], maxRetries: 2 })
  const api = clientFor(fake, { clock, outage: watch, maxRetries: 2 })
  await (await media.get(photoUrls[0] as string)).body.cancel()
  fake.faults.unreachable = true
  fake.resetCounts()
  const requests = [media.get(photoUrls[1] as string).then(async (res) => res.body.cancel()), api.testLogin()]
  // Four tries each, past the retries: the outage holds both.
  for (let round = 0; round < 3; round++) {
    await clock.sleeping(2)
    clock.releaseAll()
  }
  await clock.sleeping(2)
  // Flickr is back, but each one's first try after fails once (a connection the outage had closed, a
  // server error): with the retries spent while Flickr was away, that failure was final.
  fake.faults.unreachable = false
  fake.faults.inject('http500', { count: 1, target: 'flickr.test.login' })
  fake.faults.inject('http500', { count: 1, target: 'media' })
  let stop = false
  const releasing = (async () => {
    while (!stop) {
      clock.releaseAll()
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const outcome = await Promise.allSettled(requests)
  stop = true
  await releasing
  assert.deepEqual(outcome.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status)), ['fulfilled', 'fulfilled'])
  assert.equal(fake.faults.pending(), 0, 'each met its server error after the outage, and tried again')
})

void test('a download whose host fails at once while other downloads get through keeps its backoff', async () => {
  const clock = new HeldClock()
  const watch = new OutageWatch(clock, PATIENCE)
  const told: boolean[] = []
  watch.onChange((on) => told.push(on))
  const media = new MediaClient({ clock, outage: watch, origins: [fake.origin, 'http://127.0.0.1:1'], maxRetries: 2 })
  await (await media.get(photoUrls[0] as string)).body.cancel()
  // Port 1: refused at once, every time.
  const failing = media.get('http://127.0.0.1:1/photos/1.jpg')
  await clock.sleeping(1)
  // Another download gets through during each of its backoffs: no outage, and nothing wakes it.
  await (await media.get(photoUrls[1] as string)).body.cancel()
  assert.equal(clock.pending.size, 1, 'its first backoff goes on')
  clock.releaseAll()
  await clock.sleeping(1)
  await (await media.get(photoUrls[1] as string)).body.cancel()
  assert.equal(clock.pending.size, 1, 'its second backoff goes on')
  clock.releaseAll()
  const outcome = await Promise.race([failing.then(() => 'answered', (err: unknown) => err), clock.sleeping(1).then(() => 'tried on')])
  clock.stopPolling()
  assert.match(String(outcome), /ECONNREFUSED \(3 attempts\)/)
  assert.deepEqual(told, [], 'never taken for an outage')
})

/**
 * A media host on loopback: `/ok.jpg` answers a small JPEG, `/hang.jpg` never answers, and `/`
 * answers 404 unless `rootHangs` (the whole host silent, as when the network is gone).
 */
async function hangingHost(rootHangs: boolean): Promise<{ origin: string; close(): Promise<void> }> {
  const waiting: ServerResponse[] = []
  const server = createServer((req, res) => {
    if (req.url === '/ok.jpg') return void res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '3' }).end('abc')
    if (req.url === '/' && !rootHangs) return void res.writeHead(404).end()
    waiting.push(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const res of waiting) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

void test('a download that never answers while it is the last request in flight fails after its retries when its host answers', async () => {
  const host = await hangingHost(false)
  try {
    const clock = new VirtualClock()
    const watch = new OutageWatch(clock, PATIENCE)
    const told: boolean[] = []
    watch.onChange((on) => told.push(on))
    const media = new MediaClient({ clock, outage: watch, origins: [host.origin], maxRetries: 5, headersTimeoutMs: 100 })
    await (await media.get(`${host.origin}/ok.jpg`)).body.cancel()
    await assert.rejects(media.get(`${host.origin}/hang.jpg`), /No answer from .*hang\.jpg within 0\.1 s \(6 attempts\)/)
    assert.deepEqual(told, [], 'not taken for an outage')
  } finally {
    await host.close()
  }
})

void test('a download that never answers while its host does not answer either is waited out as an outage', async () => {
  const host = await hangingHost(true)
  try {
    const clock = new VirtualClock()
    const watch = new OutageWatch(clock, 120_000)
    const told: boolean[] = []
    watch.onChange((on) => told.push(on))
    const media = new MediaClient({ clock, outage: watch, origins: [host.origin], maxRetries: 5, headersTimeoutMs: 100 })
    await (await media.get(`${host.origin}/ok.jpg`)).body.cancel()
    const err = await media.get(`${host.origin}/hang.jpg`).then(() => undefined, (e: unknown) => e)
    assert.match(String(err), /No answer from .*hang\.jpg within 0\.1 s \((\d+) attempts\)/)
    assert.ok(Number(/\((\d+) attempts\)/.exec(String(err))?.[1]) > 6, 'tried on past its retries')
    assert.deepEqual(told, [true])
    assert.ok(clock.now() >= 120_000, 'for the patience')
  } finally {
    await host.close()
  }
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
