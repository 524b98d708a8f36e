/**
 * GNU tar (--listed-incremental) archives a fresh online mount and an offline mount of a pinned
 * DEST; each extract is DEST byte for byte, and the second, incremental run archives no file: tar
 * dumps a file again only when its mtime or ctime is newer than the start of the run before, and
 * every file's times are its own content time, which does not move from run to run.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import { aroundFirstBackup, assertSameAsPin, backupLab, type BackupLab } from './backup-helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason(['tar'])

void describe('tar --listed-incremental of the mount (e2e)', { skip }, () => {
  let b: BackupLab
  before(async () => {
    b = await backupLab(53)
  })
  after(async () => {
    await b?.lab.cleanup()
    await b?.fake.close()
  })

  /** `tar -cv` of the mount into `archive`; the members it archived, directories left out. */
  const archive = async (mnt: string, archive: string, snar: string): Promise<string[]> => {
    const r = await run('tar', ['-C', mnt, '--listed-incremental', snar, '-cvf', archive, '.'], { timeoutMs: 60_000, env: b.clientEnv })
    // Exit 1 would mean "file changed as we read it": a failure here too.
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.split('\n').filter((l) => l !== '' && !l.endsWith('/'))
  }

  for (const which of ['offline', 'online'] as const) {
    void it(`from the ${which} mount: an extract equal to pin, and a second, incremental run that archives no unchanged file and completes it`, async () => {
      const mnt = b[which]
      const snar = join(b.lab.dir, `tar-${which}.snar`)
      const full = join(b.lab.dir, `tar-${which}-0.tar`)
      const changed = await aroundFirstBackup(mnt, async () => {
        const first = await archive(mnt, full, snar)
        assert.ok(first.some((m) => m.startsWith('./photostream/')), 'the first run archives the files')
      })

      const target = await b.lab.mkdir(`tar-extract-${which}`)
      const extract = async (archive: string): Promise<void> => {
        const x = await run('tar', ['-C', target, '--listed-incremental', '/dev/null', '-xf', archive], { timeoutMs: 60_000, env: b.clientEnv })
        assert.equal(x.code, 0, x.stderr)
      }
      await extract(full)
      // A fresh online mount lists in its hash list the originals downloaded when it was opened.
      await assertSameAsPin(target, b.dest, { hashesSoFar: which === 'online' })

      // Level 1 against a copy of the level-0 snapshot file, as incremental backup scripts do.
      const snar1 = `${snar}.1`
      await copyFile(snar, snar1)
      const level1 = join(b.lab.dir, `tar-${which}-1.tar`)
      const second = await archive(mnt, level1, snar1)
      assert.deepEqual(second.map((m) => m.replace(/^\.\//, '')).filter((m) => !changed.includes(m)), [], 'the incremental run archives no unchanged file')
      await extract(level1)
      await assertSameAsPin(target, b.dest)
    })
  }
})
