/**
 * The store the live mount reads originals through passes the OriginalReader contract, against the
 * fake Flickr over real HTTP and a real store root: with originals not yet downloaded (reads wait
 * for the shared download, or take their own ranged GETs when far ahead of it), and with
 * originals already on disk (reads from the file, and readLocal's fast path).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { MediaEntry } from '../../src/catalog/types.js'
import { OriginalStore } from '../../src/store/index.js'
import { originalReaderContract } from '../support/original-reader-contract.js'
import { observed, startWorld, type World } from './helpers.js'

void describe('OriginalStore as an OriginalReader', () => {
  let w: World
  before(async () => {
    w = await startWorld()
  })
  after(async () => {
    await w.close()
  })

  let notYetDownloaded: OriginalStore | undefined
  originalReaderContract('OriginalStore, originals not yet downloaded', async () => {
    // Requests for these media hang before they reach the fake, until close().
    const stalled = new Set<string>()
    let release: () => void = () => {}
    const gate = new Promise<void>((res) => (release = res))
    // A slowish network (every body chunk 1 ms late) and a low far-read threshold, so reads ahead
    // of the download take ranged GETs of their own as the mount's would.
    const source = observed(w.client, { chunkDelayMs: 1, beforeGet: async (url) => (stalled.has(url) ? gate : undefined) })
    const store = await OriginalStore.open(await w.newRoot(), source, { farReadBytes: 256 << 10, rangeChunkBytes: 64 << 10 })
    notYetDownloaded = store
    return {
      reader: store,
      add: (bytes) => Promise.resolve(w.addPhoto(bytes)),
      readLocalSyncServes: false,
      addStalled: (bytes): Promise<MediaEntry> => {
        const m = w.addPhoto(bytes)
        stalled.add(m.url)
        return Promise.resolve(m)
      },
      close: async () => {
        release()
        await store.close()
      },
    }
  })

  void it('(the reads above took ranged GETs as well as the shared downloads)', () => {
    assert.ok((notYetDownloaded?.stats.rangedGets ?? 0) > 0, 'no read went ahead of its download: the far-read path was not exercised')
  })

  originalReaderContract('OriginalStore, originals on disk', async () => {
    const store = await OriginalStore.open(await w.newRoot(), w.client)
    return {
      reader: store,
      add: async (bytes) => {
        const m = w.addPhoto(bytes)
        await store.ensure(m)
        return m
      },
      readLocalAfterRead: true,
      readLocalSyncServes: true,
      close: () => store.close(),
    }
  })
})
