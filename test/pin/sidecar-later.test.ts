/**
 * A sidecar whose record comes later (a CatalogView answering `record` and `comments` with
 * promises, as schema 3's rows will, and its size from `sidecarSize` as the layout's sizer gave it
 * to the save; test/support/later-view.ts): the layout gives the same bytes and sizes as over the
 * snapshot, and writeTree writes the same files into a real DEST, awaiting them, and finds nothing
 * to write the next time.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { CatalogSnapshot } from '../../src/catalog/types.js'
import { isFlickrfsError } from '../../src/errors/flickrfs-error.js'
import { buildLayout, type Layout, type LayoutNode } from '../../src/layout/index.js'
import { writeTree, type WriteTreeOptions } from '../../src/pin/write-tree.js'
import { Manifest, ManifestWriter } from '../../src/pin/manifest.js'
import { photoSpecs, setEntry, snapshot } from '../layout/fixture.js'
import { laterView, savedSizes } from '../support/later-view.js'

function accountSnapshot(): CatalogSnapshot {
  const photos = photoSpecs(12)
  const first = photos[0]
  if (first) first.comments = [{ id: 'c1', author: 'x', _content: 'nice' }]
  return snapshot({ photos, sets: [setEntry('10', 'Ten', photos.slice(0, 5).map((p) => p.id))] })
}

function sidecarPaths(layout: Layout): string[] {
  const photostream = layout.lookup('/photostream')
  assert.ok(photostream?.kind === 'dir')
  return [...photostream.children.keys()].filter((n) => n.endsWith('.jpg.metadata')).map((n) => `/photostream/${n}`)
}

async function loaded(node: LayoutNode | undefined): Promise<Buffer> {
  assert.ok(node?.kind === 'file' && node.content.type === 'bytes' && node.content.load !== undefined)
  return node.content.load()
}

function options(): WriteTreeOptions {
  const all = { has: (): boolean => true }
  return { deleteUnknown: false, previous: Manifest.empty(), alive: { photo: all, set: all, collection: all }, tmpDir: '.flickrfs/tmp' }
}

async function filesUnder(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = join(rel, e.name)
    if (p === '.flickrfs') continue
    if (e.isDirectory()) for (const [k, v] of await filesUnder(dir, p)) out.set(k, v)
    else if (e.isFile()) out.set(p, await readFile(join(dir, p), 'utf8'))
  }
  return out
}

void describe('a sidecar whose record comes later', () => {
  void test('the layout gives the same bytes and sizes as over the snapshot, through load; data refuses', async () => {
    const snap = accountSnapshot()
    for (const ignoreViews of [false, true]) {
      const now = buildLayout(snap, { ignoreViews })
      const view = laterView(snap)
      const later = buildLayout(view, { ignoreViews })
      const paths = sidecarPaths(now)
      assert.equal(paths.length, 12)
      for (const p of paths) {
        const a = now.lookup(p)
        const b = later.lookup(p)
        assert.ok(a?.kind === 'file' && a.content.type === 'bytes' && b?.kind === 'file' && b.content.type === 'bytes')
        const pending = b.content.load?.()
        assert.ok(pending instanceof Promise, 'the bytes came at once from a view that answers later')
        assert.ok((await pending).equals(a.content.data), p)
        assert.equal(b.size, a.size, p)
        const content = b.content
        assert.throws(() => content.data, (e: unknown) => isFlickrfsError(e) && e.code === 'INTERNAL')
      }
      assert.equal(view.asked, 2 * paths.length, 'once for load, once for data (refused)')
    }
  })

  void test('bytes that differ from the size the view stored are refused (a read answers EIO), never served cut', async () => {
    const snap = accountSnapshot()
    const sizes = savedSizes(snap)
    const layout = buildLayout(laterView(snap, (id, iv) => (sizes(id, iv) ?? 0) + 1))
    const node = layout.lookup('/photostream/50000.jpg.metadata')
    await assert.rejects(loaded(node), (e: unknown) => isFlickrfsError(e) && e.code === 'INTERNAL')
  })

  void test('writeTree awaits them: the same files as over the snapshot, and nothing to write the next time', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'flickrfs-sidecar-later-'))
    t.after(() => rm(root, { recursive: true, force: true }))
    const snap = accountSnapshot()
    const [a, b] = [join(root, 'a'), join(root, 'b')]
    for (const d of [a, b]) await mkdir(join(d, '.flickrfs', 'tmp'), { recursive: true })
    await writeTree(a, buildLayout(snap).root, options())
    const view = laterView(snap)
    const made = new ManifestWriter(undefined)
    await writeTree(b, buildLayout(view).root, { ...options(), next: made })
    const first = made.manifest()
    assert.ok(view.asked >= 12)
    assert.deepEqual(await filesUnder(b), await filesUnder(a))
    // Again, over what is there: each sidecar compared (its bytes awaited), none written.
    const asked = view.asked
    const again = await writeTree(b, buildLayout(view).root, { ...options(), previous: first })
    assert.equal(again.written, 0)
    assert.ok(view.asked >= asked + 12, 'the sidecars were not compared')
    // A sidecar changed on disk (same size) is put back.
    const edited = join(b, 'photostream', '50003.jpg.metadata')
    const text = await readFile(edited, 'utf8')
    await writeFile(edited, text.replace('"Photo 50003"', '"Photo 5000X"'))
    const repair = await writeTree(b, buildLayout(view).root, { ...options(), previous: first })
    assert.equal(repair.written, 1)
    assert.equal(await readFile(edited, 'utf8'), text)
  })
})
