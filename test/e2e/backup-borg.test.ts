/**
 * borg backs up a fresh online mount and an offline mount of a pinned DEST; each extract is DEST
 * byte for byte, and a second `borg create --list` shows every file U (unchanged, not read) but
 * one whose content did change meanwhile and those that carry the newest ctime of the whole mount: borg 1.2 by design never keeps a files-cache
 * entry whose ctime is the newest it saw in that run (cache.py, "newest cmtime"), on any
 * filesystem. So every file has its own content time, and no original or photo sidecar shares the
 * newest one (before, every sidecar carried the time of the first sync, and borg re-read them all).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join, relative } from 'node:path'
import { aroundFirstBackup, assertSameAsPin, backupLab, destCounts, isPhotoFile, newestCtimeFiles, type BackupLab } from './backup-helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

// .ci/run installs borgbackup, so CI never skips this.
const skip = await fuseUnusableReason(['borg'])

void describe('borg create from the mount (e2e)', { skip }, () => {
  let b: BackupLab
  let env: NodeJS.ProcessEnv
  before(async () => {
    b = await backupLab(47)
    env = {
      ...b.clientEnv,
      BORG_PASSPHRASE: '',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_BASE_DIR: await b.lab.mkdir('borg-base'),
    }
  })
  after(async () => {
    await b?.lab.cleanup()
    await b?.fake.close()
  })

  /** `borg create --list`: status letter by path (relative to the mount) for every regular file. */
  const create = async (repo: string, archive: string, mnt: string): Promise<Map<string, string>> => {
    const r = await run('borg', ['create', '--list', `${repo}::${archive}`, mnt], { timeoutMs: 60_000, env })
    assert.equal(r.code, 0, r.stderr)
    const out = new Map<string, string>()
    // --list goes to stderr: "<status> <path>", status A/M/U/C/E for files, d for dirs, s for links.
    for (const m of r.stderr.matchAll(/^([AMUCE]) (\/.*)$/gm)) out.set(relative(mnt, m[2] ?? ''), m[1] ?? '')
    return out
  }

  for (const which of ['offline', 'online'] as const) {
    void it(`from the ${which} mount: an extract equal to pin, and a second create that reads only what changed and the newest-ctime files and completes it`, async () => {
      const mnt = b[which]
      const repo = join(b.lab.dir, `borg-repo-${which}`)
      const init = await run('borg', ['init', '-e', 'none', repo], { env })
      assert.equal(init.code, 0, init.stderr)
      const { files } = await destCounts(b.dest)
      // borg keeps no files-cache entry for a file with the newest ctime it saw in that run: on a
      // fresh online mount that is the first catalog's own files, until the hash list grows past them.
      const firstNewest = await newestCtimeFiles(mnt)
      const changed = await aroundFirstBackup(mnt, async () => {
        const first = await create(repo, 'one', mnt)
        assert.equal(first.size, files)
        assert.deepEqual([...first.values()].filter((s) => s !== 'A'), [], 'the first create adds every file')
      })

      /** An archive, extracted (borg stores absolute paths without their leading /). */
      const extracted = async (archive: string): Promise<string> => {
        const target = await b.lab.mkdir(`borg-extract-${which}-${archive}`)
        const extract = await run('borg', ['extract', `${repo}::${archive}`], { timeoutMs: 60_000, env, cwd: target })
        assert.equal(extract.code, 0, extract.stderr)
        return join(target, mnt)
      }
      // A fresh online mount lists in its hash list the originals downloaded when it was opened.
      await assertSameAsPin(await extracted('one'), b.dest, { hashesSoFar: which === 'online' })

      const second = await create(repo, 'two', mnt)
      assert.equal(second.size, files)
      const read = [...second].filter(([, s]) => s !== 'U').map(([p]) => p).sort()
      const { newest, files: newestFiles } = await newestCtimeFiles(mnt)
      // borg re-reads what changed and the files with the newest ctime it saw. In the first run
      // that was the first catalog's files, unless the hash list grew past their time while borg
      // read (it is among `changed` then, and borg kept them): they may be read again, not must.
      const must = new Set([...newestFiles, ...changed])
      const may = new Set([...must, ...firstNewest.files])
      const why = `(newest ctime ${firstNewest.newest} before the first run, ${newest} now)`
      assert.deepEqual(read.filter((p) => !may.has(p)), [], `borg re-reads nothing unchanged but the newest-ctime files ${why}`)
      assert.deepEqual([...must].filter((p) => !read.includes(p)).sort(), [], `borg re-reads what changed and the files with the newest ctime ${why}`)
      assert.deepEqual(newestFiles.filter(isPhotoFile), [], 'no original or photo sidecar carries the newest ctime')
      await assertSameAsPin(await extracted('two'), b.dest)
    })
  }
})
