/**
 * `mount --background` waits honestly: it passes on what the child logs, keeps waiting while the
 * child reports progress (past FLICKRFS_BACKGROUND_WAIT_MS), says "still starting" — never
 * "failed" — for a child that is silent but alive (and that mount then comes up), and reports the
 * exit code and last lines of a child that gives up.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { MountLab } from '../support/mount-lab.js'
import { isMounted, fuseUnusableReason } from '../support/mounts.js'
import { waitUntil } from '../support/wait.js'
import { cliEnv, startFake } from '../pin/helpers.js'

void describe('mount --background waits while the child makes progress', () => {
  let lab: MountLab
  let skip: string | undefined
  const fakes: FakeFlickr[] = []

  before(async () => {
    skip = await fuseUnusableReason()
    lab = await MountLab.create('flickrfs-mount-bg-wait-')
  })
  after(async () => {
    await lab?.cleanup()
    for (const f of fakes) await f.close()
  })

  /** A fake of its own per test (each slows or revokes it), and the environment for it. */
  async function setup(name: string): Promise<{ fake: FakeFlickr; env: NodeJS.ProcessEnv }> {
    const fake = await startFake({ seed: 47, photos: 12, videos: 1, sets: 2, collections: 1, meanPhotoBytes: 8_000, meanVideoBytes: 20_000 })
    fakes.push(fake)
    const env = cliEnv(fake, await lab.mkdir(`config-${name}`), {
      XDG_RUNTIME_DIR: await lab.mkdir(`run-${name}`),
      // The child then reports its first catalog every second.
      FLICKRFS_BACKGROUND_WAIT_MS: '4000',
    })
    return { fake, env }
  }

  void test('a slow first catalog: the mount is up at once, shows photos as they are sized, and whole once the catalog is in', async (t) => {
    if (skip) return t.skip(skip)
    const { fake, env } = await setup('slow')
    const mnt = await lab.mkdir('slow')
    lab.track(mnt)
    // Each API answer takes 1.5 s: the login, the listings, then one comment list after another.
    fake.faults.apiLatencyMs = 1500
    try {
      const bg = await lab.cli(['mount', mnt, '--cache', await lab.mkdir('cache-slow'), '--background'], env)
      // What the fake had answered when the parent returned: not yet the comments, which come last.
      const served = fake.counts()
      assert.equal(bg.exit.code, 0, bg.err)
      assert.match(bg.out, /mounted at .* \(pid \d+\)/)
      // The child runs with glibc's mmap threshold fixed (util/malloc-env.ts, given by mount.ts): memory it frees goes back.
      const childPid = /\(pid (\d+)\)/.exec(bg.out)?.[1] as string
      const childEnv = (await readFile(`/proc/${childPid}/environ`, 'utf8')).split('\0')
      assert.ok(childEnv.includes('MALLOC_MMAP_THRESHOLD_=131072'), `the background mount's environment: ${childEnv.filter((v) => v.startsWith('MALLOC')).join(' ') || 'no MALLOC_ variable'}`)
      assert.match(bg.err, /flickrfs: \[background\] Fetching the catalog for the first time; the tree fills in as it comes/)
      assert.doesNotMatch(bg.err, /first catalog complete/, 'the parent did not wait for the whole catalog')
      assert.equal(served['flickr.photos.comments.getList'] ?? 0, 0, `the mount came up only once the comments were being fetched: ${JSON.stringify(served)}`)
      const a = fake.account
      const originals = a.photostream.length
      // The photos show once listed and sized, while comments are still coming in; each set once
      // all its members are listed, and Not in any set only once every set is.
      const partial = await waitUntil('the photos show', async () => (await readdir(join(mnt, 'photostream'))).filter((n) => !n.endsWith('.metadata') && n !== 'metadata').length === originals, 30_000)
      const top = await readdir(mnt)
      assert.ok(top.includes('photostream'), top.join(', '))
      if (!(await readFile(join(lab.dir, 'cache-slow', '.flickrfs', 'mount.log'), 'utf8')).includes('first catalog complete')) {
        const sets = top.filter((n) => n.startsWith('Set ')).length
        assert.ok(!top.includes('Not in any set') || sets === a.sets.length, `Not in any set waits for every set: ${top.join(', ')} after ${partial} ms`)
      }
      // Sets show one by one as their members come in: the whole catalog is every set and Not in any set.
      await waitUntil('the whole catalog', async () => (await readdir(mnt)).includes('Not in any set'), 60_000)
      assert.equal((await readdir(mnt)).filter((n) => n.startsWith('Set ')).length, a.sets.length)
      assert.equal(await isMounted(mnt), true)
    } finally {
      fake.faults.apiLatencyMs = 0
    }
    assert.equal((await lab.cli(['unmount', mnt], env)).exit.code, 0)
  })

  void test('a child that is silent longer than the wait: "still starting" (75), never failure, and it mounts later', async (t) => {
    if (skip) return t.skip(skip)
    const { fake, env } = await setup('silent')
    const mnt = await lab.mkdir('silent')
    lab.track(mnt)
    // API answers take 8 s until the parent gives up waiting: the child says nothing between its
    // first line and the answer to its login.
    fake.faults.apiLatencyMs = 8000
    let bg
    try {
      bg = await lab.cli(['mount', mnt, '--cache', await lab.mkdir('cache-silent'), '--background'], env)
    } finally {
      fake.faults.apiLatencyMs = 0
    }
    assert.equal(bg.exit.code, 75, bg.out + bg.err)
    assert.match(bg.err, /the background mount \(pid \d+\) is still starting but has said nothing for 4 s; it goes on by itself/)
    assert.doesNotMatch(bg.err, /fail|did not come up/i)
    await waitUntil('the background mount comes up after all', () => isMounted(mnt), 60_000)
    assert.equal((await lab.cli(['unmount', mnt], env)).exit.code, 0)
  })

  void test('a child that exits: its exit code and last lines, not a wait', async (t) => {
    if (skip) return t.skip(skip)
    const { fake, env } = await setup('refused')
    const mnt = await lab.mkdir('refused')
    fake.revokeToken(fake.credentials.oauthToken)
    const t0 = performance.now()
    const bg = await lab.cli(['mount', mnt, '--cache', await lab.mkdir('cache-refused'), '--background'], env)
    assert.equal(bg.exit.code !== 0, true, bg.out + bg.err)
    assert.ok(performance.now() - t0 < 20_000)
    assert.match(bg.err, /flickrfs: \[background\] .*revoked or expired/)
    assert.match(bg.err, /the background mount exited with code \d+ before it mounted \(its last lines are above\); see .*mount\.log/)
    assert.equal(await isMounted(mnt), false)
  })
})
