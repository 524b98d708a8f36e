/**
 * The tree record's writer (src/pin/tree-record.ts): the entries a pin meets, kept on disk
 * (TreeEntries), and the record written from them in pieces (writeTreeRecord), read back as a
 * no-change pin reads it (parseTreeRecord, startTreeCheck). The pin's own tests (tree-record.test.ts)
 * cover what a record proves; these cover the writer on trees larger than a chunk and with
 * folders written at the same time.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstatSync } from 'node:fs'
import { link, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CHUNK_NAMES, keepsCtime } from '../../src/pin/tree-check.js'
import { parseTreeRecord, startTreeCheck, TreeEntries, writeTreeRecord, type TreeCounts } from '../../src/pin/tree-record.js'
import { tempDir } from '../support/repo.js'
import { exists } from '../support/files.js'
import { removeDir } from './helpers.js'

const COUNTS: TreeCounts = { originals: 3, files: 7, ignored: { photos: 1, videos: 2 } }
/** More than a chunk's names in photostream/, some of them not ASCII. */
const PHOTOS = CHUNK_NAMES + 900

void describe('the tree record written in pieces', () => {
  let work: string
  before(async () => {
    work = await tempDir()
  })
  after(async () => {
    await removeDir(work)
  })

  /**
   * A DEST as a pin leaves it: photostream/ with PHOTOS files, a set folder of links (vouched for by
   * its folder) and a file, a collection holding a set; and its entries in write-tree's order, the
   * set and the collection met at the same time. `recorded`: the paths the record must hold, in order.
   */
  const makeDest = async (name: string): Promise<{ dest: string; entries: TreeEntries; recorded: string[] }> => {
    const dest = join(work, name)
    const ps = join(dest, 'photostream')
    await mkdir(join(dest, '.flickrfs', 'tmp'), { recursive: true })
    await writeFile(join(dest, '.flickrfs', 'manifest'), 'm')
    await mkdir(ps)
    const photos = Array.from({ length: PHOTOS }, (_, i) => (i % 7 === 0 ? `${i}_été ☃.jpg` : `${i}.jpg`))
    for (const p of photos) await writeFile(join(ps, p), '')
    const set = 'Set 1 Ärger'
    const inner = 'Collection 2/Set 3'
    await mkdir(join(dest, set))
    await mkdir(join(dest, inner), { recursive: true })
    for (let i = 0; i < 3; i++) await symlink(`../photostream/${photos[i] ?? ''}`, join(dest, set, `${i}.jpg`))
    await writeFile(join(dest, set, 'set.metadata'), '{}')
    await symlink(`../../photostream/${photos[3] ?? ''}`, join(dest, inner, 'a.jpg'))
    // Dated as pin dates them: their mtime is not their ctime.
    for (const p of [join(ps, photos[7] ?? ''), join(ps, photos[8] ?? ''), join(dest, set, 'set.metadata')]) await utimes(p, new Date(2001, 2, 3), new Date(2001, 2, 3))

    const entries = await TreeEntries.open(dest)
    const recorded: string[] = ['.', 'photostream', ...photos.map((p) => `photostream/${p}`)]
    entries.add('', '.')
    entries.add('', 'photostream')
    photos.forEach((p) => entries.add('photostream', p))
    entries.add('', set)
    entries.add('', 'Collection 2')
    recorded.push(set, 'Collection 2')
    // Several folders at once, as write-tree's eachLimit writes them; links said to be links.
    entries.add(set, '0.jpg', true)
    entries.add('Collection 2', 'Set 3')
    entries.add(set, '1.jpg', true)
    entries.add(inner, 'a.jpg', true)
    entries.add(set, '2.jpg', true)
    entries.add(set, 'set.metadata')
    recorded.push('Collection 2/Set 3', `${set}/set.metadata`, '.flickrfs/manifest')
    return { dest, entries, recorded }
  }

  const tmpLeft = async (dest: string): Promise<string[]> => readdir(join(dest, '.flickrfs', 'tmp'))

  void it('records every entry but the vouched links, with its lstat, as the no-change pin reads it', async () => {
    assert.ok(keepsCtime(work), 'the temp folder keeps ctimes')
    const { dest, entries, recorded } = await makeDest('whole')
    await writeTreeRecord(dest, 'the key', entries, COUNTS)
    await entries.discard()
    assert.deepEqual(await tmpLeft(dest), [], 'neither part file is left')
    const file = join(dest, '.flickrfs', 'tree-record')
    const record = parseTreeRecord(await readFile(file))
    assert.ok(record !== undefined, 'the record reads back')
    assert.equal(record.key, 'the key')
    assert.deepEqual(record.counts, COUNTS)
    const paths = record.chunks.flatMap(([dir, joined]) => joined.split('/').map((n) => (dir === '' ? n : `${dir}/${n}`)))
    // Each folder's names in their order; folders' chunks may interleave.
    const byDir = (list: string[]): Map<string, string[]> => {
      const out = new Map<string, string[]>()
      for (const p of list) {
        const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : ''
        let names = out.get(dir)
        if (names === undefined) out.set(dir, (names = []))
        names.push(p)
      }
      return out
    }
    assert.deepEqual(byDir(paths), byDir(recorded))
    assert.equal(paths.length, recorded.length)
    assert.ok(record.chunks.every(([, joined]) => joined.split('/').length <= CHUNK_NAMES))
    assert.equal(record.numbers.length, 5 * paths.length)
    paths.forEach((p, i) => {
      const st = lstatSync(join(dest, p))
      assert.deepEqual([...record.numbers.subarray(5 * i, 5 * i + 5)], [st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs], p)
    })

    const check = async (): Promise<boolean> => startTreeCheck(dest, (await stat(file)).size).finish()
    assert.equal(await check(), true, 'the check finds DEST as recorded')
    const photo = join(dest, paths.find((p) => p.includes('☃')) ?? '')
    await utimes(photo, new Date(), new Date())
    assert.equal(await check(), false, 'a file touched since differs')
  })

  void it('records the lstat write-tree gave for an entry it checked, not one of its own', async () => {
    const { dest, entries, recorded } = await makeDest('checked')
    // photostream/'s first file, as write-tree checked it; then changed behind pin's back.
    const name = recorded[2] ?? ''
    const path = join(dest, name)
    const checked = lstatSync(path)
    const dir = name.slice(0, name.lastIndexOf('/'))
    // Added again under a name of its own in the same folder: a hard link to the same file.
    await link(path, join(dest, dir, 'checked.jpg'))
    const linked = lstatSync(join(dest, dir, 'checked.jpg'))
    entries.add(dir, 'checked.jpg', false, linked)
    await utimes(path, new Date(2002, 1, 1), new Date(2002, 1, 1))
    await writeTreeRecord(dest, 'k', entries, COUNTS)
    await entries.discard()
    const file = join(dest, '.flickrfs', 'tree-record')
    const record = parseTreeRecord(await readFile(file))
    assert.ok(record !== undefined)
    const paths = record.chunks.flatMap(([d, joined]) => joined.split('/').map((n) => (d === '' ? n : `${d}/${n}`)))
    const at = paths.indexOf(`${dir}/checked.jpg`)
    assert.ok(at !== -1)
    assert.deepEqual([...record.numbers.subarray(5 * at, 5 * at + 5)], [linked.ino, linked.size, linked.mode, linked.mtimeMs, linked.ctimeMs], 'the lstat given')
    assert.notEqual(lstatSync(join(dest, dir, 'checked.jpg')).mtimeMs, linked.mtimeMs, 'the file changed since')
    // The entries given no lstat were lstat'ed now: the changed file under its first name too.
    const first = paths.indexOf(name)
    assert.equal(record.numbers[5 * first + 3], lstatSync(path).mtimeMs)
    // What pin checked is what the next check holds DEST to: the change is seen.
    assert.equal(await startTreeCheck(dest, (await stat(file)).size).finish(), false)
    assert.equal(checked.ino, linked.ino)
  })

  void it('writes no record, and leaves no part file, when an entry is missing', async () => {
    const { dest, entries } = await makeDest('missing')
    entries.add('photostream', 'gone.jpg')
    await writeTreeRecord(dest, 'k', entries, COUNTS)
    await entries.discard()
    assert.equal(await exists(join(dest, '.flickrfs', 'tree-record')), false)
    assert.deepEqual(await tmpLeft(dest), [])
  })

  void it('writes no record when a folder whose links it would vouch for is a link to a folder', async () => {
    const { dest, entries } = await makeDest('linked-folder')
    await symlink('Set 1 Ärger', join(dest, 'Set 9'))
    entries.add('', 'Set 9')
    entries.add('Set 9', '0.jpg', true)
    await writeTreeRecord(dest, 'k', entries, COUNTS)
    await entries.discard()
    assert.equal(await exists(join(dest, '.flickrfs', 'tree-record')), false)
    assert.deepEqual(await tmpLeft(dest), [])
  })
})

