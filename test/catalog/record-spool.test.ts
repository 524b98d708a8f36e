/**
 * A first sync's records on disk instead of on the heap (src/catalog/record-spool.ts; issue 11
 * item 4): the spool gives back each record as written from a file no one else can see, and a first
 * sync that spools saves the very catalog one that does not saves, resumed or not.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readlink, rm } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { test } from 'node:test'
import { Catalog, readProgress, type CatalogSnapshot, type MediaEntry, type PhotoEntry } from '../../src/catalog/index.js'
import { RecordSpool, SpooledPhoto } from '../../src/catalog/record-spool.js'
import { sameJson } from '../../src/catalog/same-json.js'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { tempDir } from '../support/repo.js'
import { harness, headOf } from './harness.js'
import { WRITER } from './twins.js'

const execFileP = promisify(execFile)

void test('a spool gives back each record as written, from a file unlinked as it is made', async (t) => {
  const dir = await tempDir('flickrfs-spool-')
  const spool = RecordSpool.open(join(dir, 'tmp'))
  t.after(() => spool.close())
  t.after(() => rm(dir, { recursive: true, force: true }))
  assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'nothing left in the folder, even while open')
  const first = [{ id: '1', title: { _content: 'été — 東京 🎈' }, tags: 'a b' }, { id: '2', description: { _content: '' }, n: 7 }]
  const second = [{ id: '3', nested: { deep: [1, 'two', null, { x: true }] } }]
  assert.equal(spool.add(first), 0)
  assert.equal(spool.add([]), 2)
  assert.equal(spool.add(second), 2)
  assert.equal(spool.size, 3)
  assert.deepEqual([spool.get(2), spool.get(0), spool.get(1)], [second[0], first[0], first[1]])
  assert.equal(spool.get(1), spool.get(1), 'one asked twice in a row is parsed once')
  assert.notEqual(spool.get(0), first[0], 'a copy, never the object written')
  assert.throws(() => spool.get(3), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')

  const photo = new SpooledPhoto({
    id: '3', media: 'photo', secret: 's', format: 'jpg', lastUpdate: 5, dateUpload: 4, dateTaken: null,
    countComments: 0, urlO: null, changedAtMs: 9, changedAtMsIgnoringViews: 8,
  }, spool, 2)
  assert.deepEqual(photo.raw, second[0])
  assert.equal(Object.hasOwn(photo, 'raw'), false, 'the record is not held by the entry')
  const later = photo.withChangedAt(0)
  assert.ok(later instanceof SpooledPhoto)
  assert.deepEqual({ at: later.changedAtMs, nv: later.changedAtMsIgnoringViews, raw: later.raw }, { at: 0, nv: 8, raw: second[0] })

  // The record's fields are kept by the spool, and url_o as a template (the server cut out too), given back as they came.
  const url = 'https://live.staticflickr.com/65535/123_abc12_o.jpg'
  const fields = { media: 'video', format: 'mp4', lastUpdate: 1_700_000_000, dateUpload: 1_262_304_000, dateTaken: '2019-07-04 09:05:00', countComments: 3 } as const
  const taken = new SpooledPhoto({ id: '123', secret: 'abc12', ...fields, urlO: url, changedAtMs: 9, server: '65535' }, spool, 0)
  const read = (p: PhotoEntry): unknown => ({ media: p.media, format: p.format, lastUpdate: p.lastUpdate, dateUpload: p.dateUpload, dateTaken: p.dateTaken, countComments: p.countComments })
  assert.deepEqual(read(taken), fields)
  assert.deepEqual([taken.urlO, photo.dateTaken, photo.urlO, photo.lastUpdate, photo.format], [url, null, null, 5, 'jpg'])
  assert.deepEqual(Object.keys(taken), ['id', 'secret', 'changedAtMs', 'changedAtMsIgnoringViews'], 'no other field held by the entry')
  const copy = taken.withChangedAt(1)
  assert.deepEqual([read(copy), copy.urlO, copy.changedAtMs, copy.raw], [fields, url, 1, first[0]])
  // Values no column holds are kept as they are; a server the URL does not name is not cut.
  const odd = { media: 'photo', format: 'jpeg', lastUpdate: -1, dateUpload: 2 ** 40, dateTaken: '2019-07-04T09:05:00', countComments: 0.5 } as const
  const oddUrl = 'https://farm1.staticflickr.com/7/555_abc12_o.jpeg'
  const other = new SpooledPhoto({ id: '555', secret: 'abc12', ...odd, urlO: oddUrl, server: '65535' }, spool, 1)
  assert.deepEqual([read(other), other.urlO, read(taken)], [odd, oddUrl, fields])
  // Its original holds the URL the same way, and reads as the plain entry resolve-media makes otherwise.
  const original = taken.originalAtUrlO(10, 'jpg')
  const asPlain: MediaEntry = { id: '123', secret: 'abc12', size: 10, ext: 'jpg', url, kind: 'original' }
  assert.equal(original.url, url)
  assert.equal(JSON.stringify(original), JSON.stringify(asPlain), 'saved as the plain entry is')
  assert.ok(sameJson(original, asPlain) && sameJson(asPlain, original), 'compared as the plain entry is')
  assert.ok(!sameJson(original, { ...asPlain, url: `${url}?x` }))
  assert.throws(() => photo.originalAtUrlO(1, 'jpg'), (err: unknown) => err instanceof FlickrfsError && err.code === 'INTERNAL')
  spool.close()
  spool.close()
  assert.throws(() => photo.raw, /closed/)
})

/**
 * A snapshot as plain data (a spooled photo, and an original it holds by template, as the objects
 * they stand for: their getters read), to compare two.
 */
