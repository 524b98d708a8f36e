/**
 * An online mount of a big catalog reads it lazily (FLICKRFS_LAZY_CATALOG_FROM=0 makes this small
 * one count as big): it serves the saved tree without loading every record; a refresh that finds
 * nothing to change keeps it so; a refresh with a small change merges it without loading the
 * catalog (catalog/lazy-merge.ts) and serves it, a deletion too (the photo changed last among
 * them); one the merge does not take (a full listing, after an item that failed) loads the
 * catalog whole, serves the change, and lets the records go again; a full listing otherwise is
 * merged too (catalog/full-merge.ts). Each step is checked by what
 * the mount serves (diff -r against a pin of the same account) and by the catalog's own debug lines.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, dirName, mediaName, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

/** How many times `pattern` occurs in `text`. */
const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, 'g'))?.length ?? 0

void describe('mount reading a big catalog lazily, online (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 43, photos: 30, videos: 2, sets: 4, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 20_000, meanVideoBytes: 50_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  /** A fresh pin of the account as it is now: what the mount must serve. `failed`: items that cannot be had. */
  const pinNow = async (name: string, failed = 0): Promise<string> => {
    const dest = join(lab.dir, name)
    const pinned = await lab.cli(['pin', '-q', dest], env)
    if (failed === 0) assert.equal(pinned.exit.code, 0, pinned.err)
    else assert.match(pinned.err, new RegExp(`^${failed} item\\(s\\) failed; everything else is done`, 'm'), pinned.err)
    return dest
  }
  const sameTree = async (mnt: string, dest: string): Promise<void> => {
    const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest], { timeoutMs: 60_000 })
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
  }

  void it('serves the catalog lazily, keeps it so through a refresh of no change and ones that merge a change and deletions, and loads it only for what a merge does not take', async () => {
    const cache = await pinNow('cache')
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0', '--full-listing-every', '7d', '--attr-timeout', '1s'],
      { ...env, DEBUG: 'flickrfs:catalog', FLICKRFS_LAZY_CATALOG_FROM: '0' })
    const loads = (): number => count(server.err, /loaded catalog \S+: \d+ photos/)
    assert.match(server.err, /opened catalog \S+ lazily: 32 photos, 4 sets/)
    assert.equal(loads(), 0, server.err)
    await sameTree(mnt, cache)

    // Nothing changed: decided from the head and a few buckets, and the view follows the head saved again.
    const quiet = await lab.cli(['refresh', mnt], env)
    assert.equal(quiet.exit.code, 0, quiet.err)
    await waitUntil('the quiet refresh is done', () => Promise.resolve(/serving catalog \S+ lazily: the same content saved again/.test(server.err)), 30_000)
    assert.match(server.err, /quick refresh: nothing changed/)
    assert.equal(loads(), 0, `no whole load for a refresh of no change:\n${server.err}`)
    await sameTree(mnt, cache)

    // A change: merged into the stored catalog without loading it, and served.
    const a = fake.account
    const set = a.sets[0] ?? assert.fail('fixture has sets')
    const added = a.addPhoto({ title: 'added while lazily mounted', originalformat: 'png', bytes: 12_345 })
    a.addToSet(set.id, added.id)
    a.renameSet(set.id, 'Renamed while lazy')
    const asked = await lab.cli(['refresh', mnt], env)
    assert.equal(asked.exit.code, 0, asked.err)
    await waitUntil('the refreshed tree is served', async () => {
      const ls = await run('ls', ['-1', mnt])
      return ls.stdout.split('\n').includes(dirName('Set', set.id, 'Renamed while lazy'))
    }, 30_000)
    assert.match(server.err, /quick refresh: something to merge/)
    assert.match(server.err, /merged \d+ reported photos \(1 added, 0 changed\) and 0 deleted into \S+ without loading the catalog/)
    assert.equal(loads(), 0, server.err)
    // The new original is downloaded by its first read, and photostream/SHA256SUMS lists it once the
    // download is recorded. The kernel keeps a file's size for the attribute timeout (1 s): the
    // files whose size the change moved (photostream/metadata, SHA256SUMS) read whole once it has passed.
    const after = await pinNow('after-change')
    const sums = join('photostream', 'SHA256SUMS')
    assert.equal((await run('cat', [join(mnt, 'photostream', mediaName(a, added.id))])).code, 0)
    const want = await readFile(join(after, sums), 'utf8')
    await waitUntil('SHA256SUMS lists the new original', async () => (await readFile(join(mnt, sums), 'utf8')) === want, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await sameTree(mnt, after)

    // A deletion is found with a few calls and merged too.
    const gone = a.photostream[5] ?? assert.fail('fixture has photos')
    a.deletePhoto(gone)
    const deleted = await lab.cli(['refresh', mnt], env)
    assert.equal(deleted.exit.code, 0, deleted.err)
    await waitUntil('the deletion is served', async () => !(await run('ls', ['-1', join(mnt, 'photostream')])).stdout.includes(gone), 30_000)
    assert.match(server.err, /merged \d+ reported photos \(0 added, 0 changed\) and 1 deleted into \S+ without loading the catalog/)
    assert.equal(loads(), 0, server.err)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await sameTree(mnt, await pinNow('after-deletion'))

    // The photo changed last deleted alone: merged too (the marks keep its time).
    a.deletePhoto(added.id)
    const newest = await lab.cli(['refresh', mnt], env)
    assert.equal(newest.exit.code, 0, newest.err)
    await waitUntil('the second deletion is served', async () => !(await run('ls', ['-1', join(mnt, 'photostream')])).stdout.includes(added.id), 30_000)
    assert.equal(count(server.err, /merged \d+ reported photos \(0 added, 0 changed\) and 1 deleted into \S+ without loading the catalog/), 2, server.err)
    assert.equal(loads(), 0, server.err)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await sameTree(mnt, await pinNow('after-newest-deletion'))

    // A photo whose original cannot be had is merged and left out; the refresh after it lists the
    // photostream afresh (catalog/incremental.ts planFor's relist), and that listing is merged too
    // (catalog/full-merge.ts mergeRelisted: the photo kept as changed, resolved again): never a whole load.
    const broken = a.addPhoto({ title: 'no original to be had' })
    fake.faults.hostile[broken.id] = 'html200'
    const first = await lab.cli(['refresh', mnt], env)
    assert.equal(first.exit.code, 0, first.err)
    await waitUntil('the broken upload is merged', () => Promise.resolve(count(server.err, /merged \d+ reported photos/) === 4), 30_000)
    assert.equal(loads(), 0, server.err)
    const again = await lab.cli(['refresh', mnt], env)
    assert.equal(again.exit.code, 0, again.err)
    await waitUntil('the listing for it is merged', () => Promise.resolve(/merged 1 listed changed photos \(0 added, 0 changed\) and 0 deleted/.test(server.err)), 30_000)
    assert.match(server.err, /original of \S+ unavailable/)
    assert.equal(loads(), 0, server.err)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await sameTree(mnt, await pinNow('after-broken', 1))
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })

  void it('merges a full listing (view counts, an edit, a deletion) without loading the catalog, and serves it', async () => {
    const a = fake.account
    // No item that cannot be had (an earlier case may have left one, which the listing would count as changed too).
    for (const id of Object.keys(fake.faults.hostile)) {
      a.deletePhoto(id)
      delete fake.faults.hostile[id]
    }
    const cache = await pinNow('full-cache')
    const mnt = await lab.mkdir('mnt-full')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0', '--full-listing-every', '0', '--attr-timeout', '1s'],
      { ...env, DEBUG: 'flickrfs:catalog', FLICKRFS_LAZY_CATALOG_FROM: '0' })
    assert.match(server.err, /opened catalog \S+ lazily/)
    a.requirePhoto(a.photostream[2] ?? assert.fail('fixture has photos')).views += 3
    a.editPhoto(a.photostream[3] ?? assert.fail('fixture has photos'), { title: 'edited before a full listing' })
    const gone = a.photostream[4] ?? assert.fail('fixture has photos')
    a.deletePhoto(gone)
    const asked = await lab.cli(['refresh', mnt], env)
    assert.equal(asked.exit.code, 0, asked.err)
    await waitUntil('the full listing is merged', () => Promise.resolve(/merged \d+ listed changed photos \(0 added, 2 changed\) and 1 deleted/.test(server.err)), 30_000)
    assert.match(server.err, /full listing: \d+ photos listed, 2 of them changed or new, 1 deleted; merging/)
    assert.equal(count(server.err, /loaded catalog \S+: \d+ photos/), 0, server.err)
    await waitUntil('the deletion is served', async () => !(await run('ls', ['-1', join(mnt, 'photostream')])).stdout.includes(gone), 30_000)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await sameTree(mnt, await pinNow('after-full-listing'))
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })

  void it('serves a first catalog lazily once it is saved: the sync\'s snapshot is let go, and the tree is rebuilt over the saved catalog', async () => {
    const mnt = await lab.mkdir('mnt-first')
    const server = await lab.mount(mnt, ['--cache', await lab.mkdir('first-cache'), '--refresh', '0', '--attr-timeout', '1s'],
      { ...env, DEBUG: 'flickrfs:catalog,flickrfs:mount', FLICKRFS_LAZY_CATALOG_FROM: '0' }, 60_000, { partial: true })
    await waitUntil('the first catalog is complete', () => Promise.resolve(/^flickrfs: first catalog complete/m.test(server.err)), 60_000)
    assert.match(server.err, /let the loaded catalog go: serving \S+ lazily/)
    // From the listing pages its save packed, not read back beside the snapshot.
    assert.match(server.err, /serving \S+ lazily from the pages it saved: \d+ photos/)
    // Not the tree built over the snapshot before the save: that one would keep every record alive.
    assert.doesNotMatch(server.err, /tree already shows the saved catalog/)
    assert.match(server.err, /tree rebuilt: \d+ photos/)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    // SHA256SUMS lists what the mount has verified so far: this cache downloads as diff reads.
    const dest = await pinNow('first-pinned')
    const diff = await run('diff', ['-r', '-x', '.flickrfs', '-x', 'SHA256SUMS', mnt, dest], { timeoutMs: 60_000 })
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    assert.equal(count(server.err, /loaded catalog \S+: \d+ photos/), 0, server.err)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
  })
})