void describe('TreeEntries', () => {
  let work: string
  before(async () => {
    work = await tempDir()
    await mkdir(join(work, '.flickrfs', 'tmp'), { recursive: true })
  })
  after(async () => {
    await removeDir(work)
  })

  void it('gives back every folder\'s names in order, links apart, from its part file, however many folders are written at once', async () => {
    const entries = await TreeEntries.open(work)
    const added = new Map<string, string[]>()
    // Past the names it holds in memory: 3 folders interleaved, ~100,000 names, one of them long.
    const long = `${'ü'.repeat(2000)}.jpg`
    for (let i = 0; i < 33_000; i++) {
      for (const dir of ['photostream', 'Set 1', `Set ${i % 50} ü`]) {
        const name = i === 1234 && dir === 'Set 1' ? long : `${i}.jpg`
        // In the sets, most entries are links, some not.
        const link = dir !== 'photostream' && i % 3 !== 0
        const key = `${link ? 'links' : 'names'} of ${dir}`
        let names = added.get(key)
        if (names === undefined) added.set(key, (names = []))
        names.push(name)
        entries.add(dir, name, link, link || i % 5 !== 0 ? undefined : lstatSync(work))
      }
    }
    assert.ok(await exists(join(work, '.flickrfs', 'tmp', 'tree-entries.part')))
    const read = new Map<string, string[]>()
    let chunks = 0
    const folder = lstatSync(work)
    let given = 0
    entries.eachChunk((dir, joined, links, numbersOf) => {
      const numbers = numbersOf?.()
      const names = joined.split('/')
      assert.ok(names.length <= CHUNK_NAMES)
      // Each name's lstat as given (one in five here), NaN where none was; none for links.
      if (links) assert.equal(numbers, undefined)
      else {
        assert.equal(numbers?.length, 5 * names.length)
        names.forEach((name, k) => {
          const five = [...(numbers?.subarray(5 * k, 5 * k + 5) ?? [])]
          if (Number(name.split('.')[0]) % 5 === 0) {
            assert.deepEqual(five, [folder.ino, folder.size, folder.mode, folder.mtimeMs, folder.ctimeMs], `${dir}/${name}`)
            given++
          } else {
            assert.ok(five.every((n) => Number.isNaN(n)), `${dir}/${name}`)
          }
        })
      }
      const key = `${links ? 'links' : 'names'} of ${dir}`
      let got = read.get(key)
      if (got === undefined) read.set(key, (got = []))
      got.push(...names)
      chunks++
    })
    assert.deepEqual(read, added)
    assert.ok(given > 10_000, `${given} lstats given back`)
    // Read twice (the record's writer reads them three times), the same.
    let again = 0
    entries.eachChunk(() => void again++)
    assert.equal(again, chunks)
    assert.throws(() => entries.add('photostream', 'late.jpg'), /already read/)
    await entries.discard()
    assert.equal(await exists(join(work, '.flickrfs', 'tmp', 'tree-entries.part')), false)
    await rm(join(work, '.flickrfs', 'tmp'), { recursive: true, force: true })
  })
})
