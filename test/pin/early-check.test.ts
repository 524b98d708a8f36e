/**
 * The tree check a pin's process starts before the lock (src/pin/early-check.ts): pin takes it only
 * for its own DEST and for the very record file it finds once it holds the lock, and its answer is
 * the check's answer (a differing tree still runs the whole pin); a check nobody takes does not keep
 * the process alive. The check is forced onto a worker for this small tree (`workerFrom: 0`).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFile, lstat, readFile, rename, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import type { PinOptions, PinReport } from '../../src/pin/pin.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { claimEarlyCheck, earlyChecksTaken, startEarlyCheck } from '../../src/pin/early-check.js'
import { statTreeRecord } from '../../src/pin/tree-record.js'
import { assertTreeBack, mediaName, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { REPO, tempDir } from '../support/repo.js'

void describe('a tree check started before the pin', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  const pinAgain = (opts: Partial<PinOptions> = {}): Promise<PinReport> =>
    pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS, ...opts })
  const record = (): string => join(dest, '.flickrfs', 'tree-record')

  before(async () => {
    fake = await startFake({ seed: 33, photos: 20, videos: 1, sets: 3, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 4_000, meanVideoBytes: 8_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('is taken by the pin of its DEST: nothing changed, checked against the record', async () => {
    const taken = earlyChecksTaken
    startEarlyCheck(dest, { workerFrom: 0 })
    const r = await pinAgain()
    assert.equal(earlyChecksTaken, taken + 1, 'pin took the early check')
    assert.equal(r.checkedAgainstRecord, true)
    assert.equal(r.tree.written, 0)
  })

  void it('answers "differs" for an entry changed behind pin\'s back: the whole pin runs and repairs it', async () => {
    const a = fake.account
    const id = a.photostream.find((p) => a.requirePhoto(p).media === 'photo') as string
    const sidecar = join(dest, 'photostream', `${mediaName(a, id)}.metadata`)
    const clean = await snapshot(dest)
    // Edited in place, same size, its mtime put back: only its ctime tells.
    const bytes = await readFile(sidecar)
    const was = await lstat(sidecar)
    const at = bytes.indexOf(':') + 2
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30
    await writeFile(sidecar, bytes)
    await utimes(sidecar, was.atime, was.mtime)

    const taken = earlyChecksTaken
    startEarlyCheck(dest, { workerFrom: 0 })
    const r = await pinAgain()
    assert.equal(earlyChecksTaken, taken + 1, 'pin took the early check')
    assert.equal(r.checkedAgainstRecord, false, 'the whole pin ran')
    assert.deepEqual(r.failures, [])
    assertTreeBack(clean, await snapshot(dest))
  })

  void it('is not taken when the record was replaced after it started (another pin ran): pin checks on its own', async () => {
    // A whole new file with the same bytes, as a pin writes one (renamed into place).
    const taken = earlyChecksTaken
    startEarlyCheck(dest, { workerFrom: 0 })
    await copyFile(record(), `${record()}.new`)
    await rename(`${record()}.new`, record())
    const r = await pinAgain()
    assert.equal(earlyChecksTaken, taken, 'not the record it read')
    assert.equal(r.checkedAgainstRecord, true, 'pin\'s own check found nothing changed')
  })

  void it('is not taken for another folder, nor without a record', async () => {
    const file = await statTreeRecord(dest)
    startEarlyCheck(dest, { workerFrom: 0 })
    assert.equal(await claimEarlyCheck(join(work, 'other'), file), undefined)
    startEarlyCheck(dest, { workerFrom: 0 })
    assert.equal(await claimEarlyCheck(dest, undefined), undefined)
    startEarlyCheck(dest, { workerFrom: 0 })
    const check = await claimEarlyCheck(join(dest, '.'), file)
    assert.ok(check !== undefined, 'the same folder, however it is written')
    await check.cancel()
  })

  void it('does not keep a process that never takes it alive (here one waiting for a go() that never comes)', async () => {
    // A file, not `-e`: a worker takes its parent's --input-type, and its eval'd source is CommonJS.
    const script = join(work, 'never-taken.mjs')
    await writeFile(script, `import { startEarlyCheck, earlyCheckStarted } from ${JSON.stringify(join(REPO, 'src/pin/early-check.ts'))}\n` +
      `startEarlyCheck(${JSON.stringify(dest)}, { workerFrom: 0, gated: true })\n` +
      'if (!earlyCheckStarted()) process.exitCode = 3\n')
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: 'ignore' })
    // A hang is the failure: stopped (and reported) rather than waited on forever.
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
    clearTimeout(kill)
    assert.deepEqual([code, signal], [0, null], 'it exited on its own')
  })
})
