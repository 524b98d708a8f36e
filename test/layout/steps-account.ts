/**
 * An account for the tests of a layout built in steps (steps.test.ts, test/fs/mount-steps.test.ts):
 * 3,000 photos, 300 sets, nested collections, and records that get no folder.
 */
import type { CatalogSnapshot } from '../../src/catalog/types.js'
import { collectionEntry, photoSpecs, setEntry, snapshot, type PhotoSpec } from './fixture.js'

const T = 1_700_000_000_000

/** Which record of the account is the newest (account()). */
export type Newest = 'photo' | 'set' | 'nested collection' | 'unsafe set' | 'second of a set id' | 'looping collection'

/**
 * An account where the root's mtime comes from elsewhere each time: `latest` says which record is
 * the newest (a photo, a set, a nested collection, or records that get no folder: an unsafe set, a
 * set listed twice, a collection inside itself).
 */
export function account(latest: Newest): CatalogSnapshot {
  const photos: PhotoSpec[] = photoSpecs(3000).map((p, i) => ({ ...p, changedAtMs: T + i * 1000, media: i % 7 === 0 ? 'video' : 'photo' }))
  const newest = T + 10_000_000
  if (latest === 'photo') (photos[1234] as PhotoSpec).changedAtMs = newest
  const ids = photos.map((p) => p.id)
  const sets = Array.from({ length: 300 }, (_, i) => setEntry(String(9000 + i), `Set ${i}`, ids.slice(i * 7, i * 7 + 12), T + i))
  sets.push(setEntry('9000', 'Set 0 again', ids.slice(0, 3), latest === 'second of a set id' ? newest : T))
  sets.push(setEntry('bad/id', 'Unsafe', ids.slice(0, 3), latest === 'unsafe set' ? newest : T))
  if (latest === 'set') sets[17] = setEntry('9017', 'Set 17', ids.slice(119, 131), newest)
  const loop = collectionEntry('1-9', 'Loop', ['9005'], [], latest === 'looping collection' ? newest : T)
  const top = collectionEntry('1-1', 'Top', ['9000', '9001'], [
    collectionEntry('1-2', 'Middle', ['9002'], [collectionEntry('1-3', 'Deep', ['9003'], [], latest === 'nested collection' ? newest : T)]),
    loop,
  ])
  // 1-9 lists 1-1, an ancestor: that child gets no folder.
  loop.children.push(top)
  return snapshot({
    photos,
    sets,
    collections: [top, collectionEntry('1-1', 'Top', ['9004']), collectionEntry('1-4', 'Other', ['9006', '9007'])],
  })
}
