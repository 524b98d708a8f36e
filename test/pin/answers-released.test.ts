/**
 * A pin that merges a change lets go of its quick refresh's answers once its refresh has taken
 * them (util/handover.ts). After a bulk edit they are every reported photo as listed, and its row
 * as the catalog held it: ~150 MB at 92,000 photos reported, which stayed reachable from the pin's
 * own locals through the whole tree write after the merge. Each photo the listing reported is
 * watched with a WeakRef, and counted after a full GC as the tree write starts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_FULL_LISTING_EVERY_MS, type CatalogApi } from '../../src/catalog/index.js'
import { pin } from '../../src/pin/pin.js'
import { collectGarbageNow } from '../../src/util/old-generation.js'
import { clients, pinOnce, removeDir, startFake } from './helpers.js'
import { withReplaced } from '../support/replaced.js'
import { tempDir } from '../support/repo.js'

/** `api`, with every photo recentlyUpdated answers watched in `reported`. */
function watching(api: CatalogApi, reported: Array<WeakRef<object>>): CatalogApi {
  return withReplaced(api, {
    getRecentlyUpdated: async (minDateSec, extras) => {
      const photos = await api.getRecentlyUpdated(minDateSec, extras)
      for (const p of photos) if (typeof p === 'object' && p !== null) reported.push(new WeakRef(p))
      return photos
    },
  })
}

void test('a pin merging a bulk edit holds none of the reported photos once it writes the tree', async () => {
  const fake = await startFake({ seed: 45, photos: 200, videos: 0, sets: 4, collections: 1, commentedFraction: 0.1, meanPhotoBytes: 2_000 })
  const work = await tempDir()
  try {
    const dest = `${work}/dest`
    // A full listing is not due: the second pin asks recentlyUpdated what changed.
    const fullListingEveryMs = DEFAULT_FULL_LISTING_EVERY_MS
    await pinOnce(fake, dest, { fullListingEveryMs })
    for (const id of fake.account.photostream) fake.account.editPhoto(id, { title: `bulk edit of ${id}` })
    const { api, media } = clients(fake)
    const reported: Array<WeakRef<object>> = []
    let heldAtWrite: number | undefined
    const report = await pin({
      dest,
      api: watching(api, reported),
      media,
      lazyCatalogFromPhotos: 0,
      fullListingEveryMs,
      onProgress: (p) => {
        if (p.phase !== 'writing' || heldAtWrite !== undefined) return
        collectGarbageNow()
        heldAtWrite = reported.filter((r) => r.deref() !== undefined).length
      },
    })
    assert.equal(report.refresh.merged, true, 'the bulk edit was merged into the lazily read catalog')
    assert.equal(report.refresh.photos.changed, 200)
    assert.ok(reported.length >= 200, `recentlyUpdated reported every photo (${reported.length})`)
    assert.equal(heldAtWrite, 0, `reported photos still held as the tree write started (of ${reported.length})`)
  } finally {
    await fake.close()
    await removeDir(work)
  }
})
