/**
 * Videos: the original through the play URL's redirect, named by Content-Disposition; the best
 * transcode as `<id>.mp4` (and said so) when the original is refused; the original once cookies
 * let it through. A video never fails the run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mediaName, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { exists, sha256 } from '../support/files.js'
import { tempDir } from '../support/repo.js'

void test('videos: originals by their container, transcodes when refused, originals again with cookies', async (t) => {
  const fake = await startFake({ seed: 41, photos: 4, videos: 6, sets: 2, collections: 0, meanPhotoBytes: 4_000, meanVideoBytes: 20_000 })
  const work = await tempDir()
  t.after(async () => {
    await fake.close()
    await removeDir(work)
  })
  const a = fake.account
  const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
  assert.deepEqual(new Set(videos.map((id) => a.requirePhoto(id).videoFormat)), new Set(['mov', 'mp4', 'avi', 'm4v']))

  // Originals: through the play URL, with the extension the server's Content-Disposition gives.
  const plain = join(work, 'plain')
  let r = await pinOnce(fake, plain)
  assert.deepEqual(r.failures, [])
  assert.deepEqual(r.transcodes, [])
  assert.ok((fake.counts()['media:play'] ?? 0) >= videos.length)
  for (const id of videos) {
    const name = mediaName(a, id)
    assert.ok((await readFile(join(plain, 'photostream', name))).equals(a.originalBytes(id)), name)
    const meta = JSON.parse(await readFile(join(plain, 'photostream', `${name}.metadata`), 'utf8')) as { flickrfs: Record<string, unknown> }
    assert.equal(meta.flickrfs.video, undefined, `${name} is the original`)
  }

  // Refused without the web session: the best transcode, as <id>.mp4, and the metadata says so.
  fake.faults.videoOriginal404 = true
  const dest = join(work, 'dest')
  r = await pinOnce(fake, dest)
  assert.deepEqual(r.failures, [])
  assert.deepEqual(r.transcodes.map((x) => x.id).sort(), [...videos].sort())
  const sums = await readFile(join(dest, 'photostream', 'SHA256SUMS'), 'utf8')
  for (const id of videos) {
    const path = join(dest, 'photostream', `${id}.mp4`)
    const bytes = await readFile(path)
    const meta = JSON.parse(await readFile(`${path}.metadata`, 'utf8')) as { flickrfs: { video: string; label: string; size: number; sha256?: string } }
    assert.equal(meta.flickrfs.video, 'transcode')
    assert.equal(meta.flickrfs.label, 'HD MP4')
    assert.equal(meta.flickrfs.size, bytes.length)
    // The hash of what was stored is in SHA256SUMS, not in the sidecar.
    assert.equal(meta.flickrfs.sha256, undefined)
    assert.ok(sums.includes(`${sha256(bytes)}  ${id}.mp4\n`), `SHA256SUMS lists ${id}.mp4`)
    assert.ok(bytes.length < a.requirePhoto(id).bytes, 'a transcode, not the original')
  }

  // With the cookies the original comes through; a transcode under another name goes.
  r = await pinOnce(fake, dest, { cookies: 'cookie_accid=123; cookie_epass=abc' })
  assert.deepEqual(r.failures, [])
  assert.deepEqual(r.transcodes, [])
  for (const id of videos) {
    const name = mediaName(a, id)
    assert.ok((await readFile(join(dest, 'photostream', name))).equals(a.originalBytes(id)), name)
    const meta = JSON.parse(await readFile(join(dest, 'photostream', `${name}.metadata`), 'utf8')) as { flickrfs: Record<string, unknown> }
    assert.equal(meta.flickrfs.video, undefined)
    if (!name.endsWith('.mp4')) assert.equal(await exists(join(dest, 'photostream', `${id}.mp4`)), false, `${id}.mp4 transcode removed`)
  }
  const plainTree = [...(await snapshot(plain)).keys()].sort()
  assert.deepEqual([...(await snapshot(dest)).keys()].sort(), plainTree)
})

void test('a video that has neither original nor transcode is a listed failure, not an aborted run', async (t) => {
  const fake = await startFake({ seed: 42, photos: 6, videos: 2, sets: 1, collections: 0, meanPhotoBytes: 4_000, meanVideoBytes: 8_000 })
  const work = await tempDir()
  t.after(async () => {
    await fake.close()
    await removeDir(work)
  })
  const a = fake.account
  const video = a.photostream.find((id) => a.requirePhoto(id).media === 'video') ?? ''
  // Play URLs and transcodes both resolve by the photo's server-independent paths; a bogus secret breaks all of them.
  a.requirePhoto(video).secret = 'zz'
  fake.faults.videoOriginal404 = true
  const r = await pinOnce(fake, join(work, 'dest'))
  assert.ok(r.failures.some((f) => f.id === video), JSON.stringify(r.failures))
  for (const id of a.photostream.filter((x) => x !== video)) {
    const name = a.requirePhoto(id).media === 'video' ? `${id}.mp4` : mediaName(a, id)
    assert.ok(await exists(join(work, 'dest', 'photostream', name)), name)
  }
})
