/**
 * src/util/fs.ts on a real temp folder: an atomic write never shows a part of a file under the
 * final name and leaves no temp file behind, also when it fails.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, open, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exists, fsyncDir, readFully, symlinkAtomic, writeFileAtomic } from '../../src/util/fs.js'
import { tempDir } from '../support/repo.js'

async function workDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await tempDir('flickrfs-util-fs-')
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

void test('writeFileAtomic writes the content with the asked mode, whatever the umask, and leaves only the file', async (t) => {
  const dir = await workDir(t)
  const path = join(dir, 'token.json')
  const old = process.umask(0o077)
  try {
    await writeFileAtomic(join(dir, 'plain.json'), 'plain\n')
    await writeFileAtomic(path, '{"secret":1}\n', { mode: 0o600 })
  } finally {
    process.umask(old)
  }
  assert.equal(await readFile(path, 'utf8'), '{"secret":1}\n')
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  assert.equal((await stat(join(dir, 'plain.json'))).mode & 0o777, 0o644, 'default mode 0644 even under umask 077')
  assert.deepEqual((await readdir(dir)).sort(), ['plain.json', 'token.json'])
})

void test('a reader of the final name sees the old or the new content whole, never a part', async (t) => {
  const dir = await workDir(t)
  const path = join(dir, 'big.bin')
  const a = Buffer.alloc(1 << 20, 0x61)
  const b = Buffer.alloc(1 << 20, 0x62)
  await writeFileAtomic(path, a)
  let writing = true
  const writer = (async () => {
    for (let i = 0; i < 30; i++) await writeFileAtomic(path, i % 2 === 0 ? b : a, { syncDir: false })
    writing = false
  })()
  let reads = 0
  while (writing) {
    const seen = await readFile(path)
    assert.ok(seen.equals(a) || seen.equals(b), `read ${seen.length} bytes that are neither version`)
    reads++
  }
  await writer
  assert.ok(reads > 0)
  assert.deepEqual(await readdir(dir), ['big.bin'], 'no temp file left')
})

void test('a failed write leaves the old entry as it was and no temp file', async (t) => {
  const dir = await workDir(t)
  // A non-empty folder under the final name: the rename must fail.
  const path = join(dir, 'taken')
  await mkdir(path)
  await writeFile(join(path, 'inside'), 'keep')
  await assert.rejects(writeFileAtomic(path, 'new'), (err: NodeJS.ErrnoException) => ['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(err.code ?? ''))
  assert.deepEqual(await readdir(dir), ['taken'])
  assert.equal(await readFile(join(path, 'inside'), 'utf8'), 'keep')

  // A temp folder that does not exist: nothing is written anywhere.
  await assert.rejects(writeFileAtomic(join(dir, 'other'), 'x', { tmpDir: join(dir, 'missing') }), { code: 'ENOENT' })
  assert.deepEqual(await readdir(dir), ['taken'])
})

void test('writeFileAtomic with tmpDir and mtimeMs: the temp goes there and is gone after; the time is set', async (t) => {
  const dir = await workDir(t)
  const tmp = join(dir, 'tmp')
  await mkdir(tmp)
  const path = join(dir, 'photo.json')
  const mtimeMs = Date.UTC(2015, 5, 1, 12, 0, 0)
  await writeFileAtomic(path, 'x', { tmpDir: tmp, mtimeMs })
  assert.equal((await stat(path)).mtimeMs, mtimeMs)
  assert.deepEqual(await readdir(tmp), [])
  assert.deepEqual((await readdir(dir)).sort(), ['photo.json', 'tmp'])
})

void test('symlinkAtomic replaces a file with a link in one step and sets the link time', async (t) => {
  const dir = await workDir(t)
  const path = join(dir, 'link')
  await writeFile(path, 'a file first')
  const mtimeMs = Date.UTC(2016, 0, 2)
  await symlinkAtomic(path, '../photostream/1.jpg', { mtimeMs })
  const st = await lstat(path)
  assert.ok(st.isSymbolicLink())
  assert.equal(await readlink(path), '../photostream/1.jpg')
  assert.equal(st.mtimeMs, mtimeMs)
  assert.deepEqual(await readdir(dir), ['link'])
})

void test('fsyncDir syncs a real folder and fails on a missing one', async (t) => {
  const dir = await workDir(t)
  await fsyncDir(dir)
  await assert.rejects(fsyncDir(join(dir, 'missing')), { code: 'ENOENT' })
})

void test('readFully returns the asked range, fewer bytes only at end of file', async (t) => {
  const dir = await workDir(t)
  const path = join(dir, 'data')
  const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251))
  await writeFile(path, data)
  const fh = await open(path, 'r')
  try {
    assert.ok((await readFully(fh, 1000, 200_000)).equals(data.subarray(1000, 201_000)))
    assert.ok((await readFully(fh, 299_990, 100)).equals(data.subarray(299_990)))
    assert.equal((await readFully(fh, 400_000, 10)).length, 0)
  } finally {
    await fh.close()
  }
})

void test('exists: files and folders yes; missing paths and dangling links no', async (t) => {
  const dir = await workDir(t)
  await writeFile(join(dir, 'f'), '')
  await symlink(join(dir, 'nowhere'), join(dir, 'dangling'))
  assert.equal(await exists(join(dir, 'f')), true)
  assert.equal(await exists(dir), true)
  assert.equal(await exists(join(dir, 'nowhere')), false)
  assert.equal(await exists(join(dir, 'dangling')), false)
  assert.equal(await exists(join(dir, 'f', 'under-a-file')), false)
})
