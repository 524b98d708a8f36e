/**
 * Issue 10, "one item never stops the run", "bounded time" and "check what comes back", through the
 * real CLI: one photo of an account misbehaves on the media host (the fake's per-item hostile
 * switches), `flickrfs pin` ends in bounded time with that item in the failure list and exit 1,
 * every other original in DEST, and nothing outside DEST touched. Then the switch goes, and the
 * next pin leaves DEST exact with `flickrfs verify` clean.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateAccount, type FakeFlickr, type HostileKind } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, danglingLinks, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { CliProc, runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'
import { exists } from '../support/files.js'

interface Row {
  kinds: HostileKind | HostileKind[]
  /** The one-line reason the failure list must give. */
  reason: RegExp
  /** Longest the failing pin may take, ms. */
  withinMs: number
  /** Not retried: the failing run asks the media host about the item no more than a redirect chain's hops. */
  permanent?: boolean
  /** Size every original first (`pin --ignore-photos`), so the hostile answer meets the download, not the catalog's HEAD. */
  known?: boolean
  /** With `known`: the item is already hostile when it is sized (the lie is what the catalog learns). */
  hostileWhenSized?: boolean
}

/** A world per test (tests run side by side): a fake with one hostile photo, a DEST, and a folder outside DEST. */
async function world(seed: number): Promise<{ fake: FakeFlickr; work: string; dest: string; outside: string; env: NodeJS.ProcessEnv; victim: string; close(): Promise<void> }> {
  // An account with a photo in no set (the helpers' reading of LAYOUT.md has no empty `Not in any set/`).
  let account = generateAccount({ seed, photos: 6, videos: 1, sets: 2, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 40_000, meanVideoBytes: 60_000 })
  for (let n = 1; account.photostream.every((id) => account.sets.some((s) => s.photoIds.includes(id))); n++) {
    account = generateAccount({ seed: seed + 1000 * n, photos: 6, videos: 1, sets: 2, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 40_000, meanVideoBytes: 60_000 })
  }
  const fake = await startFake(account)
  const work = await tempDir()
  const outside = join(work, 'outside')
  await mkdir(outside)
  await writeFile(join(outside, 'keep.txt'), 'not flickrfs\n')
  const a = fake.account
  // In a set: a photo left out of the tree then leaves no question about an empty `Not in any set/`.
  const inSet = new Set(a.sets.flatMap((s) => s.photoIds))
  const victim = a.photostream.find((id) => inSet.has(id) && a.requirePhoto(id).media === 'photo' && a.requirePhoto(id).bytes > 8_000) ??
    assert.fail('no photo in a set')
  return {
    fake, work, dest: join(work, 'dest'), outside, victim,
    env: cliEnv(fake, join(work, 'config')),
    async close() {
      await fake.close()
      await removeDir(work)
    },
  }
}

/** Runs the CLI; a run longer than `withinMs` is killed and fails the test (the hang some rows are about). */
async function timed(args: string[], env: NodeJS.ProcessEnv, withinMs = 60_000): Promise<{ code: number | null; stderr: string; ms: number }> {
  const t0 = performance.now()
  const p = new CliProc(spawnCli(args, env))
  const exit = await p.wait(withinMs)
  return { code: exit.code, stderr: p.err, ms: performance.now() - t0 }
}

const ROWS: Record<string, Row> = {
  // Catalog: refused before any request, not retried.
  badScheme: { permanent: true, kinds: 'badScheme', reason: /refused|scheme|ftp/i, withinMs: 20_000 },
  otherHost: { permanent: true, kinds: 'otherHost', reason: /localhost|host/i, withinMs: 20_000 },
  redirectLoop: { permanent: true, kinds: 'redirectLoop', reason: /redirect/i, withinMs: 20_000 },
  longExt: { permanent: true, kinds: 'longExt', reason: /extension "extendedjpegimage"/, withinMs: 20_000 },
  // Catalog: transient on the HEAD, retried within the media client's budget, then this item only.
  html200: { kinds: 'html200', reason: /HTML page/, withinMs: 60_000 },
  http500: { kinds: 'http500', reason: /HTTP 500/, withinMs: 60_000 },
  // Store: the same two met by the download of an original the catalog already knows.
  html200OnDownload: { kinds: 'html200', reason: /download: .*HTML page/, withinMs: 60_000, known: true },
  http500OnDownload: { kinds: 'http500', reason: /download: .*HTTP 500/, withinMs: 60_000, known: true },
  // Store: the body stalls (or lies about its length and then stalls): two stalls in a row (2 x 15 s idle) end it.
  stallMidBody: { kinds: 'stallMidBody', reason: /stalled 2 times in a row .*stopped sending/, withinMs: 60_000 },
  contentLengthTooBig: { kinds: 'contentLengthTooBig', reason: /stalled 2 times in a row .*stopped sending/, withinMs: 60_000 },
  // A server that trickles fails the minimum rate (1 KiB/s over 30 s) twice in a row.
  trickle: { kinds: 'trickle', reason: /stalled 2 times in a row .*too slowly/, withinMs: 90_000 },
  ignoreRangeTruncate: { kinds: ['ignoreRange', 'truncate'], reason: /kept breaking off .*4 tries/, withinMs: 60_000 },
  // Store: the Content-Range of the download states the real size, which the catalog's (from a lying HEAD) is not.
  // pin sizes new originals by their ranged GET, so the lie reaches the catalog through a run that
  // HEADs photos it does not download (--ignore-photos, as a mount would HEAD them).
  contentLengthTooSmall: { kinds: 'contentLengthTooSmall', reason: /says .* has \d+ bytes, but the catalog says \d+/, withinMs: 20_000, known: true, hostileWhenSized: true },
}

