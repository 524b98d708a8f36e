/**
 * `flickrfs pin` killed with SIGKILL in each phase of a first sync (set listings, comments, sizes):
 * the rerun asks the fake for nothing the killed run had saved, only the rest (counted per method
 * at the fake, over HTTP; the progress read from the real catalog.sqlite). `status` on the killed
 * folder says how far the sync came.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { readProgress, type ProgressMeta } from '../../src/catalog/index.js'
import { DEFAULT_CHECKPOINT_RESULTS } from '../../src/catalog/checkpoint.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'
import { runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'
import { waitUntil } from '../support/wait.js'

void describe('a first sync killed with SIGKILL goes on where it was (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv
  let dests = 0

  before(async () => {
    fake = await startFake({ seed: 33, photos: 700, videos: 4, sets: 240, collections: 1, commentedFraction: 0.6, meanPhotoBytes: 2_000, meanVideoBytes: 5_000 })
    work = await tempDir()
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    fake.faults.clear()
    await fake.close()
    await removeDir(work)
  })

  /**
   * Starts a first pin of a fresh DEST, kills it with SIGKILL once its saved progress satisfies
   * `when`, and returns the DEST, the progress as the killed run left it, and the fake's counts of that run.
   */
  async function killWhen(when: (m: ProgressMeta) => boolean): Promise<{ dest: string; meta: ProgressMeta; first: Record<string, number> }> {
    const dest = join(work, `dest${++dests}`)
    fake.resetCounts()
    const child = spawnCli(['pin', '-q', dest], env)
    const done = runCli([], env, child)
    await waitUntil('the sync saved enough progress', async () => {
      assert.equal(child.exitCode, null, 'the pin was still running when it was to be killed')
      const m = await readProgress(dest).catch(() => undefined)
      return m !== undefined && when(m)
    }, 60_000, 20)
    child.kill('SIGKILL')
    assert.equal((await done).signal, 'SIGKILL')
    const meta = await readProgress(dest)
    assert.ok(meta !== undefined)
    return { dest, meta, first: { ...fake.counts() } }
  }

  /** Reruns the pin without faults and returns the fake's counts of that run. */
  async function rerun(dest: string): Promise<Record<string, number>> {
    fake.faults.clear()
    fake.resetCounts()
    const r = await runCli(['pin', '-q', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await readProgress(dest), undefined, 'a completed sync leaves no progress')
    return { ...fake.counts() }
  }

  void it('killed in the comments: no saved comment list or listing is asked again, and status tells how far it came', async () => {
    const C = fake.account.commented().length
    fake.faults.apiLatencyMs = 25
    const { dest, meta, first } = await killWhen((m) => m.comments.done >= 150)
    assert.ok(meta.comments.done < C, `killed mid-comments (${meta.comments.done} of ${C} saved)`)
    assert.equal(meta.photostream?.count, fake.account.photostream.length)

    const status = await runCli(['status', dest], env)
    assert.equal(status.code, 1)
    assert.match(status.stdout, /^Sync not completed \(interrupted: the next pin or mount goes on from where it was\): started /m)
    // No catalog completed yet: said so, not "? (?)" and 0 items.
    assert.match(status.stdout, /^Account: not known yet \(no sync has completed\)$/m)
    assert.match(status.stdout, /^Items: none counted yet /m)
    // The originals the first pin downloaded before it was killed, not "0/0 (0 B)".
    const stored = /^Originals stored: (\d+) so far \([\d.]+ [KM]?B\); how many the account has is known once the first sync completes$/m.exec(status.stdout)
    assert.ok(stored !== null, status.stdout)
    assert.ok(Number(stored[1]) > 0 && Number(stored[1]) <= fake.account.photostream.length, stored[0])
    assert.ok(status.stdout.includes(`  comments: ${meta.comments.done.toLocaleString('en-US')} of ${C.toLocaleString('en-US')}`), status.stdout)
    assert.match(status.stdout, /comments: .* of .*, (under a minute|about [\d.]+ (min|h)) at Flickr's limit/)

    const second = await rerun(dest)
    assert.equal(second['flickr.people.getPhotos'] ?? 0, 0, 'the saved photostream listing is reused')
    assert.equal(second['flickr.photos.comments.getList'], C - meta.comments.done, 'exactly the comment lists not saved')
    // What was asked twice: only answers that came after the last save (at most one batch, and those in flight).
    const repeated = (first['flickr.photos.comments.getList'] ?? 0) + (second['flickr.photos.comments.getList'] ?? 0) - C
    assert.ok(repeated <= DEFAULT_CHECKPOINT_RESULTS + 8, `${repeated} comment lists asked twice`)
  })

  void it('killed in the sizes: no original whose size was saved gets another HEAD', async () => {
    fake.faults.mediaLatencyMs = 40
    const N = fake.account.photostream.length
    const { dest, meta, first } = await killWhen((m) => m.sizes.done >= 150)
    assert.ok(meta.sizes.done < N, `killed mid-sizes (${meta.sizes.done} of ${N} saved)`)
    // Originals the killed run downloaded: under their final names only once whole (no .part, no sidecar).
    const onDisk = (await readdir(join(dest, 'photostream'))).filter((n) => !/\.(part|metadata)$/.test(n) && !n.startsWith('.')).length
    const second = await rerun(dest)
    const heads = second['media:HEAD'] ?? 0
    assert.ok(heads <= N - meta.sizes.done, `${heads} HEADs after the kill, ${N - meta.sizes.done} originals not saved`)
    // pin sizes a new original by the GET that downloads it (a HEAD only where that cannot be). An
    // original the killed run downloaded may be in the store ahead of the saved sizes, and needs neither.
    const sizing = heads + (second['media:GET'] ?? 0)
    assert.ok(sizing + onDisk >= N - meta.sizes.done,
      `each original neither saved nor downloaded is sized, by a HEAD or its GET (${heads} + ${sizing - heads}, ${onDisk} on disk before the rerun)`)
    assert.equal(second['flickr.people.getPhotos'] ?? 0, 0)
    const repeated = (first['media:HEAD'] ?? 0) + heads - N
    assert.ok(repeated <= DEFAULT_CHECKPOINT_RESULTS + 16, `${repeated} HEADs made twice`)
  })

  void it('killed while listing the sets: the set members saved are not listed again', async () => {
    fake.faults.apiLatencyMs = 25
    const { dest, meta } = await killWhen((m) => m.sets.done >= 100 && m.sets.done < m.sets.total)
    const second = await rerun(dest)
    assert.equal(second['flickr.photosets.getPhotos'], meta.sets.total - meta.sets.done, 'exactly the sets not saved')
  })
})
