/**
 * A mirror pinned with --ignore-photos (or --ignore-videos) is complete when everything asked for
 * is there: the summary says how many of the items were asked for, status exits 0, and verify does
 * not call the left-out kind "never downloaded". A damaged file is reported as damaged, not as
 * never downloaded either.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, removeDir, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('pin --ignore-photos, then status and verify', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 19, photos: 10, videos: 2, sets: 2, collections: 1 })
    work = await tempDir('flickrfs-ignore-')
    dest = join(work, 'dest')
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void test('a videos-only mirror is complete, and says how much of the account it holds', async () => {
    const pinned = await runCli(['pin', '--ignore-photos', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
    assert.match(pinned.stdout, /^Pinned 2 of 12 items \(10 photos left out by --ignore-photos\) into .*: 2 downloaded \(/m)

    const status = await runCli(['status', dest], env)
    assert.equal(status.code, 0, status.stdout + status.stderr)
    assert.match(status.stdout, /Originals stored: 2\/12 \(.*\); 10 photos left out by --ignore-photos\n/)
    assert.match(status.stdout, /Complete: yes \(videos only/)

    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    assert.match(verify.stdout, /Verified 2 originals: 2 ok, 0 missing, 0 wrong size, 0 wrong content; 10 photos left out by --ignore-photos\.\n/)
    assert.doesNotMatch(verify.stdout, /never downloaded/)

    const again = await runCli(['pin', '--ignore-photos', dest], env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^Checked 12 items, 2 sets: nothing changed \(10 photos left out by --ignore-photos\); \d+ API calls?, \d+:\d\d\.\n$/)
  })

  void test('a damaged original is reported as damaged, not as never downloaded', async () => {
    const video = fake.account.photostream.find((id) => fake.account.requirePhoto(id).media === 'video') ?? ''
    const file = join(dest, 'photostream', mediaName(fake.account, video))
    const bytes = await readFile(file)
    bytes[20] = (bytes[20] ?? 0) ^ 0xff
    await writeFile(file, bytes)

    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 1, verify.stdout)
    assert.match(verify.stdout, /hash-mismatch: .*photostream/)
    assert.match(verify.stdout, /1 ok, 0 missing, 0 wrong size, 1 wrong content/)
    assert.doesNotMatch(verify.stdout, /never downloaded/)
    assert.match(verify.stdout, /Run `flickrfs pin` on this folder to fetch them again/)
  })

  void test('a full pin afterwards makes the mirror complete without a qualifier', async () => {
    const pinned = await runCli(['pin', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
    assert.match(pinned.stdout, /^Pinned 12 items into .*: 11 downloaded/m)
    const status = await runCli(['status', dest], env)
    assert.equal(status.code, 0, status.stdout)
    assert.match(status.stdout, /Originals stored: 12\/12 \([^)]*\)\n/)
    assert.match(status.stdout, /Complete: yes\n/)
  })
})
