import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mediaKey, type CatalogSnapshot, type CatalogView, type CollectionEntry } from '../../src/catalog/index.js'
import { buildLayout, linkSize, mediaMtimeMs, wholeSecondsMs } from '../../src/layout/index.js'
import type { Layout, LayoutNode, LayoutOptions } from '../../src/layout/index.js'
import { laterView } from '../support/later-view.js'
import { collectionEntry, photoSpecs, setEntry, snapshot } from './fixture.js'
import { loadBytes, names, resolveLink, walk } from './tree.js'

// As in a complete pin: every original downloaded, so SHA256SUMS lists them all.
const allHashed = (s: CatalogSnapshot): LayoutOptions => ({
  hashes: {
    generation: () => 1,
    hashOf: (id, secret) => {
      const m = s.media.get(mediaKey(id, secret))
      return m && { ext: m.ext, size: m.size, sha256: 'f'.repeat(64), completedAt: 1_700_000_000_000 }
    },
  },
})

/** The example tree of LAYOUT.md. */
function layoutExample(): Layout {
  const snap = snapshot({
    photos: [
      { id: '12345' },
      { id: '12346' },
      { id: '12350', media: 'video', format: 'mov', mediaEntry: { ext: 'mov' } },
    ],
    sets: [
      setEntry('72157600000000001', 'Pretty Waterfalls', ['12346', '12350']),
      setEntry('72157600000000003', 'Paris', []),
    ],
    collections: [
      collectionEntry('1000-72157600000000100', 'Travel', ['72157600000000003', '72157600000000001']),
      collectionEntry('1000-72157600000000200', 'Places', [], [collectionEntry('1000-72157600000000201', 'Europe', ['72157600000000003'])]),
    ],
  })
  return buildLayout(snap)
}

function describeTree(layout: Layout): string[] {
  return walk(layout.root).map(([p, n]) => (n.kind === 'link' ? `${p} -> ${n.target}` : n.kind === 'dir' ? `${p}/` : p))
}

/** Asserts every link in the tree resolves to an existing node inside it. */
function assertLinksResolve(layout: Layout): number {
  let links = 0
  for (const [p, node] of walk(layout.root)) {
    if (node.kind !== 'link') continue
    links++
    const resolved = resolveLink(p, node.target)
    assert.ok(resolved.startsWith('/') && !resolved.startsWith('/..'), `${p} -> ${node.target} leaves the tree`)
    const target = layout.lookup(resolved)
    assert.ok(target !== undefined, `${p} -> ${node.target} dangles (${resolved})`)
    if (node.target.includes('/photostream/')) assert.equal(target.kind, 'file', p)
    else assert.equal(target.kind, 'dir', p)
  }
  return links
}

void describe('buildLayout: the LAYOUT.md example', () => {
  void it('builds exactly the example tree', () => {
    assert.deepEqual(describeTree(layoutExample()), [
      '/photostream/',
      '/photostream/metadata',
      '/photostream/SHA256SUMS',
      '/photostream/12345.jpg',
      '/photostream/12345.jpg.metadata',
      '/photostream/12346.jpg',
      '/photostream/12346.jpg.metadata',
      '/photostream/12350.mov',
      '/photostream/12350.mov.metadata',
      '/Not in any set/',
      '/Not in any set/12345.jpg -> ../photostream/12345.jpg',
      '/Set 72157600000000001 - Pretty Waterfalls/',
      '/Set 72157600000000001 - Pretty Waterfalls/metadata',
      '/Set 72157600000000001 - Pretty Waterfalls/1_12346.jpg -> ../photostream/12346.jpg',
      '/Set 72157600000000001 - Pretty Waterfalls/2_12350.mov -> ../photostream/12350.mov',
      '/Set 72157600000000003 - Paris/',
      '/Set 72157600000000003 - Paris/metadata',
      '/Collection 1000-72157600000000100 - Travel/',
      '/Collection 1000-72157600000000100 - Travel/metadata',
      '/Collection 1000-72157600000000100 - Travel/1_Set 72157600000000003 - Paris -> ../Set 72157600000000003 - Paris',
      '/Collection 1000-72157600000000100 - Travel/2_Set 72157600000000001 - Pretty Waterfalls -> ../Set 72157600000000001 - Pretty Waterfalls',
      '/Collection 1000-72157600000000200 - Places/',
      '/Collection 1000-72157600000000200 - Places/metadata',
      '/Collection 1000-72157600000000200 - Places/1_Collection 1000-72157600000000201 - Europe/',
      '/Collection 1000-72157600000000200 - Places/1_Collection 1000-72157600000000201 - Europe/metadata',
      '/Collection 1000-72157600000000200 - Places/1_Collection 1000-72157600000000201 - Europe/1_Set 72157600000000003 - Paris -> ../../Set 72157600000000003 - Paris',
    ])
  })
  void it('reports exact sizes: originals from MediaEntry, links as their target length', async () => {
    const layout = layoutExample()
    const original = layout.lookup('/photostream/12350.mov')
    assert.ok(original?.kind === 'file' && original.content.type === 'original')
    assert.equal(original.size, original.content.media.size)
    for (const [p, node] of walk(layout.root)) {
      if (node.kind === 'link') assert.equal(linkSize(node), Buffer.byteLength(node.target))
      if (node.kind === 'file' && node.content.type === 'bytes') assert.equal(node.size, (await loadBytes(node, p)).length, p)
    }
  })
  void it('counts what it shows', () => {
    assert.deepEqual(layoutExample().stats, { photos: 3, sets: 2, collections: 3, photosWithoutMedia: 0, unsafeRecords: 0 })
  })
})

