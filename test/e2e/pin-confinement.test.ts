/**
 * Nothing flickrfs writes may land outside DEST or the cache (issue 10, "Confinement"), through
 * the real CLI against the fake: each state folder and each tree folder planted as a link to an
 * outside folder, or as a plain file, is refused in one line naming it, with a non-zero exit, and a
 * checksum listing of the outside folder (names, sizes, sha256, mtimes) is unchanged. Once the
 * planted entry is gone, the next pin leaves DEST exact and `flickrfs verify` clean. A DEST that is
 * itself a link to a real folder works; a mount whose cache holds a planted link never writes
 * through it.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, cliEnv, dirName, errorLines, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

/** Everything under `dir` (itself included): kind, mode, size, sha256 of files, link targets, mtimes. */
async function checksums(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (p: string, rel: string): Promise<void> => {
    const st = await lstat(p)
    let what = `${rel} mode=${st.mode.toString(8)} mtime=${st.mtimeMs}`
    if (st.isFile()) what += ` size=${st.size} sha256=${createHash('sha256').update(await readFile(p)).digest('hex')}`
    else if (st.isSymbolicLink()) what += ` -> ${await readlink(p)}`
    out.push(what)
    if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(join(p, name), `${rel}/${name}`)
  }
  await walk(dir, '.')
  return out
}

/** An outside folder that looks worth writing into: a decoy and a file named like an original. */
async function makeOutside(dir: string, originalName: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'keep.txt'), 'precious, not flickrfs\'s\n')
  await writeFile(join(dir, originalName), 'not the original\n')
  await writeFile(join(dir, 'metadata'), 'not a sidecar\n')
}

