/**
 * Issue 10's row "a photostream answer without its photo array, while total still says 32", end to
 * end through `flickrfs pin`: the refresh fails, the previous catalog stays, status does not claim
 * an empty account is complete, and --delete-unknown deletes nothing. A later good run is exact.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, isApiBudgetFile, expectedTree, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('pin against a photostream listing that lost its array', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 43, photos: 30, videos: 2, sets: 4, collections: 1, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir('flickrfs-listing-')
    dest = join(work, 'dest')
    env = cliEnv(fake, join(work, 'config'))
    const first = await runCli(['pin', '-q', dest], env)
    assert.equal(first.code, 0, first.stderr)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void test('the refresh fails, nothing in or outside DEST changes, status still counts every item', async () => {
    const before = await snapshot(work, { withState: true })
    const beforeDest = await snapshot(dest)
    fake.faults.inject('dropList', { count: Infinity, target: 'flickr.people.getPhotos' })
    fake.resetCounts()
    const r = await runCli(['pin', '-q', '--delete-unknown', dest], env)
    assert.notEqual(r.code, 0, 'a listing that does not add up is a failed run')
    assert.match(r.stderr, /does not add up/)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(fake.counts()['flickr.people.getPhotos'], 3, 'read three times, then given up')

    // --delete-unknown deleted nothing: the tree is as it was, file for file.
    const afterDest = await snapshot(dest)
    assert.deepEqual(changedPaths(beforeDest, afterDest), [])
    // Nothing outside DEST changed either (the state folder may record the failed run, and the
    // key's shared API budget in the config folder records the calls it made).
    const outside = changedPaths(before, await snapshot(work, { withState: true }))
      .filter((p) => !p.slice(1).startsWith(join('dest', '.flickrfs')))
      .filter((p) => !/^.config$/.test(p) && !isApiBudgetFile(p))
    assert.deepEqual(outside, [])

    const status = await runCli(['status', dest], env)
    assert.doesNotMatch(status.stdout, /Items: 0\b/)
    assert.match(status.stdout, /Items: 32 \(30 photos, 2 videos\)/)
  })

  void test('a later good run leaves DEST exact and verify clean', async () => {
    fake.faults.clear()
    const r = await runCli(['pin', '-q', '--delete-unknown', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    assert.match(verify.stdout, /Verified 32 originals: 32 ok/)
  })
})
