import assert from 'node:assert/strict'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Keyv from 'keyv'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { OriginalStore } from '../../src/store/index.js'
import { MediaClient } from '../../src/flickr/index.js'
import { observed, startRangeIgnoringProxy, startWorld, type World } from './helpers.js'
import { exists, sha256 } from '../support/files.js'

const fast = { resumeDelayMs: () => 5 }

void describe('OriginalStore downloads', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  void it('downloads to photostream/<id>.<ext> with the right size and sha256, records it, and does not fetch again', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(300_000)
    const store = await OriginalStore.open(root, w.client)
    w.fake.resetCounts()
    const r = await store.ensure(m, { mtimeMs: 1_500_000_000_000 })
    const expected = w.bytesOf(m.id)
    assert.equal(r.path, join(root, 'photostream', `${m.id}.jpg`))
    assert.equal(r.downloaded, true)
    assert.equal(r.size, 300_000)
    assert.equal(r.sha256, sha256(expected))
    assert.deepEqual(await readFile(r.path), expected)
    assert.equal((await stat(r.path)).mtimeMs, 1_500_000_000_000)
    assert.deepEqual(store.info(m.id, m.secret), { size: 300_000, sha256: sha256(expected) })
    assert.equal(store.info(m.id, 'othersecret'), undefined)
    assert.deepEqual(await readdir(join(root, '.flickrfs', 'tmp')), [])
    const again = await store.ensure(m)
    assert.equal(again.downloaded, false)
    assert.equal(w.fake.counts()['media:GET'], 1)
    await store.close()
    // The index survives a restart and answers info() without I/O.
    const reopened = await OriginalStore.open(root, w.client)
    assert.deepEqual(reopened.info(m.id, m.secret), { size: 300_000, sha256: sha256(expected) })
    assert.equal(await reopened.has(m), true)
    await reopened.close()
  })

  void it('a store opened with reads: false (pin) downloads and records, and refuses a range read in one line', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(50_000)
    const store = await OriginalStore.open(root, w.client, { reads: false })
    const r = await store.ensure(m)
    assert.equal(r.downloaded, true)
    assert.deepEqual(await readFile(r.path), w.bytesOf(m.id))
    assert.equal(store.prefetches, false)
    await assert.rejects(async () => store.read(m, 0, 10), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')
    await store.close()
  })

  void it('works over any iterable keyv store passed in (here an in-memory one)', async () => {
    const root = await w.newRoot()
    const index = new Keyv({ namespace: 'store' })
    const m = w.addPhoto(10_000)
    const first = await OriginalStore.open(root, w.client, { index })
    await first.ensure(m)
    await first.close()
    const second = await OriginalStore.open(root, w.client, { index })
    assert.deepEqual(second.info(m.id, m.secret), { size: 10_000, sha256: sha256(w.bytesOf(m.id)) })
    await second.close()
  })

  void it('shares one download among concurrent ensure calls', async () => {
    const store = await OriginalStore.open(await w.newRoot(), w.client)
    const m = w.addPhoto(2_000_000)
    w.fake.resetCounts()
    const results = await Promise.all(Array.from({ length: 6 }, () => store.ensure(m)))
    assert.equal(w.fake.counts()['media:GET'], 1)
    assert.equal(new Set(results.map((r) => r.sha256)).size, 1)
    assert.equal(results[0]?.sha256, sha256(w.bytesOf(m.id)))
    await store.close()
  })

  void it('recovers from a body cut short, resuming with a Range request, and never puts a partial file under the final name', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(3_000_000)
    const finalPath = join(root, 'photostream', `${m.id}.jpg`)
    const finalSeen: boolean[] = []
    const source = observed(w.client, { beforeGet: async () => { finalSeen.push(await exists(finalPath)) } })
    const store = await OriginalStore.open(root, source, fast)
    w.fake.resetCounts()
    w.fake.faults.inject('truncateMedia', { count: 2, target: 'media' })
    const r = await store.ensure(m)
    assert.equal(r.sha256, sha256(w.bytesOf(m.id)))
    assert.equal(w.fake.counts()['media:GET'], 3)
    assert.deepEqual(finalSeen, [false, false, false])
    // The fake cuts each body after half of it (the client may see a little less): every resume
    // asks for the bytes after the ones kept, and nothing is fetched twice.
    const [s0, s1, s2] = source.starts
    assert.equal(source.starts.length, 3)
    assert.equal(s0, 0)
    assert.ok(s1 !== undefined && s1 > 1_000_000 && s1 <= 1_500_000, `second request from ${s1}`)
    assert.ok(s2 !== undefined && s2 > s1 && s2 <= s1 + (3_000_000 - s1) / 2, `third request from ${s2}`)
    assert.equal(store.stats.fetchedBytes, 3_000_000)
    await store.close()
  })

  void it('resumes a .part left by a killed run: asks for the rest only', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(1_000_000)
    const full = w.bytesOf(m.id)
    await mkdir(join(root, '.flickrfs', 'tmp'), { recursive: true })
    await writeFile(join(root, '.flickrfs', 'tmp', `${m.id}_${m.secret}.part`), full.subarray(0, 400_000))
    const source = observed(w.client)
    const store = await OriginalStore.open(root, source)
    w.fake.resetCounts()
    const r = await store.ensure(m)
    assert.deepEqual(source.starts, [400_000])
    assert.equal(w.fake.counts()['media:bytes'], 600_000)
    assert.equal(r.sha256, sha256(full))
    assert.deepEqual(await readFile(r.path), full)
    assert.equal(store.stats.fetchedBytes, 600_000)
    await store.close()
  })

  void it('starts over when the server answers a ranged request with 200', async () => {
    const proxy = await startRangeIgnoringProxy(w.fake.origin)
    try {
      const root = await w.newRoot()
      const p = w.fake.account.addPhoto({ bytes: 500_000 })
      const m = w.entryOf(p, proxy.origin)
      const full = w.bytesOf(m.id)
      await mkdir(join(root, '.flickrfs', 'tmp'), { recursive: true })
      // A prefix that is NOT the file's: appending the 200 body to it would give a wrong hash.
      await writeFile(join(root, '.flickrfs', 'tmp', `${m.id}_${m.secret}.part`), Buffer.alloc(200_000, 7))
      // The proxy is a host of its own: the client must be told it may fetch from there.
      const source = observed(new MediaClient({ origins: [w.fake.origin, proxy.origin], retryBaseDelayMs: 5, retryMaxDelayMs: 20 }))
      const store = await OriginalStore.open(root, source)
      w.fake.resetCounts()
      const r = await store.ensure(m)
      assert.deepEqual(source.starts, [200_000])
      assert.equal(w.fake.counts()['media:bytes'], 500_000)
      assert.equal(r.sha256, sha256(full))
      assert.deepEqual(await readFile(r.path), full)
      await store.close()
    } finally {
      await proxy.close()
    }
  })

  void it('replaces an original whose format changed, removing the old file only after the new one is in place', async () => {
    const root = await w.newRoot()
    const m1 = w.addPhoto(100_000, 'jpg')
    const oldPath = join(root, 'photostream', `${m1.id}.jpg`)
    const newPath = join(root, 'photostream', `${m1.id}.png`)
    const oldSeen: boolean[] = []
    const source = observed(w.client, { beforeGet: async () => { oldSeen.push(await exists(oldPath)) } })
    const store = await OriginalStore.open(root, source)
    await store.ensure(m1)
    const p = w.fake.account.replaceOriginal(m1.id, { format: 'png', bytes: 150_000 })
    const m2 = w.entryOf(p)
    // A partial download of the old version, which can never be resumed now, is cleared away.
    await writeFile(join(root, '.flickrfs', 'tmp', `${m1.id}_${m1.secret}.part`), Buffer.alloc(10))
    assert.notEqual(m2.secret, m1.secret)
    assert.equal(await store.has(m2), false)
    const r = await store.ensure(m2)
    assert.deepEqual(oldSeen, [false, true])
    assert.equal(r.path, newPath)
    assert.equal(await exists(oldPath), false)
    assert.deepEqual(await readFile(newPath), w.bytesOf(m1.id))
    assert.equal(store.info(m1.id, m1.secret), undefined)
    assert.equal(store.info(m2.id, m2.secret)?.size, 150_000)
    assert.deepEqual(await readdir(join(root, '.flickrfs', 'tmp')), [])
    await store.close()
  })

  void it('re-downloads a recorded original whose file went missing or changed size', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(50_000)
    const store = await OriginalStore.open(root, w.client)
    const r = await store.ensure(m)
    await writeFile(r.path, Buffer.alloc(10))
    assert.equal(await store.has(m), false)
    const again = await store.ensure(m)
    assert.equal(again.downloaded, true)
    assert.deepEqual(await readFile(r.path), w.bytesOf(m.id))
    await store.close()
  })

  void it('rides out 500s and 429s from the media host, and reports a vanished original as MEDIA without leaving a file', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client, fast)
    const m = w.addPhoto(80_000)
    w.fake.faults.inject('http500', { count: 2, target: 'media' })
    w.fake.faults.inject('throttle429', { count: 1, target: 'media' })
    const r = await store.ensure(m)
    assert.equal(r.sha256, sha256(w.bytesOf(m.id)))
    const gone = w.addPhoto(80_000)
    w.fake.account.deletePhoto(gone.id)
    await assert.rejects(store.ensure(gone), (err: unknown) => err instanceof FlickrfsError && err.code === 'MEDIA' && /404/.test(err.message))
    await assert.rejects(store.read(gone, 0, 100), (err: unknown) => err instanceof FlickrfsError && err.code === 'MEDIA')
    assert.equal(await exists(store.pathOf(gone)), false)
    assert.equal(store.info(gone.id, gone.secret), undefined)
    await store.close()
  })

  void it('refuses hostile ids, secrets and extensions before touching the disk or the network', async () => {
    const root = await w.newRoot()
    const store = await OriginalStore.open(root, w.client)
    const good = w.addPhoto(1000)
    w.fake.resetCounts()
    const hostile = [
      { ...good, id: '../../etc/passwd' },
      { ...good, id: 'a/b' },
      { ...good, id: '' },
      { ...good, id: 'x\u0000y' },
      { ...good, id: '..' },
      { ...good, secret: '../s' },
      { ...good, ext: 'JPG' },
      { ...good, ext: 'jpg/../../x' },
      { ...good, ext: '' },
      { ...good, ext: 'averylongext' },
      { ...good, ext: '.jpg' },
    ]
    for (const m of hostile) {
      await assert.rejects(store.ensure(m), (err: unknown) => err instanceof FlickrfsError && err.code === 'MEDIA', JSON.stringify(m))
      await assert.rejects(async () => store.read(m, 0, 10), (err: unknown) => err instanceof FlickrfsError && err.code === 'MEDIA')
      if (m.secret === good.secret) assert.throws(() => store.pathOf(m), FlickrfsError)
    }
    assert.equal(w.fake.counts()['media:GET'] ?? 0, 0)
    assert.deepEqual((await readdir(w.tmp)).filter((f) => !f.startsWith('root')), [])
    await store.close()
  })
})
