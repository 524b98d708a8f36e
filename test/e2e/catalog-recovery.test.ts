/**
 * A damaged catalog, through the real CLI against the fake and a real sqlite file: truncated to
 * nothing, or overwritten with garbage. verify does not call an index that lost everything a
 * success; status and verify say what to run; pin moves the file aside in one line, rebuilds the
 * catalog and adopts the originals already in DEST (0 media GETs), also when killed (-9) while
 * adopting. Each case ends with nothing outside DEST changed, DEST exact and verify clean.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rmdir, truncate, writeFile } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, isApiBudgetFile, errorLines, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { CliProc, runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'
import { waitUntil } from '../support/wait.js'

void describe('a damaged catalog (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv
  let dest: string
  const catalog = (): string => join(dest, '.flickrfs', 'catalog.sqlite')
  const originals = (): number => fake.account.photostream.length

  before(async () => {
    fake = await startFake({ seed: 81, photos: 30, videos: 2, sets: 3, collections: 1, meanPhotoBytes: 400_000, meanVideoBytes: 800_000 })
    work = await tempDir('flickrfs-e2e-catalog-')
    await writeFile(join(work, 'neighbour.txt'), 'outside DEST\n')
    env = cliEnv(fake, join(work, 'config'))
    dest = join(work, 'dest')
    const pinned = await runCli(['pin', '-q', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  /** Outside DEST nothing changed since `before`; DEST is exact, byte for byte; verify is clean. */
  const assertGood = async (outside: Map<string, unknown>): Promise<void> => {
    const now = await snapshot(work)
    const leaked = changedPaths(outside as Awaited<ReturnType<typeof snapshot>>, now, { ignoreDirs: true }).filter((p) => !p.slice(1).startsWith('dest' + sep) && p.slice(1) !== 'dest' && !isApiBudgetFile(p))
    assert.deepEqual(leaked, [], 'nothing outside DEST changed')
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    for (const id of fake.account.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(fake.account, id)))).equals(fake.account.originalBytes(id)), id)
    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    assert.match(verify.stdout, new RegExp(`Verified ${originals()} originals: ${originals()} ok`))
  }

  /** The catalogs set aside so far (their -wal and -shm, when there were any, go with them). */
  const setAside = async (): Promise<string[]> => (await readdir(join(dest, '.flickrfs'))).filter((n) => n.startsWith('catalog.sqlite.corrupt-') && !/-(wal|shm)$/.test(n))

  /** pin after the damage: one line says the catalog was set aside, the originals are adopted (0 GETs), DEST is exact. */
  const pinRecovers = async (outside: Map<string, unknown>, why: RegExp): Promise<void> => {
    const asideBefore = (await setAside()).length
    fake.resetCounts()
    const pin = await runCli(['pin', '-q', dest], env)
    assert.equal(pin.code, 0, pin.stderr)
    const lines = errorLines(pin.stderr)
    assert.equal(lines.length, 1, pin.stderr)
    assert.match(lines[0] ?? '', /^flickrfs: The catalog .*catalog\.sqlite was damaged \(.*\); moved it aside to catalog\.sqlite\.corrupt-/)
    assert.match(lines[0] ?? '', why)
    assert.match(lines[0] ?? '', /the originals already here are checked and kept, not downloaded again\.$/)
    assert.equal((await setAside()).length, asideBefore + 1)
    assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'the originals in DEST are hashed, not downloaded again')
    await assertGood(outside)
  }

  void it('an empty catalog file: verify fails and says to pin; pin sets it aside and adopts every original', async () => {
    const outside = await snapshot(work)
    await truncate(catalog(), 0)

    const verify = await runCli(['verify', dest], env)
    assert.equal(verify.code, 1, verify.stdout + verify.stderr)
    assert.doesNotMatch(verify.stdout, /Verified 0 originals/)
    assert.match(verify.stdout, /index of this folder is missing or empty/)
    assert.match(verify.stdout, new RegExp(`holds ${originals()} originals it does not record`))
    assert.match(verify.stdout, /Run `flickrfs pin .*dest`/)
    const status = await runCli(['status', dest], env)
    assert.equal(status.code, 1)
    assert.match(status.stdout, /Not in the index: \d+ originals/)
    assert.match(status.stdout, /Complete: no/)

    await pinRecovers(outside, /\(empty file\)/)
  })

  void it('a catalog overwritten with garbage: status and verify name the damage and what to run; pin recovers', async () => {
    const outside = await snapshot(work)
    await writeFile(catalog(), randomBytes(64 * 1024))
    for (const cmd of ['status', 'verify']) {
      const r = await runCli([cmd, dest], env)
      assert.equal(r.code, 1)
      assert.equal(errorLines(r.stderr).length, 1, r.stderr)
      assert.match(r.stderr, /^flickrfs: The catalog .* is damaged \(SQLITE_NOTADB\)\. Run flickrfs pin on this folder/)
      assert.doesNotMatch(r.stderr, /\n\s+at /)
    }
    // An offline mount reads the catalog and writes nothing of it: it names the damage in one line
    // and leaves the file where it is, for a writer (the pin below) to set aside.
    const mnt = join(work, 'mnt-damaged')
    await mkdir(mnt)
    const asideBefore = (await setAside()).length
    const mount = await runCli(['mount', mnt, '--cache', dest, '--offline'], env)
    assert.notEqual(mount.code, 0)
    assert.equal(errorLines(mount.stderr).length, 1, mount.stderr)
    assert.match(mount.stderr, /^flickrfs: The catalog .* is damaged \(SQLITE_NOTADB\)/)
    assert.equal((await setAside()).length, asideBefore, 'nothing set aside by a reader')
    await rmdir(mnt)
    await pinRecovers(outside, /\(SQLITE_NOTADB\)/)
  })

  void it('a catalog whose pages are damaged behind a sound header: pin recovers', async () => {
    const outside = await snapshot(work)
    const fh = await open(catalog(), 'r+')
    try {
      const size = (await fh.stat()).size
      // Keep page 1 (header and schema), break every page after it.
      await fh.write(randomBytes(size - 4096), 0, size - 4096, 4096)
    } finally {
      await fh.close()
    }
    await pinRecovers(outside, /\(SQLITE_CORRUPT\)/)
  })

  void it('pin killed (-9) while it adopts the originals, then run again: exact, nothing downloaded', async () => {
    const outside = await snapshot(work)
    // Killed from the stderr handler itself, the moment the first adoption is logged: a poll can come
    // too late on an idle machine, where the 32 adoptions take well under 100 ms. On a loaded machine
    // even the handler can run after the last adoption; that attempt tested nothing, so it is made
    // again (the catalog emptied anew), up to five times.
    const asideBefore = (await setAside()).length
    let adoptedBefore = originals()
    let tail = ''
    let attempts = 0
    for (; attempts < 5 && adoptedBefore >= originals(); attempts++) {
      await truncate(catalog(), 0)
      fake.resetCounts()
      const p = new CliProc(spawnCli(['pin', '-q', dest], { ...env, DEBUG: 'flickrfs:store' }))
      let seen = ''
      p.child.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        if (/ adopted the \d+ bytes already at /.test(seen)) p.child.kill('SIGKILL')
      })
      await waitUntil('the pin adopts a first original', () => Promise.resolve(/ adopted the \d+ bytes already at /.test(p.err) || p.exit !== undefined), 30_000)
      p.child.kill('SIGKILL')
      const exit = await p.wait()
      tail = p.err.slice(-500)
      adoptedBefore = exit.signal === 'SIGKILL' ? (p.err.match(/ adopted the /g)?.length ?? 0) : originals()
    }
    assert.ok(adoptedBefore < originals(), `killed halfway (${adoptedBefore} of ${originals()} adopted): ${tail}`)

    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
    assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'nothing downloaded, before or after the kill')
    // Each attempt's pin set aside the catalog emptied before it; the run after the kill none.
    assert.equal((await setAside()).length, asideBefore + attempts, 'the new catalog the killed run started is sound: not set aside again')
    await assertGood(outside)
  })
})