void describe('pin with one hostile item (e2e)', { concurrency: 4 }, () => {
  let seed = 600
  for (const [name, row] of Object.entries(ROWS)) {
    const s = seed++
    void it(`${name}: that item fails with one line, the rest is pinned, exit 1 in bounded time; a later good run is exact`, async (t) => {
      const w = await world(s)
      t.after(() => w.close())
      const { fake, dest, env, victim } = w
      const a = fake.account
      const outsideBefore = await snapshot(w.work)
      if (row.known === true) {
        if (row.hostileWhenSized === true) fake.faults.hostile = { [victim]: row.kinds }
        const sized = await timed(['pin', '-q', '--ignore-photos', dest], env)
        assert.equal(sized.code, 0, sized.stderr)
      }
      fake.faults.hostile = { [victim]: row.kinds }
      fake.resetCounts()

      const bad = await timed(['pin', '-q', dest], env, row.withinMs)
      t.diagnostic(`${name}: exit ${bad.code} in ${Math.round(bad.ms)} ms`)
      assert.equal(bad.code, 1, `exit code; stderr: ${bad.stderr}`)
      assert.ok(bad.ms < row.withinMs, `took ${Math.round(bad.ms)} ms, more than ${row.withinMs}`)
      const lines = bad.stderr.split('\n').filter((l) => l.trim() !== '')
      const failed = lines.filter((l) => /^\s+\d+: (original|download): /.test(l))
      assert.equal(failed.length, 1, `one failure line; stderr: ${bad.stderr}`)
      assert.ok(failed[0]?.trimStart().startsWith(`${victim}: `), failed[0])
      assert.match(failed[0] ?? '', row.reason)
      assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace')
      if (row.permanent === true) {
        const c = fake.counts()
        const asked = (c['media:HEAD'] ?? 0) + (c['media:GET'] ?? 0) + (c['media:play'] ?? 0)
        // One HEAD and one GET per other item (a video's play URL twice), plus at most the hops of one redirect chain.
        assert.ok(asked <= 2 * a.photostream.length + 2 + 6, `${asked} media requests: the hostile item was retried`)
      }
      // Everything else is there, byte for byte; the hostile item is left out of the tree.
      for (const id of a.photostream) {
        const path = join(dest, 'photostream', mediaName(a, id))
        if (id === victim) assert.equal(await exists(path), false, 'no file for the failed item')
        else assert.ok((await readFile(path)).equals(a.originalBytes(id)), id)
      }
      assertSamePaths((await snapshot(dest)).keys(), expectedTree(a, { omit: new Set([victim]) }).entries.keys())
      assert.deepEqual(await danglingLinks(dest), [])

      fake.faults.hostile = {}
      const good = await timed(['pin', '-q', dest], env)
      assert.equal(good.code, 0, good.stderr)
      for (const id of a.photostream) {
        assert.ok((await readFile(join(dest, 'photostream', mediaName(a, id)))).equals(a.originalBytes(id)), id)
      }
      assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
      const verify = await runCli(['verify', dest], env)
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)

      // Nothing outside DEST changed (DEST itself, and the config dir the CLI may use, aside).
      const outsideAfter = await snapshot(w.work)
      const moved = changedPaths(outsideBefore, outsideAfter, { ignoreDirs: true })
        .filter((p) => !/^[-+~](dest|config)(\/|$)/.test(p))
      assert.deepEqual(moved, [])
      assert.equal(await readFile(join(w.outside, 'keep.txt'), 'utf8'), 'not flickrfs\n')
    })
  }
})
