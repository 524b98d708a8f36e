/**
 * A file whose bytes come in chunks (photostream/SHA256SUMS: ~80 MB at 1,000,000 originals, made
 * whole at the start of a pin's tree write before): writeTree writes it, finds it unchanged, and
 * writes it again when its bytes differ in place or it grew, a chunk at a time, never asking for
 * the bytes whole. Then the same over a real layout's SHA256SUMS: the file pin writes is the one
 * the layout gives whole (what the mount serves).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { appendFile, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { mediaKey } from '../../src/catalog/types.js'
import { buildLayout, type OriginalHashes } from '../../src/layout/index.js'
import { Manifest } from '../../src/pin/manifest.js'
import { writeTree, type TreeNode, type WriteTreeOptions } from '../../src/pin/write-tree.js'
import { photoSpecs, snapshot } from '../layout/fixture.js'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function tempDest(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'flickrfs-chunked-'))
  dirs.push(d)
  return d
}

function options(): WriteTreeOptions {
  const all = { has: (): boolean => true }
  return { deleteUnknown: false, previous: Manifest.empty(), alive: { photo: all, set: all, collection: all }, tmpDir: '.flickrfs/tmp' }
}

/** A tree of photostream/ holding one file `name` whose bytes are `pieces`, given only as chunks. */
function chunkedTree(name: string, pieces: Buffer[], mtimeMs: number): { root: TreeNode; asked: { chunks: number } } {
  const asked = { chunks: 0 }
  const content = {
    type: 'bytes' as const,
    get data(): Buffer {
      throw new Error('the bytes were asked for whole')
    },
    *chunks(): Generator<Buffer> {
      asked.chunks++
      for (const p of pieces) yield p
    },
  }
  const size = pieces.reduce((n, p) => n + p.length, 0)
  const file: TreeNode = { kind: 'file', name, mtimeMs, size, content }
  const photostream: TreeNode = { kind: 'dir', name: 'photostream', mtimeMs, children: new Map([[name, file]]) }
  return { root: { kind: 'dir', name: '', mtimeMs, children: new Map([['photostream', photostream]]) }, asked }
}

void describe('a file whose bytes come in chunks', () => {
  void test('is written, then found unchanged, then written again when it differs in place or grew', async () => {
    const dest = await tempDest()
    const pieces = [Buffer.from('first chunk\n'), Buffer.from('second\n'), Buffer.from('third and last\n')]
    const whole = Buffer.concat(pieces)
    const path = join(dest, 'photostream', 'SUMS')
    const mtimeMs = 1_700_000_000_000

    const first = chunkedTree('SUMS', pieces, mtimeMs)
    const wrote = await writeTree(dest, first.root, options())
    assert.equal(wrote.written, 2, 'photostream/ and the file')
    assert.ok((await readFile(path)).equals(whole))
    assert.equal((await stat(path)).mtimeMs, mtimeMs)
    const ino = (await stat(path)).ino

    const again = chunkedTree('SUMS', pieces, mtimeMs)
    const same = await writeTree(dest, again.root, options())
    assert.equal(same.written, 0)
    assert.equal((await stat(path)).ino, ino, 'not replaced')
    assert.ok(again.asked.chunks >= 1, 'compared through its chunks')

    // One byte changed, the size and mtime kept: only the bytes tell.
    const changed = Buffer.from(whole)
    changed[whole.length - 3] = 0x58
    await writeFile(path, changed)
    await utimes(path, mtimeMs / 1000, mtimeMs / 1000)
    const mended = await writeTree(dest, chunkedTree('SUMS', pieces, mtimeMs).root, options())
    assert.equal(mended.written, 1)
    assert.ok((await readFile(path)).equals(whole))

    // A byte more at the end (the chunks all match, the file goes on).
    await appendFile(path, 'x')
    await utimes(path, mtimeMs / 1000, mtimeMs / 1000)
    const trimmed = await writeTree(dest, chunkedTree('SUMS', pieces, mtimeMs).root, options())
    assert.equal(trimmed.written, 1)
    assert.ok((await readFile(path)).equals(whole))
  })

  void test("a layout's SHA256SUMS: pin writes it in chunks, the bytes the layout gives whole", async () => {
    const snap = snapshot({ photos: photoSpecs(40) })
    const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex')
    const hashes: OriginalHashes = {
      generation: () => 1,
      hashOf: (id, secret) => {
        const m = snap.media.get(mediaKey(id, secret))
        return m === undefined ? undefined : { sha256: hashOf(id), ext: m.ext, size: m.size, completedAt: 1_700_000_000_000 }
      },
    }
    const whole = buildLayout(snap, { hashes }).lookup('/photostream/SHA256SUMS')
    assert.ok(whole?.kind === 'file' && whole.content.type === 'bytes')
    const expected = whole.content.data
    assert.equal(expected.toString('utf8').split('\n').length, 41, '40 lines')

    const layout = buildLayout(snap, { hashes })
    const sums = layout.lookup('/photostream/SHA256SUMS')
    assert.ok(sums?.kind === 'file' && sums.content.type === 'bytes')
    // Asked for whole, the version would keep its bytes: the write must not.
    const version = sums.content
    Object.defineProperty(version, 'data', { get: () => assert.fail('the bytes were asked for whole') })
    const dest = await tempDest()
    // Only photostream/SHA256SUMS: the rest of the layout is other tests' business.
    const root: TreeNode = { kind: 'dir', name: '', mtimeMs: 0, children: new Map([['photostream', { kind: 'dir', name: 'photostream', mtimeMs: 0, children: new Map([['SHA256SUMS', sums]]) }]]) }
    await writeTree(dest, root, options())
    assert.ok((await readFile(join(dest, 'photostream', 'SHA256SUMS'))).equals(expected))
  })
})
