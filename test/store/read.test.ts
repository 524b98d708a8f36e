import assert from 'node:assert/strict'
import { rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { OriginalStore } from '../../src/store/index.js'
import { observed, startWorld, type World } from './helpers.js'
import { sha256 } from '../support/files.js'

const sizeOf = (p: string): Promise<number> => stat(p).then((s) => s.size, () => -1)

void describe('OriginalStore reads (the mount path)', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  void it('returns the first 64 KiB of a 20 MB original long before the whole download is done', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(20_000_000)
    const full = w.bytesOf(m.id)
    // A slow network: every body chunk (at most 64 KiB) takes 3 ms more, so the whole file takes ≥ 0.9 s.
    const store = await OriginalStore.open(root, observed(w.client, { chunkDelayMs: 3 }))
    // Warm up the HTTP client and the code paths, so the timing compares transfers, not start-up.
    await store.ensure(w.addPhoto(10_000))
    const partPath = join(root, '.flickrfs', 'tmp', `${m.id}_${m.secret}.part`)
    const t0 = performance.now()
    const head = await store.read(m, 0, 65_536)
    const readMs = performance.now() - t0
    const onDiskWhenReturned = await sizeOf(partPath)
    assert.deepEqual(head, full.subarray(0, 65_536))
    const r = await store.ensure(m)
    const wholeMs = performance.now() - t0
    assert.equal(r.sha256, sha256(full))
    assert.ok(onDiskWhenReturned >= 65_536 && onDiskWhenReturned < 20_000_000 / 2, `${onDiskWhenReturned} bytes on disk when the read returned`)
    assert.ok(readMs < wholeMs / 2, `read took ${readMs.toFixed(0)} ms, whole download ${wholeMs.toFixed(0)} ms`)
    console.log(`# first 64 KiB after ${readMs.toFixed(0)} ms (${onDiskWhenReturned} bytes on disk); whole 20 MB after ${wholeMs.toFixed(0)} ms`)
    // (Bytes on disk is the firm check; the timing is loose because the machine is shared.)
    // Complete now: reads come from the final file, without the network.
    w.fake.resetCounts()
    assert.deepEqual(await store.read(m, 19_999_990, 100), full.subarray(19_999_990))
    assert.equal((await store.read(m, 20_000_000, 100)).length, 0)
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0)
    await store.close()
  })

  void it('serves a range far ahead of the download with its own ranged GET', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(20_000_000)
    const full = w.bytesOf(m.id)
    const source = observed(w.client, { chunkDelayMs: 2 })
    const store = await OriginalStore.open(root, source)
    const t0 = performance.now()
    const tail = await store.read(m, (18 << 20) - 1000, 131_072)
    const readMs = performance.now() - t0
    assert.deepEqual(tail, full.subarray((18 << 20) - 1000, (18 << 20) - 1000 + 131_072))
    // The read spans two 1 MiB chunks (17 and 18): two ranged GETs besides the full download.
    assert.equal(store.stats.rangedGets, 2)
    assert.ok(source.starts.includes(0))
    assert.ok(source.starts.some((s) => s >= 16 << 20), `starts ${source.starts.join(',')}`)
    await store.ensure(m)
    const wholeMs = performance.now() - t0
    assert.ok(readMs < wholeMs / 2, `far read took ${readMs.toFixed(0)} ms, whole download ${wholeMs.toFixed(0)} ms`)
    await store.close()
  })

  void it('reads different files in parallel, not one after another', async () => {
    const root = await w.newRoot()
    const entries = Array.from({ length: 6 }, () => w.addPhoto(2_000_000))
    const store = await OriginalStore.open(root, w.client)
    w.fake.faults.mediaLatencyMs = 300
    try {
      const t0 = performance.now()
      const heads = await Promise.all(entries.map((m) => store.read(m, 0, 4096)))
      const ms = performance.now() - t0
      for (const [i, m] of entries.entries()) assert.deepEqual(heads[i], w.bytesOf(m.id).subarray(0, 4096))
      // In series this would take at least 6 × 300 ms.
      assert.ok(ms < 900, `6 parallel first reads took ${ms.toFixed(0)} ms`)
      console.log(`# 6 parallel first reads with 300 ms media latency: ${ms.toFixed(0)} ms`)
      await Promise.all(entries.map((m) => store.ensure(m)))
    } finally {
      w.fake.faults.mediaLatencyMs = 0
    }
    await store.close()
  })

  void it('lets an aborted reader go while the shared download carries on', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(3_000_000)
    const store = await OriginalStore.open(root, observed(w.client, { chunkDelayMs: 5 }))
    const ac = new AbortController()
    const pending = store.read(m, 2_000_000, 1000, ac.signal)
    setTimeout(() => ac.abort(new Error('reader gone')), 30)
    await assert.rejects(pending, /reader gone/)
    const r = await store.ensure(m)
    assert.equal(r.sha256, sha256(w.bytesOf(m.id)))
    assert.equal(store.stats.downloads, 1)
    await store.close()
  })

  void it('never serves a replaced or repaired file through a handle kept open on the old one', async () => {
    const root = await w.newRoot()
    const m1 = w.addPhoto(100_000)
    const store = await OriginalStore.open(root, w.client)
    await store.ensure(m1)
    assert.deepEqual(await store.read(m1, 0, 100), w.bytesOf(m1.id).subarray(0, 100))
    // Replaced on Flickr, same extension: the new file takes the same name.
    const m2 = w.entryOf(w.fake.account.replaceOriginal(m1.id, { bytes: 100_000 }))
    await store.ensure(m2)
    assert.deepEqual(await store.read(m2, 0, 100), w.bytesOf(m1.id).subarray(0, 100))
    // Damaged on disk (a new inode, as an editor's save would make), found by verify, fetched again.
    const damaged = Buffer.from(w.bytesOf(m1.id))
    damaged[10] = (damaged[10] ?? 0) ^ 0xff
    await writeFile(`${store.pathOf(m2)}.tmp`, damaged)
    await rename(`${store.pathOf(m2)}.tmp`, store.pathOf(m2))
    assert.equal((await store.verify({ forgetBad: true })).hashMismatch, 1)
    await store.ensure(m2)
    assert.deepEqual(await store.read(m2, 0, 100), w.bytesOf(m1.id).subarray(0, 100))
    await store.close()
  })

  void it('fetches again when a recorded file was removed behind its back', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(90_000)
    const store = await OriginalStore.open(root, w.client)
    await store.ensure(m)
    await unlink(store.pathOf(m))
    assert.deepEqual(await store.read(m, 1000, 500), w.bytesOf(m.id).subarray(1000, 1500))
    await store.ensure(m)
    assert.equal(await store.has(m), true)
    await store.close()
  })

  void it('serves reads of an open original by readLocal, with the right bytes, and never from a replaced file', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(1_000_000)
    const store = await OriginalStore.open(root, w.client)
    await store.ensure(m)
    const local = (entry: typeof m, pos: number, len: number): Promise<Buffer> | undefined => {
      let sync = true
      let answer!: (r: { err: Error | null; data: Buffer | undefined }) => void
      const p = new Promise<{ err: Error | null; data: Buffer | undefined }>((res) => (answer = res))
      const started = store.readLocal(entry, pos, len, (err, data) => {
        assert.equal(sync, false, 'done was called synchronously')
        answer({ err, data })
      })
      sync = false
      return started ? p.then(({ err, data }) => (err ? Promise.reject(err) : (data as Buffer))) : undefined
    }
    assert.equal(local(m, 0, 1000), undefined, 'no fast path before the file is open')
    const L = 131_072
    const parts = [await store.read(m, 0, L)]
    for (let pos = L; pos < 1_000_000; pos += L) {
      const got = local(m, pos, L)
      assert.ok(got, `read at ${pos} was declined`)
      parts.push(await got)
    }
    assert.deepEqual(Buffer.concat(parts), w.bytesOf(m.id))
    const m2 = w.entryOf(w.fake.account.replaceOriginal(m.id, { bytes: 900_000 }))
    await store.ensure(m2)
    assert.equal(local(m, L, L), undefined, 'the old version is not served')
    assert.equal(local(m2, L, L), undefined, 'the new file is not open yet')
    assert.deepEqual(await store.read(m2, 0, 100), w.bytesOf(m.id).subarray(0, 100))
    assert.deepEqual(await local(m2, 800_000, 1000), w.bytesOf(m.id).subarray(800_000, 801_000))
    await store.close()
  })

  void it('an original fetched by prefetch is served by readLocal from its first read (its file opened ahead)', async () => {
    const root = await w.newRoot()
    const [fetched, ensured] = [w.addPhoto(300_000), w.addPhoto(300_000)]
    const store = await OriginalStore.open(root, w.client)
    const stop = new AbortController()
    await store.prefetch(fetched, stop.signal)
    await store.ensure(ensured)
    const firstRead = (m: typeof fetched): Promise<Buffer | undefined> =>
      new Promise((resolve, reject) => {
        const started = store.readLocal(m, 1000, 5000, (err, data) => (err ? reject(err) : resolve(data)))
        if (!started) resolve(undefined)
      })
    // The open runs in the background: give it its thread-pool round trip.
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(await firstRead(fetched), w.bytesOf(fetched.id).subarray(1000, 6000), 'prefetched: the fast path at once')
    assert.equal(await firstRead(ensured), undefined, 'ensured only: no handle until its first read()')
    stop.abort()
    await store.close()
  })

  void it('returns a fresh Buffer on each read, not a view the store writes into later', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(200_000)
    const store = await OriginalStore.open(root, w.client)
    const a = await store.read(m, 0, 1000)
    a.fill(0)
    const b = await store.read(m, 0, 1000)
    assert.deepEqual(b, w.bytesOf(m.id).subarray(0, 1000))
    await store.close()
  })
})
