/**
 * The guard of every write under a root (src/util/confine.ts), on real temp dirs: a link or a file
 * planted at any folder below the root, or at the last name, is refused with one line naming it,
 * and the folder outside is left exactly as it was. A root that is itself a link works.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { constants, lstat, mkdir, readFile, readdir, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Confined, confineState } from '../../src/util/confine.js'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { tempDir } from '../support/repo.js'

/** name → size and mtime of everything under `dir`: what must not change outside the root. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const st = await lstat(join(d, name))
      out.push(`${prefix}${name} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`)
      if (st.isDirectory()) await walk(join(d, name), `${prefix}${name}/`)
    }
  }
  await walk(dir, '')
  return out
}

function refused(path: string, what: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof FlickrfsError, String(err))
    assert.equal(err.code, 'DEST')
    assert.ok(err.message.startsWith(`${path} is `), err.message)
    assert.match(err.message, what)
    assert.doesNotMatch(err.message, /\n/)
    return true
  }
}

void describe('Confined', () => {
  let work: string
  let outside: string
  before(async () => {
    work = await tempDir()
    outside = join(work, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'keep.jpg'), 'precious')
  })
  after(async () => {
    await rm(work, { recursive: true, force: true })
  })

  void it('creates real folders and writes files, links, times and renames below the root', async () => {
    const root = join(work, 'plain')
    const c = await Confined.open(root, { create: true })
    await c.writeFileAtomic('a/b/file', 'data', { mtimeMs: 1_000_000_000_000, tmpDir: '.flickrfs/tmp' })
    assert.equal(await readFile(join(root, 'a/b/file'), 'utf8'), 'data')
    assert.equal((await stat(join(root, 'a/b/file'))).mtimeMs, 1_000_000_000_000)
    assert.deepEqual(await readdir(join(root, '.flickrfs/tmp')), [])
    await c.symlinkAtomic('a/link', 'b/file', { mtimeMs: 2_000_000_000_000 })
    assert.equal(await readlink(join(root, 'a/link')), 'b/file')
    await c.rename('a/b/file', 'a/c/moved')
    assert.equal(await readFile(join(root, 'a/c/moved'), 'utf8'), 'data')
    await c.utimes('a/c/moved', 5, 5)
    assert.equal((await stat(join(root, 'a/c/moved'))).mtimeMs, 5000)
    await c.unlink('a/c/moved')
    await c.unlink('a/c/moved') // missing is fine
    await c.unlink('missing/dir/name') // a missing folder too
    await c.rmTree('a')
    assert.deepEqual(await readdir(root), ['.flickrfs'])
  })

  void it('refuses a link or a file at any folder on the way, before writing, and leaves the outside alone', async () => {
    const root = join(work, 'planted')
    await mkdir(join(root, '.flickrfs'), { recursive: true })
    await symlink(outside, join(root, 'photostream'))
    await symlink(outside, join(root, '.flickrfs', 'tmp'))
    await writeFile(join(root, 'Set 1'), 'a file')
    const before = await listing(outside)
    const c = await Confined.open(root)
    const ps = refused(join(root, 'photostream'), /symbolic link; flickrfs writes only real folders and files inside .*Move it aside and run again\.$/)
    await assert.rejects(c.openForWrite('photostream/1.jpg'), ps)
    await assert.rejects(c.writeFileAtomic('photostream/1.jpg.metadata', 'x'), ps)
    await assert.rejects(c.writeFileAtomic('x', 'x', { tmpDir: '.flickrfs/tmp' }), refused(join(root, '.flickrfs/tmp'), /symbolic link/))
    await assert.rejects(c.rename('x', 'photostream/keep.jpg'), ps)
    await assert.rejects(c.unlink('photostream/keep.jpg'), ps)
    await assert.rejects(c.rmTree('photostream/keep.jpg'), ps)
    await assert.rejects(c.utimes('photostream/keep.jpg', 1, 1), ps)
    await assert.rejects(c.chmod('photostream/keep.jpg', 0o600), ps)
    await assert.rejects(c.symlink('../x', 'photostream/l'), ps)
    await assert.rejects(c.mkdirp('photostream/sub'), ps)
    await assert.rejects(c.isDir('photostream'), ps)
    await assert.rejects(c.writeFileAtomic('Set 1/metadata', 'x'), refused(join(root, 'Set 1'), /not a folder/))
    assert.deepEqual(await listing(outside), before)
    assert.equal(await readFile(join(outside, 'keep.jpg'), 'utf8'), 'precious')
  })

  void it('never follows a link at the last name: no write, time or mode change through it', async () => {
    const root = join(work, 'lastname')
    await mkdir(join(root, 'photostream'), { recursive: true })
    await symlink(join(outside, 'keep.jpg'), join(root, 'photostream', '1.jpg'))
    const before = await listing(outside)
    const c = await Confined.open(root)
    const last = refused(join(root, 'photostream/1.jpg'), /symbolic link/)
    await assert.rejects(c.openForWrite('photostream/1.jpg', constants.O_RDWR | constants.O_CREAT), last)
    await assert.rejects(c.utimes('photostream/1.jpg', 1, 1), last)
    await assert.rejects(c.chmod('photostream/1.jpg', 0o600), last)
    // Replacing or removing the name acts on the link, never on its target.
    await c.writeFileAtomic('photostream/1.jpg', 'new')
    assert.ok((await lstat(join(root, 'photostream/1.jpg'))).isFile())
    await symlink(join(outside, 'keep.jpg'), join(root, 'photostream', '2.jpg'))
    await c.unlink('photostream/2.jpg')
    assert.deepEqual(await listing(outside), before)
  })

  void it('rechecks a verified folder after recheckMs: a link planted later is caught', async () => {
    const root = join(work, 'later')
    let now = 0
    const c = await Confined.open(root, { create: true, now: () => now })
    await c.writeFileAtomic('photostream/a', 'a')
    await rm(join(root, 'photostream'), { recursive: true })
    await symlink(outside, join(root, 'photostream'))
    now = 5_000
    const ps = refused(join(root, 'photostream'), /symbolic link/)
    await assert.rejects(c.writeFileAtomic('photostream/b', 'b'), ps)
    // Every write that skips its folder checks while they are recent checks them again by now.
    await assert.rejects(c.symlink('x', 'photostream/l'), ps)
    await assert.rejects(c.rename('x', 'photostream/c'), ps)
    await assert.rejects(c.mkdirp('photostream/sub'), ps)
    await assert.rejects(c.openForWrite('photostream/d'), ps)
    assert.deepEqual(await readdir(outside), ['keep.jpg'])
  })

  void it('within recheckMs, writes into folders checked before go straight to their names', async () => {
    const root = join(work, 'recent')
    let now = 0
    const c = await Confined.open(root, { create: true, now: () => now })
    await c.writeFileAtomic('photostream/a', 'a', { tmpDir: '.flickrfs/tmp', mode: 0o600, mtimeMs: 3_000_000 })
    now = 999
    await c.writeFileAtomic('photostream/b', 'b', { tmpDir: '.flickrfs/tmp' })
    await c.symlink('a', 'photostream/l')
    await c.writeFileAtomic('.flickrfs/tmp/x.part', 'x')
    await c.rename('.flickrfs/tmp/x.part', 'photostream/x')
    assert.equal(await readFile(join(root, 'photostream/b'), 'utf8'), 'b')
    assert.equal(await readFile(join(root, 'photostream/x'), 'utf8'), 'x')
    assert.equal(await readlink(join(root, 'photostream/l')), 'a')
    const st = await stat(join(root, 'photostream/a'))
    assert.equal(st.mode & 0o777, 0o600)
    assert.equal(st.mtimeMs, 3_000_000)
    assert.deepEqual(await readdir(join(root, '.flickrfs/tmp')), [])
  })

  void it('writers arriving while a folder is checked share that check: its refusal, or the folder it made', async () => {
    const root = join(work, 'shared')
    await mkdir(root)
    await symlink(outside, join(root, 'photostream'))
    const c = await Confined.open(root)
    const before = await listing(outside)
    // 24 writers at once, as a pin's downloads start: every one refused, nothing written through the link.
    const writes = Array.from({ length: 24 }, (_, i) => c.writeFileAtomic(`photostream/${i}.jpg`, 'x', { tmpDir: '.flickrfs/tmp' }))
    const results = await Promise.allSettled(writes)
    assert.deepEqual(results.map((r) => r.status), writes.map(() => 'rejected'))
    for (const r of results) refused(join(root, 'photostream'), /symbolic link/)((r as PromiseRejectedResult).reason)
    assert.deepEqual(await listing(outside), before)
    // A check that may not create (isDir) is not joined by one that must: mkdirp still makes the folder.
    const [was, made] = await Promise.all([c.isDir('fresh'), c.mkdirp('fresh')])
    assert.equal(was, false)
    assert.equal(made, join(await realpath(root), 'fresh'))
    assert.ok((await lstat(join(root, 'fresh'))).isDirectory())
    // And 16 writers into a missing folder all land in the one folder made for them.
    await Promise.all(Array.from({ length: 16 }, (_, i) => c.writeFileAtomic(`new/${i}`, String(i))))
    assert.equal((await readdir(join(root, 'new'))).length, 16)
  })

  void it('chmod, utimes and fsyncDir leave no descriptor open, whether they succeed or are refused', async () => {
    const root = join(work, 'fds')
    const c = await Confined.open(root, { create: true })
    await c.writeFileAtomic('dir/file', 'x')
    await symlink(join(outside, 'keep.jpg'), join(root, 'dir', 'link'))
    const open = async (): Promise<number> => (await readdir('/proc/self/fd')).length
    const fdsBefore = await open()
    for (let i = 0; i < 20; i++) {
      await c.chmod('dir', 0o750)
      await c.utimes('dir/file', 7, 7)
      await c.fsyncDir('dir')
      await assert.rejects(c.chmod('dir/link', 0o600), /symbolic link/)
      await assert.rejects(c.fsyncDir('dir/link'), /symbolic link/)
    }
    // A folder that is not there is an error, never taken for a filesystem that cannot fsync folders.
    await assert.rejects(c.fsyncDir('missing'), (err: unknown) => (err as { code?: unknown }).code === 'ENOENT')
    assert.equal(await open(), fdsBefore)
    assert.equal((await stat(join(root, 'dir'))).mode & 0o777, 0o750)
    assert.equal((await stat(join(root, 'dir/file'))).mtimeMs, 7000)
    assert.equal(await readFile(join(outside, 'keep.jpg'), 'utf8'), 'precious')
  })

  void it('resolves a root that is itself a link, and refuses a root that is not a folder', async () => {
    const real = join(work, 'disk')
    await mkdir(real)
    const root = join(work, 'linked-root')
    await symlink(real, root)
    const c = await Confined.open(root)
    await c.writeFileAtomic('photostream/1.jpg', 'ok')
    assert.equal(await readFile(join(real, 'photostream/1.jpg'), 'utf8'), 'ok')
    await writeFile(join(work, 'afile'), 'x')
    await assert.rejects(Confined.open(join(work, 'afile')), (err: unknown) => err instanceof FlickrfsError && err.code === 'DEST')
  })

  void it('refuses paths that climb out of the root', async () => {
    const c = await Confined.open(join(work, 'plain'), { create: true })
    await assert.rejects(c.writeFileAtomic('../escape', 'x'), /climbs out/)
    await assert.rejects(c.writeFileAtomic('/etc/escape', 'x'), /absolute/)
    for (const rel of ['a/../../escape', 'a/./../../escape', 'a/b/../../../escape', '..']) await assert.rejects(c.writeFileAtomic(rel, 'x'), /climbs out/)
    // Paths not in normal form still mean what normalize() makes of them.
    await c.writeFileAtomic('a/./b//c/', 'x')
    await c.writeFileAtomic('a/x/../d', 'y')
    assert.equal(await readFile(join(work, 'plain', 'a/b/c'), 'utf8'), 'x')
    assert.equal(await readFile(join(work, 'plain', 'a/d'), 'utf8'), 'y')
  })

  void it('confineState refuses a catalog planted as a link', async () => {
    const root = join(work, 'state')
    await mkdir(join(root, '.flickrfs'), { recursive: true })
    await symlink(join(outside, 'keep.jpg'), join(root, '.flickrfs', 'catalog.sqlite'))
    await assert.rejects(confineState(root), refused(join(root, '.flickrfs/catalog.sqlite'), /symbolic link/))
    await rm(join(root, '.flickrfs'), { recursive: true })
    await symlink(outside, join(root, '.flickrfs'))
    await assert.rejects(confineState(root), refused(join(root, '.flickrfs'), /symbolic link/))
  })
})
