import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mediaKey, type CatalogSnapshot } from '../../src/catalog/types.js'
import { buildLayout, linkSize, pathHash } from '../../src/layout/index.js'
import type { Layout, LayoutNode, LayoutOptions } from '../../src/layout/index.js'
import { buildEagerLayout } from './eager-reference.js'
import { collectionEntry, photoSpecs, setEntry, snapshot, type PhotoSpec } from './fixture.js'
import { laterView } from '../support/later-view.js'
import { loadBytes, walk } from './tree.js'

/*
 * photostream/, the set directories and Not in any set/ make their children on demand, behind
 * small LRUs (photostream-dir.ts, link-dir.ts). These tests build the same snapshot with the eager
 * build the layout had before (eager-reference.ts) and with tiny caches, so every node goes through
 * being made, evicted and made again, and compare everything a reader or pin can see.
 */

/**
 * Everything stat shows of a node (a metadata file's size only when `bytes`: without a stored
 * size, measuring it costs a JSON build each). Its bytes: `bytesSeen`.
 */
function seen(node: LayoutNode | undefined, bytes: boolean): unknown {
  if (node === undefined) return undefined
  const common = { kind: node.kind, name: node.name, ino: node.ino, mtimeMs: node.mtimeMs }
  if (node.kind === 'dir') return { ...common, count: node.children.size }
  if (node.kind === 'link') return { ...common, target: node.target, size: linkSize(node) }
  if (node.content.type === 'original') return { ...common, size: node.size, media: node.content.media }
  return bytes ? { ...common, size: node.size } : common
}

/** What a reader sees of a node, its bytes too when it is a metadata file (awaited, as fs/ and pin/ read them). */
async function bytesSeen(node: LayoutNode | undefined): Promise<unknown> {
  const stat = seen(node, true)
  return node?.kind === 'file' && node.content.type === 'bytes' ? { stat, data: (await loadBytes(node)).toString('utf8') } : stat
}

/** The lazy build shows what the eager one does; every file's bytes too when `bytes`. */
async function assertSameTree(eager: Layout, lazy: Layout, bytes: boolean): Promise<void> {
  const expected = walk(eager.root)
  const actual = walk(lazy.root)
  assert.deepEqual(
    actual.map(([p, n]) => [p, seen(n, bytes)]),
    expected.map(([p, n]) => [p, seen(n, bytes)]),
  )
  // And every path looked up on its own (through the caches), as the mount does.
  for (const [p, n] of expected) assert.deepEqual(seen(lazy.lookup(p), bytes), seen(eager.lookup(p) ?? n, bytes), p)
  if (bytes) for (const [p, n] of expected) assert.deepEqual(await bytesSeen(lazy.lookup(p)), await bytesSeen(eager.lookup(p) ?? n), p)
  // Names alone, and membership, as pin asks them (neither makes a node).
  for (const [p, n] of [['/', eager.root] as const, ...expected]) {
    if (n.kind !== 'dir') continue
    const dir = lazy.lookup(p)
    assert.ok(dir?.kind === 'dir', p)
    assert.deepEqual([...dir.children.keys()], [...n.children.keys()], p)
    if (dir.eachChild !== undefined) {
      const listed: Array<[string, string, number]> = []
      dir.eachChild((name, child) => listed.push([name, child.kind, child.ino]))
      assert.deepEqual(listed, [...n.children].map(([name, c]) => [name, c.kind, c.ino]), `${p}: eachChild`)
    }
    for (const name of n.children.keys()) assert.ok(dir.children.has(name), `${p}/${name}`)
  }
  assert.deepEqual(lazy.stats, eager.stats)
  assert.equal(lazy.root.mtimeMs, eager.root.mtimeMs)
}

