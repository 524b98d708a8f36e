/**
 * The symlink probe pin makes in DEST before anything else, and a DEST on a filesystem without symbolic links: a real exFAT (mkfs.exfat, mounted through
 * exfat-fuse on a loop device, as a USB backup drive is), where symlink(2) answers ENOSYS. pin
 * refuses it in one line before any download: a mirror's set folders are symlinks, and a pin
 * would otherwise download every original and fail at the first link, at every run.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { keepsCtime } from '../../src/pin/tree-check.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

const run = promisify(execFile)
const noStack = (s: string): void => assert.doesNotMatch(s, /\n\s+at |Error:/, `no stack trace: ${s}`)

void describe('pin to a filesystem without symbolic links (e2e, exFAT)', () => {
  let fake: FakeFlickr
  let work: string
  let mnt: string
  let loop = ''
  let unusable: string | undefined
  before(async () => {
    fake = await startFake({ seed: 54, photos: 6, videos: 0, sets: 2, collections: 1, meanPhotoBytes: 3_000 })
    work = await tempDir()
    mnt = join(work, 'exfat')
    await mkdir(mnt)
    const image = join(work, 'exfat.img')
    try {
      await writeFile(image, '')
      await truncate(image, 16 * 1024 * 1024)
      await run('mkfs.exfat', [image])
      loop = (await run('losetup', ['-f', '--show', image])).stdout.trim()
      await run('mount.exfat-fuse', [loop, mnt])
    } catch (err) {
      unusable = `no exFAT here (needs root, a loop device, mkfs.exfat from exfatprogs and mount.exfat-fuse from exfat-fuse): ${String(err).split('\n')[0]}`
    }
  })
  after(async () => {
    await fake.close()
    await run('umount', [mnt]).catch(() => undefined)
    if (loop !== '') await run('losetup', ['-d', loop]).catch(() => undefined)
    await removeDir(work)
  })

  for (const existing of [false, true]) {
    void it(`refuses ${existing ? 'an existing' : 'a new'} DEST there in one line, downloading nothing and leaving nothing behind`, async (t) => {
      if (unusable !== undefined) {
        t.skip(unusable)
        return
      }
      const dest = join(mnt, existing ? 'existing' : 'new')
      if (existing) await mkdir(dest)
      fake.resetCounts()
      const r = await runCli(['pin', dest], cliEnv(fake, join(work, 'config')))
      assert.equal(r.code, 1, r.stderr)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^flickrfs: DEST cannot hold symbolic links: .* \(ENOSYS; exFAT and FAT drives have none\).*Nothing was downloaded\.$/m)
      noStack(r.stderr)
      assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'no original downloaded')
      // The probe link is gone, and nothing else was made: not DEST, not its .flickrfs/.
      assert.deepEqual(await readdir(mnt), existing ? ['existing'] : [])
      if (existing) assert.deepEqual(await readdir(dest), [])
    })
  }
})

void describe('the symlink probe on a pinned DEST (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 55, photos: 6, videos: 0, sets: 2, collections: 1, meanPhotoBytes: 3_000 })
    work = await tempDir()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('leaves DEST as its tree record holds it: the next no-change pin is checked against the record, not walked whole', async (t) => {
    if (!keepsCtime(work)) {
      t.skip('the temp folder is on a filesystem whose ctime a user can set: no tree record is kept there')
      return
    }
    const dest = join(work, 'dest')
    const env = cliEnv(fake, join(work, 'config'), { DEBUG: 'flickrfs:pin' })
    assert.equal((await runCli(['pin', '-q', dest], env)).code, 0)
    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
    // A probe link made and removed in DEST itself moved DEST's mtime: "not as the last pin left it".
    assert.match(again.stderr, /tree check done at \d+ ms: as recorded/, again.stderr)
  })
})
