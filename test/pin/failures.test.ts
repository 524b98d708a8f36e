/**
 * One item that cannot be had never stops a pin: everything else completes, the failure is in the
 * report, and the next run (with the cause gone) fixes it. Transient faults are retried within a run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, danglingLinks, expectedTree, mediaName, pinOnce, removeDir, snapshot, fakeAndDest, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'
import { exists } from '../support/files.js'

const run = promisify(execFile)
async function setup(t: { after: (fn: () => Promise<void>) => void }, seed: number): Promise<{ fake: FakeFlickr; dest: string }> {
  return fakeAndDest(t, { seed, photos: 24, videos: 2, sets: 3, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 6_000, meanVideoBytes: 12_000 })
}

async function assertOriginals(fake: FakeFlickr, dest: string, except: string[] = []): Promise<void> {
  for (const id of fake.account.photostream) {
    const path = join(dest, 'photostream', mediaName(fake.account, id))
    if (except.includes(id)) {
      assert.equal(await exists(path), false, `${id} should be missing`)
      continue
    }
    assert.ok((await readFile(path)).equals(fake.account.originalBytes(id)), id)
  }
}

void test('an original the media host refuses (404 on HEAD) is listed; the rest completes; the next run fixes it', async (t) => {
  const { fake, dest } = await setup(t, 31)
  const a = fake.account
  const id = a.photostream.find((x) => a.requirePhoto(x).media === 'photo') ?? ''
  const p = a.requirePhoto(id)
  const server = p.server
  p.server = 'gone' // url_o now names a path the media host does not serve

  let r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures.map((f) => f.id), [id])
  assert.match(r.failures[0]?.message ?? '', /404/)
  await assertOriginals(fake, dest, [id])

  p.server = server
  r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  await assertOriginals(fake, dest)
  assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
})

void test('a download that fails (404 on GET) is listed; the rest completes; the next run fixes it', async (t) => {
  const { fake, dest } = await setup(t, 32)
  const a = fake.account
  // A first run that sizes every original but downloads no photo: the catalog now holds their URLs.
  let r = await pinOnce(fake, dest, { ignorePhotos: true })
  assert.deepEqual(r.failures, [])
  const id = a.photostream.find((x) => a.requirePhoto(x).media === 'photo') ?? ''
  const p = a.requirePhoto(id)
  const server = p.server
  p.server = String(Number(server) + 1) // the remembered URL (same secret) now 404s

  fake.resetCounts()
  r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures.map((f) => [f.id, f.what]), [[id, 'download']])
  assert.match(r.failures[0]?.message ?? '', /404/)
  await assertOriginals(fake, dest, [id])
  // DEST stays consistent: no link to the missing original, no sidecar without its original.
  assert.deepEqual(await danglingLinks(dest), [])
  assertSamePaths((await snapshot(dest)).keys(), expectedTree(a, { omit: new Set([id]) }).entries.keys())

  p.server = server
  r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  assert.equal(r.downloaded, 1)
  await assertOriginals(fake, dest)
  assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
})

void test('transient media faults (500, 429, a cut-off body) are retried within the run', async (t) => {
  const { fake, dest } = await setup(t, 33)
  fake.faults.inject('http500', { count: 2, target: 'media:GET' })
  fake.faults.inject('throttle429', { count: 1, target: 'media:GET' })
  fake.faults.inject('truncateMedia', { count: 2, target: 'media:GET' })
  fake.faults.inject('http500', { count: 1, target: 'flickr.photos.comments.getList' })
  const r = await pinOnce(fake, dest, { maxRetries: 4 })
  assert.deepEqual(r.failures, [])
  assert.equal(fake.faults.pending(), 0, 'every fault was hit')
  await assertOriginals(fake, dest)
})

void test('a replaced original whose download fails keeps the old file and its sidecar until the new one is in', async (t) => {
  const { fake, dest } = await setup(t, 34)
  const a = fake.account
  let r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  const id = a.photostream.find((x) => a.requirePhoto(x).media === 'photo' && a.requirePhoto(x).originalformat === 'jpg') ?? ''
  const oldBytes = a.originalBytes(id)
  a.replaceOriginal(id, { format: 'png', bytes: 4_000 })
  // The only download of this run is the new original: every GET of it fails.
  fake.faults.inject('http500', { count: 50, target: 'media:GET' })
  r = await pinOnce(fake, dest, { maxRetries: 1 })
  fake.faults.clear()
  assert.deepEqual(r.failures.map((f) => f.id), [id])
  assert.ok((await readFile(join(dest, 'photostream', `${id}.jpg`))).equals(oldBytes), 'the old original is still there')
  assert.ok(await exists(join(dest, 'photostream', `${id}.jpg.metadata`)), 'with its sidecar')
  assert.equal(await exists(join(dest, 'photostream', `${id}.png`)), false)
  assert.deepEqual(await danglingLinks(dest), [])

  r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  assert.equal(await exists(join(dest, 'photostream', `${id}.jpg`)), false)
  assert.equal(await exists(join(dest, 'photostream', `${id}.jpg.metadata`)), false)
  await assertOriginals(fake, dest)
  assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
})

void test('a full disk stops the downloads with one NO_SPACE error; a run with room completes', async (t) => {
  const fake = await startFake({ seed: 35, photos: 12, videos: 0, sets: 1, collections: 0, meanPhotoBytes: 5_000 })
  const work = await tempDir()
  const mnt = join(work, 'mnt')
  await mkdir(mnt)
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])
  } catch {
    await fake.close()
    await removeDir(work)
    t.skip('cannot mount a tmpfs here (needs root)')
    return
  }
  t.after(async () => {
    await run('umount', [mnt]).catch(() => undefined)
    await fake.close()
    await removeDir(work)
  })
  const a = fake.account
  // One original bigger than the disk; the rest and every sidecar fit.
  const big = a.photostream[0] ?? ''
  a.setBytes(big, Buffer.alloc(1_500_000, 7))
  const dest = join(mnt, 'dest')
  fake.resetCounts()
  await assert.rejects(pinOnce(fake, dest, { concurrency: 1 }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'NO_SPACE')
    assert.match(err.message, /^No space left/)
    return true
  })
  // Downloads stop at the first NO_SPACE instead of failing one by one on a full disk.
  assert.ok((fake.counts()['media:GET'] ?? 0) < a.photostream.length, `${fake.counts()['media:GET']} GETs`)
  await run('mount', ['-o', 'remount,size=20m', mnt])
  const r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  await assertOriginals(fake, dest)
  assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
})
