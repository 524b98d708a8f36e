/**
 * Read-ahead across files (src/fs/walk-ahead.ts) through the FUSE ops adapter called directly,
 * with a hand-built tree and an OriginalReader that records what it is asked to prefetch: which
 * orders are recognised (inode order as borg walks, a set folder's order), what is never a walk,
 * the byte budget, and that a stopped walk or an unmount releases everything.
 * The end-to-end behaviour (a real mount, the fake Flickr) is in test/e2e/mount-read-ahead.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { MediaEntry } from '../../src/catalog/types.js'
import { FsOps } from '../../src/fs/ops.js'
import type { FuseOps } from '../../src/fs/fuse-binding.js'
import type { OriginalReader } from '../../src/fs/types.js'
import type { WalkAheadOptions } from '../../src/fs/walk-ahead.js'
import { buildTree, type TreeSpec } from './fixture.js'

const N = 20
const SIZE = 1000
const name = (i: number): string => `p${String(i).padStart(2, '0')}.jpg`
/** Inode order is every 7th name, round and round: not the names' order. */
const inoOrder = Array.from({ length: N }, (_, k) => (k * 7) % N)

function spec(): TreeSpec {
  const photos: TreeSpec = {}
  for (let i = 0; i < N; i++) {
    photos[name(i)] = { original: String(i), ext: 'jpg', size: SIZE, ino: 1000 + inoOrder.indexOf(i) }
    photos[`${name(i)}.metadata`] = { text: '{}' }
  }
  // A set in reverse order of the names.
  const set: TreeSpec = {}
  for (let k = 0; k < 10; k++) set[`${String(k + 1).padStart(2, '0')}_${name(19 - k)}`] = { link: `../photostream/${name(19 - k)}` }
  return { photostream: { dir: photos }, 'Set 1 - reversed': { dir: set } }
}

class RecordingReader implements OriginalReader {
  readonly asked: string[] = []
  readonly signals = new Map<string, AbortSignal>()
  /**
   * `instant`: every prefetch finishes at once (the original is then held until released).
   * `fetched`: its bytes are in at once (`onFetched`), but it settles only when aborted, as a
   * download whose file is still being made durable and recorded.
   */
  constructor(readonly cacheMaxBytes?: number, private readonly instant = false, private readonly fetched = false) {}
  read(): Promise<Buffer> {
    return Promise.resolve(Buffer.alloc(0))
  }
  /** Never finishes by itself: a download that takes long, until aborted. */
  prefetch(media: MediaEntry, signal: AbortSignal, onFetched?: () => void): Promise<void> {
    this.asked.push(media.id)
    this.signals.set(media.id, signal)
    if (this.instant) return Promise.resolve()
    if (this.fetched) setImmediate(() => onFetched?.())
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
  }
  live(): string[] {
    return [...this.signals].filter(([, s]) => !s.aborted).map(([id]) => id)
  }
}

async function setup(reader: RecordingReader, walkAhead: WalkAheadOptions = {}): Promise<{ ops: FuseOps; closing: AbortController }> {
  const t = await buildTree(spec(), '/nonexistent')
  const closing = new AbortController()
  const ops = new FsOps({ tree: () => t, originals: reader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 1000, closing: closing.signal, attrTimeoutMs: 60_000, walkAhead })
  return { ops, closing }
}

function openClose(ops: FuseOps, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ops.open!(path, 0, (err: number, fh?: number) => {
      if (err !== 0) return reject(new Error(`open ${path}: ${err}`))
      ops.release!(path, fh ?? 0, () => resolve())
    })
  })
}

const ids = (is: number[]): string[] => is.map(String)

