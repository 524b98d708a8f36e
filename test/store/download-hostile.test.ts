/**
 * The store against media servers that lie or break off every time (issue 10, "bounded time" and
 * "check what comes back"): every restart counts against the budget, a lying size is caught by the
 * first ranged GET, and the partial file stays for a later run.
 */
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { LIE_BYTES } from '../../src/fake-flickr/index.js'
import { OriginalStore } from '../../src/store/index.js'
import { exists } from '../support/files.js'
import { startWorld, type World } from './helpers.js'

const fast = { resumeDelayMs: () => 5 }

void describe('OriginalStore against hostile media servers', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  void it('a server that ignores Range and breaks off every time fails after the restart budget, not never', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(200_000)
    w.fake.faults.hostile = { [m.id]: ['ignoreRange', 'truncate'] }
    const store = await OriginalStore.open(root, w.client, { ...fast, maxResumes: 3 })
    w.fake.resetCounts()
    try {
      await assert.rejects(store.ensure(m), /kept breaking off \(\d+ of 200000 bytes after 4 tries/)
      assert.equal(w.fake.counts()['media:GET'], 4, 'the first request and 3 restarts, each a 200 from byte 0')
      assert.equal(await exists(join(root, 'photostream', `${m.id}.jpg`)), false)
      // What came is kept for a later run to resume from.
      const parts = await readdir(join(root, '.flickrfs', 'tmp'))
      assert.equal(parts.length, 1)
      const kept = (await stat(join(root, '.flickrfs', 'tmp', parts[0] ?? ''))).size
      assert.ok(kept > 0 && kept <= 100_000, `kept ${kept} bytes (the server sends at most half each time)`)
    } finally {
      w.fake.faults.hostile = {}
      await store.close()
    }
  })

  void it('a Content-Length short of the real file (HEAD and 200 alike) is caught by the first GET, at no extra request', async () => {
    const root = await w.newRoot()
    const m = w.addPhoto(50_000)
    w.fake.faults.hostile = { [m.id]: 'contentLengthTooSmall' }
    // The size the catalog got from the lying HEAD.
    const head = await w.client.head(m.url)
    assert.equal(head.size, 50_000 - LIE_BYTES)
    const store = await OriginalStore.open(root, w.client, fast)
    w.fake.resetCounts()
    try {
      await assert.rejects(store.ensure({ ...m, size: head.size }), new RegExp(`says .* has 50000 bytes, but the catalog says ${50_000 - LIE_BYTES}`))
      assert.equal(w.fake.counts()['media:GET'], 1)
      assert.equal(await exists(join(root, 'photostream', `${m.id}.jpg`)), false)
    } finally {
      w.fake.faults.hostile = {}
    }
    // With the right size the same original downloads whole.
    const r = await store.ensure(m)
    assert.equal(r.size, 50_000)
    await store.close()
  })
})
