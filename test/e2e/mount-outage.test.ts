/**
 * A fresh mount whose first catalog meets a network outage (src/flickr/outage.ts), through a real
 * FUSE mount against the fake Flickr over HTTP: the fake closes every connection as it arrives
 * while `unreachable` is on. Flickr time runs at 100× (FLICKRFS_TIME_SCALE) in a config folder of
 * its own (the shared limiter's file is kept in Flickr time): the retries' half minute is ~0.3 s
 * here, the outage patience's 10 minutes 6 s.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { waitUntil } from '../support/wait.js'
import { cliEnv, mediaName, startFake } from '../pin/helpers.js'

const ON = /^flickrfs: Flickr cannot be reached \(.+\): the catalog waits and tries again for up to 10 min; what the mount holds is served meanwhile\.$/m
const OFF = /^flickrfs: Flickr can be reached again; the catalog goes on\.$/m
const COMPLETE = /^flickrfs: first catalog complete/m
const FAILED = /The first catalog failed/

void describe("a network outage during a mount's first catalog", () => {
  let lab: MountLab
  let fake: FakeFlickr
  let skip: string | undefined

  before(async () => {
    skip = await fuseUnusableReason()
    lab = await MountLab.create('flickrfs-e2e-mount-outage-')
    fake = await startFake({ seed: 71, photos: 60, videos: 0, sets: 6, collections: 1, commentedFraction: 0.6, meanPhotoBytes: 4_000 })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('is said in the mount\'s log and waited out: the first catalog goes on when the network returns, without failing', async (t) => {
    if (skip) return t.skip(skip)
    const env = cliEnv(fake, await lab.mkdir('config'), {
      XDG_RUNTIME_DIR: await lab.mkdir('run'), XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), FLICKRFS_TIME_SCALE: '100',
    })
    const mnt = await lab.mkdir('mnt')
    // Each answer 150 ms late: the first catalog's calls and HEADs are still coming when the outage begins.
    fake.faults.apiLatencyMs = 150
    fake.faults.mediaLatencyMs = 150
    fake.resetCounts()
    try {
      const server = await lab.mount(mnt, ['--cache', await lab.mkdir('cache'), '--refresh', '0'], env, 60_000, { partial: true })
      await waitUntil('the first catalog asks Flickr', () => Promise.resolve((fake.counts()['flickr.people.getPhotos'] ?? 0) >= 1), 30_000)
      fake.faults.unreachable = true
      // 150 s of Flickr time: five times the retries' half minute, a quarter of the patience.
      await delay(1_500)
      fake.faults.unreachable = false
      await waitUntil('the first catalog ends', () => {
        if (server.exit) throw new Error(`the mount exited: ${server.err}`)
        return Promise.resolve(COMPLETE.test(server.err) || FAILED.test(server.err))
      }, 60_000)
      assert.ok((fake.counts().unreachable ?? 0) > 0, 'the outage met the first catalog')
      assert.doesNotMatch(server.err, FAILED)
      const on = server.err.search(ON)
      const off = server.err.search(OFF)
      assert.ok(on >= 0 && off > on && server.err.search(COMPLETE) > off, server.err)
      const shown = await readdir(join(mnt, 'photostream'))
      for (const id of fake.account.photostream) assert.ok(shown.includes(mediaName(fake.account, id)), `${id} shown`)
      await lab.stop(server, mnt)
    } finally {
      fake.faults.clear()
    }
  })
})
