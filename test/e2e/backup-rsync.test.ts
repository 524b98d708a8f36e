/**
 * `rsync -a` backs up a fresh online mount and an offline mount of a pinned DEST; each backup is
 * DEST byte for byte, and a second run itemizes no change (every file's mtime is its own content
 * time, stable from run to run) but that of a file whose content did change meanwhile.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { aroundFirstBackup, assertRereads, assertSameAsPin, backupLab, staleInFirstCopy, type BackupLab } from './backup-helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason(['rsync'])

void describe('rsync -a from the mount (e2e)', { skip }, () => {
  let b: BackupLab
  before(async () => {
    b = await backupLab(41)
  })
  after(async () => {
    await b?.lab.cleanup()
    await b?.fake.close()
  })

  for (const which of ['offline', 'online'] as const) {
    void it(`from the ${which} mount: a backup equal to pin, and a second run that itemizes nothing unchanged and completes it`, async () => {
      const mnt = b[which]
      const backup = await b.lab.mkdir(`rsync-${which}`)
      const changed = await aroundFirstBackup(mnt, async () => {
        const first = await run('rsync', ['-a', '--itemize-changes', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000, env: b.clientEnv })
        assert.equal(first.code, 0, first.stderr)
        assert.match(first.stdout, /^>f\+{9,} photostream\//m, 'the first run copies the files')
      })
      // A fresh online mount lists in its hash list the originals downloaded when it was opened.
      await assertSameAsPin(backup, b.dest, { hashesSoFar: which === 'online' })
      const stale = await staleInFirstCopy(changed, backup, mnt)
      const second = await run('rsync', ['-a', '--itemize-changes', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000, env: b.clientEnv })
      assert.equal(second.code, 0, second.stderr)
      // Only a file that changed since the first run may be copied again (its directory then too).
      if (changed.length === 0) assert.equal(second.stdout, '', 'the second run itemizes nothing')
      const itemized = second.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('.d'))
      assertRereads(itemized.map((l) => l.slice(12)), changed, stale, 'the second run')
      await assertSameAsPin(backup, b.dest)
    })
  }
})
