/**
 * After photostream/'s walk, writeTree goes over the last manifest's entries to find those the
 * layout no longer has (src/pin/write-tree.ts #writePhotostream): removed under --delete-unknown,
 * kept otherwise. It asks the layout only about the entries its walk did not record, not again about
 * every name (a lookup in the catalog each: 100,000 at 50,000 photos, on every pin after a change).
 * Real temp DEST, the layout built from a catalog snapshot; the layout's photostream/ is counted
 * as it is asked, nothing else stands in for it.
 */
import assert from 'node:assert/strict'
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { buildLayout } from '../../src/layout/index.js'
import { writeTree, type TreeNode, type WriteTreeOptions } from '../../src/pin/write-tree.js'
import { Manifest, ManifestWriter } from '../../src/pin/manifest.js'
import { photoSpecs, setEntry, snapshot } from '../layout/fixture.js'

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false)

/** `root` with its photostream/ children counting each `has` they are asked. */
function countingHas(root: TreeNode): { root: TreeNode; asked: string[] } {
  const asked: string[] = []
  const ps = root.children?.get('photostream')
  assert.ok(ps?.children !== undefined)
  const inner = ps.children
  const children = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'has') return (name: string): boolean => (asked.push(name), target.has(name))
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  const photostream: TreeNode = { kind: ps.kind, name: ps.name, mtimeMs: ps.mtimeMs, children }
  const top = new Map(root.children)
  top.set('photostream', photostream)
  return { root: { kind: root.kind, name: root.name, mtimeMs: root.mtimeMs, children: top }, asked }
}

void describe('the pass over the last manifest after photostream/ is written', () => {
  for (const deleteUnknown of [true, false]) {
    void test(`asks the layout only about the names it no longer walked (--delete-unknown ${deleteUnknown ? 'on' : 'off'})`, async (t) => {
      const dest = await mkdtemp(join(tmpdir(), 'flickrfs-ps-gone-'))
      t.after(() => rm(dest, { recursive: true, force: true }))
      await mkdir(join(dest, '.flickrfs', 'tmp'), { recursive: true })
      const photos = photoSpecs(12)
      const gone = photos[photos.length - 1]?.id ?? ''
      const before = snapshot({ photos, sets: [setEntry('10', 'Ten', photos.slice(0, 5).map((p) => p.id))] })
      const after = snapshot({ photos: photos.slice(0, -1), sets: [setEntry('10', 'Ten', photos.slice(0, 5).map((p) => p.id))] })
      const all = { has: (): boolean => true }
      const base: WriteTreeOptions = { deleteUnknown, previous: Manifest.empty(), alive: { photo: all, set: all, collection: all }, tmpDir: '.flickrfs/tmp' }
      const made = new ManifestWriter(undefined)
      await writeTree(dest, buildLayout(before).root, { ...base, next: made })
      const first = made.manifest()
      const sidecar = join(dest, 'photostream', `${gone}.jpg.metadata`)
      assert.ok(await exists(sidecar))

      const { root, asked } = countingHas(buildLayout(after).root)
      const alive = { has: (id: string): boolean => id !== gone }
      const report = await writeTree(dest, root, { ...base, previous: first, alive: { photo: alive, set: all, collection: all } })
      // The deleted photo's original and sidecar are the only entries of the last manifest the walk did not record.
      assert.deepEqual(asked.sort(), [`${gone}.jpg`, `${gone}.jpg.metadata`])
      // Its link in Not in any set/ goes either way (a folder of ours is rebuilt to match Flickr).
      assert.equal(report.removed, (deleteUnknown ? 2 : 0) + 1)
      assert.equal(await exists(sidecar), !deleteUnknown)
      for (const p of photos.slice(0, -1)) assert.ok(await exists(join(dest, 'photostream', `${p.id}.jpg.metadata`)), p.id)
    })
  }
})