/** An account with every case the photostream rules have: videos, unsafe values, missing media, duplicates, records out of the order. */
function mixedAccount(): { snap: CatalogSnapshot; specs: PhotoSpec[] } {
  const specs: PhotoSpec[] = photoSpecs(300).map((s, i) => ({
    ...s,
    ...(i % 7 === 0 ? { media: 'video' as const, format: 'mov', mediaEntry: { ext: 'mov' } } : {}),
    ...(i % 11 === 0 ? { mediaEntry: false as const } : {}),
    ...(i % 13 === 0 ? { comments: [{ id: `c${i}`, author: 'a', _content: `comment ${i}` }] } : {}),
    ...(i % 5 === 0 ? { dateTaken: null } : { dateTaken: `2019-${String((i % 12) + 1).padStart(2, '0')}-0${(i % 9) + 1} 1${i % 10}:2${i % 10}:3${i % 10}` }),
    changedAtMs: 1_700_000_000_000 + i * 1_234,
  }))
  specs.push(
    { id: '../escape' },
    { id: 'has space' },
    { id: '.hidden' },
    { id: '777001', secret: 'bad/secret' },
    { id: '777002', mediaEntry: { ext: 'waytoolongext' } },
    { id: '777003', format: 'JPG', mediaEntry: { ext: 'jpg' } },
  )
  const ids = specs.map((s) => s.id)
  // The order lists one photo twice and leaves two out (they are records of the snapshot all the same).
  const photostream = [...ids.filter((id) => id !== '50010' && id !== '50020'), '50001']
  const sets = Array.from({ length: 25 }, (_, i) => setEntry(String(72157600000000000 + i), `Set ${i} / ünïcode`, ids.slice(i * 11, i * 11 + 17 + (i % 4) * 3)))
  sets.push(setEntry('72157600000000005', 'duplicate id', ['50000']))
  sets.push(setEntry('bad/set', 'unsafe', ['50000']))
  sets.push(setEntry('72157600000000099', 'members twice and absent', ['50003', '50003', '99999', '50010', '../escape']))
  const collections = [
    collectionEntry('1-1', 'Top', [sets[0]!.id, sets[1]!.id], [collectionEntry('1-2', 'Inner', [sets[2]!.id], [collectionEntry('1-3', 'Deep', [sets[3]!.id])])]),
    collectionEntry('2-1', 'Other', [sets[4]!.id, 'nosuchset']),
  ]
  return { snap: snapshot({ photos: specs, photostream, sets, collections }), specs }
}

const hashesOf = (s: CatalogSnapshot): LayoutOptions['hashes'] => ({
  generation: () => 1,
  hashOf: (id, secret) => {
    const m = s.media.get(mediaKey(id, secret))
    return m && Number(id) % 2 === 0 ? { ext: m.ext, size: m.size, sha256: 'a'.repeat(64), completedAt: 1_700_000_000_000 + Number(id) } : undefined
  },
})

