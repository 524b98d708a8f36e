/**
 * A first pin holds its whole first catalog until its tree is written, where its memory peaks
 * (bench/RESULTS.md, "Session 42"): the old generation grows by FIRST_SYNC_OLD_GROWTH_PERCENT
 * through the tree's write, not only through the refresh; a later pin keeps the command's growth.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import type { PinProgress } from '../../src/pin/pin.js'
import { FIRST_SYNC_OLD_GROWTH_PERCENT, growOldGenerationBy, oldGenerationGrowthAsked } from '../../src/util/old-generation.js'
import { pinOnce, removeDir, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'

let fake: FakeFlickr
let work: string

before(async () => {
  fake = await startFake({ seed: 42, photos: 60, videos: 0, sets: 2, collections: 0, meanPhotoBytes: 300 })
  work = await tempDir()
})
after(async () => {
  await fake.close()
  await removeDir(work)
})

/** The growth asked for in each phase the pin told, as it told it. */
function growthByPhase(): { onProgress: (p: PinProgress) => void; seen: Map<PinProgress['phase'], Set<number>> } {
  const seen = new Map<PinProgress['phase'], Set<number>>()
  return {
    seen,
    onProgress: (p) => {
      const set = seen.get(p.phase) ?? new Set<number>()
      set.add(oldGenerationGrowthAsked())
      seen.set(p.phase, set)
    },
  }
}

void test("a first pin's old generation grows less until its tree is written, then as the command asked", async () => {
  // What bin/flickrfs asks of every command.
  growOldGenerationBy(30)
  const dest = join(work, 'dest')
  const first = growthByPhase()
  const r = await pinOnce(fake, dest, { onProgress: first.onProgress })
  assert.deepEqual(r.failures, [])
  assert.deepEqual([...(first.seen.get('writing') ?? [])], [FIRST_SYNC_OLD_GROWTH_PERCENT], 'through the tree write')
  assert.deepEqual([...(first.seen.get('downloading') ?? [])], [FIRST_SYNC_OLD_GROWTH_PERCENT], 'through the downloads')
  assert.equal(oldGenerationGrowthAsked(), 30, 'given back once the pin is over')

  fake.account.editPhoto(fake.account.photostream[0] as string, { title: 'edited after the first pin' })
  const later = growthByPhase()
  const again = await pinOnce(fake, dest, { onProgress: later.onProgress })
  assert.deepEqual(again.failures, [])
  assert.ok(later.seen.has('writing'), 'the later pin wrote its tree')
  for (const [phase, growths] of later.seen) assert.deepEqual([...growths], [30], `a later pin, ${phase}`)
})
