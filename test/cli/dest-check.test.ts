/**
 * A DEST that is not a mirror, through the real CLI against the fake: an empty DEST (an unset
 * $DEST in cron) is a usage error and the working directory is left alone; a non-empty folder with
 * no .flickrfs/ is refused in one line unless --force is given or it is a flickrmirrorer mirror,
 * whose originals are then taken over without downloading them again. `mount --cache` gets the
 * same checks. Each case ends with nothing else changed, DEST exact and verify clean.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, isApiBudgetFile, errorLines, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { BIN, tempDir } from '../support/repo.js'

const noStack = (s: string): void => assert.doesNotMatch(s, /\n\s+at |unexpected/, `no stack trace: ${s}`)

void describe('pin and mount refuse a folder that is not a mirror (cli)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 91, photos: 14, videos: 2, sets: 3, collections: 1, meanPhotoBytes: 6_000, meanVideoBytes: 12_000 })
    work = await tempDir('flickrfs-dest-check-')
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  /** DEST holds exactly the account's tree plus `extra`, byte for byte, and verify is clean. */
  const assertExact = async (dest: string, extra: string[] = []): Promise<void> => {
    assertSamePaths((await snapshot(dest)).keys(), [...expectedTree(fake.account).entries.keys(), ...extra])
    for (const id of fake.account.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(fake.account, id)))).equals(fake.account.originalBytes(id)), id)
    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
  }

  void it('pin "" (an unset $DEST in cron) is a usage error in one line, and the working directory stays as it was', async () => {
    const cwd = join(work, 'cron-cwd')
    await mkdir(cwd)
    await writeFile(join(cwd, 'notes.txt'), 'mine\n')
    const before = await snapshot(work, { withState: true })
    const r = await runCli(['pin', ''], env, spawn(process.execPath, [BIN, 'pin', '-q', ''], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }))
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(errorLines(r.stderr).length, 1, r.stderr)
    assert.match(r.stderr, /^flickrfs: DEST is empty \(an unset variable\?\)/)
    noStack(r.stderr)
    assert.deepEqual(changedPaths(before, await snapshot(work, { withState: true })), [])
  })

  void it('a non-empty folder with no .flickrfs/ is refused in one line; with --force it is pinned', async () => {
    const dest = join(work, 'documents')
    await mkdir(join(dest, 'taxes'), { recursive: true })
    await writeFile(join(dest, 'taxes', '2025.pdf'), 'not a photo\n')
    const before = await snapshot(work, { withState: true })
    const r = await runCli(['pin', dest], env)
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(errorLines(r.stderr).length, 1, r.stderr)
    assert.match(r.stderr, /^flickrfs: .*documents is not empty \("taxes"\) and is not a flickrfs folder .*add --force/)
    noStack(r.stderr)
    assert.deepEqual(changedPaths(before, await snapshot(work, { withState: true })), [], 'nothing written anywhere')

    const forced = await runCli(['pin', '-q', '--force', dest], env)
    assert.equal(forced.code, 0, forced.stderr)
    await assertExact(dest, ['taxes', 'taxes/2025.pdf'])
    assert.equal(await readFile(join(dest, 'taxes', '2025.pdf'), 'utf8'), 'not a photo\n')
    // Now a mirror: no --force needed any more.
    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
  })

  void it('a flickrmirrorer mirror is not refused, and its originals are taken over, not downloaded again', async () => {
    const dest = join(work, 'old-mirror')
    const a = fake.account
    const planted = a.photostream.slice(0, 8)
    await mkdir(join(dest, 'photostream'), { recursive: true })
    for (const id of planted) {
      await writeFile(join(dest, 'photostream', mediaName(a, id)), a.originalBytes(id))
      await writeFile(join(dest, 'photostream', `${mediaName(a, id)}.metadata`), '{"written by": "flickrmirrorer"}\n')
    }
    const setDir = [...expectedTree(a).entries].find(([p, e]) => e.kind === 'dir' && p.startsWith('Set '))?.[0] ?? ''
    await mkdir(join(dest, setDir))
    const outside = (await snapshot(work, { withState: true }))
    fake.resetCounts()
    const r = await runCli(['pin', '-q', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(fake.counts()['media:GET'] ?? 0, a.photostream.length - planted.length, 'only the originals the mirror lacked are downloaded')
    await assertExact(dest)
    const changedOutside = changedPaths(outside, await snapshot(work, { withState: true }), { ignoreDirs: true }).filter((p) => !p.slice(1).startsWith('old-mirror') && !isApiBudgetFile(p))
    assert.deepEqual(changedOutside, [])
  })

  void it('mount --cache "" is a usage error, and a foreign non-empty --cache folder is refused before anything is mounted', async () => {
    const mnt = join(work, 'mnt')
    await mkdir(mnt, { recursive: true })
    const foreign = join(work, 'home-ish')
    await mkdir(foreign)
    await writeFile(join(foreign, '.bashrc'), '# mine\n')
    const before = await snapshot(work, { withState: true })
    const empty = await runCli(['mount', mnt, '--cache', ''], env)
    assert.equal(empty.code, 2, empty.stderr)
    assert.equal(errorLines(empty.stderr).length, 1, empty.stderr)
    assert.match(empty.stderr, /^flickrfs: --cache is empty/)
    const typo = await runCli(['mount', mnt, '--cache', foreign], env)
    assert.equal(typo.code, 1, typo.stderr)
    assert.equal(errorLines(typo.stderr).length, 1, typo.stderr)
    assert.match(typo.stderr, /home-ish is not empty \("\.bashrc"\) and is not a flickrfs folder/)
    noStack(empty.stderr + typo.stderr)
    assert.deepEqual(changedPaths(before, await snapshot(work, { withState: true })), [])
  })
})
