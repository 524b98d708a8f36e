/**
 * A network outage in the middle of a pin (src/flickr/outage.ts), through the real CLI against the
 * fake Flickr over HTTP: the fake closes every connection as it arrives while `unreachable` is on.
 * Flickr time runs at 100× (FLICKRFS_TIME_SCALE, as benches run it): the retries' half minute is
 * ~0.3 s here, the outage patience's 10 minutes 6 s.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

const SCALE = { FLICKRFS_TIME_SCALE: '100' }
/** The watch's line when the first answer after an outage lets the requests it held go on (their count). */
const WOKEN = /flickrfs:flickr:outage Flickr answered: (\d+) request\(s\) the outage held try again now/
const ON = /^flickrfs: Flickr cannot be reached \(.+\): the pin waits and tries again for up to 10 min; Ctrl-C stops it/
const OFF = 'flickrfs: Flickr can be reached again; the pin goes on.'

/** Resolves once the fake has answered `n` media GETs (polled: the test's own process serves them). */
async function mediaGets(fake: FakeFlickr, n: number): Promise<void> {
  while ((fake.counts()['media:GET'] ?? 0) < n) await delay(5)
}

void describe('a network outage during a pin', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 67, photos: 24, videos: 0, sets: 2, collections: 0, meanPhotoBytes: 8_000 })
    work = await tempDir('flickrfs-outage-')
  })
  after(async () => {
    await fake.close()
    await rm(work, { recursive: true, force: true })
  })

  void test('is waited out, said as it starts and ends, and the pin completes', async () => {
    fake.faults.mediaLatencyMs = 60
    fake.resetCounts()
    const dest = join(work, 'dest-waited')
    try {
      const run = runCli(['pin', '--concurrency', '4', dest], cliEnv(fake, join(work, 'config-waited'), { ...SCALE, DEBUG: 'flickrfs:flickr:outage' }))
      await mediaGets(fake, 4)
      fake.faults.unreachable = true
      // 150 s of Flickr time: five times the retries' half minute, a quarter of the patience.
      await delay(1_500)
      fake.faults.unreachable = false
      const r = await run
      assert.equal(r.code, 0, r.stderr)
      assert.ok((fake.counts().unreachable ?? 0) > 0, 'the outage met the pin')
      const lines = r.stderr.split('\n')
      const on = lines.findIndex((l) => ON.test(l))
      const off = lines.indexOf(OFF)
      assert.ok(on >= 0 && off > on, r.stderr)
      assert.equal(lines.filter((l) => ON.test(l)).length, 1, 'said once for the outage')
      // The first answer after the outage lets the other downloads it held go on at once, not each
      // at the end of its own backoff (up to a minute apart by then).
      const woken = lines.slice(on, off).filter((l) => WOKEN.test(l))
      assert.equal(woken.length, 1, r.stderr)
      assert.ok(Number(WOKEN.exec(woken[0] as string)?.[1]) >= 1, woken[0])
      assert.match(r.stdout, /^Pinned 24 items /m)
      const photostream = await readdir(join(dest, 'photostream'))
      for (const id of fake.account.photos.keys()) {
        assert.ok(photostream.some((n) => n.startsWith(`${id}.`) && !n.endsWith('.metadata')), `photo ${id} pinned`)
      }
    } finally {
      fake.faults.clear()
    }
  })

  void test('longer than the patience: the pin stops with the reason, and the next one goes on', async () => {
    fake.faults.mediaLatencyMs = 60
    fake.resetCounts()
    const dest = join(work, 'dest-gave-up')
    const env = cliEnv(fake, join(work, 'config-gave-up'), SCALE)
    try {
      const run = runCli(['pin', '--concurrency', '2', dest], env)
      await mediaGets(fake, 4)
      fake.faults.unreachable = true
      const r = await run
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(ON.source, 'm'))
      assert.match(r.stderr, /^flickrfs: Could not download .*: ECONNRESET \(\d+ attempts\)\. Check the network connection\.$/m)
      assert.doesNotMatch(r.stderr, /\n\s+at /)
    } finally {
      fake.faults.clear()
    }
    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stderr, '')
  })

  void test('a pin that never reached Flickr fails after its retries, without waiting for an outage to end', async () => {
    fake.faults.unreachable = true
    try {
      const r = await runCli(['pin', join(work, 'dest-offline')], cliEnv(fake, join(work, 'config-offline'), SCALE))
      assert.notEqual(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stderr, /cannot be reached/)
      assert.match(r.stderr, /^flickrfs: .*(ECONNRESET|socket hang up|fetch failed|connection)/im)
    } finally {
      fake.faults.clear()
    }
  })
})
