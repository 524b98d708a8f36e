/**
 * The catalog on disk: a restart loads the same snapshot; a refresh that fails midway leaves the
 * previous catalog in memory and on disk; a different schema version is refused with a clear
 * message; readers can open read-only beside a writer; the root lock keeps two writers apart.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import KeyvSqlite from '@keyv/sqlite'
import { Catalog, catalogPath, lockPath, mediaKey, SCHEMA_VERSION } from '../../src/catalog/index.js'
import { MediaByPhoto } from '../../src/catalog/media-map.js'
import { sameBuckets } from '../../src/catalog/persist.js'
import { isFlickrfsError } from '../../src/errors/flickrfs-error.js'
import { comparable, harness, refresh } from './harness.js'
import { exists } from '../support/files.js'
import { tempDir } from '../support/repo.js'

void test('a restart loads exactly the snapshot that was saved', async (t) => {
  const h = await harness(t, { photos: 50, videos: 3, sets: 4, collections: 2, commentedFraction: 0.2 })
  await refresh(h)
  const saved = h.catalog.snapshot()
  const generation = h.catalog.generation
  await h.catalog.close()
  const again = await h.reopen()
  assert.equal(again.generation, generation)
  assert.deepEqual(comparable(again.snapshot()), comparable(saved))
  assert.ok(saved.photos.size === 53 && saved.media.size === 53 && saved.comments.size > 0)
})

void test('an empty root opens as an empty catalog; read-only it is refused with a clear message', async (t) => {
  const h = await harness(t, { photos: 1, videos: 0, sets: 1 })
  const snap = h.catalog.snapshot()
  assert.equal(snap.refreshedAtMs, 0)
  assert.equal(snap.photos.size, 0)
  assert.equal(h.catalog.generation, '')
  const empty = await tempDir('flickrfs-catalog-empty-')
  t.after(() => rm(empty, { recursive: true, force: true }))
  await assert.rejects(Catalog.open(empty, { readOnly: true }), (err) => isFlickrfsError(err) && err.code === 'CATALOG' && /no catalog in/.test(err.message))
  assert.equal(await exists(join(empty, '.flickrfs')), false)
})

for (const [where, target, kind] of [
  ['while listing sets', 'flickr.photosets.getPhotos'],
  ['while fetching comments', 'flickr.photos.comments.getList'],
  // A media host that fails one item is that item's failure (issue 10); one that throttles every request fails the refresh.
  ['while sizing originals', 'media', 'throttle429'],
] as Array<[string, string, ('http500' | 'throttle429')?]>) {
  void test(`a refresh failing ${where} leaves the previous catalog in memory and on disk`, async (t) => {
    const h = await harness(t, { photos: 40, videos: 2, sets: 4, collections: 1, commentedFraction: 0.3 }, { maxRetries: 2 })
    await refresh(h)
    const before = h.catalog.snapshot()
    const generation = h.catalog.generation
    // Changes that would show if the refresh got through.
    const first = h.fake.account.photostream[0] as string
    h.fake.account.editPhoto(first, { title: 'should not appear yet' })
    const commented = h.fake.account.commented()[0] as string
    h.fake.account.addComment(commented, 'new')
    h.fake.account.addPhoto({ title: 'new upload' })
    // More failures than every request's retries can absorb: the refresh fails for good midway.
    h.fake.faults.inject(kind ?? 'http500', { count: 1000, target })
    const changes: unknown[] = []
    h.catalog.on('change', (s) => changes.push(s))

    await assert.rejects(refresh(h), (err) => isFlickrfsError(err) && err.code !== 'INTERNAL')
    assert.equal(h.catalog.snapshot(), before)
    assert.equal(h.catalog.generation, generation)
    assert.equal(changes.length, 0)
    assert.equal(await exists(lockPath(h.root)), false, 'the lock is released')
    const reopened = await h.reopen()
    assert.deepEqual(comparable(reopened.snapshot()), comparable(before))

    // Once Flickr answers again, the next refresh brings every change in.
    h.fake.faults.clear()
    await refresh(h)
    const after = h.catalog.snapshot()
    assert.equal(after.photos.get(first)?.raw.title, 'should not appear yet')
    assert.equal(after.photos.size, before.photos.size + 1)
    assert.equal(after.comments.get(commented)?.at(-1)?._content, 'new')
    assert.equal(await reopened.reload(), true)
    assert.deepEqual(comparable(reopened.snapshot()), comparable(after))
  })
}

void test('a catalog written with another schema version is refused with a clear message', async (t) => {
  const h = await harness(t, { photos: 3, videos: 0, sets: 1 })
  await refresh(h)
  await h.catalog.close()
  const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(h.root)}` })
  const rows = (await db.query(`SELECT value FROM keyv WHERE key = 'catalog:head'`)) as Array<{ value: string }>
  const head = JSON.parse(rows[0]?.value ?? '{}') as Record<string, unknown>
  await db.query(`UPDATE keyv SET value = ? WHERE key = 'catalog:head'`, JSON.stringify({ ...head, schema: 99 }))
  await db.disconnect()
  await assert.rejects(Catalog.open(h.root), (err) => {
    assert.ok(isFlickrfsError(err))
    assert.equal(err.code, 'CATALOG')
    assert.match(err.message, /schema version 99/)
    assert.match(err.message, /newer flickrfs/)
    assert.ok(err.message.includes(catalogPath(h.root)))
    return true
  })
})

void test('a catalog of schema 1 (every chunk in one row) is read as it is, and saved as schema 2 by the next change', async (t) => {
  const h = await harness(t, { photos: 3, videos: 0, sets: 1 })
  await refresh(h)
  const before = comparable(h.catalog.snapshot())
  await h.catalog.close()
  const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(h.root)}` })
  const headOf = async (): Promise<Record<string, unknown>> => {
    const rows = (await db.query(`SELECT value FROM keyv WHERE key = 'catalog:head'`)) as Array<{ value: string }>
    return JSON.parse(rows[0]?.value ?? '{}') as Record<string, unknown>
  }
  try {
    // A catalog this small has no chunk in parts: exactly what a schema-1 writer left.
    const parted = (await db.query(`SELECT count(*) AS n FROM keyv WHERE key LIKE 'catalog:chunk:%:%'`)) as Array<{ n: number }>
    assert.equal(parted[0]?.n, 0)
    assert.equal((await headOf()).schema, SCHEMA_VERSION)
    await db.query(`UPDATE keyv SET value = ? WHERE key = 'catalog:head'`, JSON.stringify({ ...(await headOf()), schema: 1 }))
    const reopened = await h.reopen()
    assert.deepEqual(comparable(reopened.snapshot()), before)
    h.fake.account.editPhoto(before.photostream[0] as string, { title: 'after schema 1' })
    h.tick()
    await reopened.refresh(h.client, h.media)
    assert.equal((await headOf()).schema, SCHEMA_VERSION)
    assert.equal(SCHEMA_VERSION, 2)
  } finally {
    await db.disconnect()
  }
})

void test('a read-only reader sees the writer\'s catalog after reload and cannot refresh', async (t) => {
  const h = await harness(t, { photos: 8, videos: 1, sets: 2 })
  await refresh(h)
  const reader = await h.reopen({ readOnly: true })
  assert.deepEqual(comparable(reader.snapshot()), comparable(h.catalog.snapshot()))
  h.fake.account.addPhoto({ title: 'later' })
  await refresh(h)
  assert.equal(await reader.reload(), true)
  assert.deepEqual(comparable(reader.snapshot()), comparable(h.catalog.snapshot()))
  assert.equal(await reader.reload(), false)
  await assert.rejects(reader.refresh(h.client, h.media), (err) => isFlickrfsError(err) && err.code === 'CATALOG')
})

void test('refreshes of one root in one process run one after the other and both land', async (t) => {
  const h = await harness(t, { photos: 12, videos: 1, sets: 2 })
  const other = await h.reopen()
  const [a, b] = await Promise.all([refresh(h), other.refresh(h.client, h.media)])
  assert.equal(a.photos.added, 13)
  // The second started from what the first saved: nothing new to add or resolve.
  assert.equal(b.photos.added, 0)
  assert.equal(b.media.resolved, 0)
})

void test('another live process holding the root lock makes refresh fail with LOCKED; a dead one\'s lock is taken over', async (t) => {
  const h = await harness(t, { photos: 4, videos: 0, sets: 1 })
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  t.after(() => sleeper.kill())
  await writeFile(lockPath(h.root), JSON.stringify({ pid: sleeper.pid, host: hostname(), purpose: 'pin', sinceMs: Date.now() }))
  await assert.rejects(refresh(h), (err) => {
    assert.ok(isFlickrfsError(err))
    assert.equal(err.code, 'LOCKED')
    assert.match(err.message, new RegExp(`pid ${sleeper.pid}`))
    return true
  })
  assert.equal(h.catalog.snapshot().refreshedAtMs, 0)

  const done = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => done.on('exit', resolve))
  await writeFile(lockPath(h.root), JSON.stringify({ pid: done.pid, host: hostname(), purpose: 'pin', sinceMs: Date.now() - 60_000 }))
  const report = await refresh(h)
  assert.equal(report.photos.added, 4)
  assert.equal(await exists(lockPath(h.root)), false)
})

void test('a refresh that changed nothing rewrites no photo chunk; an edit rewrites only its bucket', async (t) => {
  const h = await harness(t, { photos: 4500, videos: 0, sets: 2, collections: 0, commentedFraction: 0 })
  const headChunks = async (): Promise<string[]> => {
    const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(h.root)}` })
    const rows = (await db.query(`SELECT value FROM keyv WHERE key = 'catalog:head'`)) as Array<{ value: string }>
    await db.disconnect()
    return (JSON.parse(rows[0]?.value ?? '{}') as { chunks: { photos: string[] } }).chunks.photos
  }
  await refresh(h)
  const first = await headChunks()
  assert.equal(first.length, 64, '4500 photos make 64 buckets (up to 128 photos each: the next power of two)')
  const unchanged = h.catalog.snapshot().photos.get(h.fake.account.photostream[1] as string)
  await refresh(h)
  assert.deepEqual(await headChunks(), first)
  // Unchanged entries are the very same objects across refreshes.
  assert.equal(h.catalog.snapshot().photos.get(h.fake.account.photostream[1] as string), unchanged)
  h.fake.account.editPhoto(h.fake.account.photostream[0] as string, { title: 'edited' })
  await refresh(h)
  const third = await headChunks()
  assert.equal(third.filter((k, i) => k !== first[i]).length, 1)
})

void test('a photo keeps its stored version while its row is unchanged; an edit moves it, and it survives a restart', async (t) => {
  const h = await harness(t, { photos: 4500, videos: 0, sets: 2, collections: 0, commentedFraction: 0 })
  const ids = h.fake.account.photostream
  const versionsNow = (): Map<string, string | undefined> => {
    const of = h.catalog.photoVersions()
    return new Map(ids.map((id) => [id, of(id)]))
  }
  await refresh(h)
  const first = versionsNow()
  assert.ok([...first.values()].every((v) => typeof v === 'string' && v !== ''), 'every photo has a version')
  assert.equal(new Set(first.values()).size, 64, 'one per bucket of 4500 photos')
  await refresh(h)
  assert.deepEqual(versionsNow(), first, 'a refresh that changed nothing keeps every version')
  const edited = ids[0] as string
  h.fake.account.editPhoto(edited, { title: 'edited' })
  await refresh(h)
  const second = versionsNow()
  assert.notEqual(second.get(edited), first.get(edited), 'the edited photo has a new version')
  const moved = ids.filter((id) => second.get(id) !== first.get(id))
  assert.ok(moved.length < ids.length / 2, 'photos of the other buckets keep theirs')
  await h.catalog.close()
  const again = await h.reopen()
  const of = again.photoVersions()
  assert.deepEqual(new Map(ids.map((id) => [id, of(id)])), second, 'the same versions after a restart')
})

void test('a refresh holds its originals by photo id, as a load does: every lookup by id and secret, no key of their own', async (t) => {
  const h = await harness(t, { photos: 10, videos: 2, sets: 1, commentedFraction: 0 })
  await refresh(h)
  const edited = [...h.catalog.snapshot().photos.keys()][2] as string
  h.fake.account.editPhoto(edited, { title: 'edited' })
  await refresh(h)
  const snap = h.catalog.snapshot()
  assert.equal(snap.photos.get(edited)?.raw.title, 'edited')
  // The same structure a load makes (persist.ts), not a Map keyed by `${id}_${secret}` strings of its own.
  assert.ok(snap.media instanceof MediaByPhoto)
  assert.equal(snap.media.size, 12)
  for (const p of snap.photos.values()) {
    const m = snap.media.get(mediaKey(p.id, p.secret))
    assert.equal(m?.id, p.id)
    assert.equal(m?.secret, p.secret)
    assert.equal(snap.media.get(mediaKey(p.id, `${p.secret}0`)), undefined, 'another secret of the same photo')
    assert.equal(snap.media.has(p.id), false, 'an id alone is no key')
  }
  assert.deepEqual([...snap.media.keys()].sort(), [...snap.photos.values()].map((p) => mediaKey(p.id, p.secret)).sort())
})

void test('a loaded catalog answers media lookups as the refreshed one did, and refreshes and saves from there', async (t) => {
  const h = await harness(t, { photos: 12, videos: 2, sets: 2, commentedFraction: 0.3 })
  await refresh(h)
  const built = h.catalog.snapshot()
  await h.catalog.close()
  h.catalog = await h.reopen()
  const loaded = h.catalog.snapshot()
  // Every lookup a reader makes: by `${id}_${secret}`, hits and misses alike.
  for (const p of built.photos.values()) {
    const key = mediaKey(p.id, p.secret)
    assert.deepEqual(loaded.media.get(key), built.media.get(key))
    assert.equal(loaded.media.has(key), true)
    assert.equal(loaded.media.get(mediaKey(p.id, `${p.secret}0`)), undefined, 'another secret of the same photo')
    assert.equal(loaded.media.get(mediaKey(p.id, p.secret.slice(1))), undefined)
    assert.equal(loaded.media.has(p.id), false, 'an id alone is no key')
  }
  assert.equal(loaded.media.get(mediaKey('1', 'x')), undefined)
  assert.equal(loaded.media.size, built.media.size)
  assert.deepEqual([...loaded.media.keys()].sort(), [...built.media.keys()].sort())
  assert.deepEqual(new Map(loaded.media.entries()), new Map(built.media))
  const seen: string[] = []
  loaded.media.forEach((m, key) => seen.push(`${key}=${m.size}`))
  assert.deepEqual(seen.sort(), [...built.media].map(([key, m]) => `${key}=${m.size}`).sort())
  // The loaded snapshot is the previous one of the next refresh: an edit and a new photo are found.
  const edited = [...built.photos.keys()][3] as string
  h.fake.account.editPhoto(edited, { title: 'edited after the restart' })
  const added = h.fake.account.addPhoto({ title: 'added after the restart' })
  const report = await refresh(h)
  assert.equal(report.changed, true)
  const next = h.catalog.snapshot()
  assert.equal(next.photos.get(edited)?.raw.title, 'edited after the restart')
  assert.ok(next.media.has(mediaKey(added.id, next.photos.get(added.id)?.secret ?? '')))
  assert.equal(next.media.size, built.media.size + 1)
  await h.catalog.close()
  const again = (await h.reopen()).snapshot()
  assert.deepEqual(comparable(again), comparable(next))
})

void test('a merge keeps the buckets a catalog was saved with while they hold no more than an older flickrfs put in one', () => {
  const head = (buckets: number): Parameters<typeof sameBuckets>[0] => ({
    chunks: { photos: Array.from({ length: buckets }, (_, i) => `k${i}`), photostream: 'p', sets: 's', collections: 'c' },
  })
  // 4,500 photos: a save makes 64 buckets of up to 128.
  assert.equal(sameBuckets(head(64), 4500), true, 'the count a save chooses')
  assert.equal(sameBuckets(head(4), 4500), true, 'an older catalog of 4 buckets (up to 2,000 photos each, as saved before)')
  assert.equal(sameBuckets(head(2), 4500), false, '2,250 photos a bucket: more than any flickrfs put in one')
  assert.equal(sameBuckets(head(128), 4500), false, 'more buckets than a save chooses: they move')
  assert.equal(sameBuckets(head(0), 4500), false, 'a head of no photos')
  assert.equal(sameBuckets(head(512), 1_000_000), true, 'a 1,000,000-photo catalog saved with 2,000-photo buckets is merged into, not read whole')
  assert.equal(sameBuckets(head(8192), 1_000_000), true)
})
