/**
 * The wording and the arithmetic of `flickrfs status` on an unfinished sync: what is left, and how
 * long it takes with the calls available now and the refill after them. (The lines as the CLI
 * prints them for a killed pin: test/e2e/sync-resume.test.ts.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ProgressMeta } from '../../src/catalog/index.js'
import { readFile, writeFile } from 'node:fs/promises'
import { ACTIVE_WRITER_MS, apiPace, progressLines, secondsFor } from '../../src/cli/sync-progress.js'
import { DEFAULT_BURST, DEFAULT_RATE_PER_SEC, limiterStatePath, SharedTokenBucket } from '../../src/flickr/limiter.js'
import { wallClock } from '../../src/flickr/clock.js'
import { tempDir } from '../support/repo.js'
import { apiBudgetLines } from '../../src/cli/status.js'
import { removeDir } from '../pin/helpers.js'
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

void test("a sync's estimate goes at the settings of the process drawing on the key's budget now, else at the configured ones", async () => {
  const configDir = await tempDir('flickrfs-pace-')
  try {
    const env = { FLICKRFS_CONFIG_DIR: configDir, FLICKR_API_KEY: 'key-of-the-test', FLICKR_API_SECRET: 'secret' }
    // A pin started with --api-rate 5 and FLICKRFS_API_BURST=100 takes three calls' tokens (its real shared bucket writes the file).
    const pin = new SharedTokenBucket({ configDir, apiKey: env.FLICKR_API_KEY, burst: 100, ratePerSec: 5, clock: wallClock })
    for (let i = 0; i < 3; i++) await pin.take()
    const busy = await apiPace(env)
    assert.equal(busy.ratePerSec, 5, 'the running pin\'s refill, not the default')
    assert.ok(busy.tokens !== undefined && busy.tokens <= 100 && busy.tokens >= 80, `tokens ${busy.tokens}`)
    // status's budget lines say so, beside the configured settings they show.
    const said = (await apiBudgetLines(env)).join('\n')
    assert.match(said, /burst 600 \(default\), then 0\.8\/s/)
    assert.match(said, /drawn on now with other settings: burst 100, then 5\/s/)
    // The same file, last written longer ago than a busy process writes it: the configured settings.
    const path = limiterStatePath(configDir, env.FLICKR_API_KEY)
    const state = JSON.parse(await readFile(path, 'utf8')) as { updatedAtMs: number }
    await writeFile(path, JSON.stringify({ ...state, updatedAtMs: Date.now() - 2 * ACTIVE_WRITER_MS }))
    const idle = await apiPace(env)
    assert.doesNotMatch((await apiBudgetLines(env)).join('\n'), /drawn on now/)
    assert.equal(idle.ratePerSec, DEFAULT_RATE_PER_SEC)
    assert.ok(idle.tokens !== undefined && idle.tokens > 100 && idle.tokens <= DEFAULT_BURST, `tokens ${idle.tokens}: refilled past the old burst, up to the configured one`)
    // No key: the file cannot be found, so no calls are counted as available (and none are claimed).
    const keyless = await apiPace({ FLICKRFS_CONFIG_DIR: configDir })
    assert.deepEqual(keyless, { ratePerSec: DEFAULT_RATE_PER_SEC })
    const rest = progressLines(meta(), keyless, now).find((l) => l.startsWith('  rest:'))
    assert.equal(rest, '  rest: at least 18,000 API calls, about 6.3 h at 0.8/s')
  } finally {
    await removeDir(configDir)
  }
})
