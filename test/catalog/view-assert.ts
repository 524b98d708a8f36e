/**
 * One check of a CatalogView against the snapshot it must answer for (test/catalog/view.test.ts
 * over the snapshot itself, lazy-view.test.ts over listing pages and buckets).
 */
import assert from 'node:assert/strict'
import { mediaKey, type CatalogSnapshot, type CatalogView, type PhotoColumns } from '../../src/catalog/index.js'
import { jsonBytes, photoMetadata } from '../../src/layout/metadata.js'

export function columnsOf(p: PhotoColumns): PhotoColumns {
  const { id, secret, media, changedAtMs, changedAtMsIgnoringViews, dateTaken, dateUpload } = p
  return { id, secret, media, changedAtMs, changedAtMsIgnoringViews, dateTaken, dateUpload }
}

export interface ViewExpectations {
  /** Records and comments come as values, never promises (the snapshot's view). */
  atOnce: boolean
  /** The view stores each sidecar's size (listing pages); else it answers undefined. */
  storesSizes: boolean
}

/** Every answer of `view` against `snap`, photo by photo, records and comments awaited. */
export async function assertViewOf(view: CatalogView, snap: CatalogSnapshot, expect: ViewExpectations): Promise<void> {
  assert.equal(view.userId, snap.userId)
  assert.equal(view.userName, snap.userName)
  assert.equal(view.refreshedAtMs, snap.refreshedAtMs)
  assert.equal(view.photostreamChangedAtMs, snap.photostreamChangedAtMs)
  assert.equal(view.photostreamLength, snap.photostream.length)
  snap.photostream.forEach((id, pos) => assert.equal(view.photostreamId(pos), id, `photostream position ${pos}`))
  assert.equal(view.photoCount, snap.photos.size)
  for (const [id, entry] of snap.photos) {
    const columns = view.photo(id)
    assert.ok(columns !== undefined, `photo ${id}`)
    assert.deepEqual(columnsOf(columns), columnsOf(entry), `columns of ${id}`)
    const record = view.record(id)
    if (expect.atOnce) assert.ok(!(record instanceof Promise), `record of ${id} at once`)
    assert.deepEqual(await record, entry, `record of ${id}`)
    const comments = snap.comments.get(id)
    assert.deepEqual(await view.comments(id), comments, `comments of ${id}`)
    const media = snap.media.get(mediaKey(id, entry.secret))
    assert.deepEqual(view.media(id, entry.secret), media, `original of ${id}`)
    assert.equal(view.media(id, `${entry.secret}x`), undefined, `no original of ${id} under another secret`)
    for (const ignoreViews of [false, true]) {
      const stored = expect.storesSizes && media !== undefined ? jsonBytes(photoMetadata({ photo: entry, media, comments, ignoreViews })).length : undefined
      assert.equal(view.sidecarSize(id, ignoreViews), stored, `sidecar size of ${id}, ignoreViews ${ignoreViews}`)
    }
  }
  const visited: string[] = []
  view.eachPhoto((p) => visited.push(p.id))
  assert.deepEqual(visited.sort(), [...snap.photos.keys()].sort())
  assert.equal(view.photo('no-such-photo'), undefined)
  assert.equal(view.photo('1'), undefined)
  assert.equal(await view.record('no-such-photo'), undefined)
  assert.equal(view.sidecarSize('no-such-photo', false), undefined)
  assert.deepEqual(view.sets, snap.sets)
  assert.deepEqual(view.collections, snap.collections)
}