void describe('buildLayout: numbering', () => {
  for (const [count, first, last] of [
    [9, '1_', '9_'],
    [10, '01_', '10_'],
    [100, '001_', '100_'],
  ] as const) {
    void it(`numbers ${count} set entries ${first}…${last}`, () => {
      const photos = photoSpecs(count)
      const layout = buildLayout(snapshot({ photos, sets: [setEntry('1', 'S', photos.map((p) => p.id))] }))
      const entries = names(layout.lookup('/Set 1 - S')).filter((n) => n !== 'metadata')
      assert.equal(entries.length, count)
      assert.equal(entries[0], `${first}${photos[0]?.id}.jpg`)
      assert.equal(entries[count - 1], `${last}${photos[count - 1]?.id}.jpg`)
      for (const name of entries) assert.equal(name.indexOf('_'), String(count).length)
    })
  }
  void it('keeps album order, not photostream order', () => {
    const layout = buildLayout(snapshot({ photos: photoSpecs(3), sets: [setEntry('1', 'S', ['50002', '50000', '50001'])] }))
    assert.deepEqual(names(layout.lookup('/Set 1 - S')), ['metadata', '1_50002.jpg', '2_50000.jpg', '3_50001.jpg'])
  })
  void it('numbers sets then child collections together in a collection, padded to their total', () => {
    const sets = Array.from({ length: 8 }, (_, i) => setEntry(String(100 + i), `S${i}`, []))
    const kids = [collectionEntry('9-1', 'K1', []), collectionEntry('9-2', 'K2', [])]
    const layout = buildLayout(snapshot({ sets, collections: [collectionEntry('9-0', 'Top', sets.map((s) => s.id), kids)] }))
    const entries = names(layout.lookup('/Collection 9-0 - Top'))
    assert.deepEqual(entries, [
      'metadata',
      ...sets.map((s, i) => `0${i + 1}_Set ${s.id} - ${s.title}`),
      '09_Collection 9-1 - K1',
      '10_Collection 9-2 - K2',
    ])
    assert.equal(layout.lookup('/Collection 9-0 - Top/10_Collection 9-2 - K2')?.kind, 'dir')
    assert.equal(layout.lookup('/Collection 9-0 - Top/01_Set 100 - S0')?.kind, 'link')
  })
  void it('keeps numbered set links in collections within 255 bytes while targets keep the full name', () => {
    const long = '€'.repeat(100)
    const layout = buildLayout(snapshot({ sets: [setEntry('1', long, [])], collections: [collectionEntry('2-2', 'C', ['1'])] }))
    const [p, link] = walk(layout.root).find(([, n]) => n.kind === 'link') ?? []
    assert.ok(p !== undefined && link?.kind === 'link')
    assert.ok(Buffer.byteLength(link.name) <= 255)
    assert.ok(link.name.startsWith('1_Set 1 - €'))
    const setDir = [...layout.root.children.keys()][2] ?? ''
    assert.equal(Buffer.byteLength(setDir), 254)
    assert.equal(link.target, `../${setDir}`)
    assert.equal(link.name, `1_${setDir.slice(0, -1)}`, 'one € less, to make room for 1_')
    assertLinksResolve(layout)
  })
})

