import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readFile, truncate, unlink } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import Keyv from 'keyv'
import type { MediaEntry } from '../../src/catalog/types.js'
import { evictAfterDownload, OriginalStore, pinEverything } from '../../src/store/index.js'
import { startWorld, type World } from './helpers.js'
import { exists, sha256 } from '../support/files.js'
import { waitUntil } from '../support/wait.js'

void describe('OriginalStore eviction and verify', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  void it('evicts unpinned originals least recently used first, and never a pinned one', async () => {
    const root = await w.newRoot()
    let clock = 1000
    const [a, b, c, d] = Array.from({ length: 4 }, () => w.addPhoto(100_000)) as [MediaEntry, MediaEntry, MediaEntry, MediaEntry]
    const store = await OriginalStore.open(root, w.client, { maxBytes: 250_000, now: () => clock })
    for (const m of [a, b, c, d]) {
      clock += 10
      await store.ensure(m)
    }
    await store.pin([b.id])
    clock += 10
    await store.read(a, 0, 10) // a is now the most recently used
    const first = await store.evict()
    // Unpinned: a (newest), c, d = 300 kB > 250 kB: c, the least recently used, goes.
    assert.deepEqual(first.removed, [c.id])
    assert.equal(first.unpinnedBytes, 200_000)
    assert.equal(await exists(store.pathOf(c)), false)
    assert.equal(store.info(c.id, c.secret), undefined)
    for (const m of [a, b, d]) assert.equal(await store.has(m), true)
    await store.close()

    // Access times were batched and survive a restart; with a smaller budget the order holds.
    const smaller = await OriginalStore.open(root, w.client, { maxBytes: 50_000, now: () => clock })
    const second = await smaller.evict()
    assert.deepEqual(second.removed, [d.id, a.id])
    assert.equal(await smaller.has(b), true, 'pinned original kept')
    assert.equal(second.unpinnedBytes, 0)
    await smaller.close()
  })

  void it('remembers the size and sha256 of an evicted original, across a restart, until it is stored again', async () => {
    const root = await w.newRoot()
    const bytes = randomBytes(60_000)
    const m = w.addPhoto(bytes)
    const other = w.addPhoto(60_000)
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0 })
    await store.ensure(m)
    const want = { size: 60_000, sha256: sha256(bytes) }
    const knownHash = (st: OriginalStore, id: string, secret: string): { size: number; sha256: string } | undefined => {
      const r = st.knownRecord(id, secret)
      return r && { size: r.size, sha256: r.sha256 }
    }
    assert.deepEqual(knownHash(store, m.id, m.secret), want)
    assert.deepEqual((await store.evict()).removed, [m.id])
    assert.equal(store.info(m.id, m.secret), undefined, 'no longer stored')
    assert.equal(await store.has(m), false)
    assert.deepEqual(knownHash(store, m.id, m.secret), want, 'but its hash is still known')
    assert.equal(knownHash(store, m.id, 'another-secret'), undefined, 'only for the same secret')
    assert.equal(knownHash(store, other.id, other.secret), undefined, 'never downloaded')
    await store.close()

    const reopened = await OriginalStore.open(root, w.client, { maxBytes: 0 })
    assert.deepEqual(knownHash(reopened, m.id, m.secret), want)
    assert.equal(reopened.info(m.id, m.secret), undefined)
    assert.deepEqual((await reopened.evict()).removed, [], 'an evicted record is not evicted again')
    assert.equal((await reopened.ensure(m)).downloaded, true)
    assert.deepEqual(reopened.info(m.id, m.secret), want)
    await reopened.close()
  })

  void it('its generation moves when a record is added or evicted, and not when an original is read', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(50_000)
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0 })
    const g0 = store.generation
    await store.ensure(m)
    const g1 = store.generation
    assert.notEqual(g1, g0, 'a download recorded')
    await store.read(m, 0, 10)
    await store.ensure(m)
    assert.equal(store.generation, g1, 'reads and a present original change nothing')
    await store.evict()
    assert.notEqual(store.generation, g1, 'an eviction')
    await store.close()
  })

  void it('eviction after a download keeps the originals downloaded since, even over the bound', async () => {
    const root = await w.newRoot()
    let clock = 1000
    const [a, b, c] = Array.from({ length: 3 }, () => w.addPhoto(100_000)) as [MediaEntry, MediaEntry, MediaEntry]
    const store = await OriginalStore.open(root, w.client, { maxBytes: 50_000, now: () => clock })
    for (const m of [a, b, c]) {
      clock += 10
      await store.ensure(m)
    }
    // As when b's eviction runs only after c was recorded: c is the newest and must stay.
    const r = await store.evict({ protect: [b.id], protectCompletedSince: 1020 })
    assert.deepEqual(r.removed, [a.id])
    assert.equal(r.unpinnedBytes, 200_000)
    for (const m of [b, c]) assert.equal(await store.has(m), true)
    // Without that protection the least recently used goes first, as always.
    assert.deepEqual((await store.evict()).removed, [b.id, c.id])
    await store.close()
  })

  void it('never evicts in pin mode', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0, pins: pinEverything })
    const ms = [w.addPhoto(20_000), w.addPhoto(20_000)]
    for (const m of ms) await store.ensure(m)
    const r = await store.evict()
    assert.deepEqual(r.removed, [])
    for (const m of ms) assert.equal(await store.has(m), true)
    await store.close()
  })

  void it('keeps pinned what was stored while a changing policy pinned it (a pin in a mount), even once forgotten and fetched again', async () => {
    const root = await w.newRoot()
    let pinning = true
    const store = await OriginalStore.open(root, w.client, { maxBytes: 0, pins: () => pinning })
    const [a, b] = [w.addPhoto(20_000), w.addPhoto(20_000)]
    await store.ensure(a)
    pinning = false
    await store.ensure(b)
    // The record of a is gone (as after verify --forget-bad); fetched again, it is pinned still.
    await store.forget([a.id])
    await store.ensure(a)
    assert.deepEqual((await store.evict()).removed, [b.id])
    assert.equal(await store.has(a), true)
    await store.close()
  })

  void it('in pin mode, originals found in place cost no index write (pinned ones need no access time)', async () => {
    const root = await w.newRoot()
    let writes = 0
    class CountingIndex extends Keyv {
      override async set<Value>(key: string, value: Value, ttl?: number): Promise<boolean> {
        writes++
        return super.set(key, value, ttl)
      }
    }
    let clock = 1_000
    const store = await OriginalStore.open(root, w.client, { pins: pinEverything, index: new CountingIndex({ namespace: 'store' }), now: () => (clock += 1000) })
    const ms = [w.addPhoto(20_000), w.addPhoto(20_000)]
    for (const m of ms) assert.equal((await store.ensure(m)).downloaded, true)
    await store.flush()
    assert.ok(writes >= ms.length, 'the downloads were recorded')
    writes = 0
    for (const m of ms) assert.equal((await store.ensure(m)).downloaded, false)
    await store.flush()
    assert.equal(writes, 0, 'a no-change pin rewrites no index row')
    await store.close()
  })

  void it('evicts after each download when asked to, keeping the one just fetched', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client, { maxBytes: 100_000, afterDownload: evictAfterDownload })
    const first = w.addPhoto(80_000)
    const second = w.addPhoto(80_000)
    await store.ensure(first)
    await store.ensure(second)
    await store.evict() // waits for the eviction the second download started
    assert.equal(await store.has(first), false)
    assert.equal(await store.has(second), true)
    await store.close()
  })

  void it('after downloads recorded together, evicts again once they have ended: the bound holds without another download', async () => {
    const root = await w.newRoot()
    // A clock that moves at each reading: no two records share a completion time (a run after a
    // download keeps the originals recorded at or after its own, so a tie would keep them all).
    let clock = 1000
    const store = await OriginalStore.open(root, w.client, { maxBytes: 100_000, afterDownload: evictAfterDownload, now: () => (clock += 10) })
    const ms = Array.from({ length: 6 }, () => w.addPhoto(40_000))
    // At once: their records go in one batch, so each download's own eviction runs while all of
    // them are still in flight, and can take none.
    await Promise.all(ms.map((m) => store.ensure(m)))
    const stored = (): number => [...store.storedRecords()].reduce((sum, r) => sum + r.size, 0)
    // Nothing else will evict: the owed run comes within milliseconds, or never.
    await waitUntil('the store is back within its bound', () => Promise.resolve(stored() <= 100_000), 5000, 10).catch(() => undefined)
    assert.equal(stored(), 80_000, 'within the bound, as close to it as whole originals go')
    for (const r of store.storedRecords()) assert.equal(await exists(store.pathOf(r)), true)
    await store.close()
  })

  void it('an original read-ahead held through an eviction is evicted once it is let go, if the bound still needs it', async () => {
    const root = await w.newRoot()
    let clock = 1000
    const store = await OriginalStore.open(root, w.client, { maxBytes: 50_000, afterDownload: evictAfterDownload, now: () => (clock += 10) })
    const [ahead, read] = [w.addPhoto(40_000), w.addPhoto(40_000)]
    const walk = new AbortController()
    await store.prefetch(ahead, walk.signal)
    assert.equal(await store.has(ahead), true)
    // Its eviction passes over `ahead` (held for a reader expected soon): 80 kB stay.
    await store.ensure(read)
    assert.deepEqual((await store.evict({ protect: [ahead.id, read.id] })).removed, [])
    assert.equal(await store.has(ahead), true, 'kept while held')
    walk.abort()
    await waitUntil('the original let go is evicted', async () => !(await store.has(ahead)), 5000, 10).catch(() => undefined)
    assert.equal(await store.has(ahead), false, 'evicted once let go')
    assert.equal(await store.has(read), true, 'the one read stays')
    await store.close()
  })

  void it('verify finds a flipped byte, a missing file and a truncated one', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const [good, flipped, missing, short] = Array.from({ length: 4 }, () => w.addPhoto(120_000)) as [MediaEntry, MediaEntry, MediaEntry, MediaEntry]
    for (const m of [good, flipped, missing, short]) await store.ensure(m)
    const fh = await open(store.pathOf(flipped), 'r+')
    const one = Buffer.alloc(1)
    await fh.read(one, 0, 1, 60_000)
    one[0] = (one[0] ?? 0) ^ 0x01
    await fh.write(one, 0, 1, 60_000)
    await fh.close()
    await unlink(store.pathOf(missing))
    await truncate(store.pathOf(short), 119_999)
    const seen: string[] = []
    const report = await store.verify({ onResult: (r) => seen.push(r.id) })
    assert.equal(report.checked, 4)
    assert.equal(seen.length, 4)
    assert.deepEqual([report.ok, report.missing, report.sizeMismatch, report.hashMismatch], [1, 1, 1, 1])
    const status = Object.fromEntries(report.results.map((r) => [r.id, r.status]))
    assert.deepEqual(status, { [good.id]: 'ok', [flipped.id]: 'hash-mismatch', [missing.id]: 'missing', [short.id]: 'size-mismatch' })
    const bad = report.results.find((r) => r.id === flipped.id)
    assert.equal(bad?.path, store.pathOf(flipped))
    assert.notEqual(bad?.actualSha256, bad?.expectedSha256)
    // ensure repairs what verify found.
    for (const m of [flipped, missing, short]) await store.ensure(m)
    assert.equal((await readFile(store.pathOf(missing))).length, 120_000)
    const again = await store.verify()
    // A flipped byte keeps the size, so ensure cannot see it: verify is what finds it.
    assert.deepEqual([again.ok, again.hashMismatch], [3, 1])
    const repair = await store.verify({ forgetBad: true })
    assert.equal(repair.hashMismatch, 1)
    assert.equal(store.info(flipped.id, flipped.secret), undefined)
    assert.equal((await store.ensure(flipped)).downloaded, true)
    const clean = await store.verify()
    assert.deepEqual([clean.checked, clean.ok], [4, 4])
    await store.close()
  })
})
