/**
 * Issue 10 in the mount: a first mount of an account with an original that cannot be sized (an
 * `ftp:` URL) mounts without it and says why in its log; a read of an original whose server stalls
 * mid-body ends in an error within 30 s instead of hanging the reader.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, startFake } from '../pin/helpers.js'
import { sha256 } from '../support/files.js'
import { findListing } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

void describe('mount with hostile items (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 71, photos: 8, videos: 1, sets: 2, collections: 1, meanPhotoBytes: 40_000, meanVideoBytes: 60_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('a first mount leaves out the unsizable item and logs why; a stalled read fails within 30 s', async (t) => {
    const a = fake.account
    const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    const [unsizable = '', stalling = '', good = ''] = photos
    fake.faults.hostile = { [unsizable]: 'badScheme', [stalling]: 'stallMidBody' }
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', await lab.mkdir('cache'), '--refresh', '0'], env)

    const listing = await findListing(mnt)
    assert.equal(listing.has(`photostream/${mediaName(a, unsizable)}`), false, 'the unsizable item is left out')
    assert.equal(listing.has(`photostream/${mediaName(a, stalling)}`), true, 'the stalling item is listed (its HEAD is fine)')
    assert.match(server.err, new RegExp(`Left out 1 item[^\\n]*\\n(flickrfs:)?\\s+${unsizable}: [^\\n]*ftp:`), server.err)

    const ok = await run('sha256sum', [join(mnt, 'photostream', mediaName(a, good))])
    assert.equal(ok.stdout.split(' ')[0], sha256(a.originalBytes(good)))

    const r = await run('cat', [join(mnt, 'photostream', mediaName(a, stalling))], { timeoutMs: 120_000 })
    t.diagnostic(`stalled read: exit ${r.code} after ${Math.round(r.ms)} ms: ${r.stderr.trim()}`)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Input\/output error|Connection timed out/)
    assert.ok(r.ms < 30_000, `the stalled read took ${Math.round(r.ms)} ms`)

    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })
})
