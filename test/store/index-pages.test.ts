/**
 * The store's index is read from sqlite a page of rows at a time (store-index.ts): every record
 * and every evicted one comes back, whatever the page size, pages ending on any key.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { StoreIndex, openStoreKeyv, type StoreRecord } from '../../src/store/store-index.js'
import { tempDir } from '../support/repo.js'
import { rm } from 'node:fs/promises'

const record = (n: number): StoreRecord => ({
  id: String(50_000_000_000 + n * 7), secret: `s${n}`, ext: n % 3 === 0 ? 'png' : 'jpg', size: 1000 + n, sha256: String(n).padStart(64, 'a'),
  kind: 'original', completedAt: 1_700_000_000_000 + n, pinned: n % 2 === 0, lastAccessMs: 0,
})

void describe('the store index read in pages', () => {
  const roots: string[] = []
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true })
  })

  void it('every record and every evicted one, with pages of 1, 2, 3, 7 and the default', async () => {
    const root = await tempDir('flickrfs-index-pages-')
    roots.push(root)
    const keyv = await openStoreKeyv(root)
    try {
      const written = new StoreIndex(keyv)
      await written.load()
      const records = Array.from({ length: 7 }, (_, i) => record(i))
      await written.putMany(records)
      await written.markEvicted(records[4]!.id)
      for (const pageRows of [1, 2, 3, 7, undefined]) {
        const read = pageRows === undefined ? new StoreIndex(keyv) : new StoreIndex(keyv, pageRows)
        await read.load()
        const all = [...read.all()].sort((a, b) => a.id.localeCompare(b.id))
        assert.deepEqual(all, records.filter((_, i) => i !== 4), `pages of ${pageRows ?? 'the default'}: the records`)
        assert.equal(read.get(records[4]!.id), undefined, 'the evicted one is not stored')
        assert.equal(read.known(records[4]!.id)?.sha256, records[4]!.sha256, `pages of ${pageRows ?? 'the default'}: the evicted one is known`)
      }
    } finally {
      await keyv.disconnect()
    }
  })
})