void describe('read-ahead across files (ops, recorded prefetches)', () => {
  void test('stat, lookup and readdir of everything, and one open, prefetch nothing', async () => {
    const reader = new RecordingReader()
    const { ops } = await setup(reader)
    for (const dir of ['/', '/photostream', '/Set 1 - reversed']) await new Promise<void>((r) => ops.readdir!(dir, () => r()))
    for (let i = 0; i < N; i++) await new Promise<void>((r) => ops.getattr!(`/photostream/${name(i)}`, () => r()))
    await openClose(ops, `/photostream/${name(4)}`)
    assert.deepEqual(reader.asked, [])
    // Two neighbours: by default still no walk.
    await openClose(ops, `/photostream/${name(5)}`)
    assert.deepEqual(reader.asked, [])
    await openClose(ops, `/photostream/${name(6)}`)
    assert.ok(reader.asked.length > 0, 'three neighbours are a walk')
  })

  void test('a walk in inode order (borg) prefetches the next originals in inode order, 2 at first (when asked), then the window', async () => {
    const reader = new RecordingReader()
    const { ops } = await setup(reader, { window: 5, concurrency: 8, firstWindow: 2 })
    await openClose(ops, `/photostream/${name(inoOrder[0] ?? 0)}`)
    await openClose(ops, `/photostream/${name(inoOrder[1] ?? 0)}.metadata`)
    await openClose(ops, `/photostream/${name(inoOrder[1] ?? 0)}`)
    assert.deepEqual(reader.asked, ids(inoOrder.slice(2, 4)), 'two neighbours opened: a window of two')
    await openClose(ops, `/photostream/${name(inoOrder[2] ?? 0)}`)
    assert.deepEqual(reader.asked, ids(inoOrder.slice(2, 8)), 'a walk: the window, in inode order')
  })

  void test('a walk of a set folder, which the kernel resolves to photostream/ opens, follows the set’s order', async () => {
    const reader = new RecordingReader()
    const { ops } = await setup(reader, { window: 4, firstWindow: 2 })
    for (const i of [19, 18, 17]) await openClose(ops, `/photostream/${name(i)}`)
    assert.deepEqual(reader.asked, ids([17, 16, 15, 14, 13]))
  })

  void test('opens out of every order, and a walk backwards through the names, prefetch nothing', async () => {
    const reader = new RecordingReader()
    const { ops } = await setup(reader)
    for (const i of [5, 16, 2, 11, 0, 13]) await openClose(ops, `/photostream/${name(i)}`)
    assert.deepEqual(reader.asked, [])
    for (const i of [9, 8, 7, 6]) await openClose(ops, `/photostream/${name(i)}`)
    assert.deepEqual(reader.asked, [])
  })

  void test('bytes fetched ahead stay within a quarter of the cache bound', async () => {
    const reader = new RecordingReader(12 * SIZE, true)
    const { ops } = await setup(reader, { window: 10, firstWindow: 2 })
    for (const i of [0, 1, 2, 3]) await openClose(ops, `/photostream/${name(i)}`)
    assert.deepEqual(reader.live(), ids([4, 5, 6]), 'held: the three not yet opened')
  })

  void test('a prefetch holds its download slot until its bytes are in, not until it is recorded', async () => {
    const slow = new RecordingReader()
    const a = await setup(slow, { window: 6, concurrency: 2 })
    for (const i of [0, 1, 2]) await openClose(a.ops, `/photostream/${name(i)}`)
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(slow.asked, ids([3, 4]), 'downloads still running: two at once')
    a.closing.abort()

    const fetched = new RecordingReader(undefined, false, true)
    const b = await setup(fetched, { window: 6, concurrency: 2 })
    for (const i of [0, 1, 2]) await openClose(b.ops, `/photostream/${name(i)}`)
    for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r))
    assert.deepEqual(fetched.asked, ids([3, 4, 5, 6, 7, 8]), 'bytes in, record pending: the whole window, two at a time')
    assert.deepEqual(fetched.live(), ids([3, 4, 5, 6, 7, 8]), 'all still held until opened or released')
    b.closing.abort()
    assert.deepEqual(fetched.live(), [], 'unmount releases them')
  })

  void test('a walk that stops releases what it fetched ahead; so does unmount', async () => {
    const reader = new RecordingReader()
    const { ops, closing } = await setup(reader, { idleMs: 150, window: 4, firstWindow: 2 })
    for (const i of [0, 1, 2]) await openClose(ops, `/photostream/${name(i)}`)
    assert.deepEqual(reader.live(), ids([2, 3, 4, 5, 6]))
    await new Promise((r) => setTimeout(r, 400))
    // Still running: the download of the one the walk opened, which its reader has joined.
    assert.deepEqual(reader.live(), ids([2]), 'the stopped walk cancelled the rest')

    for (const i of [10, 11, 12]) await openClose(ops, `/photostream/${name(i)}`)
    assert.ok(reader.live().length > 0)
    closing.abort()
    assert.deepEqual(reader.live(), ids([2, 12]), 'unmount cancelled all but the two readers joined')
    const asked = reader.asked.length
    await openClose(ops, `/photostream/${name(13)}`)
    assert.equal(reader.asked.length, asked, 'nothing new after unmount')
  })
})