function plain(snap: CatalogSnapshot): unknown {
  const photos = new Map<string, PhotoEntry>()
  for (const [id, p] of snap.photos) {
    const { raw, media, secret, format, lastUpdate, dateUpload, dateTaken, countComments, urlO, changedAtMs, changedAtMsIgnoringViews } = p
    photos.set(id, { id: p.id, raw, media, secret, format, lastUpdate, dateUpload, dateTaken, countComments, urlO, changedAtMs, changedAtMsIgnoringViews })
  }
  const media = new Map<string, MediaEntry>()
  for (const [key, m] of snap.media) media.set(key, { ...m, url: m.url, kind: m.kind })
  return { ...snap, photos, media }
}

void test('a first sync past spoolRecordsFrom holds its records in the spool, and saves the very catalog one without it saves', async (t) => {
  const h = await harness(t, { photos: 1_700, videos: 4, sets: 4, collections: 2, commentedFraction: 0.05 })
  const catalogs: Catalog[] = []
  const sync = async (spoolRecordsFrom: number): Promise<{ root: string; snap: CatalogSnapshot }> => {
    const root = await tempDir('flickrfs-spool-sync-')
    const catalog = await Catalog.open(root, { now: h.clock.now, ...WRITER })
    catalogs.push(catalog)
    t.after(() => catalog.close())
    t.after(() => rm(root, { recursive: true, force: true }))
    await catalog.refresh(h.client, h.media, { spoolRecordsFrom })
    return { root, snap: catalog.snapshot() }
  }
  h.tick()
  const n = h.fake.account.photostream.length
  // Page 1 (500 photos) is under 700: spooled once the listing is in; page 2 on as they come.
  const spooled = await sync(700)
  // One more than the account holds: nothing spooled.
  const held = await sync(n + 1)
  const spooledCount = (snap: CatalogSnapshot): number => [...snap.photos.values()].filter((p) => p instanceof SpooledPhoto).length
  assert.deepEqual([spooledCount(spooled.snap), spooledCount(held.snap), spooled.snap.photos.size], [n, 0, n])
  assert.deepEqual(plain(spooled.snap), plain(held.snap))
  assert.deepEqual(await headOf(spooled.root), await headOf(held.root), 'the same chunks, buckets and listing pages')
  assert.deepEqual(await readdir(join(spooled.root, '.flickrfs', 'tmp')), [], 'the spool file is not in the folder')
  // Unlinked, the file is this process's open descriptor alone, until the catalog is closed.
  assert.equal((await openSpools()).length, 1)
  for (const c of catalogs) await c.close()
  assert.deepEqual(await openSpools(), [], 'closed with the catalog: its space is given back')
})

/** This process's open descriptors on a spool file. */
async function openSpools(): Promise<string[]> {
  const out: string[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '')
    if (/records-\d+-[0-9a-f]+\.spool/.test(target)) out.push(target)
  }
  return out
}

void test('a first sync that spools, cut off in its listing, goes on from the records it saved, not from the stand-ins', async (t) => {
  const h = await harness(t, { photos: 1_700, videos: 4, sets: 4, commentedFraction: 0.02 }, { maxRetries: 0, pagesAhead: 0 })
  const a = h.fake.account
  // Page 3 fails once it has arrived: pages 1 and 2 were taken, spooled and saved.
  h.fake.faults.apiLatencyMs = 60
  const watch = setInterval(() => {
    if ((h.fake.counts()['flickr.people.getPhotos'] ?? 0) >= 3) h.fake.faults.inject('http500', { count: Infinity, target: 'flickr.people.getPhotos' })
  }, 2)
  h.tick()
  await assert.rejects(h.catalog.refresh(h.client, h.media, { spoolRecordsFrom: 0 }))
  clearInterval(watch)
  h.fake.faults.clear()
  assert.equal((await readProgress(h.root))?.photostream?.chunks, 2)

  h.tick()
  await h.catalog.refresh(h.client, h.media, { spoolRecordsFrom: 0 })
  const snap = h.catalog.snapshot()
  assert.deepEqual(snap.photostream, a.photostream)
  for (const id of a.photostream) {
    const p = snap.photos.get(id)
    assert.ok(p instanceof SpooledPhoto, `${id} spooled, resumed or not`)
    assert.equal((p.raw.title as string | undefined) ?? '', a.requirePhoto(id).title, `${id}: its record as Flickr sent it`)
  }
})

void test('a spool on a full disk fails with NO_SPACE, naming where, and the spool stays usable for what it holds', async (t) => {
  const dir = await tempDir('flickrfs-spool-full-')
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir])
  } catch {
    await rm(dir, { recursive: true, force: true })
    t.skip('cannot mount a tmpfs here (needs root)')
    return
  }
  const spool = RecordSpool.open(join(dir, 'tmp'))
  t.after(async () => {
    // Its open descriptor keeps the disk busy until closed.
    spool.close()
    await execFileP('umount', [dir]).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })
  const small = { id: '1', title: 'fits' }
  assert.equal(spool.add([small]), 0)
  assert.throws(() => spool.add([{ id: '2', description: 'x'.repeat(200_000) }]), (err: unknown) => {
    assert.ok(err instanceof FlickrfsError)
    assert.equal(err.code, 'NO_SPACE')
    assert.match(err.message, /record spool in .*tmp.*run the same command again/s)
    return true
  })
  assert.deepEqual(spool.get(0), small)
  assert.equal(spool.size, 1)
})