void describe('buildLayout: collections', () => {
  void it('nests child collections as real directories with ../-depth set links', () => {
    const deep = collectionEntry('1-3', 'C3', ['10'])
    const mid = collectionEntry('1-2', 'C2', ['10'], [deep])
    const top = collectionEntry('1-1', 'C1', ['10'], [mid])
    const layout = buildLayout(snapshot({ sets: [setEntry('10', 'Ten', [])], collections: [top] }))
    const byDepth = walk(layout.root)
      .filter(([, n]) => n.kind === 'link')
      .map(([, n]) => (n.kind === 'link' ? n.target : ''))
    assert.deepEqual(byDepth, ['../Set 10 - Ten', '../../Set 10 - Ten', '../../../Set 10 - Ten'])
    assert.equal(layout.lookup('/Collection 1-1 - C1/2_Collection 1-2 - C2/2_Collection 1-3 - C3/metadata')?.kind, 'file')
    assert.equal(assertLinksResolve(layout), 3)
  })
  void it('skips sets that do not exist (deleted, not resolved yet) and renumbers the rest', () => {
    const layout = buildLayout(
      snapshot({ sets: [setEntry('10', 'Ten', []), setEntry('12', 'Twelve', [])], collections: [collectionEntry('1-1', 'C', ['10', '11', '12'])] }),
    )
    assert.deepEqual(names(layout.lookup('/Collection 1-1 - C')), ['metadata', '1_Set 10 - Ten', '2_Set 12 - Twelve'])
  })
  void it('stops at a collection that contains itself', () => {
    const loop: CollectionEntry = collectionEntry('1-1', 'Loop', [])
    loop.children.push(loop)
    const layout = buildLayout(snapshot({ collections: [loop] }))
    assert.deepEqual(names(layout.lookup('/Collection 1-1 - Loop')), ['metadata'])
  })
})

void describe('buildLayout: Not in any set and skipped photos', () => {
  void it('links photos in no set, in photostream order', () => {
    const layout = buildLayout(
      snapshot({ photos: photoSpecs(5), photostream: ['50004', '50003', '50002', '50001', '50000'], sets: [setEntry('1', 'S', ['50003', '50001'])] }),
    )
    const dir = layout.lookup('/Not in any set')
    assert.deepEqual(names(dir), ['50004.jpg', '50002.jpg', '50000.jpg'])
    const link = layout.lookup('/Not in any set/50002.jpg')
    assert.ok(link?.kind === 'link')
    assert.equal(link.target, '../photostream/50002.jpg')
    assert.deepEqual(names(layout.lookup('/photostream')).filter((n) => !n.endsWith('.metadata')), [
      'metadata',
      'SHA256SUMS',
      '50004.jpg',
      '50003.jpg',
      '50002.jpg',
      '50001.jpg',
      '50000.jpg',
    ])
  })
  void it('leaves out a photo whose MediaEntry is not known yet, with its sidecar and links', () => {
    const layout = buildLayout(
      snapshot({ photos: [{ id: '1' }, { id: '2', mediaEntry: false }, { id: '3', mediaEntry: false }], sets: [setEntry('9', 'S', ['2', '1'])] }),
    )
    assert.deepEqual(names(layout.lookup('/photostream')), ['metadata', 'SHA256SUMS', '1.jpg', '1.jpg.metadata'])
    assert.deepEqual(names(layout.lookup('/Set 9 - S')), ['metadata', '1_1.jpg'])
    assert.deepEqual(names(layout.lookup('/Not in any set')), [])
    assert.equal(layout.stats.photosWithoutMedia, 2)
  })
  void it('skips set members that were deleted', () => {
    const layout = buildLayout(snapshot({ photos: [{ id: '1' }], sets: [setEntry('9', 'S', ['404', '1'])] }))
    assert.deepEqual(names(layout.lookup('/Set 9 - S')), ['metadata', '1_1.jpg'])
  })
  void it('names videos by their MediaEntry extension (.mp4 for a transcode)', () => {
    const layout = buildLayout(
      snapshot({ photos: [{ id: '7', media: 'video', format: 'mov', mediaEntry: { ext: 'mp4', kind: 'transcode', label: 'HD MP4' } }] }),
    )
    assert.deepEqual(names(layout.lookup('/photostream')), ['metadata', 'SHA256SUMS', '7.mp4', '7.mp4.metadata'])
  })
  void it('drops photos under ignorePhotos and videos under ignoreVideos, with sidecars and links', () => {
    const snap = snapshot({
      photos: [{ id: '1' }, { id: '2', media: 'video', format: 'mov' }],
      sets: [setEntry('9', 'S', ['1', '2'])],
    })
    const noPhotos = buildLayout(snap, { ignorePhotos: true })
    assert.deepEqual(names(noPhotos.lookup('/photostream')), ['metadata', 'SHA256SUMS', '2.mov', '2.mov.metadata'])
    assert.deepEqual(names(noPhotos.lookup('/Set 9 - S')), ['metadata', '1_2.mov'])
    const noVideos = buildLayout(snap, { ignoreVideos: true })
    assert.deepEqual(names(noVideos.lookup('/photostream')), ['metadata', 'SHA256SUMS', '1.jpg', '1.jpg.metadata'])
    assert.deepEqual(names(noVideos.lookup('/Set 9 - S')), ['metadata', '1_1.jpg'])
  })
  void it('shows a photo listed twice in the photostream once', () => {
    const layout = buildLayout(snapshot({ photos: [{ id: '1' }], photostream: ['1', '1'] }))
    assert.deepEqual(names(layout.lookup('/photostream')), ['metadata', 'SHA256SUMS', '1.jpg', '1.jpg.metadata'])
  })
})

