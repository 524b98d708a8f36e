/**
 * A Flickr that accepts connections and never answers (a black hole: captive portal, dead proxy),
 * without --offline. Listings and cached originals must not wait for it, an uncached read must end
 * in an error rather than hang, and stopping the mount must not wait for a refresh stuck on it.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, expectedTree, mediaName, startFake } from '../pin/helpers.js'
import { sha256 } from '../support/files.js'
import { findListing } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

void describe('mount with a Flickr that never answers (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let cache: string
  let names: string[] = []
  let entries = 0
  let holes: Server | undefined
  let failedReadMs = NaN
  const sockets = new Set<Socket>()

  before(async () => {
    fake = await startFake({ seed: 37, photos: 16, videos: 1, sets: 2, collections: 1, meanPhotoBytes: 20_000, meanVideoBytes: 40_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    cache = await lab.mkdir('cache')
    const mnt = await lab.mkdir('warm')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    names = fake.account.photostream.map((id) => mediaName(fake.account, id))
    entries = expectedTree(fake.account).entries.size
    const warm = await run('sh', ['-c', names.slice(0, 2).map((n) => `cat '${join(mnt, 'photostream', n)}' > /dev/null`).join(' && ')])
    assert.equal(warm.code, 0, warm.stderr)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
    await fake.close()
    // The catalog's API origin and media URLs point at the fake's port: hold it with a black hole.
    holes = createServer((s) => {
      sockets.add(s)
      s.on('error', () => undefined)
    })
    await new Promise<void>((res, rej) => {
      holes?.once('error', rej)
      holes?.listen(Number(new URL(fake.origin).port), '127.0.0.1', () => res())
    })
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    holes?.close()
    // Closed in `before` once the cache is warm; still open here only when `before` failed first.
    await fake?.close()
    await lab?.cleanup()
  })

  void it('listing and cached reads are instant, an uncached read fails in bounded time, SIGTERM during a hung refresh exits at once', async () => {
    const mnt = await lab.mkdir('blackhole')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    const t0 = performance.now()
    assert.equal((await findListing(mnt)).size, entries)
    for (const n of names.slice(0, 2)) {
      const r = await run('sha256sum', [join(mnt, 'photostream', n)])
      assert.equal(r.stdout.split(' ')[0], sha256(fake.account.originalBytes(n.split('.')[0] ?? '')), n)
    }
    assert.ok(performance.now() - t0 < 5_000, 'listing and cached reads never wait for the network')
    // A refresh now hangs on the API (30 s timeout, 6 attempts: minutes) while the read waits on media.
    const refresh = await lab.cli(['refresh', mnt], env)
    assert.equal(refresh.exit.code, 0, refresh.err)
    // The media client gives up after its 10 s headers timeout and one retry (src/cli/mount.ts); the
    // kernel then retries the page read once more, so about 2 x 20 s; ETIMEDOUT or EIO, never a hang.
    const r = await run('cat', [join(mnt, 'photostream', names[5] ?? '')], { timeoutMs: 120_000 })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Input\/output error|Connection timed out/)
    assert.ok(r.ms > 1_000 && r.ms < 60_000, `the failed read took ${Math.round(r.ms)} ms`)
    failedReadMs = r.ms
    assert.equal((await findListing(mnt)).size, entries, 'the tree stays while the refresh hangs')
    // Stopping must not wait for the hung refresh to give up.
    const t1 = performance.now()
    server.child.kill('SIGTERM')
    // Past the mount's own 15 s stop deadline: a stop that hangs then says in which step.
    const exit = await server.wait(20_000)
    assert.deepEqual(exit, { code: 0, signal: null }, server.err)
    assert.ok(performance.now() - t1 < 8_000, `exit took ${Math.round(performance.now() - t1)} ms after SIGTERM`)
    assert.match(server.err, /Stopped while a refresh was still running/)
    assert.equal(await isMounted(mnt), false)
  })

  // Known bug (src/store or src/fs, not the service): the kernel sends READ @0 and a readahead READ
  // @128K; both fail together after one download's 2 x 10 s; the kernel then retries READ @0 alone,
  // and the store, keeping no memory of the failure, starts a second download: ~41 s in all.
  void it('an uncached read against a black hole fails after one download attempt (~20 s), not two', () => {
    assert.ok(failedReadMs < 30_000, `the failed read took ${Math.round(failedReadMs)} ms`)
  })
})