void describe('layout: children made on demand', () => {
  const { snap, specs } = mixedAccount()
  const variants: Array<[string, LayoutOptions]> = [
    ['default', {}],
    ['--ignore-views', { ignoreViews: true }],
    ['--ignore-videos', { ignoreVideos: true }],
    ['--ignore-photos', { ignorePhotos: true }],
    ['partial (first catalog)', { partial: true }],
    ['with SHA256SUMS lines', { hashes: hashesOf(snap) }],
  ]
  for (const [what, opts] of variants) {
    void it(`shows the eager build's tree, byte for byte, through tiny caches: ${what}`, async () => {
      const eager = buildEagerLayout(snap, opts)
      const lazy = buildLayout(snap, { ...opts, nodeCache: 3, linkCache: 10 })
      await assertSameTree(eager, lazy, true)
      // The default caches too (a walk that fits keeps its nodes: same objects on lookup).
      await assertSameTree(eager, buildLayout(snap, opts), true)
    })
    void it(`shows the same tree over a view whose records come later, and stat asks for none: ${what}`, async () => {
      const view = laterView(snap)
      const lazy = buildLayout(view, { ...opts, nodeCache: 3, linkCache: 10 })
      const eager = buildEagerLayout(snap, opts)
      await assertSameTree(eager, lazy, false)
      // Sizes as the save stored them: the same as the bytes measured over the snapshot.
      for (const [p, n] of walk(eager.root)) assert.deepEqual(seen(lazy.lookup(p), true), seen(n, true), p)
      assert.equal(view.asked, 0, 'building, listing and stat asked for records')
      await assertSameTree(eager, lazy, true)
      assert.ok(view.asked > 0)
    })
  }

  void it('answers a lookup of a name it does not show with undefined, whatever the name parses to', () => {
    for (const opts of [{}, { ignoreVideos: true }, { ignorePhotos: true }] satisfies LayoutOptions[]) {
      const eager = buildEagerLayout(snap, opts)
      const lazy = buildLayout(snap, { ...opts, nodeCache: 2 })
      const candidates = ['metadata', 'SHA256SUMS', 'nosuch', '.', '..', '', '.jpg', 'jpg', '50000.', '50000.jpg/', '50000..jpg']
      for (const { id } of [...specs, { id: '99999' }, { id: '050000' }]) {
        for (const ext of ['jpg', 'mov', 'JPG', 'waytoolongext', 'png']) {
          candidates.push(`${id}.${ext}`, `${id}.${ext}.metadata`, `${id}.${ext}.metadata.metadata`, `${id}.${ext}.METADATA`)
        }
      }
      let shown = 0
      for (const name of candidates) {
        const p = `/photostream/${name}`
        const expected = eager.lookup(p)
        if (expected !== undefined) shown++
        assert.deepEqual(seen(lazy.lookup(p), false), seen(expected, false), p)
        // ('' and a trailing '/' look up photostream/ itself, which is no child of it.)
        if (name !== '' && !name.includes('/')) assert.equal((lazy.lookup('/photostream') as LayoutNode & { children: ReadonlyMap<string, LayoutNode> }).children.has(name), expected !== undefined, p)
      }
      assert.ok(shown > 20, `only ${shown} candidates shown: the check would prove little`)
      // A set directory and Not in any set/ likewise.
      for (const dir of [...eager.root.children.values()].filter((n) => n.kind === 'dir' && n.name !== 'photostream')) {
        for (const name of ['01_50000.jpg', '1_50000.jpg', '50000.jpg', '001_50003.jpg', 'metadata', 'x']) {
          const p = `/${dir.name}/${name}`
          assert.deepEqual(seen(lazy.lookup(p), false), seen(eager.lookup(p), false), p)
        }
      }
    }
  })

  void it('keeps at most nodeCache made photostream/ nodes, and gives the same node while it is kept', async () => {
    const photos = photoSpecs(2_000)
    const big = snapshot({ photos, sets: [setEntry('900', 'S', photos.slice(0, 500).map((p) => p.id))] })
    const lazy = buildLayout(big, { nodeCache: 50 })
    const dir = lazy.lookup('/photostream') as LayoutNode & { cachedNodes: number }
    assert.equal(dir.kind, 'dir')
    assert.equal(dir.cachedNodes, 0)
    // A listing bigger than the cache keeps nothing new.
    assert.equal([...dir.children.values()].length, 2 + 2 * 2_000)
    assert.equal(dir.cachedNodes, 0)
    for (const p of photos) {
      const a = lazy.lookup(`/photostream/${p.id}.jpg`)
      assert.ok(a !== undefined)
      assert.equal(lazy.lookup(`/photostream/${p.id}.jpg`), a, 'a node just made is the one kept')
      assert.ok(lazy.lookup(`/photostream/${p.id}.jpg.metadata`) !== undefined)
      assert.ok(dir.cachedNodes <= 50, `${dir.cachedNodes} nodes kept`)
    }
    assert.equal(dir.cachedNodes, 50)
    // One made again after eviction says the same as the first one did.
    const again = lazy.lookup(`/photostream/${photos[0]!.id}.jpg.metadata`)
    assert.deepEqual(await bytesSeen(again), await bytesSeen(buildEagerLayout(big).lookup(`/photostream/${photos[0]!.id}.jpg.metadata`)))
  })

  void it('keeps a link directory bigger than linkCache made while it is read, instead of making it again at each lookup', () => {
    const photos = photoSpecs(2_000)
    const big = snapshot({ photos, sets: [setEntry('900', 'S', photos.slice(0, 30).map((p) => p.id)), setEntry('901', 'T', photos.slice(20, 60).map((p) => p.id))] })
    const lazy = buildLayout(big, { linkCache: 10 })
    const eager = buildEagerLayout(big)
    const name = `${photos[1_000]!.id}.jpg`
    const first = lazy.lookup(`/Not in any set/${name}`)
    assert.deepEqual(seen(first, false), seen(eager.lookup(`/Not in any set/${name}`), false))
    assert.equal(lazy.lookup(`/Not in any set/${name}`), first, 'the 1,970 links stayed made')
    // Reading the set directories pushes it out (the bound holds), and it comes back the same.
    const set = lazy.lookup('/Set 900 - S/01_50000.jpg')
    assert.deepEqual(seen(set, false), seen(eager.lookup('/Set 900 - S/01_50000.jpg'), false))
    assert.ok(lazy.lookup('/Set 901 - T/01_50020.jpg') !== undefined)
    const again = lazy.lookup(`/Not in any set/${name}`)
    assert.notEqual(again, first, 'made again after the set directories took its place')
    assert.deepEqual(seen(again, false), seen(first, false))
  })

  void it('lets go of a link directory released by its walker, and makes it again the same when read again', () => {
    const photos = photoSpecs(200)
    const snap = snapshot({ photos, sets: [setEntry('900', 'S', photos.slice(0, 30).map((p) => p.id))] })
    const lazy = buildLayout(snap)
    const dir = lazy.lookup('/Not in any set')
    assert.ok(dir?.kind === 'dir' && dir.release !== undefined)
    const first = dir.children
    assert.equal(dir.children, first, 'kept while nobody released it')
    dir.release()
    const again = dir.children
    assert.notEqual(again, first, 'made again after release')
    assert.deepEqual([...again].map(([n, c]) => [n, seen(c, false)]), [...first].map(([n, c]) => [n, seen(c, false)]))
  })

  void it('gives files a collision moved the eager build numbers, at a size where paths collide', () => {
    // 40,000 photos: ~120k paths in photostream/, the set and Not in any set/, so a few 31-bit
    // path hashes collide and their numbers are moved (inodes.ts); the lazy build must move the same ones.
    const photos = photoSpecs(40_000, 7_000_000)
    const big = snapshot({ photos, sets: Array.from({ length: 40 }, (_, i) => setEntry(String(900 + i), `S${i}`, photos.slice(i * 500, i * 500 + 600).map((p) => p.id))) })
    const eager = buildEagerLayout(big)
    const lazy = buildLayout(big, { nodeCache: 10, linkCache: 100 })
    const expected = walk(eager.root)
    const moved = expected.filter(([p, n]) => n.ino !== pathHash(p)).map(([p]) => p)
    assert.ok(moved.some((p) => p.startsWith('/photostream/')) && moved.length >= 2, `moved: ${moved.join(', ')}`)
    assert.deepEqual(walk(lazy.root).map(([p, n]) => [p, seen(n, false)]), expected.map(([p, n]) => [p, seen(n, false)]))
    for (const p of moved) assert.equal(lazy.lookup(p)?.ino, eager.lookup(p)?.ino, p)
    // And as a listing sees them (no nodes made).
    const listed: Array<[string, number]> = []
    const dir = lazy.lookup('/photostream')
    assert.ok(dir?.kind === 'dir' && dir.eachChild !== undefined)
    dir.eachChild((name, child) => listed.push([name, child.ino]))
    const eagerDir = eager.lookup('/photostream')
    assert.ok(eagerDir?.kind === 'dir')
    assert.deepEqual(listed, [...eagerDir.children].map(([name, c]) => [name, c.ino]))
  })
})