void describe('buildLayout: untrusted ids and titles', () => {
  const hostile = () =>
    snapshot({
      photos: [
        { id: '1' },
        { id: '..' },
        { id: '.' },
        { id: '../../etc/passwd' },
        { id: 'a/b' },
        { id: 'x\u0000y' },
        { id: '2', mediaEntry: { ext: '../../x' } },
        { id: '3', mediaEntry: { ext: '' } },
      ],
      sets: [
        setEntry('..', 'Dots', ['1']),
        setEntry('a/b', 'Slash', ['1']),
        setEntry('10', '/etc/passwd', ['1', '..']),
        setEntry('11', '..', []),
        setEntry('12', '\u0000\n', []),
        setEntry('13', 'é'.repeat(200), []),
      ],
      collections: [
        collectionEntry('/', 'Root', ['10']),
        collectionEntry('1-1', '../..', ['10', '..'], [collectionEntry('..', 'Kid', ['10'])]),
      ],
    })
  void it('skips records with unsafe ids or extensions and counts them', () => {
    const layout = buildLayout(hostile())
    assert.deepEqual(names(layout.root), [
      'photostream',
      'Not in any set',
      'Set 10 - _etc_passwd',
      'Set 11 - ..',
      'Set 12',
      `Set 13 - ${'é'.repeat(123)}`,
      'Collection 1-1 - .._..',
    ])
    assert.deepEqual(names(layout.lookup('/photostream')), ['metadata', 'SHA256SUMS', '1.jpg', '1.jpg.metadata'])
    assert.deepEqual(names(layout.lookup('/Collection 1-1 - .._..')), ['metadata', '1_Set 10 - _etc_passwd'])
    assert.equal(layout.stats.unsafeRecords, 5 + 2 + 2 + 2)
  })
  void it('skips a photo whose secret the store would refuse, and counts it', () => {
    const layout = buildLayout(snapshot({ photos: [{ id: '1' }, { id: '4', secret: 'a/b' }, { id: '5', secret: '-x' }, { id: '6', secret: '' }] }))
    assert.deepEqual(names(layout.lookup('/photostream')), ['metadata', 'SHA256SUMS', '1.jpg', '1.jpg.metadata'])
    assert.equal(layout.stats.unsafeRecords, 3)
  })
  void it('never produces a name that is empty, `.`, `..`, has a `/` or NUL, or is over 255 bytes', () => {
    for (const [p, node] of walk(buildLayout(hostile()).root)) {
      assert.ok(node.name !== '' && node.name !== '.' && node.name !== '..', p)
      assert.ok(!node.name.includes('/') && !node.name.includes('\u0000'), p)
      assert.ok(Buffer.byteLength(node.name) <= 255, p)
    }
    assertLinksResolve(buildLayout(hostile()))
  })
})

void describe('buildLayout: every link of a generated tree resolves inside it', () => {
  void it('holds for a random account', () => {
    let seed = 12345
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    const photos = photoSpecs(300).map((p) => ({ ...p, mediaEntry: rand(10) === 0 ? (false as const) : {} }))
    const sets = Array.from({ length: 40 }, (_, i) =>
      setEntry(String(7000 + i), rand(3) === 0 ? '' : `Set/${i}\n`, Array.from({ length: rand(15) }, () => String(50000 + rand(320)))),
    )
    const mk = (depth: number, prefix: string): CollectionEntry[] =>
      Array.from({ length: depth > 3 ? 0 : rand(4) }, (_, i) =>
        collectionEntry(`${prefix}-${i}`, `C ${prefix} ${i}`, Array.from({ length: rand(5) }, () => String(7000 + rand(45))), mk(depth + 1, `${prefix}${i}`)),
      )
    const layout = buildLayout(snapshot({ photos, sets, collections: mk(0, '1') }))
    const links = assertLinksResolve(layout)
    assert.ok(links > 300, `only ${links} links`)
  })
})

/**
 * The views the metadata tests run over: the snapshot (records at once), and the same catalog as
 * rows on disk will serve it (records a turn later, sidecar sizes as the save stored them).
 */
