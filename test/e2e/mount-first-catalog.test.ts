/**
 * A fresh mount fills in as its first catalog comes, through a real FUSE mount against the fake
 * with the real limiter slowed down (a small burst, then 1 call/s): photos first, then each set
 * whole (never part of its members), collections and `Not in any set/` only once every set is in,
 * and comments last, a sidecar gaining them (and a new mtime) while the sync still runs. The
 * complete catalog then changes nothing of what was shown.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { waitUntil } from '../support/wait.js'
import { cliEnv, expectedTree, mediaName, startFake } from '../pin/helpers.js'

/** What one look at the mount's top level saw, with how far the sync had come by then. */
interface Look {
  sets: number
  notInAnySet: boolean
  collections: number
  complete: boolean
}

void describe('a fresh mount fills in as its first catalog comes', () => {
  let lab: MountLab
  let fake: FakeFlickr
  let skip: string | undefined

  before(async () => {
    skip = await fuseUnusableReason()
    lab = await MountLab.create('flickrfs-e2e-first-catalog-')
    fake = await startFake({ seed: 61, photos: 23, videos: 1, sets: 4, collections: 1, commentedFraction: 0.5, meanPhotoBytes: 4_000, meanVideoBytes: 8_000 })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('shows each set whole before the sync ends, collections and Not in any set once all sets are in, and comments last with a new sidecar mtime', async (t) => {
    if (skip) return t.skip(skip)
    const a = fake.account
    const commented = a.commented()
    assert.ok(commented.length >= 6, `the account has ${commented.length} commented photos`)
    assert.ok(a.sets.length === 4 && a.collections.length === 1)
    const env = cliEnv(fake, await lab.mkdir('config'), {
      XDG_RUNTIME_DIR: await lab.mkdir('run'),
      // Login and the photostream from the burst; then every call waits its turn at 1/s, as at Flickr's rate past its burst.
      FLICKRFS_API_RATE: '1',
      FLICKRFS_API_BURST: '3',
    })
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', await lab.mkdir('cache'), '--refresh', '0', '--attr-timeout', '1s'], env, 60_000, { partial: true })
    const complete = (): boolean => /^flickrfs: first catalog complete/m.test(server.err)
    const want = expectedTree(a).entries
    const setDirs = [...want.keys()].filter((p) => p.startsWith('Set ') && !p.includes('/'))
    const collectionDirs = [...want.keys()].filter((p) => p.startsWith('Collection ') && !p.includes('/'))
    // The third commented photo: its comments come a few seconds into the comments, well before the end.
    const watched = commented[2] as string
    const sidecar = join(mnt, 'photostream', `${mediaName(a, watched)}.metadata`)
    const lastUpdateMs = a.requirePhoto(watched).lastupdate * 1000

    const looks: Look[] = []
    let before: { json: Record<string, unknown>; mtimeMs: number } | undefined
    let gained: { comments: number; mtimeMs: number } | undefined
    let slowestLs = 0
    await waitUntil('the first catalog is complete', async () => {
      const done = complete()
      const t0 = performance.now()
      const top = await readdir(mnt)
      slowestLs = Math.max(slowestLs, performance.now() - t0)
      const look: Look = {
        sets: top.filter((n) => n.startsWith('Set ')).length,
        notInAnySet: top.includes('Not in any set'),
        collections: top.filter((n) => n.startsWith('Collection ')).length,
        complete: done,
      }
      looks.push(look)
      if (!done) {
        // Each set shown has every member it has on Flickr, numbered as in the whole tree.
        for (const d of top.filter((n) => n.startsWith('Set '))) {
          const shown = (await readdir(join(mnt, d))).map((n) => `${d}/${n}`).sort()
          const whole = [...want.keys()].filter((p) => p.startsWith(`${d}/`)).sort()
          assert.deepEqual(shown, whole, `${d} is shown whole before the sync ends`)
        }
        if (look.sets > 0 && before === undefined) {
          before = { json: JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>, mtimeMs: (await stat(sidecar)).mtimeMs }
        } else if (before !== undefined && gained === undefined) {
          const json = JSON.parse(await readFile(sidecar, 'utf8')) as { comments?: unknown[] }
          if (json.comments !== undefined) gained = { comments: json.comments.length, mtimeMs: (await stat(sidecar)).mtimeMs }
        }
      }
      return done
    }, 120_000, 100)

    assert.ok(looks.some((l) => !l.complete && l.sets > 0), 'a set folder showed before the sync ended')
    for (const l of looks) {
      if (l.notInAnySet || l.collections > 0) assert.equal(l.sets, setDirs.length, `Not in any set and collections wait for every set: ${JSON.stringify(l)}`)
      if (l.sets > 0 && l.sets < setDirs.length) assert.equal(l.notInAnySet, false)
    }
    assert.ok(looks.some((l) => !l.complete && l.collections === collectionDirs.length), 'the collection showed before the sync ended')
    assert.ok(slowestLs < 1000, `a listing waited ${Math.round(slowestLs)} ms while API calls waited 1 s each`)

    // The watched sidecar had no comments when the sets came, a second before its final time.
    assert.ok(before !== undefined, 'the sidecar was read while the sync ran')
    assert.equal(before.json.comments, undefined, 'no comments yet when the sets came')
    assert.equal(before.mtimeMs, lastUpdateMs - 1000)

    // It gained them while the sync still ran, and its mtime moved to Flickr's time of the last edit then.
    assert.ok(gained !== undefined && gained.comments === a.requirePhoto(watched).comments.length, `comments before the end: ${JSON.stringify(gained)}`)
    assert.equal(gained.mtimeMs, lastUpdateMs)

    assert.match(server.err, /first catalog complete: 24 items, 4 sets, \d+ collections \(shown \d+ times? as it came in, \d+ ms of building\)/)
    // Once complete (and the kernel's 1 s attributes expired), the sidecar has its comments and its final time.
    await new Promise((res) => setTimeout(res, 1500))
    const after = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>
    assert.equal((after.comments as unknown[]).length, a.requirePhoto(watched).comments.length)
    assert.equal((await stat(sidecar)).mtimeMs, lastUpdateMs)
    await lab.stop(server, mnt)
  })
})
