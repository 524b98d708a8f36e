/**
 * The store index keeps its records in columns (record-columns.ts) and makes each record on
 * demand: every answer must be the record as written, through puts, an eviction, access times
 * touched and flushed, pinning, and a load from sqlite; values outside the compact forms (a long
 * secret, a sha256 that is not hex, an id that is not a number, a field a newer flickrfs added)
 * come back as they were, and the rows on disk keep them.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import type Keyv from 'keyv'
import { StoreIndex, openStoreKeyv, type StoreRecord } from '../../src/store/store-index.js'
import { tempDir } from '../support/repo.js'

const hex = (n: number): string => (n.toString(16).padStart(8, '0') + 'c0ffee').repeat(5).slice(0, 64)

const record = (n: number): StoreRecord => ({
  id: String(53_000_000_000 + n * 13), secret: `a${n}b9f0e2d`, ext: ['jpg', 'png', 'mp4'][n % 3] as string, size: 1_000_000 * n + 7,
  sha256: hex(n), kind: n % 4 === 3 ? 'transcode' : 'original', completedAt: 1_700_000_000_000 + n * 1.5, pinned: n % 2 === 0, lastAccessMs: n === 0 ? 0 : 1_710_000_000_000 + n,
})

/** Values the columns cannot hold in their compact forms. */
const odd: StoreRecord[] = [
  { ...record(20), id: 'not-numeric_1', secret: 'a-secret-longer-than-fifteen-chars', sha256: 'not a hex digest' },
  { ...record(21), id: '0123' }, // a leading zero: not a number's own spelling
  { ...record(22), id: '12345678901234567' }, // beyond a float's exact integers
  { ...record(23), futureField: { nested: [1, 'two'] } } as StoreRecord,
  { ...record(24), size: 2 ** 40 + 3, sha256: hex(24).toUpperCase() },
]

function byId(records: Iterable<StoreRecord>): StoreRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** Every answer of `index` against `expected` (stored) and `evicted` (known only). */
function assertAnswers(index: StoreIndex, expected: readonly StoreRecord[], evicted: readonly StoreRecord[], what: string): void {
  assert.deepEqual(byId(index.all()), byId(expected), `${what}: all()`)
  assert.equal(index.size, expected.length, `${what}: size`)
  assert.deepEqual(byId(index.unpinned()), byId(expected.filter((r) => !r.pinned)), `${what}: unpinned()`)
  assert.deepEqual([...index.pinnedIds()].sort(), expected.filter((r) => r.pinned).map((r) => r.id).sort(), `${what}: pinnedIds()`)
  for (const r of expected) {
    assert.deepEqual(index.get(r.id), r, `${what}: get(${r.id})`)
    assert.deepEqual(index.known(r.id), r, `${what}: known(${r.id})`)
  }
  for (const r of evicted) {
    assert.equal(index.get(r.id), undefined, `${what}: get(${r.id}) of an evicted one`)
    assert.deepEqual(index.known(r.id), { ...r, pinned: false, evicted: true }, `${what}: known(${r.id}) of an evicted one`)
  }
  assert.equal(index.get('53000000001'), undefined, `${what}: an id never written`)
  assert.equal(index.known('nope'), undefined, `${what}: an id never written`)
}

async function rowsOnDisk(keyv: Keyv): Promise<Map<string, unknown>> {
  const rows = new Map<string, unknown>()
  for await (const [key, value] of keyv.iterator!(keyv.namespace)) rows.set(String(key), value)
  return rows
}

void describe('the store index in columns', () => {
  const roots: string[] = []
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true })
  })

  void it('answers every record as written: puts, a replacement, an eviction, touch and flush, pinning, and a load', async () => {
    const root = await tempDir('flickrfs-index-columns-')
    roots.push(root)
    const keyv = await openStoreKeyv(root)
    try {
      const index = new StoreIndex(keyv, 3)
      await index.load()
      // More records than the columns' first size, so they grow (and the id table is made again).
      const many = Array.from({ length: 1500 }, (_, i) => record(100 + i))
      const records = [...Array.from({ length: 8 }, (_, i) => record(i)), ...odd]
      await index.putMany(records)
      await index.putMany(many)
      let expected = [...records, ...many]
      assertAnswers(index, expected, [], 'after the puts')

      // A caller's copy is its own.
      const copy = index.get(records[1]!.id)!
      copy.size = 1
      assert.equal(index.get(records[1]!.id)?.size, records[1]!.size, 'a changed copy changes nothing')

      const generation = index.generation
      const version = index.version(records[2]!.id)
      const replaced: StoreRecord = { ...records[2]!, ext: 'heic', sha256: hex(99), completedAt: 1_800_000_000_000 }
      await index.put(replaced)
      assert.notEqual(index.version(records[2]!.id), version, 'a replaced record is a new version')
      assert.equal(index.version(records[3]!.id), index.version(records[3]!.id), 'the version of an untouched record stays')
      await index.markEvicted(records[5]!.id)
      await index.markEvicted('53000000001')
      assert.ok(index.generation > generation, 'the generation moved')

      index.touch(records[0]!.id, 1_720_000_000_000)
      index.touch(odd[0]!.id, 1_720_000_000_001)
      index.touch(records[5]!.id, 1_720_000_000_002) // evicted: nothing
      await index.setPinned(records[1]!.id, true)
      await index.setPinned(records[6]!.id, false)
      expected = expected.map((r) => {
        if (r.id === records[2]!.id) return replaced
        if (r.id === records[0]!.id) return { ...r, lastAccessMs: 1_720_000_000_000 }
        if (r.id === odd[0]!.id) return { ...r, lastAccessMs: 1_720_000_000_001 }
        if (r.id === records[1]!.id || r.id === records[6]!.id) return { ...r, pinned: r.id === records[1]!.id }
        return r
      })
      const stored = expected.filter((r) => r.id !== records[5]!.id)
      assertAnswers(index, stored, [records[5]!], 'in memory')

      // Before the flush the touched times are in memory only; after it, on disk.
      await keyv.set('malformed', { id: 7 })
      await keyv.set('not-json-shaped', 'a string')
      const before = new StoreIndex(keyv, 4)
      await before.load()
      assert.equal(before.get(records[0]!.id)?.lastAccessMs, records[0]!.lastAccessMs, 'not flushed yet')
      await index.flush()
      for (const pageRows of [1, 7, undefined]) {
        const read = pageRows === undefined ? new StoreIndex(keyv) : new StoreIndex(keyv, pageRows)
        await read.load()
        assertAnswers(read, stored, [records[5]!], `loaded in pages of ${pageRows ?? 'the default'}`)
      }

      // The rows on disk are the records as written, extras and all.
      const rows = await rowsOnDisk(keyv)
      assert.deepEqual(rows.get(odd[3]!.id), odd[3], 'a newer field is written back (setPinned, flush) as read')
      assert.deepEqual(rows.get(odd[0]!.id), { ...odd[0], lastAccessMs: 1_720_000_000_001 }, 'odd values flushed as they were')
      assert.deepEqual(rows.get(records[5]!.id), { ...records[5], pinned: false, evicted: true }, 'the evicted row')

      // An evicted one put again is stored, pinned as given.
      await index.put(records[5]!)
      assert.deepEqual(index.get(records[5]!.id), records[5], 'stored again')
      assert.equal(byId(index.all()).length, stored.length + 1)
    } finally {
      await keyv.disconnect()
    }
  })
})
