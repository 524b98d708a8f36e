/**
 * Issue 10's small ones, through the real CLI: a cookies file other users can read is warned
 * about (and still used), and --concurrency has a ceiling.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('small hardening of the CLI', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 61, photos: 3, videos: 1, sets: 1, collections: 0, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
    work = await tempDir('flickrfs-small-')
  })
  after(async () => {
    await fake.close()
    await rm(work, { recursive: true, force: true })
  })

  void test('a cookies file readable by group or others gets a one-line warning; mode 0600 none', async () => {
    const cookies = join(work, 'cookies.txt')
    await writeFile(cookies, 'cookie_accid=1; cookie_epass=secret\n')
    const env = cliEnv(fake, join(work, 'config'))
    for (const [mode, who] of [[0o644, 'every user'], [0o640, 'its group']] as const) {
      await chmod(cookies, mode)
      const r = await runCli(['pin', '-q', '--cookies', cookies, join(work, `dest-${mode.toString(8)}`)], env)
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('Warning:'))
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0] ?? '', new RegExp(`cookies file .*cookies\\.txt can be read by ${who} \\(mode 0${mode.toString(8)}\\).*chmod 600`))
      assert.doesNotMatch(r.stderr, /secret/, 'the cookie values never show')
    }
    await chmod(cookies, 0o600)
    const quiet = await runCli(['pin', '-q', '--cookies', cookies, join(work, 'dest-600')], env)
    assert.equal(quiet.code, 0, quiet.stderr)
    assert.equal(quiet.stderr, '')
  })

  void test('a cookies file that is not there: which flag named it, and what to do, in one line', async () => {
    const missing = join(work, 'no-cookies.txt')
    const r = await runCli(['pin', '--cookies', missing, join(work, 'dest-no-cookies')], cliEnv(fake, join(work, 'config')))
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^flickrfs: Cannot read the cookies file .*no-cookies\.txt \(--cookies\): there is no such file\. Give the file .* or leave --cookies out/)
  })

  void test('a storm of "too many requests" mid-sync is waited out and said as it starts and ends; the pin completes', async () => {
    // Nine 429s in a row: past the 5 retries any other failure gets. Flickr time at 1000× (the
    // backoff's minute is 60 ms here), as benches run it.
    fake.faults.inject('throttle429', { count: 9, target: 'flickr.photosets.getList' })
    try {
      const r = await runCli(['pin', join(work, 'dest-throttled')], cliEnv(fake, join(work, 'config'), { FLICKRFS_TIME_SCALE: '1000' }))
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stderr.split('\n')
      const on = lines.findIndex((l) => /^flickrfs: Flickr is rate-limiting this API key \(too many requests\): the pin slows down and tries again for up to 15 min; Ctrl-C stops it/.test(l))
      const off = lines.findIndex((l) => l === 'flickrfs: Flickr takes calls again; the pin goes on.')
      assert.ok(on >= 0 && off > on, r.stderr)
      assert.equal(lines.filter((l) => l.includes('rate-limiting')).length, 1, 'said once for the storm')
      assert.match(r.stdout, /^Pinned 4 items /m)
    } finally {
      fake.faults.clear()
    }
  })

  void test('--concurrency above the ceiling is a usage error before anything happens', async () => {
    const dest = join(work, 'dest-many')
    const r = await runCli(['pin', '--concurrency', '100000', dest], cliEnv(fake, join(work, 'config')))
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--concurrency takes a whole number of at most 32, got "100000"/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    assert.equal((await readdir(work)).includes('dest-many'), false)
    const ok = await runCli(['pin', '-q', '--concurrency', '32', dest], cliEnv(fake, join(work, 'config')))
    assert.equal(ok.code, 0, ok.stderr)
  })
})