const VIEWS: Array<[string, (s: CatalogSnapshot) => CatalogSnapshot | CatalogView]> = [
  ['over the snapshot', (s) => s],
  ['over a view whose records come later', (s) => laterView(s)],
]

for (const [over, viewOf] of VIEWS) void describe(`buildLayout: metadata files, ${over}`, () => {
  const build = (s: CatalogSnapshot, opts?: LayoutOptions): Layout => buildLayout(viewOf(s), opts)
  const snap = () =>
    snapshot({
      photos: [
        { id: '1', comments: [{ id: 'c1', author: 'x', _content: 'nice' }] },
        { id: '2' },
        { id: '3', media: 'video', format: 'mov', mediaEntry: { ext: 'mp4', kind: 'transcode', label: 'HD MP4', size: 4242 } },
      ],
      sets: [setEntry('10', 'Ten', ['2', '404', '1'])],
      collections: [collectionEntry('1-1', 'C', ['10', '99'], [collectionEntry('1-2', 'K', [])])],
    })
  const bytesOf = async (layout: Layout, p: string): Promise<Buffer> => {
    const node: LayoutNode | undefined = layout.lookup(p)
    const data = await loadBytes(node, p)
    assert.equal(node?.kind === 'file' && node.size, data.length, `${p}: size and bytes agree`)
    return data
  }
  const json = async (layout: Layout, p: string): Promise<unknown> => {
    const data = await bytesOf(layout, p)
    assert.ok(data.toString('utf8').endsWith('}\n'))
    return JSON.parse(data.toString('utf8'))
  }
  void it('photo sidecar: the raw record, then comments, then flickrfs, whatever the store knows', async () => {
    const s = snap()
    const hash = 'ab'.repeat(32)
    const known = { generation: () => 1, hashOf: (id: string, secret: string) => (id === '1' && secret === 's1' ? { ext: 'jpg', size: 1001, sha256: hash, completedAt: 5 } : undefined) }
    const layout = build(s, { hashes: known })
    const one = (await json(layout, '/photostream/1.jpg.metadata')) as Record<string, unknown>
    assert.deepEqual(Object.keys(one), [...Object.keys(s.photos.get('1')?.raw ?? {}), 'comments', 'flickrfs'])
    assert.deepEqual(one.comments, [{ id: 'c1', author: 'x', _content: 'nice' }])
    // The hash lives in SHA256SUMS: the sidecar is the same bytes with or without it known.
    assert.deepEqual(one.flickrfs, { size: 1001 })
    assert.ok((await bytesOf(layout, '/photostream/1.jpg.metadata')).equals(await bytesOf(build(s), '/photostream/1.jpg.metadata')))
    assert.equal(one.views, '17')
    const two = (await json(layout, '/photostream/2.jpg.metadata')) as Record<string, unknown>
    assert.ok(!('comments' in two))
    assert.deepEqual(two.flickrfs, { size: 1002 })
    const three = (await json(layout, '/photostream/3.mp4.metadata')) as Record<string, unknown>
    assert.deepEqual(three.flickrfs, { size: 4242, video: 'transcode', label: 'HD MP4' })
  })
  void it('drops views under ignoreViews', async () => {
    const one = (await json(build(snap(), { ignoreViews: true, ...allHashed(snap()) }), '/photostream/1.jpg.metadata')) as Record<string, unknown>
    assert.ok(!('views' in one))
    assert.equal(one.title, 'Photo 1')
  })
  void it('under ignoreViews, a views-only change does not move the sidecar mtime', () => {
    const s = snap()
    const photo = s.photos.get('1')
    assert.ok(photo)
    const edited = { ...photo, changedAtMs: 1_800_000_000_000, changedAtMsIgnoringViews: 1_700_000_000_000 }
    const changed: CatalogSnapshot = { ...s, photos: new Map([...s.photos, ['1', edited]]) }
    const mtime = (ignoreViews: boolean): number | undefined => build(changed, { ignoreViews, ...allHashed(changed) }).lookup('/photostream/1.jpg.metadata')?.mtimeMs
    assert.equal(mtime(true), 1_700_000_000_000)
    assert.equal(mtime(false), 1_800_000_000_000)
  })
  void it('is pretty-printed JSON and byte-identical across builds', async () => {
    const a = await bytesOf(build(snap()), '/photostream/1.jpg.metadata')
    const b = await bytesOf(build(snap()), '/photostream/1.jpg.metadata')
    assert.ok(a.equals(b))
    assert.ok(a.toString().startsWith('{\n  "id": "1",\n'))
  })
  void it('photostream/metadata lists the photostream in order', async () => {
    assert.deepEqual(await json(build(snap()), '/photostream/metadata'), { photos: ['1', '2', '3'] })
  })
  void it('set metadata is the getList record with photos replaced by member ids', async () => {
    const set = (await json(build(snap()), '/Set 10 - Ten/metadata')) as Record<string, unknown>
    assert.deepEqual(Object.keys(set), ['id', 'owner', 'primary', 'photos', 'title', 'description'])
    assert.deepEqual(set.photos, ['2', '404', '1'])
    assert.deepEqual(set.title, { _content: 'Ten' })
  })
  void it('collection metadata is the node with set and collection as id lists', async () => {
    const c = await json(build(snap()), '/Collection 1-1 - C/metadata')
    assert.deepEqual(c, { id: '1-1', title: 'C', description: '', iconlarge: '/images/x.gif', set: ['10', '99'], collection: ['1-2'] })
    const k = await json(build(snap()), '/Collection 1-1 - C/2_Collection 1-2 - K/metadata')
    assert.deepEqual(k, { id: '1-2', title: 'K', description: '', iconlarge: '/images/x.gif', set: [], collection: [] })
  })
  void it('SHA256SUMS lists, sorted by name, each shown original whose recorded bytes are the ones shown', async () => {
    const s = snap()
    const h = (c: string): string => c.repeat(64)
    const records = new Map([
      ['1', { ext: 'jpg', size: 1001, sha256: h('1'), completedAt: 1_700_000_123_456 }],
      ['2', { ext: 'jpg', size: 999, sha256: h('2'), completedAt: 1_800_000_000_000 }], // another size: not these bytes
      ['3', { ext: 'mp4', size: 4242, sha256: h('3'), completedAt: 1_600_000_000_000 }],
    ])
    const layout = build(s, { hashes: { generation: () => 7, hashOf: (id, secret) => (secret === `s${id}` ? records.get(id) : undefined) } })
    const node = layout.lookup('/photostream/SHA256SUMS')
    assert.ok(node?.kind === 'file' && node.content.type === 'bytes')
    assert.equal(node.content.data.toString('utf8'), `${h('1')}  1.jpg\n${h('3')}  3.mp4\n`)
    assert.equal(node.size, node.content.data.length)
    assert.equal(node.mtimeMs, 1_700_000_124_000, 'the latest of its lines, rounded up to whole seconds')
    assert.deepEqual(names(layout.root.children.get('photostream')).slice(0, 2), ['metadata', 'SHA256SUMS'])
    // Another extension, another secret: not the shown original either.
    records.set('1', { ext: 'png', size: 1001, sha256: h('1'), completedAt: 1 })
    const other = build(s, { hashes: { generation: () => 1, hashOf: (id, secret) => (secret === 'other' ? undefined : records.get(id)) } })
    assert.equal((await bytesOf(other, '/photostream/SHA256SUMS')).toString('utf8'), `${h('3')}  3.mp4\n`)
    // Without a store it is there, empty.
    const bare = build(s).lookup('/photostream/SHA256SUMS')
    assert.ok(bare?.kind === 'file')
    assert.equal(bare.size, 0)
  })
  void it('SHA256SUMS let go of by a walker (pin, once written) is made again, the same, when asked again', () => {
    const s = snap()
    let asked = 0
    const record = { ext: 'jpg', size: 1001, sha256: 'e'.repeat(64), completedAt: 1_700_000_000_000 }
    const layout = build(s, { hashes: { generation: () => 3, hashOf: (id) => (asked++, id === '1' ? record : undefined) } })
    const photostream = layout.root.children.get('photostream')
    assert.ok(photostream?.kind === 'dir')
    const inTree = photostream.children.get('SHA256SUMS')
    assert.ok(inTree?.kind === 'file' && inTree.content.type === 'bytes' && inTree.release !== undefined)
    const before = inTree.content.data
    assert.equal(before.toString('utf8'), `${'e'.repeat(64)}  1.jpg\n`)
    const askedOnce = asked
    assert.equal(inTree.content.data, before, 'kept for its generation')
    assert.equal(asked, askedOnce)
    inTree.release()
    const after = inTree.content.data
    assert.ok(asked > askedOnce, 'let go: made again')
    assert.notEqual(after, before)
    assert.ok(after.equals(before))
    assert.equal(inTree.size, before.length)
  })
  void it('SHA256SUMS: lookup hands out one version per store generation, and a version never changes', () => {
    const s = snap()
    let generation = 1
    const known = new Map<string, { ext: string; size: number; sha256: string; completedAt: number }>()
    const layout = build(s, { hashes: { generation: () => generation, hashOf: (id) => known.get(id) } })
    const first = layout.lookup('/photostream/SHA256SUMS')
    assert.ok(first?.kind === 'file' && first.content.type === 'bytes')
    assert.equal(layout.lookup('/photostream/SHA256SUMS'), first, 'same generation, same object')
    assert.equal(first.size, 0)
    known.set('2', { ext: 'jpg', size: 1002, sha256: 'd'.repeat(64), completedAt: 1_750_000_000_000 })
    assert.equal(layout.lookup('/photostream/SHA256SUMS'), first, 'the store says nothing moved: not asked again')
    generation++
    const second = layout.lookup('/photostream/SHA256SUMS')
    assert.ok(second?.kind === 'file' && second.content.type === 'bytes')
    assert.notEqual(second, first)
    assert.equal(second.ino, first.ino)
    assert.equal(second.content.data.toString('utf8'), `${'d'.repeat(64)}  2.jpg\n`)
    assert.equal(second.size, 64 + 2 + '2.jpg'.length + 1)
    assert.equal(second.mtimeMs, 1_750_000_000_000)
    assert.equal(first.size, 0, 'the old version keeps its size')
    assert.equal(first.content.data.length, 0, 'and its bytes')
    const inTree = layout.root.children.get('photostream')
    assert.ok(inTree?.kind === 'dir')
    assert.equal(inTree.children.get('SHA256SUMS')?.mtimeMs, 1_750_000_000_000, 'a walk of the tree sees the current version')
  })
})

