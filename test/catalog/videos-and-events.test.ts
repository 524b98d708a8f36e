/**
 * Video originals and the hooks pin uses: a video's extension comes from the media host; when the
 * original is refused the best transcode stands in (and is tried again once cookies are given);
 * every MediaEntry is announced as soon as it is known, before comments are all fetched.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MediaEvent, RefreshProgress } from '../../src/catalog/index.js'
import { mediaKey } from '../../src/catalog/index.js'
import { harness, refresh } from './harness.js'

void test('video originals get the extension the server names, resolved once per (id, secret)', async (t) => {
  const h = await harness(t, { photos: 6, videos: 3, sets: 1 })
  await refresh(h)
  const snap = h.catalog.snapshot()
  const videos = [...snap.photos.values()].filter((p) => p.media === 'video')
  assert.equal(videos.length, 3)
  for (const v of videos) {
    const entry = snap.media.get(mediaKey(v.id, v.secret))
    const fake = h.fake.account.requirePhoto(v.id)
    assert.deepEqual({ kind: entry?.kind, ext: entry?.ext, size: entry?.size }, { kind: 'original', ext: fake.videoFormat, size: fake.bytes })
    assert.match(entry?.url ?? '', /\/play\/orig\//)
  }
  h.fake.resetCounts()
  await refresh(h)
  assert.equal(h.fake.counts()['flickr.photos.getSizes'] ?? 0, 0)
  assert.equal(h.mediaRequests(), 0)
})

void test('a refused video original falls back to the best transcode, and cookies bring the original', async (t) => {
  const h = await harness(t, { photos: 4, videos: 2, sets: 1 })
  h.fake.faults.videoOriginal404 = true
  const report = await refresh(h)
  const snap = h.catalog.snapshot()
  const videos = [...snap.photos.values()].filter((p) => p.media === 'video')
  for (const v of videos) {
    const entry = snap.media.get(mediaKey(v.id, v.secret))
    assert.equal(entry?.kind, 'transcode')
    assert.equal(entry?.label, 'HD MP4')
    assert.equal(entry?.ext, 'mp4')
    assert.ok((entry?.size ?? 0) > 0 && (entry?.size ?? 0) < h.fake.account.requirePhoto(v.id).bytes)
  }
  assert.deepEqual(report.media.transcodes.map((x) => x.label).sort(), ['HD MP4', 'HD MP4'])
  assert.deepEqual(report.media.unavailable, [])

  // Without cookies the transcode stands: nothing asked again.
  h.fake.resetCounts()
  await refresh(h)
  assert.equal(h.fake.counts()['flickr.photos.getSizes'] ?? 0, 0)

  // With the web session cookies the original is resolved, and only those photos move.
  const before = h.catalog.snapshot()
  const withCookies = await refresh(h, { cookies: 'cookie_accid=123; cookie_epass=abc' })
  const after = h.catalog.snapshot()
  for (const v of videos) {
    const entry = after.media.get(mediaKey(v.id, v.secret))
    assert.equal(entry?.kind, 'original')
    assert.equal(entry?.ext, h.fake.account.requirePhoto(v.id).videoFormat)
    assert.notEqual(after.photos.get(v.id)?.changedAtMs, before.photos.get(v.id)?.changedAtMs)
  }
  assert.deepEqual(withCookies.media.transcodes, [])
  assert.equal(withCookies.photos.changed, 2)
})

void test('media events announce every original, the first ones while comments are still being fetched', async (t) => {
  const h = await harness(t, { photos: 30, videos: 2, sets: 2, commentedFraction: 0.5 })
  const events: MediaEvent[] = []
  const phases: string[] = []
  let commentsDoneAtFirstMedia = -1
  let last: RefreshProgress | undefined
  h.catalog.on('progress', (p) => {
    last = p
    if (phases.at(-1) !== p.phase) phases.push(p.phase)
  })
  h.catalog.on('media', (e) => {
    if (events.length === 0) commentsDoneAtFirstMedia = last?.commentsFetched ?? -1
    events.push(e)
  })
  // Slow API answers: comment calls take long, media HEADs are immediate.
  h.fake.faults.apiLatencyMs = 40
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.deepEqual(phases, ['login', 'listing', 'details', 'saving', 'done'])
  assert.equal(events.length, snap.media.size)
  assert.ok(events.every((e) => e.resolved))
  assert.deepEqual(new Set(events.map((e) => mediaKey(e.media.id, e.media.secret))), new Set(snap.media.keys()))
  const commented = h.fake.account.commented().length
  assert.ok(commented > 5)
  assert.ok(commentsDoneAtFirstMedia >= 0 && commentsDoneAtFirstMedia < commented, `first media event after ${commentsDoneAtFirstMedia}/${commented} comment lists`)

  // On a later refresh the known ones are announced too (resolved: false), through opts.onMedia.
  const again: MediaEvent[] = []
  await refresh(h, { onMedia: (e) => again.push(e) })
  assert.equal(again.length, snap.media.size)
  assert.ok(again.every((e) => !e.resolved))
})
