/**
 * Offline must mean offline, and unreachable is not deleted. With Flickr gone: `mount --offline`
 * of a pinned DEST serves everything; of a partial cache it serves the cached originals and the
 * whole listing, and an uncached read fails fast with EIO. Without --offline, the same holds when
 * Flickr refuses connections: listings come from the persisted catalog, and a failed refresh
 * keeps the tree. (A Flickr that never answers: mount-unreachable.test.ts.)
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, startFake } from '../pin/helpers.js'
import { findListing } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

void describe('mount without Flickr (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let dest: string
  let cache: string
  let cached: string[] = []
  let uncached: string[] = []

  before(async () => {
    fake = await startFake({ seed: 31, photos: 24, videos: 2, sets: 3, collections: 1, meanPhotoBytes: 20_000, meanVideoBytes: 50_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)

    // A partial cache: the catalog plus two originals read once through an online mount.
    cache = await lab.mkdir('cache')
    const mnt = await lab.mkdir('warm')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    const names = fake.account.photostream.map((id) => mediaName(fake.account, id))
    cached = names.slice(0, 2)
    uncached = names.slice(2)
    const warm = await run('sh', ['-c', cached.map((n) => `cat '${join(mnt, 'photostream', n)}' > /dev/null`).join(' && ')])
    assert.equal(warm.code, 0, warm.stderr)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
    await fake.close()
  })
  after(async () => {
    // Closed in `before` once the cache is warm; still open here only when `before` failed first.
    await fake?.close()
    await lab?.cleanup()
  })

  const cmpCached = async (mnt: string): Promise<void> => {
    for (const n of cached) {
      const r = await run('cmp', [join(mnt, 'photostream', n), join(dest, 'photostream', n)])
      assert.equal(r.code, 0, `${n}: ${r.stdout}${r.stderr}`)
    }
  }
  /** Reads an uncached original: it must fail with EIO, and within `withinMs`. */
  const readFailsFast = async (mnt: string, name: string, withinMs: number): Promise<number> => {
    const r = await run('cat', [join(mnt, 'photostream', name)], { timeoutMs: 90_000 })
    assert.notEqual(r.code, 0, 'an uncached original cannot be read without Flickr')
    assert.match(r.stderr, /Input\/output error/)
    assert.ok(r.ms < withinMs, `the failed read took ${Math.round(r.ms)} ms (limit ${withinMs})`)
    return r.ms
  }

  void it('--offline --cache DEST (pinned) serves every file and link, byte for byte', async () => {
    const mnt = await lab.mkdir('offline-dest')
    const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    // status and verify of the mountpoint read the mount's cache (the mount shows no .flickrfs).
    for (const cmd of ['status', 'verify']) {
      const r = await lab.cli([cmd, mnt], env)
      assert.equal(r.exit.code, 0, `${cmd}: ${r.out}${r.err}`)
      assert.ok(r.err.includes(`${mnt} is a mount (pid ${server.pid}); reading its cache, ${dest}\n`), `${cmd}: ${r.err}`)
      if (cmd === 'status') assert.ok(r.out.split('\n').includes(`Folder: ${dest}`), r.out)
    }
    // An offline mount has nothing to refresh from: `refresh` says so instead of reporting success.
    const refresh = await lab.cli(['refresh', mnt], env)
    assert.equal(refresh.exit.code, 2, refresh.err)
    assert.match(refresh.err, new RegExp(`^flickrfs: The mount at ${mnt} \\(pid ${server.pid}\\) serves ${dest} --offline: it has nothing to refresh from\\.`))
    assert.doesNotMatch(server.err, /refresh asked/)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })

  void it('--offline reading the catalog lazily (FLICKRFS_LAZY_CATALOG_FROM=0) serves every file and link byte for byte; by default a small one loads whole', async () => {
    const mnt = await lab.mkdir('offline-lazy')
    const traced = { ...env, DEBUG: 'flickrfs:catalog' }
    const server = await lab.mount(mnt, ['--cache', dest, '--offline'], { ...traced, FLICKRFS_LAZY_CATALOG_FROM: '0' })
    // Every sidecar's bytes come from its bucket on first read, its size from the listing pages.
    const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
    assert.match(server.err, /opened catalog \S+ lazily/)
    assert.doesNotMatch(server.err, /loaded catalog/)

    const whole = await lab.mount(mnt, ['--cache', dest, '--offline'], traced)
    assert.equal((await lab.stop(whole, mnt, 'SIGINT')).code, 0, whole.err)
    assert.match(whole.err, /loaded catalog/)
    assert.doesNotMatch(whole.err, /lazily/)
  })

  void it('--offline on a partial cache: full listing, cached originals read, an uncached read fails with EIO in < 5 s', async () => {
    const mnt = await lab.mkdir('offline-cache')
    const server = await lab.mount(mnt, ['--cache', cache, '--offline'], env)
    const got = await findListing(mnt)
    const want = await findListing(dest)
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    for (const n of uncached.slice(0, 3)) assert.equal(got.get(`photostream/${n}`)?.size, want.get(`photostream/${n}`)?.size, n)
    await cmpCached(mnt)
    await readFailsFast(mnt, uncached[0] ?? '', 5_000)
    // The mount is still healthy after the failure.
    assert.equal((await run('ls', [join(mnt, 'photostream')])).code, 0)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })

  void it('Flickr refusing connections (no --offline): listing from the persisted catalog, cached reads work, uncached fail fast, refresh keeps the tree', async () => {
    const mnt = await lab.mkdir('refused')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    const before = await findListing(mnt)
    assert.equal(before.size, (await findListing(dest)).size)
    // The refresh retries for ~20 s against a refused port; the reads below run meanwhile.
    const r = await lab.cli(['refresh', mnt], env)
    assert.equal(r.exit.code, 0, r.err)
    await cmpCached(mnt)
    await readFailsFast(mnt, uncached[1] ?? '', 5_000)
    assert.deepEqual(await findListing(mnt), before, 'the tree stays while the refresh fails')
    await waitUntil('the refresh has failed', () => Promise.resolve(/Refresh failed, still serving the last catalog/.test(server.err)), 30_000)
    assert.deepEqual(await findListing(mnt), before, 'unreachable is not deleted')
    assert.equal((await lab.stop(server, mnt, 'SIGTERM')).code, 0, server.err)
  })
})
