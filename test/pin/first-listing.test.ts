/**
 * A first pin (no manifest) lists photostream/ but keeps only the names that are not originals the
 * store checked in this run (write-tree.ts #photostreamNames): what else is there is still found.
 * A sidecar already there with the same bytes and mtime is left alone, not written again; a folder
 * squatting a sidecar's name is replaced; the checked originals are taken as there, unlooked at, and
 * an original the store did not check is looked at and reported missing when it is not there.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Manifest } from '../../src/pin/manifest.js'
import { writeTree, type TreeNode, type WriteTreeOptions } from '../../src/pin/write-tree.js'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const MTIME = 1_700_000_000_000

function sidecar(name: string, text: string): TreeNode {
  const data = Buffer.from(text)
  return { kind: 'file', name, mtimeMs: MTIME, size: data.length, content: { type: 'bytes', data } }
}

function original(name: string, size: number): TreeNode {
  return { kind: 'file', name, mtimeMs: MTIME, size, content: { type: 'original' } }
}

void describe("a first pin's listing of photostream/", () => {
  void test('finds what is there besides the checked originals, and never lists them', async () => {
    const dest = await mkdtemp(join(tmpdir(), 'flickrfs-first-listing-'))
    dirs.push(dest)
    const ps = join(dest, 'photostream')
    await mkdir(ps, { recursive: true })
    await writeFile(join(ps, '1.jpg'), 'one')
    await writeFile(join(ps, '1.jpg.metadata'), '{"id":"1"}\n')
    await utimes(join(ps, '1.jpg.metadata'), MTIME / 1000, MTIME / 1000)
    const kept = await stat(join(ps, '1.jpg.metadata'))
    await mkdir(join(ps, '2.jpg.metadata', 'inside'), { recursive: true })
    await writeFile(join(ps, '2.jpg'), 'two')

    const children = [original('1.jpg', 3), sidecar('1.jpg.metadata', '{"id":"1"}\n'), original('2.jpg', 3), sidecar('2.jpg.metadata', '{"id":"2"}\n'), original('3.jpg', 5), sidecar('3.jpg.metadata', '{"id":"3"}\n')]
    const photostream: TreeNode = { kind: 'dir', name: 'photostream', mtimeMs: MTIME, children: new Map(children.map((c) => [c.name, c])) }
    const root: TreeNode = { kind: 'dir', name: '', mtimeMs: MTIME, children: new Map([['photostream', photostream]]) }
    const asked: string[] = []
    const checked = new Set(['1.jpg', '2.jpg'])
    const all = { has: (): boolean => true }
    const opts: WriteTreeOptions = {
      deleteUnknown: false,
      previous: Manifest.empty(),
      alive: { photo: all, set: all, collection: all },
      tmpDir: '.flickrfs/tmp',
      checkedOriginals: { has: (name) => (asked.push(name), checked.has(name)) },
    }
    const report = await writeTree(dest, root, opts)

    const after1 = await stat(join(ps, '1.jpg.metadata'))
    assert.equal(after1.ino, kept.ino, 'the sidecar already there with the same bytes is not written again')
    assert.ok((await stat(join(ps, '2.jpg.metadata'))).isFile(), 'the folder squatting a sidecar name is replaced')
    assert.equal(await readFile(join(ps, '2.jpg.metadata'), 'utf8'), '{"id":"2"}\n')
    assert.equal(await readFile(join(ps, '3.jpg.metadata'), 'utf8'), '{"id":"3"}\n')
    assert.deepEqual(report.missingOriginals, ['3.jpg'], 'the original the store did not check is looked for, and is not there')
    assert.equal(report.unchanged, 1)
    // The listing asked of every name it read (the originals among them are not kept).
    for (const name of ['1.jpg', '2.jpg', '1.jpg.metadata', '2.jpg.metadata']) assert.ok(asked.includes(name), name)
  })
})
