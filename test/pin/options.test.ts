/**
 * The original tool's flags: --ignore-views leaves view counts out of the sidecars, and
 * --ignore-photos / --ignore-videos skip downloads without deleting what an earlier run stored.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fakeAndDest, mediaName, pinOnce } from './helpers.js'
import { exists } from '../support/files.js'

void test('--ignore-views, --ignore-videos and --ignore-photos', async (t) => {
  const { fake, dest } = await fakeAndDest(t, { seed: 61, photos: 8, videos: 3, sets: 2, collections: 0, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
  const a = fake.account
  const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
  const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')

  // Videos ignored on a first run: none downloaded, none shown.
  let r = await pinOnce(fake, dest, { ignoreVideos: true, ignoreViews: true })
  assert.deepEqual(r.failures, [])
  assert.equal(r.downloaded, photos.length)
  for (const id of videos) assert.equal(await exists(join(dest, 'photostream', mediaName(a, id))), false)
  const meta = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, photos[0] ?? '')}.metadata`), 'utf8')) as Record<string, unknown>
  assert.equal('views' in meta, false, '--ignore-views leaves views out')

  // Everything, then photos ignored: the stored photos and their sidecars stay.
  r = await pinOnce(fake, dest)
  assert.equal(r.downloaded, videos.length)
  const withViews = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, photos[0] ?? '')}.metadata`), 'utf8')) as Record<string, unknown>
  assert.equal('views' in withViews, true)
  r = await pinOnce(fake, dest, { ignorePhotos: true, deleteUnknown: true })
  assert.equal(r.downloaded, 0)
  for (const id of a.photostream) {
    assert.ok(await exists(join(dest, 'photostream', mediaName(a, id))), id)
    assert.ok(await exists(join(dest, 'photostream', `${mediaName(a, id)}.metadata`)), id)
  }
})
