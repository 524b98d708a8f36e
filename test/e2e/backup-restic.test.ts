/**
 * restic backs up a fresh online mount and an offline mount of a pinned DEST; each restore is DEST
 * byte for byte, and a second backup finds every file unmodified (restic compares mtime, ctime, size
 * and inode with its parent snapshot: all four must be stable from run to run) but a file whose
 * content did change meanwhile.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join, relative } from 'node:path'
import { aroundFirstBackup, assertRereads, assertSameAsPin, backupLab, destCounts, fileStats, staleInFirstCopy, type BackupLab } from './backup-helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

// .ci/run installs restic, so CI never skips this.
const skip = await fuseUnusableReason(['restic'])

interface Item {
  message_type: 'verbose_status'
  action: 'new' | 'modified' | 'unchanged'
  item: string
}

interface Summary {
  message_type: 'summary'
  files_new: number
  files_changed: number
  files_unmodified: number
}

void describe('restic backup of the mount (e2e)', { skip }, () => {
  let b: BackupLab
  let env: NodeJS.ProcessEnv
  before(async () => {
    b = await backupLab(43)
    env = { ...b.clientEnv, RESTIC_PASSWORD: 'not a secret: a test repository', RESTIC_CACHE_DIR: await b.lab.mkdir('restic-cache') }
  })
  after(async () => {
    await b?.lab.cleanup()
    await b?.fake.close()
  })

  /** `restic backup --json -vv`: its summary, and the files (relative to the mount) it did not find unchanged. */
  const backup = async (repo: string, mnt: string): Promise<Summary & { read: string[] }> => {
    const r = await run('restic', ['-r', repo, 'backup', '--json', '-v', '-v', '--host', 'test', mnt], { timeoutMs: 60_000, env })
    assert.equal(r.code, 0, r.stderr)
    const messages = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Summary | Item)
    const summary = messages.filter((m): m is Summary => m.message_type === 'summary').at(-1)
    assert.ok(summary, r.stdout.slice(-2000))
    const read = messages
      .filter((m): m is Item => m.message_type === 'verbose_status' && m.action !== 'unchanged' && m.item.startsWith(`${mnt}/`) && !m.item.endsWith('/'))
      .map((m) => relative(mnt, m.item))
    return { ...summary, read }
  }

  for (const which of ['offline', 'online'] as const) {
    void it(`from the ${which} mount: a restore equal to pin, and a second backup with every unchanged file unmodified that completes it`, async () => {
      const mnt = b[which]
      const repo = join(b.lab.dir, `restic-repo-${which}`)
      const init = await run('restic', ['-r', repo, 'init'], { env })
      assert.equal(init.code, 0, init.stderr)
      const { files } = await destCounts(b.dest)
      const changed = await aroundFirstBackup(mnt, async () => {
        const first = await backup(repo, mnt)
        assert.equal(first.files_new, files, 'the first backup reads every file')
      })

      /** The latest snapshot, restored (restic restores a backed-up path under its full path). */
      const restored = async (name: string): Promise<string> => {
        const target = await b.lab.mkdir(`restic-restore-${which}-${name}`)
        const restore = await run('restic', ['-r', repo, 'restore', 'latest', '--target', target], { timeoutMs: 60_000, env })
        assert.equal(restore.code, 0, restore.stderr)
        return join(target, mnt)
      }
      // A fresh online mount lists in its hash list the originals downloaded when it was opened.
      const first = await restored('first')
      await assertSameAsPin(first, b.dest, { hashesSoFar: which === 'online' })
      const stale = await staleInFirstCopy(changed, first, mnt)

      const second = await backup(repo, mnt)
      // Symlinks are items too: only regular files are compared with what changed.
      const stats = await fileStats(mnt)
      const reread = second.read.filter((p) => stats.has(p)).sort()
      assertRereads(reread, changed, stale, 'the second backup')
      assert.deepEqual(
        { new: second.files_new, changed: second.files_changed, unmodified: second.files_unmodified },
        { new: 0, changed: reread.length, unmodified: files - reread.length },
      )
      await assertSameAsPin(await restored('second'), b.dest)
    })
  }
})
