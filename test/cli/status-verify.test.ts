/**
 * `flickrfs status` and `flickrfs verify` through the real CLI against a DEST pinned from the fake:
 * complete and fresh is said so (exit 0), a damaged or missing original is found (exit 1), and the
 * next pin repairs exactly what verify found.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('status and verify', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 7, photos: 12, videos: 2, sets: 3, collections: 1 })
    work = await tempDir('flickrfs-status-')
    dest = join(work, 'dest')
    env = cliEnv(fake, join(work, 'config'))
    const pinned = await runCli(['pin', '-q', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void test('status of a complete pin says so and exits 0', async () => {
    const r = await runCli(['status', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Items: 14 \(12 photos, 2 videos\)/)
    assert.match(r.stdout, /Originals stored: 14\/14/)
    assert.match(r.stdout, /Complete: yes/)
    assert.match(r.stdout, /Last pin: .*0 failure\(s\)/)
    // The key's shared API budget, after the pin spent some of it (the tests' rate is 1000/s).
    const budget = /API budget \(this key, shared by every flickrfs process\): (\d+) of 600 calls available now; burst 600 \(default\), then 1000\/s = 3600000\/h \(FLICKRFS_API_RATE\)/.exec(r.stdout)
    assert.ok(budget, r.stdout)
    assert.ok(Number(budget[1]) <= 600)
    assert.match(r.stdout, /warning: these settings allow up to \d+ calls in an hour, above Flickr's 3600/)
  })

  void test('verify finds a flipped byte and a missing file, and the next pin repairs both', async () => {
    const ok = await runCli(['verify', dest], env)
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /Verified 14 originals: 14 ok/)

    const order = JSON.parse(await readFile(join(dest, 'photostream', 'metadata'), 'utf8')) as { photos: string[] }
    const [first, second] = order.photos
    const photoFile = (id: string | undefined): string => {
      const p = fake.account.requirePhoto(id ?? '')
      return join(dest, 'photostream', `${p.id}.${p.originalformat}`)
    }
    const damaged = photoFile(first)
    const bytes = await readFile(damaged)
    bytes[10] = (bytes[10] ?? 0) ^ 0xff
    await writeFile(damaged, bytes)
    await rm(photoFile(second))

    const bad = await runCli(['verify', dest], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /^hash-mismatch: .*photostream\/\S+ \(its content is not what was downloaded: the sha256 differs, the size does not\)$/m)
    assert.match(bad.stdout, /missing: .*photostream/)
    assert.match(bad.stdout, /12 ok, 1 missing, 0 wrong size, 1 wrong content/)

    fake.resetCounts()
    const repaired = await runCli(['pin', '-q', dest], env)
    assert.equal(repaired.code, 0, repaired.stderr)
    assert.equal(fake.counts()['media:GET'], 2, 'exactly the two bad originals are fetched again')
    const good = await runCli(['verify', dest], env)
    assert.equal(good.code, 0, good.stdout)
  })

  void test('status and verify of a folder that was never pinned give one clear line and exit 1', async () => {
    for (const cmd of ['status', 'verify']) {
      const r = await runCli([cmd, work], env)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /is not a flickrfs folder .*Run `flickrfs pin/)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    }
  })
})
