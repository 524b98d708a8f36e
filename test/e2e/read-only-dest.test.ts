/**
 * A pinned DEST on a read-only filesystem (a backup disk mounted read-only), through the real CLI
 * and a real read-only bind mount: status, verify and `mount --cache DEST --offline` read it as it
 * is and write nothing (not a lock, not an access time), and pin says "DEST is read-only" in one
 * line. Root ignores file modes, so only a read-only mount stops it writing; a DEST that is
 * read-only by its modes alone (another user's mirror) is read as nobody.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, errorLines, expectedTree, mediaName, snapshot, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { BIN } from '../support/repo.js'
import { run } from '../support/run.js'

const fuseSkip = await fuseUnusableReason()

/** Makes `ro` a read-only view of `dir`; undefined when this machine cannot (not root, no mount). */
async function bindReadOnly(dir: string, ro: string): Promise<string | undefined> {
  const bind = await run('mount', ['--bind', dir, ro])
  if (bind.code !== 0) return `cannot bind-mount here: ${bind.stderr.trim()}`
  const remount = await run('mount', ['-o', 'remount,ro,bind', ro])
  if (remount.code !== 0) {
    await run('umount', [ro])
    return `cannot remount read-only here: ${remount.stderr.trim()}`
  }
  return undefined
}

void describe('a read-only DEST (e2e)', () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let dest: string
  let ro: string
  let skip: string | undefined

  before(async () => {
    fake = await startFake({ seed: 71, photos: 16, videos: 2, sets: 3, collections: 1, meanPhotoBytes: 8_000, meanVideoBytes: 20_000 })
    lab = await MountLab.create('flickrfs-e2e-ro-')
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    ro = await lab.mkdir('ro')
    skip = await bindReadOnly(dest, ro)
  })
  after(async () => {
    // The bind mount first: the lab's cleanup removes the temp dir, which must not reach through a mount.
    if (ro !== undefined && (await isMounted(ro))) await run('umount', [ro])
    await fake?.close()
    await lab?.cleanup()
  })

  void it('status, verify and pin on the read-only view: the first two work, pin says so in one line, nothing is written', async (t) => {
    if (skip !== undefined) return t.skip(skip)
    const before = await snapshot(lab.dir, { withState: true })
    const stateBefore = await readFile(join(dest, '.flickrfs', 'catalog.sqlite'))

    const status = await lab.cli(['status', ro], env)
    assert.equal(status.exit.code, 0, status.out + status.err)
    assert.match(status.out, /Originals stored: 18\/18/)
    assert.match(status.out, /Complete: yes/)

    const verify = await lab.cli(['verify', ro], env)
    assert.equal(verify.exit.code, 0, verify.out + verify.err)
    assert.match(verify.out, /Verified 18 originals: 18 ok, 0 missing/)

    for (const target of [ro, join(ro, 'new-sub-folder')]) {
      const pin = await lab.cli(['pin', target], env)
      assert.notEqual(pin.exit.code, 0)
      assert.equal(pin.out, '')
      assert.deepEqual(errorLines(pin.err).length, 1, pin.err)
      assert.match(pin.err, /^flickrfs: DEST is read-only: .*\(EROFS\)/)
      assert.doesNotMatch(pin.err, /\n\s+at |unexpected/)
    }
    // Without --offline a mount would download into the cache: refused, before anything is mounted.
    const online = await lab.cli(['mount', await lab.mkdir('mnt-online'), '--cache', ro], env)
    assert.notEqual(online.exit.code, 0)
    assert.match(online.err, /read-only.*--offline/)

    // Not a byte written anywhere: no lock, no access time, no -wal or -shm.
    assert.deepEqual(changedPaths(before, await snapshot(lab.dir, { withState: true })).filter((p) => !p.includes('mnt-online')), [])
    assert.ok((await readFile(join(dest, '.flickrfs', 'catalog.sqlite'))).equals(stateBefore))
  })

  void it('mount --cache DEST --offline serves the read-only DEST byte for byte', { skip: fuseSkip }, async (t) => {
    if (skip !== undefined) return t.skip(skip)
    const before = await snapshot(lab.dir, { withState: true })
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', ro, '--offline'], env)
    const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    assert.equal((await lab.stop(server, mnt, 'SIGINT')).code, 0, server.err)
    assert.deepEqual(changedPaths(before, await snapshot(lab.dir, { withState: true })).filter((p) => !/^[-+~](mnt|run)(\/|$)/.test(p)), [], 'only the mountpoint and the registry of running mounts change')
  })

  void it('status and verify of a DEST this user may read but not write (another user\'s mirror, read as nobody)', async (t) => {
    // Root ignores file modes: the CLI runs as nobody, when this machine lets it run the repository's CLI.
    const asNobody = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { env: { PATH: process.env.PATH, HOME: '/tmp', LANG: 'C.UTF-8' } })
    const probe = await asNobody(['--version']).catch((err: unknown) => ({ code: 1, stdout: '', stderr: String(err) }))
    if (probe.code !== 0) return t.skip(`cannot run the CLI as nobody here (setpriv, or a checkout nobody may read): ${probe.stderr.trim().split('\n')[0] ?? ''}`)
    await chmod(lab.dir, 0o755)
    try {
      const catalogBefore = await readFile(join(dest, '.flickrfs', 'catalog.sqlite'))
      const status = await asNobody(['status', dest])
      assert.equal(status.code, 0, status.stderr)
      assert.match(status.stdout, /^Originals stored: 18\/18 /m)
      assert.match(status.stdout, /^Complete: yes/m)
      const verified = await asNobody(['verify', dest])
      assert.equal(verified.code, 0, verified.stderr)
      assert.match(verified.stdout, /^Verified 18 originals: 18 ok, 0 missing, 0 wrong size, 0 wrong content\./m)
      assert.ok((await readFile(join(dest, '.flickrfs', 'catalog.sqlite'))).equals(catalogBefore), 'the catalog is not written')
      assert.deepEqual((await readdir(join(dest, '.flickrfs'))).filter((n) => n.startsWith('catalog.sqlite-')), [], 'no -wal or -shm made')
    } finally {
      await chmod(lab.dir, 0o700)
    }
  })

  void it('once the disk is writable again, a pin leaves DEST exact and verify clean', async (t) => {
    if (skip !== undefined) return t.skip(skip)
    assert.equal((await run('umount', [ro])).code, 0)
    fake.resetCounts()
    const pin = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pin.exit.code, 0, pin.err)
    assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'nothing to download again')
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    for (const id of fake.account.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(fake.account, id)))).equals(fake.account.originalBytes(id)), id)
    const verify = await lab.cli(['verify', dest], env)
    assert.equal(verify.exit.code, 0, verify.out + verify.err)
  })
})