void describe('pin never writes through a planted link or file (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv
  let cases: Array<{ rel: string; kind: 'link' | 'file' }>

  before(async () => {
    fake = await startFake({ seed: 61, photos: 10, videos: 0, sets: 3, collections: 1, meanPhotoBytes: 3_000 })
    work = await tempDir()
    env = cliEnv(fake, join(work, 'config'))
    const a = fake.account
    const set = a.sets[0]
    const collection = a.collections[0]
    assert.ok(set !== undefined && collection !== undefined && a.notInSet().length > 0, 'the account has a set, a collection and a photo in no set')
    const folders = ['.flickrfs', '.flickrfs/tmp', 'photostream', dirName('Set', set.id, set.title), 'Not in any set', dirName('Collection', collection.id, collection.title)]
    cases = folders.flatMap((rel) => [{ rel, kind: 'link' as const }, { rel, kind: 'file' as const }])
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  async function assertExactAndVerified(dest: string): Promise<void> {
    const a = fake.account
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
    for (const id of a.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(a, id)))).equals(a.originalBytes(id)), id)
    const v = await runCli(['verify', dest], env)
    assert.equal(v.code, 0, v.stdout + v.stderr)
  }

  void it('refuses each state and tree folder planted as a link or a file, then recovers once it is gone', async () => {
    const a = fake.account
    const anOriginal = mediaName(a, a.photostream[0] ?? '')
    for (const [i, c] of cases.entries()) {
      const what = `${c.rel} as a ${c.kind}`
      const dest = join(work, `dest-${i}`)
      const outside = join(work, `outside-${i}`)
      await makeOutside(outside, anOriginal)
      await mkdir(join(dest, c.rel, '..'), { recursive: true })
      // DEST is a mirror already (it has .flickrfs/): a foreign folder would be refused earlier, by dest-check.
      if (!c.rel.startsWith('.flickrfs')) await mkdir(join(dest, '.flickrfs'), { recursive: true })
      if (c.kind === 'link') await symlink(outside, join(dest, c.rel))
      else await writeFile(join(dest, c.rel), 'a file of the user\'s\n')
      const outsideBefore = await checksums(outside)
      const plantedBefore = await checksums(join(dest, c.rel))

      const r = await runCli(['pin', dest], env)
      assert.notEqual(r.code, 0, `${what}: ${r.stderr}`)
      const lines = errorLines(r.stderr)
      assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`)
      const named = join(dest, c.rel)
      assert.ok(lines[0]?.startsWith(`flickrfs: ${named} is `), `${what}: names the path: ${lines[0]}`)
      assert.match(lines[0] ?? '', c.kind === 'link' ? /is a symbolic link; .*Move it aside and run again\.$/ : /is not a folder; .*Move it aside and run again\.$/, what)
      assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`)
      assert.deepEqual(await checksums(outside), outsideBefore, `${what}: the outside folder is unchanged`)
      assert.deepEqual(await checksums(join(dest, c.rel)), plantedBefore, `${what}: the planted entry is left as it was`)

      await rm(join(dest, c.rel))
      const again = await runCli(['pin', dest], env)
      assert.equal(again.code, 0, `${what}, removed: ${again.stderr}`)
      await assertExactAndVerified(dest)
      assert.deepEqual(await checksums(outside), outsideBefore, `${what}: the outside folder is still unchanged`)
    }
  })

  void it('a later run refuses a photostream swapped for a link to a copy: nothing there is written or unlinked', async () => {
    const a = fake.account
    const dest = join(work, 'dest-later')
    let r = await runCli(['pin', dest], env)
    assert.equal(r.code, 0, r.stderr)
    const outside = join(work, 'outside-later')
    await cp(join(dest, 'photostream'), outside, { recursive: true, preserveTimestamps: true })
    await rm(join(dest, 'photostream'), { recursive: true })
    await symlink(outside, join(dest, 'photostream'))
    const before = await checksums(outside)
    // One original replaced by another format, one edited: the run would write the new file and
    // sidecars in photostream/ and unlink the old file there.
    const [replaced, edited] = a.photostream
    const oldName = mediaName(a, replaced ?? '')
    a.replaceOriginal(replaced ?? '', { format: oldName.endsWith('.png') ? 'jpg' : 'png', bytes: 4_000 })
    a.editPhoto(edited ?? '', { title: 'a new title' })
    r = await runCli(['pin', dest], env)
    assert.notEqual(r.code, 0, r.stderr)
    assert.match(errorLines(r.stderr).join('\n'), new RegExp(`^flickrfs: ${join(dest, 'photostream')} is a symbolic link;`, 'm'))
    assert.deepEqual(await checksums(outside), before)

    // The user undoes the swap: the originals come back into a real folder.
    await rm(join(dest, 'photostream'))
    await cp(outside, join(dest, 'photostream'), { recursive: true, preserveTimestamps: true })
    r = await runCli(['pin', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await lstat(join(dest, 'photostream', oldName)).catch(() => undefined), undefined, 'the replaced file is gone from DEST')
    await assertExactAndVerified(dest)
    assert.deepEqual(await checksums(outside), before)
  })

  void it('a DEST that is itself a link to a real folder is pinned into that folder', async () => {
    const real = join(work, 'disk', 'flickr')
    await mkdir(real, { recursive: true })
    const dest = join(work, 'FlickrBackup')
    await symlink(real, dest)
    const r = await runCli(['pin', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.ok((await lstat(dest)).isSymbolicLink(), 'the link stays a link')
    await assertExactAndVerified(real)
    const v = await runCli(['verify', dest], env)
    assert.equal(v.code, 0, v.stdout + v.stderr)
  })
})

const skipMount = await fuseUnusableReason()

void describe('mount never writes through a planted link in its cache (e2e)', { skip: skipMount }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 62, photos: 4, videos: 0, sets: 1, collections: 0, meanPhotoBytes: 3_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('CACHE/photostream or CACHE/.flickrfs/tmp as a link: the mount is refused in one line, nothing outside changes', async () => {
    const a = fake.account
    const name = mediaName(a, a.photostream[0] ?? '')
    for (const rel of ['photostream', '.flickrfs/tmp', '.flickrfs']) {
      const cache = await lab.mkdir(`cache-${rel.replace(/\W/g, '')}`)
      const outside = await lab.mkdir(`outside-${rel.replace(/\W/g, '')}`)
      await makeOutside(outside, name)
      await mkdir(join(cache, rel, '..'), { recursive: true })
      // The cache is flickrfs's already (it has .flickrfs/): a foreign folder would be refused earlier, by dest-check.
      if (!rel.startsWith('.flickrfs')) await mkdir(join(cache, '.flickrfs'), { recursive: true })
      await symlink(outside, join(cache, rel))
      const before = await checksums(outside)
      const mnt = await lab.mkdir(`mnt-${rel.replace(/\W/g, '')}`)
      const p = await lab.cli(['mount', mnt, '--cache', cache, '--refresh', '0'], env)
      assert.notEqual(p.exit.code, 0, p.err)
      const lines = errorLines(p.err)
      assert.equal(lines.length, 1, p.err)
      assert.match(lines[0] ?? '', new RegExp(`^flickrfs: ${join(cache, rel)} is a symbolic link; .*Move it aside and run again\\.$`))
      assert.deepEqual(await checksums(outside), before, rel)

      // Gone: the same mount comes up and reads the original into the cache.
      await rm(join(cache, rel))
      const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
      const r = await run('cat', [join(mnt, 'photostream', name)])
      assert.equal(r.code, 0, r.stderr)
      await lab.stop(server, mnt)
      assert.ok((await readFile(join(cache, 'photostream', name))).equals(a.originalBytes(a.photostream[0] ?? '')))
      assert.deepEqual(await checksums(outside), before, rel)
    }
  })
})
