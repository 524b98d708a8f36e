/**
 * The manifest's compact form (pin/manifest.ts): a DEST pinned by an earlier flickrfs (manifest.json,
 * version 1) is read and moved to the new form by its next pin; a pin killed between putting the
 * new file in place and removing the JSON resumes from the new one; a damaged file is one error.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { isFlickrfsError } from '../../src/errors/flickrfs-error.js'
import { Manifest, ManifestWriter, readManifest, type ManifestEntry } from '../../src/pin/manifest.js'
import { mediaName, pinOnce, removeDir, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'

const exists = (p: string): Promise<boolean> => lstat(p).then(() => true, () => false)

/** DEST's manifest as an earlier flickrfs wrote it (JSON, version 1), with `extra` photostream/ entries. */
async function asLegacy(dest: string, extra: Record<string, ManifestEntry> = {}): Promise<string> {
  const m = await readManifest(dest)
  const photostream: Record<string, ManifestEntry> = {}
  for (let i = 0; i < m.size; i++) photostream[m.name(i)] = m.entry(i)
  Object.assign(photostream, extra)
  return JSON.stringify({ version: 1, top: m.top, photostream, sidecarVersions: m.sidecarVersions }) + '\n'
}

void describe('the manifest across its two forms', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  const state = (name: string): string => join(dest, '.flickrfs', name)

  before(async () => {
    fake = await startFake({ seed: 17, photos: 20, videos: 1, sets: 3, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    assert.deepEqual((await pinOnce(fake, dest)).failures, [])
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('a DEST pinned with manifest.json: read (stale entries of ours removed, sidecars trusted), then written in the new form', async () => {
    assert.ok(await exists(state('manifest')))
    assert.equal(await exists(state('manifest.json')), false)
    const toLegacy = async (): Promise<void> => {
      const legacy = await asLegacy(dest)
      await rm(state('manifest'))
      await writeFile(state('manifest.json'), legacy)
    }
    await toLegacy()
    const same = await pinOnce(fake, dest)
    assert.equal(same.tree.written, 0)
    assert.ok(same.tree.trusted > 0, 'sidecars trusted from the JSON records')
    assert.ok(await exists(state('manifest')), 'written in the new form although nothing changed')
    assert.equal(await exists(state('manifest.json')), false, 'the JSON is removed')
    await toLegacy()
    const a = fake.account
    const gone = a.photostream.find((id) => a.requirePhoto(id).media === 'photo') as string
    const goneName = mediaName(a, gone)
    a.deletePhoto(gone)
    // A file of the user's in photostream/: in no manifest, never removed.
    await writeFile(join(dest, 'photostream', 'mine.txt'), 'mine\n')
    const r = await pinOnce(fake, dest, { deleteUnknown: true })
    assert.deepEqual(r.failures, [])
    assert.equal(await exists(join(dest, 'photostream', goneName)), false, 'an original the JSON manifest lists is removed')
    assert.equal(await exists(join(dest, 'photostream', `${goneName}.metadata`)), false)
    assert.ok(await exists(join(dest, 'photostream', 'mine.txt')))
    assert.ok(await exists(state('manifest')), 'written in the new form')
    assert.equal(await exists(state('manifest.json')), false, 'the JSON is removed')
    const m = await readManifest(dest)
    assert.equal(m.rewrite, false)
    assert.equal(m.find(goneName), -1)
    assert.ok(m.find(`${mediaName(a, a.photostream[0] as string)}.metadata`) !== -1)
    const again = await pinOnce(fake, dest, { deleteUnknown: true, fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS })
    assert.equal(again.checkedAgainstRecord, true, 'the next pin finds DEST as recorded')
  })

  void it('killed between the new manifest and the removal of manifest.json: the new one is read, the JSON removed', async () => {
    // The JSON an earlier run left names a file of the user's as its own: read, it would be removed.
    await writeFile(join(dest, 'photostream', '99999999.jpg'), 'the user\'s\n')
    await writeFile(state('manifest.json'), await asLegacy(dest, { '99999999.jpg': { kind: 'photo', id: '99999999' } }))
    await rm(state('tree-record'), { force: true })
    const r = await pinOnce(fake, dest, { deleteUnknown: true })
    assert.deepEqual(r.failures, [])
    assert.equal(r.tree.removed, 0)
    assert.ok(await exists(join(dest, 'photostream', '99999999.jpg')), 'a name only the older JSON lists is not removed')
    assert.equal(await exists(state('manifest.json')), false, 'the JSON is removed by the next pin')
    assert.deepEqual(await readdir(join(dest, '.flickrfs', 'tmp')), [], 'no part file left')
  })

  void it('a damaged or unknown manifest is one error, and nothing is removed', async () => {
    await rm(state('tree-record'), { force: true })
    await writeFile(state('manifest'), 'flickrfs manifest 2\ncut short')
    await assert.rejects(pinOnce(fake, dest), (e: unknown) => isFlickrfsError(e) && e.code === 'DEST' && /manifest is damaged\. Remove it/.test(e.message))
    await writeFile(state('manifest'), 'flickrfs manifest 3\n')
    await assert.rejects(pinOnce(fake, dest), (e: unknown) => isFlickrfsError(e) && /not a flickrfs manifest of a version this flickrfs knows\. Move it away/.test(e.message))
    assert.ok(await exists(join(dest, 'photostream', 'mine.txt')))
  })
})

void describe('the manifest\'s file form', () => {
  const made = (): Buffer => {
    const w = new ManifestWriter(undefined)
    w.top['Set 1 Trips'] = { kind: 'set', id: '1' }
    w.add('50001.jpg', 'photo', '50001')
    w.add('50001.jpg.metadata', 'photo', '50001', [w.versionIndex('chunk:a 1'), 4_000_000_123, 1500, 1700000000123.5, 1700000000456.25])
    w.add('SHA256SUMS', 'photo', 'SHA256SUMS')
    w.add('été.jpg', 'collection', 'c9')
    w.add('50002.png.metadata', 'photo', '50002', [w.versionIndex('chunk:b 1'), 7, 2, 3, 4])
    return w.bytes()
  }

  void it('gives back every entry as written, finds each by name and no other', () => {
    const m = Manifest.fromBytes(made(), 'm')
    assert.equal(m.size, 5)
    assert.deepEqual(m.top, { 'Set 1 Trips': { kind: 'set', id: '1' } })
    assert.deepEqual(m.sidecarVersions, ['chunk:a 1', 'chunk:b 1'])
    const all = Array.from({ length: m.size }, (_, i) => [m.name(i), m.entry(i)])
    assert.deepEqual(all, [
      ['50001.jpg', { kind: 'photo', id: '50001' }],
      ['50001.jpg.metadata', { kind: 'photo', id: '50001', c: [0, 4_000_000_123, 1500, 1700000000123.5, 1700000000456.25] }],
      ['SHA256SUMS', { kind: 'photo', id: 'SHA256SUMS' }],
      ['été.jpg', { kind: 'collection', id: 'c9' }],
      ['50002.png.metadata', { kind: 'photo', id: '50002', c: [1, 7, 2, 3, 4] }],
    ])
    all.forEach(([name], i) => assert.equal(m.find(name as string), i))
    for (const other of ['50001', '50001.jpg.metadat', 'ete.jpg', '', '50002.png']) assert.equal(m.find(other), -1)
  })

  void it('cut short anywhere, or with a byte changed in its lengths, it is one DEST error', () => {
    const bytes = made()
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => Manifest.fromBytes(bytes.subarray(0, n), 'm'), (e: unknown) => isFlickrfsError(e) && e.code === 'DEST', `cut at ${n}`)
    }
    // The first entry's name length, made longer than the file.
    const bad = Buffer.from(bytes)
    bad.writeUInt16LE(60000, 'flickrfs manifest 2\n'.length)
    assert.throws(() => Manifest.fromBytes(bad, 'm'), (e: unknown) => isFlickrfsError(e) && e.code === 'DEST')
  })
})
