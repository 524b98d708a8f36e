/**
 * `flickrfs pin DEST` as a user runs it (a child process of bin/flickrfs against the fake Flickr):
 * the whole tree per LAYOUT.md, byte-exact originals, sidecars, order files, numbered links that
 * stay inside DEST, the API budget, and a second run that downloads and rewrites nothing.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, realpath, writeFile } from 'node:fs/promises'
import { join, resolve, dirname, sep } from 'node:path'
import { Writable } from 'node:stream'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { main } from '../../src/cli/main.js'
import { changedPaths, cliEnv, expectedTree, mediaName, removeDir, snapshot, startFake, dirName } from '../pin/helpers.js'
import { sha256 } from '../support/files.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

class Capture extends Writable {
  text = ''
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString()
    cb()
  }
}

const apiCalls = (counts: Record<string, number>): number =>
  Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0)

void describe('pin DEST (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 7, photos: 60, videos: 5, sets: 7, collections: 3, commentedFraction: 0.2, meanPhotoBytes: 20_000, meanVideoBytes: 40_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('writes the whole LAYOUT.md tree within the API budget, plain lines on a non-TTY', async () => {
    const r = await runCli(['pin', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Pinned 65 items into .*: 65 downloaded/m)
    assert.ok(!(r.stdout + r.stderr).includes('\u001b[') && !(r.stdout + r.stderr).includes('\r'), 'no terminal control codes when not on a TTY')

    const a = fake.account
    const counts = fake.counts()
    const N = a.photostream.length
    const S = a.sets.length
    const C = a.commented().length
    const V = a.photostream.filter((id) => a.requirePhoto(id).media === 'video').length
    const budget = Math.ceil(N / 500) + Math.ceil(S / 500) + a.sets.reduce((n, s) => n + Math.ceil(s.photoIds.length / 500), 0) + 1 + C + V + 3
    assert.ok(apiCalls(counts) <= budget, `API calls ${apiCalls(counts)} > budget ${budget}: ${JSON.stringify(counts)}`)
    assert.equal(counts['media:GET'], N, 'each original fetched once')

    const tree = await snapshot(dest)
    const want = expectedTree(a)
    const got = new Map([...tree].map(([p, e]) => [p, e.kind]))
    assert.deepEqual([...got.keys()].sort(), [...want.entries.keys()].sort())
    for (const [p, w] of want.entries) {
      const e = tree.get(p)
      assert.equal(e?.kind, w.kind, p)
      if (w.target !== undefined) assert.equal(e?.target, w.target, p)
      if (w.size !== undefined) assert.equal(e?.size, w.size, p)
    }
  })

  void it('stores every original byte for byte, with a sidecar holding the record, comments and size, and its sha256 in SHA256SUMS', async () => {
    const a = fake.account
    const sums = await readFile(join(dest, 'photostream', 'SHA256SUMS'), 'utf8')
    assert.equal(sums.split('\n').filter((l) => l !== '').length, a.photostream.length)
    for (const id of a.photostream) {
      const p = a.requirePhoto(id)
      const name = mediaName(a, id)
      const bytes = await readFile(join(dest, 'photostream', name))
      const want = a.originalBytes(id)
      assert.ok(bytes.equals(want), `${name} differs from the fake's original`)
      const meta = JSON.parse(await readFile(join(dest, 'photostream', `${name}.metadata`), 'utf8')) as Record<string, unknown>
      assert.equal(meta.id, id)
      assert.equal(meta.title, p.title)
      assert.equal(meta.media, p.media)
      assert.ok('views' in meta && 'count_comments' in meta && 'originalformat' in meta, `${name}: extras missing`)
      const flickrfs = meta.flickrfs as { size: number; sha256?: string }
      assert.equal(flickrfs.size, want.length)
      assert.equal(flickrfs.sha256, undefined, `${name}: a sidecar follows from the catalog alone`)
      assert.ok(sums.includes(`${sha256(want)}  ${name}\n`), `${name} in SHA256SUMS`)
      if (p.comments.length > 0) {
        const comments = meta.comments as Array<{ _content: string; id: string }>
        assert.deepEqual(comments.map((c) => c.id), p.comments.map((c) => c.id), `${name}: comments`)
        assert.deepEqual(comments.map((c) => c._content), p.comments.map((c) => c.text))
      } else {
        assert.ok(!('comments' in meta) || (meta.comments as unknown[]).length === 0, `${name}: no comments expected`)
      }
    }
  })

  void it('writes photostream order, set and collection metadata with ordered id lists', async () => {
    const a = fake.account
    const order = JSON.parse(await readFile(join(dest, 'photostream', 'metadata'), 'utf8')) as { photos: string[] }
    assert.deepEqual(order.photos, a.photostream)
    for (const s of a.sets) {
      const m = JSON.parse(await readFile(join(dest, dirName('Set', s.id, s.title), 'metadata'), 'utf8')) as { id: string; photos: string[] }
      assert.equal(m.id, s.id)
      assert.deepEqual(m.photos, s.photoIds)
    }
    const top = a.collections[0]
    assert.ok(top !== undefined && top.children.length > 0, 'fixture has nested collections')
    const m = JSON.parse(await readFile(join(dest, dirName('Collection', top.id, top.title), 'metadata'), 'utf8')) as { id: string; set: string[]; collection: string[] }
    assert.equal(m.id, top.id)
    assert.deepEqual(m.set, top.setIds)
    assert.deepEqual(m.collection, top.children.map((c) => c.id))
  })

  void it('makes every symlink resolve to an existing entry inside DEST', async () => {
    const root = await realpath(dest)
    let links = 0
    for (const [p, e] of await snapshot(dest)) {
      if (e.kind !== 'link') continue
      links++
      const target = resolve(dirname(join(dest, p)), e.target ?? '')
      assert.ok(target.startsWith(resolve(dest) + sep), `${p} -> ${e.target} leaves DEST`)
      const real = await realpath(join(dest, p))
      assert.ok(real.startsWith(root + sep), `${p} resolves outside DEST`)
    }
    assert.ok(links > 60)
  })

  void it('a second run downloads nothing and rewrites nothing (mtimes and inodes unchanged); -q prints nothing', async () => {
    const before = await snapshot(dest)
    fake.resetCounts()
    const r = await runCli(['pin', '-q', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, '')
    assert.equal(fake.counts()['media:GET'] ?? 0, 0)
    assert.equal(fake.counts()['media:HEAD'] ?? 0, 0)
    assert.deepEqual(changedPaths(before, await snapshot(dest)), [])
  })

  void it('never touches files of the user inside DEST', async () => {
    await writeFile(join(dest, 'notes.txt'), 'mine\n')
    await writeFile(join(dest, 'photostream', 'README.mine'), 'also mine\n')
    await writeFile(join(dest, 'Not in any set', 'stray.txt'), 'a file in a managed directory\n')
    const before = await snapshot(dest)
    const r = await runCli(['pin', '-q', '--delete-unknown', dest], env)
    assert.equal(r.code, 0, r.stderr)
    const after = await snapshot(dest)
    for (const p of ['notes.txt', 'photostream/README.mine']) assert.deepEqual(after.get(p), before.get(p), p)
    assert.equal(await readFile(join(dest, 'notes.txt'), 'utf8'), 'mine\n')
    // Only flickrfs's own directory mtimes may move back; no file of ours or the user's is rewritten.
    assert.deepEqual(changedPaths(before, after, { ignoreDirs: true }).filter((p) => !p.includes('stray.txt')), [])
  })

  void it('-s prints the statistics', async () => {
    const r = await runCli(['pin', '-s', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Originals downloaded: 0 /m)
    assert.match(r.stdout, /^API calls: \d+$/m)
    assert.match(r.stdout, /^Failures: 0$/m)
  })

  void it('a bad flag value is a usage error with exit code 2 and no stack trace', async () => {
    // One real child proves the exit code reaches the shell; the other cases run main() in-process.
    const r = await runCli(['pin', '--concurrency', 'zero', dest], env)
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--concurrency takes a whole number/)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    for (const args of [['pin', '--concurrency', '0', dest], ['pin', '--api-rate', 'fast', dest], ['pin', '--no-such-flag', dest], ['pin'], ['pin', '-q', '-v', dest]]) {
      const out = new Capture()
      const err = new Capture()
      const code = await main(['node', 'flickrfs', ...args], { stdout: out, stderr: err, env })
      assert.equal(code, 2, `${args.join(' ')}: ${err.text}`)
      assert.ok(err.text.trim().length > 0, `${args.join(' ')} says why`)
      assert.doesNotMatch(err.text, /\n\s+at /, 'no stack trace')
    }
  })
})