void describe('buildLayout: times', () => {
  const snap = () =>
    snapshot({
      photos: [
        { id: '1', dateTaken: '2011-05-06 07:08:09', changedAtMs: 1_700_000_000_900 },
        { id: '2', dateTaken: null, dateUpload: 1_500_000_000, changedAtMs: 1_700_000_500_000 },
        { id: '3', dateTaken: '0000-00-00 00:00:00', dateUpload: 1_500_000_777 },
      ],
      sets: [setEntry('10', 'Ten', ['1'], 1_700_000_100_500)],
      collections: [collectionEntry('1-1', 'C', ['10'], [], 1_600_000_000_000)],
      photostreamChangedAtMs: 1_700_000_050_999,
    })
  void it('media: date taken as local time, else upload date; sidecars: the record change time', () => {
    const layout = buildLayout(snap(), allHashed(snap()))
    assert.equal(layout.lookup('/photostream/1.jpg')?.mtimeMs, new Date(2011, 4, 6, 7, 8, 9).getTime())
    assert.equal(layout.lookup('/photostream/2.jpg')?.mtimeMs, 1_500_000_000_000)
    assert.equal(layout.lookup('/photostream/3.jpg')?.mtimeMs, 1_500_000_777_000)
    assert.equal(layout.lookup('/photostream/1.jpg.metadata')?.mtimeMs, 1_700_000_000_000)
    assert.equal(layout.lookup('/photostream/metadata')?.mtimeMs, 1_700_000_050_000)
    assert.equal(layout.lookup('/Set 10 - Ten/metadata')?.mtimeMs, 1_700_000_100_000)
    assert.equal(layout.lookup('/Collection 1-1 - C/metadata')?.mtimeMs, 1_600_000_000_000)
  })
  void it('links to media carry the media time; set links carry the set directory time', () => {
    const layout = buildLayout(snap())
    assert.equal(layout.lookup('/Set 10 - Ten/1_1.jpg')?.mtimeMs, layout.lookup('/photostream/1.jpg')?.mtimeMs)
    assert.equal(layout.lookup('/Not in any set/2.jpg')?.mtimeMs, 1_500_000_000_000)
    assert.equal(layout.lookup('/Collection 1-1 - C/1_Set 10 - Ten')?.mtimeMs, layout.lookup('/Set 10 - Ten')?.mtimeMs)
  })
  void it('directories take the newest change among what they show, and move when it changes', () => {
    const layout = buildLayout(snap())
    assert.equal(layout.lookup('/photostream')?.mtimeMs, 1_700_000_500_000)
    assert.equal(layout.lookup('/Set 10 - Ten')?.mtimeMs, 1_700_000_100_000)
    assert.equal(layout.lookup('/Collection 1-1 - C')?.mtimeMs, 1_700_000_100_000)
    assert.equal(layout.root.mtimeMs, 1_700_000_500_000)
    const s = snap()
    const changed = { ...s, sets: [setEntry('10', 'Ten', ['1'], 1_700_000_900_000)] }
    assert.equal(buildLayout(changed).lookup('/Collection 1-1 - C')?.mtimeMs, 1_700_000_900_000)
    assert.equal(buildLayout(changed).lookup('/Not in any set')?.mtimeMs, 1_700_000_900_000)
  })
  void it('every time is whole seconds and identical across builds', () => {
    const a = walk(buildLayout(snap(), allHashed(snap())).root)
    const b = walk(buildLayout(snap(), allHashed(snap())).root)
    assert.equal(a.length, b.length)
    a.forEach(([p, n], i) => {
      assert.equal(n.mtimeMs % 1000, 0, p)
      assert.equal(n.mtimeMs, b[i]?.[1].mtimeMs, p)
    })
  })
  void it('agrees with mediaMtimeMs and wholeSecondsMs', () => {
    const s = snap()
    const p = s.photos.get('1')
    assert.ok(p !== undefined)
    assert.equal(buildLayout(s).lookup('/photostream/1.jpg')?.mtimeMs, mediaMtimeMs(p))
    assert.equal(buildLayout(s, allHashed(s)).lookup('/photostream/1.jpg.metadata')?.mtimeMs, wholeSecondsMs(p.changedAtMs))
    // Whatever the store knows: a sidecar follows from the catalog alone.
    assert.equal(buildLayout(s).lookup('/photostream/1.jpg.metadata')?.mtimeMs, wholeSecondsMs(p.changedAtMs))
  })
})

