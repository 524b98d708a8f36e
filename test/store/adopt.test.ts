/**
 * Adoption: an original already under its final name without a record (a catalog rebuilt after
 * damage, another tool's mirror) is hashed locally and recorded instead of downloaded, when its
 * size is the one the catalog expects, and never when the index knows the file is something else.
 */
import assert from 'node:assert/strict'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { MediaEntry } from '../../src/catalog/types.js'
import { OriginalStore, type StoreRecord } from '../../src/store/index.js'
import { startWorld, type World } from './helpers.js'
import { sha256 } from '../support/files.js'

void describe('OriginalStore adoption', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  const plant = async (store: OriginalStore, m: MediaEntry, bytes: Buffer): Promise<void> => {
    await mkdir(dirname(store.pathOf(m)), { recursive: true })
    await writeFile(store.pathOf(m), bytes)
  }

  void it('adoptExisting records the files of the right size, hashing them, with no GET; the rest are left for ensure', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const [ok1, ok2, short, absent] = Array.from({ length: 4 }, () => w.addPhoto(70_000)) as [MediaEntry, MediaEntry, MediaEntry, MediaEntry]
    await plant(store, ok1, w.bytesOf(ok1.id))
    await plant(store, ok2, w.bytesOf(ok2.id))
    await plant(store, short, w.bytesOf(short.id).subarray(0, 69_999))
    w.fake.resetCounts()
    const seen: StoreRecord[] = []
    const out = await store.adoptExisting([ok1, ok2, short, absent], { onAdopted: (r) => seen.push(r) })
    assert.deepEqual(out, { adopted: 2, bytes: 140_000 })
    assert.deepEqual(seen.map((r) => r.id).sort(), [ok1.id, ok2.id].sort())
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0)
    assert.deepEqual(store.info(ok1.id, ok1.secret), { size: 70_000, sha256: sha256(w.bytesOf(ok1.id)) })
    assert.equal(store.info(short.id, short.secret), undefined)
    // Adopted ones are there; the short one and the absent one are downloaded.
    for (const m of [ok1, ok2]) assert.equal((await store.ensure(m)).downloaded, false)
    for (const m of [short, absent]) assert.equal((await store.ensure(m)).downloaded, true)
    assert.equal(w.fake.counts()['media:GET'], 2)
    assert.deepEqual(await readFile(store.pathOf(short)), w.bytesOf(short.id))
    // A second pass finds nothing left to adopt, and the records survive a restart.
    assert.deepEqual(await store.adoptExisting([ok1, ok2, short, absent]), { adopted: 0, bytes: 0 })
    await store.close()
    const reopened = await OriginalStore.open(root, w.client)
    assert.deepEqual(reopened.info(ok2.id, ok2.secret), { size: 70_000, sha256: sha256(w.bytesOf(ok2.id)) })
    await reopened.close()
  })

  void it('ensure adopts a file at its name with no record; a file verify found bad is downloaded again, not adopted', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const m = w.addPhoto(50_000)
    await plant(store, m, w.bytesOf(m.id))
    w.fake.resetCounts()
    const r = await store.ensure(m)
    assert.deepEqual([r.downloaded, r.adopted], [false, true])
    assert.equal(r.sha256, sha256(w.bytesOf(m.id)))
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0)

    // A flipped byte keeps the size: verify finds it, and the hash it remembers keeps it from being adopted back.
    const fh = await open(store.pathOf(m), 'r+')
    await fh.write(Buffer.from([(w.bytesOf(m.id)[100] ?? 0) ^ 0xff]), 0, 1, 100)
    await fh.close()
    const report = await store.verify({ forgetBad: true })
    assert.equal(report.hashMismatch, 1)
    const again = await store.ensure(m)
    assert.equal(again.downloaded, true)
    assert.deepEqual(await readFile(store.pathOf(m)), w.bytesOf(m.id))
    assert.equal(w.fake.counts()['media:GET'], 1)
    await store.close()
  })

  void it('prefetch adopts a file at its name with no GET, downloads one that is missing, and says when its bytes are in', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const [planted, absent] = [w.addPhoto(40_000), w.addPhoto(40_000)]
    await plant(store, planted, w.bytesOf(planted.id))
    w.fake.resetCounts()
    const fetched: string[] = []
    const stop = new AbortController()
    await store.prefetch(planted, stop.signal, () => fetched.push(planted.id))
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0, 'the planted file is adopted, not downloaded')
    assert.deepEqual(store.info(planted.id, planted.secret), { size: 40_000, sha256: sha256(w.bytesOf(planted.id)) })
    await store.prefetch(absent, stop.signal, () => fetched.push(absent.id))
    assert.equal(w.fake.counts()['media:GET'], 1, 'the missing one is downloaded')
    assert.deepEqual(await readFile(store.pathOf(absent)), w.bytesOf(absent.id))
    assert.deepEqual(fetched, [planted.id, absent.id], 'onFetched once for each')
    stop.abort()
    await store.close()
  })

  void it('a read adopts a file at its name with no record, with no GET, hashing it once for concurrent readers; a file of another size, or not the bytes the index remembers, is downloaded', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const [planted, short, remembered] = [w.addPhoto(60_000), w.addPhoto(60_000), w.addPhoto(60_000)]
    await plant(store, planted, w.bytesOf(planted.id))
    await plant(store, short, w.bytesOf(short.id).subarray(0, 59_999))
    // A record whose file is then damaged in place (same size): verify forgets it, keeping its hash.
    await store.ensure(remembered)
    const fh = await open(store.pathOf(remembered), 'r+')
    await fh.write(Buffer.from([(w.bytesOf(remembered.id)[10] ?? 0) ^ 0xff]), 0, 1, 10)
    await fh.close()
    assert.equal((await store.verify({ forgetBad: true })).hashMismatch, 1)
    w.fake.resetCounts()
    const generation = store.generation
    // Four readers at once, at different places: one hashing, one record, every read from the file.
    const reads = await Promise.all([0, 1000, 30_000, 59_990].map((pos) => store.read(planted, pos, 4096)))
    assert.deepEqual(reads, [0, 1000, 30_000, 59_990].map((pos) => w.bytesOf(planted.id).subarray(pos, pos + 4096)))
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0, 'the file in place is adopted, not downloaded')
    assert.equal(store.generation, generation + 1, 'recorded once')
    assert.deepEqual(store.info(planted.id, planted.secret), { size: 60_000, sha256: sha256(w.bytesOf(planted.id)) })
    // Another size: downloaded, and the file in place replaced by the original.
    assert.deepEqual(await store.read(short, 59_000, 2000), w.bytesOf(short.id).subarray(59_000))
    // (The read may come from the .part: its record is in once the download's job ends.)
    await store.ensure(short)
    assert.equal(w.fake.counts()['media:GET'], 1)
    assert.deepEqual(await readFile(store.pathOf(short)), w.bytesOf(short.id))
    // The right size but not the bytes the index remembers: downloaded too.
    assert.deepEqual(await store.read(remembered, 0, 100), w.bytesOf(remembered.id).subarray(0, 100))
    await store.ensure(remembered)
    assert.equal(w.fake.counts()['media:GET'], 2)
    assert.deepEqual(await readFile(store.pathOf(remembered)), w.bytesOf(remembered.id))
    await store.close()
  })

  void it('a read does not adopt a file in place bigger than adoptOnReadMaxBytes (hashing it would outlast a read): it is fetched and served as it comes', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client, { adoptOnReadMaxBytes: 50_000 })
    const [small, big] = [w.addPhoto(40_000), w.addPhoto(60_000)]
    await plant(store, small, w.bytesOf(small.id))
    await plant(store, big, w.bytesOf(big.id))
    w.fake.resetCounts()
    assert.deepEqual(await store.read(small, 0, 100), w.bytesOf(small.id).subarray(0, 100))
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0, 'up to the bound: adopted')
    assert.deepEqual(await store.read(big, 0, 100), w.bytesOf(big.id).subarray(0, 100))
    assert.equal(w.fake.counts()['media:GET'], 1, 'above it: downloaded')
    await store.close()
  })

  void it('an adopted original is recorded pinned: a bounded cache never evicts a file it did not fetch', async () => {
    const root = await w.newRoot()
    // Bound 0: every unpinned original is evicted at once.
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0 })
    const [found, fetched] = [w.addPhoto(20_000), w.addPhoto(20_000)]
    await plant(store, found, w.bytesOf(found.id))
    assert.deepEqual(await store.read(found, 0, 100), w.bytesOf(found.id).subarray(0, 100))
    assert.deepEqual(await store.read(fetched, 0, 100), w.bytesOf(fetched.id).subarray(0, 100))
    await store.ensure(fetched)
    const report = await store.evict()
    assert.deepEqual(report.removed, [fetched.id], 'only what the cache downloaded goes')
    assert.deepEqual(await readFile(store.pathOf(found)), w.bytesOf(found.id))
    assert.equal(store.recordOf(found.id)?.pinned, true)
    await store.close()
  })

  void it('an original downloaded again over a file found at its name is recorded pinned too: one over adoptOnReadMaxBytes, one cut short', async () => {
    const root = await w.newRoot()
    // Bound 0: every unpinned original is evicted at once.
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0, adoptOnReadMaxBytes: 50_000 })
    const [big, cut, fetched] = [w.addPhoto(60_000), w.addPhoto(20_000), w.addPhoto(20_000)]
    await plant(store, big, w.bytesOf(big.id))
    await plant(store, cut, w.bytesOf(cut.id).subarray(0, 1000))
    w.fake.resetCounts()
    for (const m of [big, cut, fetched]) assert.deepEqual(await store.read(m, 0, 100), w.bytesOf(m.id).subarray(0, 100))
    // The reads' downloads done (a busy original is never evicted).
    for (const m of [big, cut, fetched]) await store.ensure(m)
    assert.equal(w.fake.counts()['media:GET'], 3, 'each downloaded once')
    const report = await store.evict()
    assert.deepEqual(report.removed, [fetched.id], 'only what the cache put there goes')
    for (const m of [big, cut]) {
      assert.deepEqual(await readFile(store.pathOf(m)), w.bytesOf(m.id))
      assert.equal(store.recordOf(m.id)?.pinned, true)
    }
    await store.close()
  })

  void it('a read-only store adopts nothing and fetches nothing', async () => {
    const root = await w.newRoot()
    const writer = await OriginalStore.open(root, w.client)
    const m = w.addPhoto(30_000)
    await plant(writer, m, w.bytesOf(m.id))
    await writer.close()
    const store = await OriginalStore.open(root, w.client, { readOnly: true })
    assert.deepEqual(await store.adoptExisting([m]), { adopted: 0, bytes: 0 })
    await assert.rejects(store.ensure(m), /read-only/)
    await store.close()
  })
})
