/**
 * The tree check by GNU find (src/pin/tree-find.ts, tree-check.ts): find's listing of a folder must
 * give the very numbers Node's lstat gives (a nanosecond time, a time before 1970, setuid bits, a
 * link, a folder, a name with a newline or bytes that are not UTF-8), and a check that lists the
 * folder with find must catch every change the lstat check catches; when find cannot be used, the
 * folder is lstat'ed instead.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { lstatSync, readdirSync } from 'node:fs'
import { chmod, mkdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { findFolder } from '../../src/pin/tree-find.js'
import { NUMBERS_PER_ENTRY, startCheck, type Chunk } from '../../src/pin/tree-check.js'
import { tempDir } from '../support/repo.js'
import { removeDir } from './helpers.js'

const FILES = 30

void describe('the tree check by find', () => {
  let work: string
  before(async () => {
    work = await tempDir()
  })
  after(async () => {
    await removeDir(work)
  })

  void it("lists each entry with the numbers of Node's lstat", async () => {
    const dir = join(work, 'odd')
    await mkdir(join(dir, 'sub'), { recursive: true })
    await writeFile(join(dir, 'nano'), 'n')
    // A nanosecond time (touch keeps all nine digits; utimes would round them to the microsecond).
    execFileSync('touch', ['-d', '2020-01-02 03:04:05.123456789', join(dir, 'nano')])
    await writeFile(join(dir, 'before 1970'), 'b')
    execFileSync('touch', ['-d', '1969-12-31 23:59:59.999999999', join(dir, 'before 1970')])
    await writeFile(join(dir, 'setuid'), 's')
    await chmod(join(dir, 'setuid'), 0o4755)
    await writeFile(join(dir, 'a\nb  c'), 'newline and spaces')
    await writeFile(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x6e, 0xff, 0x0a, 0x20])]), 'not UTF-8')
    await symlink('nano', join(dir, 'link'))
    const listing = await findFolder(dir).listing
    assert.ok(listing !== undefined, 'find listed the folder')
    // Names as bytes (one is not UTF-8: the listing holds it decoded, as a record would name it).
    const names = readdirSync(dir, { encoding: 'buffer' })
    assert.equal(listing.index.size, names.length + 1, 'every entry and the folder itself')
    for (const name of [...names, Buffer.alloc(0)]) {
      const st = lstatSync(name.length === 0 ? dir : Buffer.concat([Buffer.from(`${dir}/`), name]))
      const at: number = (listing.index.get(name.toString('utf8')) as number) * NUMBERS_PER_ENTRY
      assert.deepEqual([...listing.numbers.subarray(at, at + NUMBERS_PER_ENTRY)], [st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs], JSON.stringify(name.toString('utf8')))
    }
  })

  void it('no listing from a program that is not GNU find, or a folder that is not there', async () => {
    assert.equal(await findFolder(work, 'no-such-program-here').listing, undefined)
    assert.equal(await findFolder(work, 'true').listing, undefined, 'no output: not even the folder itself')
    assert.equal(await findFolder(join(work, 'missing')).listing, undefined)
  })

  /**
   * A folder of FILES files recorded as tree-record.ts records it: its files, and DEST's entry for
   * the folder `withFolder` (left out, only a file's own numbers can tell a change to it).
   */
  const makeTree = async (name: string, withFolder: boolean): Promise<{ dest: string; chunks: Chunk[]; numbers: Float64Array }> => {
    const dest = join(work, name)
    await mkdir(join(dest, 'photostream'), { recursive: true })
    const files = Array.from({ length: FILES }, (_, i) => `${i}.jpg`)
    for (const f of files) await writeFile(join(dest, 'photostream', f), `photo ${f}`)
    const chunks: Chunk[] = [...(withFolder ? [['', 'photostream'] as Chunk] : []), ['photostream', files.join('/')]]
    const paths = [...(withFolder ? ['photostream'] : []), ...files.map((f) => `photostream/${f}`)]
    const numbers = new Float64Array(new SharedArrayBuffer(paths.length * NUMBERS_PER_ENTRY * 8))
    paths.forEach((p, i) => {
      const st = lstatSync(join(dest, p))
      numbers.set([st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs], i * NUMBERS_PER_ENTRY)
    })
    return { dest, chunks, numbers }
  }

  /** The check with photostream/ listed by `program` (find, or one that fails: the lstat check then). */
  const check = (tree: { dest: string; chunks: Chunk[]; numbers: Float64Array }, program = 'find'): Promise<string> =>
    startCheck(tree.dest, tree.chunks, tree.numbers, { findFrom: 2, find: program, workerFrom: Infinity }).finish()

  void it('a tree as recorded passes; each change the lstat check catches is caught, with find or without', async () => {
    const changes: Array<[string, (dest: string) => Promise<string>, boolean?]> = [
      ['bytes rewritten in place, same size, mtime put back', async (dest) => {
        const p = join(dest, 'photostream', '3.jpg')
        const st = lstatSync(p)
        await writeFile(p, 'photo 4.jpg')
        await utimes(p, st.atime, st.mtime)
        return p
      }],
      ['a file removed', async (dest) => {
        const p = join(dest, 'photostream', '7.jpg')
        await rm(p)
        return p
      }],
      ['a file renamed over another', async (dest) => {
        await rename(join(dest, 'photostream', '8.jpg'), join(dest, 'photostream', '9.jpg'))
        return join(dest, 'photostream', '8.jpg')
      }],
      ['a file replaced by another with the same name, size and mtime', async (dest) => {
        const p = join(dest, 'photostream', '10.jpg')
        const st = lstatSync(p)
        await rm(p)
        await writeFile(p, 'photo 1.jpg')
        await utimes(p, st.atime, st.mtime)
        return p
      }],
      ['a file replaced by a folder', async (dest) => {
        const p = join(dest, 'photostream', '11.jpg')
        await rm(p)
        await mkdir(p)
        return p
      }],
      ['a mode change', async (dest) => {
        const p = join(dest, 'photostream', `${FILES - 1}.jpg`)
        await chmod(p, 0o600)
        return p
      }],
      ['a file planted, the folder times put back', async (dest) => {
        const ps = join(dest, 'photostream')
        const st = lstatSync(ps)
        await writeFile(join(ps, 'planted.jpg'), 'x')
        await utimes(ps, st.atime, st.mtime)
        return ps
      }, true],
    ]
    for (const program of ['find', 'no-such-program-here']) {
      for (const [what, change, withFolder] of changes) {
        const tree = await makeTree(`t${program.length}-${changes.findIndex(([w]) => w === what)}`, withFolder === true)
        assert.equal(await check(tree, program), '', `as recorded (${program})`)
        const path = await change(tree.dest)
        assert.equal(await check(tree, program), path, `${what} (${program})`)
      }
    }
  })
})
