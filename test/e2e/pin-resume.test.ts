/**
 * A pin killed with SIGKILL in the middle of its downloads leaves no final-named original with the
 * wrong size, and the next run completes it; Ctrl-C says so; a second pin on the same DEST at the
 * same time is refused with a clear LOCKED message.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { DEFAULT_PIN_CONCURRENCY } from '../../src/pin/pin.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, cliEnv, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('pin killed mid-download (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv
  const sizes = new Map<string, number>()

  before(async () => {
    fake = await startFake({ seed: 21, photos: 120, videos: 4, sets: 5, collections: 1, commentedFraction: 0.05, meanPhotoBytes: 50_000, meanVideoBytes: 120_000 })
    for (const id of fake.account.photostream) sizes.set(mediaName(fake.account, id), fake.account.requirePhoto(id).bytes)
    work = await tempDir()
    dest = join(work, 'dest')
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    fake.faults.clear()
    await fake.close()
    await removeDir(work)
  })

  /** Final-named originals under photostream/ whose size is not the original's. */
  const wrongSizes = async (): Promise<{ complete: number; wrong: string[] }> => {
    const wrong: string[] = []
    let complete = 0
    let names: string[]
    try {
      names = await readdir(join(dest, 'photostream'))
    } catch {
      return { complete, wrong }
    }
    for (const name of names) {
      const want = sizes.get(name)
      if (want === undefined) continue
      const st = await lstat(join(dest, 'photostream', name)).catch(() => undefined)
      if (st === undefined) continue
      if (st.size !== want) wrong.push(`${name}: ${st.size} != ${want}`)
      else complete++
    }
    return { complete, wrong }
  }

  void it('never shows a partial original under its final name, and the next run completes', async () => {
    fake.faults.mediaLatencyMs = 40
    const child = spawnCli(['pin', '-q', dest], env)
    const done = runCli([], env, child)
    let seen = 0
    const wrongWhileRunning: string[] = []
    // Watch the tree while the child downloads; kill it once some originals are in place.
    for (let i = 0; i < 2000 && child.exitCode === null; i++) {
      const s = await wrongSizes()
      wrongWhileRunning.push(...s.wrong)
      seen = s.complete
      if (seen >= 15) break
      await delay(10)
    }
    assert.ok(child.exitCode === null, 'the child was still running when it was to be killed')
    child.kill('SIGKILL')
    const r = await done
    assert.equal(r.signal, 'SIGKILL')
    assert.deepEqual(wrongWhileRunning, [])
    const afterKill = await wrongSizes()
    assert.deepEqual(afterKill.wrong, [])
    assert.ok(afterKill.complete < sizes.size, `the kill came mid-download (${afterKill.complete}/${sizes.size} in place)`)

    // Another pin while the lock file of the killed one is still there: it is stale, so it is taken over.
    fake.faults.mediaLatencyMs = 0
    fake.resetCounts()
    const again = await runCli(['pin', dest], env)
    assert.equal(again.code, 0, again.stderr)
    // An original renamed into place but not yet recorded when the kill came is fetched again (the
    // store's documented order: rename, then record); at most the downloads that were in flight.
    const missing = sizes.size - afterKill.complete
    assert.ok((fake.counts()['media:GET'] ?? 0) <= missing + DEFAULT_PIN_CONCURRENCY, `finished originals are not fetched again: ${fake.counts()['media:GET']} GETs for ${missing} missing`)
    const want = expectedTree(fake.account)
    assertSamePaths((await snapshot(dest)).keys(), want.entries.keys())
    for (const id of fake.account.photostream) {
      const bytes = await readFile(join(dest, 'photostream', mediaName(fake.account, id)))
      assert.ok(bytes.equals(fake.account.originalBytes(id)), id)
    }
  })

  void it('Ctrl-C (SIGINT) mid-download says the pin stopped and what is kept, exit 130; the next run completes', async () => {
    const other = join(work, 'dest-int')
    fake.faults.mediaLatencyMs = 40
    const child = spawnCli(['pin', other], env)
    const done = runCli([], env, child)
    for (let i = 0; i < 2000 && child.exitCode === null; i++) {
      const names = await readdir(join(other, 'photostream')).catch(() => [] as string[])
      if (names.filter((n) => sizes.has(n)).length >= 10) break
      await delay(10)
    }
    assert.ok(child.exitCode === null, 'the child was still running when interrupted')
    child.kill('SIGINT')
    const r = await done
    fake.faults.mediaLatencyMs = 0
    assert.equal(r.code, 130, r.stderr)
    assert.match(r.stderr, new RegExp(`^flickrfs: pin of ${other} stopped \\(SIGINT\\); what it finished is kept, and the next pin goes on from there\\.$`, 'm'))
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    const again = await runCli(['pin', '-q', other], env)
    assert.equal(again.code, 0, again.stderr)
    assertSamePaths((await snapshot(other)).keys(), expectedTree(fake.account).entries.keys())
  })

  void it('refuses a second pin on the same DEST while one runs: LOCKED, non-zero, no stack trace', async () => {
    // A fresh DEST with slow media keeps the first pin busy (and holding the lock) for seconds.
    const dest2 = join(work, 'dest2')
    fake.faults.mediaLatencyMs = 150
    const first = spawnCli(['pin', '-q', dest2], env)
    const firstDone = runCli([], env, first)
    for (let i = 0; i < 1000; i++) {
      if (await lstat(join(dest2, '.flickrfs', 'lock')).then(() => true, () => false)) break
      await delay(10)
    }
    const second = await runCli(['pin', dest2], env)
    fake.faults.mediaLatencyMs = 0
    assert.equal(first.exitCode, null, 'the first pin was still running')
    assert.equal(second.code, 1)
    assert.match(second.stderr, /^flickrfs: .* is in use by another flickrfs \(pid \d+/)
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr)
    assert.equal((await firstDone).code, 0)
  })
})
