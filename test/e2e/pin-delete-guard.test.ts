/**
 * `pin --delete-unknown` against a refresh that lost much of the account at once: it deletes nothing,
 * says what it would delete and exits non-zero; `--force` deletes. A plausible deletion goes through,
 * and the store forgets what was deleted, so `flickrfs verify` stays clean afterwards.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { exists } from '../support/files.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('pin --delete-unknown and mass deletions (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 83, photos: 60, videos: 0, sets: 3, collections: 0, meanPhotoBytes: 2_000 })
    work = await tempDir()
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    await fake?.close()
    await removeDir(work)
  })

  void it('one deleted photo goes, and verify is clean afterwards', async () => {
    const dest = join(work, 'one')
    assert.equal((await runCli(['pin', '-q', dest], env)).code, 0)
    const a = fake.account
    const id = a.photostream[0] ?? ''
    const name = mediaName(a, id)
    a.deletePhoto(id)
    const r = await runCli(['pin', '-q', '--delete-unknown', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await exists(join(dest, 'photostream', name)), false, 'original removed')
    const v = await runCli(['verify', dest], env)
    assert.equal(v.code, 0, v.stdout + v.stderr)
    assert.match(v.stdout, /Verified 59 originals: 59 ok, 0 missing/)
  })

  void it('a refresh that lost most photos at once deletes nothing without --force, and says what it would delete', async () => {
    const dest = join(work, 'mass')
    assert.equal((await runCli(['pin', '-q', dest], env)).code, 0)
    const before = await snapshot(dest)
    const a = fake.account
    const gone = a.photostream.slice(0, 20)
    const names = new Map(gone.map((id) => [id, mediaName(a, id)] as const))
    for (const id of gone) a.deletePhoto(id)

    const held = await runCli(['pin', '-q', '--delete-unknown', dest], env)
    assert.equal(held.code, 1, 'a held-back deletion is worth a cron mail')
    assert.match(held.stderr, /--delete-unknown held back: 20 of the \d+ photos in DEST \(\d+%\) vanished/)
    assert.match(held.stderr, /--delete-unknown --force/)
    assert.ok(held.stderr.includes(gone[0] ?? '-'), 'names what it would delete')
    for (const id of gone) assert.ok(await exists(join(dest, 'photostream', names.get(id) ?? '-')), `${id} kept`)
    const after = await snapshot(dest)
    for (const [path, entry] of before) {
      if (path.startsWith('photostream/') && !path.endsWith('.metadata') && path !== 'photostream/metadata') {
        assert.deepEqual(after.get(path), entry, `${path} untouched`)
      }
    }

    const forced = await runCli(['pin', '-q', '--delete-unknown', '--force', dest], env)
    assert.equal(forced.code, 0, forced.stderr)
    for (const id of gone) assert.equal(await exists(join(dest, 'photostream', names.get(id) ?? '-')), false, `${id} deleted with --force`)
    const v = await runCli(['verify', dest], env)
    assert.equal(v.code, 0, v.stdout + v.stderr)
  })
})