void describe('buildLayout: lookup', () => {
  const layout = layoutExample()
  void it('finds the root, directories, files and links', () => {
    assert.equal(layout.lookup('/'), layout.root)
    assert.equal(layout.lookup('/photostream')?.kind, 'dir')
    assert.equal(layout.lookup('/photostream/')?.kind, 'dir')
    assert.equal(layout.lookup('/photostream/12345.jpg')?.kind, 'file')
    assert.equal(layout.lookup('/Not in any set/12345.jpg')?.kind, 'link')
    assert.equal(layout.lookup('/Collection 1000-72157600000000200 - Places/1_Collection 1000-72157600000000201 - Europe/metadata')?.kind, 'file')
  })
  void it('does not follow links, climb, pass through files, or accept relative paths', () => {
    for (const p of [
      '/nope',
      '/photostream/nope.jpg',
      '/photostream/12345.jpg/x',
      '/Collection 1000-72157600000000100 - Travel/1_Set 72157600000000003 - Paris/metadata',
      '/..',
      '/photostream/../photostream',
      'photostream',
      '',
    ]) {
      assert.equal(layout.lookup(p), undefined, p)
    }
  })
})

void describe('buildLayout: consistency', () => {
  void it('shows a duplicated set id or top-level collection once', () => {
    const layout = buildLayout(
      snapshot({
        photos: [{ id: '1' }],
        sets: [setEntry('10', 'First', ['1']), setEntry('10', 'Second', [])],
        collections: [collectionEntry('1-1', 'C', ['10']), collectionEntry('1-1', 'C', [])],
      }),
    )
    assert.deepEqual(names(layout.root), ['photostream', 'Not in any set', 'Set 10 - First', 'Collection 1-1 - C'])
    assert.deepEqual(names(layout.lookup('/Collection 1-1 - C')), ['metadata', '1_Set 10 - First'])
  })
  void it('finds every node by its own path, each with its own inode', () => {
    const photos = photoSpecs(500)
    const layout = buildLayout(
      snapshot({
        photos,
        sets: Array.from({ length: 20 }, (_, i) => setEntry(String(900 + i), `S${i}`, photos.slice(i * 20, i * 20 + 30).map((p) => p.id))),
        collections: [collectionEntry('1-1', 'C', ['900', '901'], [collectionEntry('1-2', 'K', ['902'])])],
      }),
    )
    const all = walk(layout.root)
    for (const [p, node] of all) {
      const found = layout.lookup(p)
      // SHA256SUMS is looked up as its current version: a node of its own, with the same inode.
      if (p === '/photostream/SHA256SUMS') assert.ok(found?.kind === 'file' && found.ino === node.ino && found.size === 0, p)
      else assert.equal(found, node, p)
    }
    assert.equal(new Set(all.map(([, n]) => n.ino)).size, all.length)
  })
  void it('stays roughly linear: 30k photos in 300 sets build in well under 10 s even on a busy machine', () => {
    const photos = photoSpecs(30_000)
    const sets = Array.from({ length: 300 }, (_, i) => setEntry(String(900 + i), `S${i}`, photos.slice(i * 100, i * 100 + 100).map((p) => p.id)))
    const snap = snapshot({ photos, sets })
    const t0 = performance.now()
    const layout = buildLayout(snap)
    const ms = performance.now() - t0
    assert.equal(layout.stats.photos, 30_000)
    assert.ok(ms < 10_000, `${Math.round(ms)} ms`)
  })
})
