/**
 * The wording and the arithmetic of `flickrfs status` on an unfinished sync: what is left, and how
 * long it takes with the calls available now and the refill after them. (The lines as the CLI
 * prints them for a killed pin: test/e2e/sync-resume.test.ts.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ProgressMeta } from '../../src/catalog/index.js'
import { progressLines, secondsFor } from '../../src/cli/sync-progress.js'
import { roughDuration } from '../../src/cli/units.js'

const now = Date.UTC(2026, 10, 30, 12)
const meta = (over: Partial<ProgressMeta> = {}): ProgressMeta => ({
  schema: 1, userId: 'u', startedAtMs: now - 7 * 3600_000, savedAtMs: now - 30_000, runs: 2,
  photostream: { listedAtMs: now - 7 * 3600_000, chunks: 200, count: 100_000, complete: true },
  comments: { done: 12_000, total: 30_000 }, sizes: { done: 100_000, total: 100_000 }, sets: { done: 2_000, total: 2_000 },
  ...over,
})

void test('the calls available now go at once, the rest at the refill', () => {
  assert.equal(secondsFor(18_000, { tokens: 0, ratePerSec: 1 }), 18_000)
  assert.equal(secondsFor(18_000, { tokens: 3_000, ratePerSec: 1 }), 15_000)
  assert.equal(secondsFor(100, { tokens: 3_000, ratePerSec: 1 }), 0)
  assert.equal(secondsFor(1_600, { tokens: 0, ratePerSec: 0.8 }), 2_000)
  assert.equal(roughDuration(30), 'under a minute')
  assert.equal(roughDuration(40 * 60), 'about 40 min')
  assert.equal(roughDuration(5 * 3600), 'about 5 h')
  assert.equal(roughDuration(2.25 * 3600), 'about 2.3 h')
})

void test('status says how far each part came and how long the rest takes at the key\'s rate', () => {
  const lines = progressLines(meta(), { tokens: 0, ratePerSec: 1 }, now)
  assert.match(lines[0] as string, /^Sync not completed \(interrupted: the next pin or mount goes on from where it was\): started 2026-11-30T05:00:00.000Z \(2 runs so far\), progress saved 30 s ago$/)
  assert.match(progressLines(meta(), { tokens: 0, ratePerSec: 1 }, now, { pid: 4242, purpose: 'pin' })[0] as string, /^Sync not completed \(going on in pid 4242, pin\): started /)
  assert.ok(lines.includes('  photostream: 100,000 items listed'), lines.join('\n'))
  assert.ok(lines.includes('  sizes: 100,000 of 100,000'), lines.join('\n'))
  assert.ok(lines.includes("  comments: 12,000 of 30,000, about 5 h at Flickr's limit"), lines.join('\n'))
  assert.ok(lines.includes('  sets: 2,000 of 2,000 listed'), lines.join('\n'))
  assert.ok(lines.includes('  rest: at least 18,000 API calls, about 5 h at 1/s with 0 calls available now'), lines.join('\n'))

  // Sets left count too; a listing not saved yet says so; with a full burst, a small rest is quick.
  const early = progressLines(meta({ photostream: undefined, comments: { done: 0, total: 500 }, sets: { done: 10, total: 110 } }), { tokens: 3_000, ratePerSec: 1 }, now)
  assert.ok(early.includes('  photostream: listing not saved yet'), early.join('\n'))
  assert.ok(early.includes("  comments: 0 of 500, under a minute at Flickr's limit"), early.join('\n'))
  assert.ok(early.includes('  rest: at least 600 API calls, under a minute at 1/s with 3,000 calls available now'), early.join('\n'))
})
