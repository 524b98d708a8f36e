/**
 * `cp -a` copies a fresh online mount and an offline mount of a pinned DEST; each copy is DEST
 * byte for byte and keeps the mount's times, so a later `rsync -a` of the mount onto the copy would
 * transfer nothing but a file whose content changed meanwhile.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { aroundFirstBackup, assertSameAsPin, backupLab, staleInFirstCopy, type BackupLab } from './backup-helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason(['rsync'])

void describe('cp -a of the mount (e2e)', { skip }, () => {
  let b: BackupLab
  before(async () => {
    b = await backupLab(59)
  })
  after(async () => {
    await b?.lab.cleanup()
    await b?.fake.close()
  })

  for (const which of ['offline', 'online'] as const) {
    void it(`from the ${which} mount: a copy equal to pin, with the mount's times`, async () => {
      const mnt = b[which]
      const copy = await b.lab.mkdir(`cp-${which}`)
      const changed = await aroundFirstBackup(mnt, async () => {
        const cp = await run('cp', ['-a', `${mnt}/.`, `${copy}/`], { timeoutMs: 60_000, env: b.clientEnv })
        assert.equal(cp.code, 0, cp.stderr)
      })
      // A fresh online mount lists in its hash list the originals downloaded when it was opened.
      await assertSameAsPin(copy, b.dest, { hashesSoFar: which === 'online' })
      const check = await run('rsync', ['-a', '--dry-run', '--itemize-changes', `${mnt}/`, `${copy}/`], { timeoutMs: 60_000, env: b.clientEnv })
      assert.equal(check.code, 0, check.stderr)
      if (changed.length === 0) assert.equal(check.stdout, '', 'rsync -a of the mount onto the copy would change nothing')
      const itemized = check.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('.d'))
      // With read-ahead the grown hash list can be whole already when cp reads it: then only what
      // the copy does not hold as the mount now serves it is copied again.
      const stale = await staleInFirstCopy(changed, copy, mnt)
      assert.deepEqual(itemized.map((l) => l.slice(12)), stale, 'rsync -a of the mount onto the copy would copy only what the copy missed')
    })
  }
})
