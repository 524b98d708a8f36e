/**
 * A pin in which nothing changed checks DEST against the last clean pin's record of its tree
 * (src/pin/tree-record.ts) instead of building the layout; anything that differs (an entry changed
 * behind pin's back, a change on Flickr, other options, a failed run) makes the whole pin run,
 * which repairs exactly what it always repaired.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, lutimes, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import type { PinOptions, PinReport } from '../../src/pin/pin.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { assertTreeBack, changedPaths, mediaName, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'
import { exists } from '../support/files.js'

void describe('a no-change pin checks DEST against the record of the last pin', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  /** Incremental refreshes, as the CLI makes them by default. */
  const pinAgain = (opts: Partial<PinOptions> & { maxRetries?: number } = {}): Promise<PinReport> =>
    pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS, ...opts })
  const gets = (): number => fake.counts()['media:GET'] ?? 0
  const record = (): string => join(dest, '.flickrfs', 'tree-record')

  before(async () => {
    fake = await startFake({ seed: 21, photos: 24, videos: 1, sets: 3, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 6_000, meanVideoBytes: 12_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false, 'a first pin builds the tree')
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('nothing changed: checked against the record, nothing written or downloaded', async () => {
    assert.ok(await exists(record()), 'the first pin recorded its tree')
    const clean = await snapshot(dest)
    fake.resetCounts()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, true)
    assert.equal(r.tree.written, 0)
    assert.equal(r.downloaded, 0)
    assert.equal(r.alreadyPresent, fake.account.photostream.length)
    assert.equal(r.refresh.changed, false)
    assert.equal(gets() + (fake.counts()['media:HEAD'] ?? 0), 0)
    assert.deepEqual(changedPaths(clean, await snapshot(dest)), [])
  })

  void it('the calls are made ready before the first is made (prepareCalls: the CLI\'s limiter leases then)', async () => {
    const apiCalls = (): number => Object.entries(fake.counts()).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0)
    fake.resetCounts()
    const told: number[] = []
    const r = await pinAgain({ prepareCalls: () => told.push(apiCalls()) })
    assert.equal(r.checkedAgainstRecord, true)
    assert.deepEqual(told, [0], 'told once, before any call')
    assert.ok(apiCalls() > 0, 'the calls were made after')
  })

  void it('an edited sidecar, a removed original, a retargeted and a touched set link are repaired', async () => {
    const a = fake.account
    const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    const [edited, removed] = photos
    assert.ok(edited !== undefined && removed !== undefined)
    const ps = join(dest, 'photostream')
    const sidecar = join(ps, `${mediaName(a, edited)}.metadata`)
    const original = join(ps, mediaName(a, removed))
    const clean = await snapshot(dest)
    const cleanSidecar = await readFile(sidecar)

    // A sidecar edited in place, same size, its mtime put back: only its ctime tells.
    const bytes = Buffer.from(cleanSidecar)
    const was = await lstat(sidecar)
    const at = bytes.indexOf(':') + 2
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30
    await writeFile(sidecar, bytes)
    await utimes(sidecar, was.atime, was.mtime)
    await rm(original)
    // In a set, one link retargeted (its mtime put back) and another only touched.
    const links = [...clean].filter(([p, e]) => e.kind === 'link' && p.startsWith('Set ') && p.split('/').length === 2)
    const setDir = (links[0]?.[0] ?? '').split('/')[0] ?? ''
    const [link, other, touched] = links.filter(([p]) => p.startsWith(`${setDir}/`))
    assert.ok(link && other && touched && link[1].target !== other[1].target, 'a set with three links')
    const linkPath = join(dest, link[0])
    const linkWas = await lstat(linkPath)
    await rm(linkPath)
    await symlink(other[1].target ?? '', linkPath)
    await lutimes(linkPath, linkWas.atime, linkWas.mtime)
    await lutimes(join(dest, touched[0]), new Date(), new Date(2001, 0, 1))

    fake.resetCounts()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false, 'DEST differs from the record: the whole pin ran')
    assert.equal(gets(), 1, 'only the removed original is downloaded')
    assert.ok((await readFile(sidecar)).equals(cleanSidecar), 'the sidecar has its bytes back')
    assert.ok((await readFile(original)).equals(a.originalBytes(removed)), 'the original is back')
    const repaired = await snapshot(dest)
    assertTreeBack(clean, repaired)

    // And the next one is checked against the new record.
    fake.resetCounts()
    const next = await pinAgain()
    assert.equal(next.checkedAgainstRecord, true)
    assert.equal(next.tree.written, 0)
    assert.equal(gets(), 0)
  })

  void it('a file left in a set folder is removed by the whole pin, as always', async () => {
    const setDir = [...(await snapshot(dest)).keys()].find((p) => p.startsWith('Set ') && !p.includes('/'))
    assert.ok(setDir !== undefined)
    const stray = join(dest, setDir, 'stray.txt')
    await writeFile(stray, 'not flickrfs')
    const r = await pinAgain()
    assert.equal(r.checkedAgainstRecord, false)
    assert.equal(await exists(stray), false)
    assert.equal((await pinAgain()).checkedAgainstRecord, true)
  })

  void it('a photo edited on Flickr between pins is picked up', async () => {
    const a = fake.account
    const id = a.photostream[2] ?? ''
    a.editPhoto(id, { title: 'Edited between two pins' })
    fake.resetCounts()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false)
    assert.equal(r.refresh.changed, true)
    // The calls the no-change check made are the refresh's: none is asked twice.
    const counts = fake.counts()
    for (const method of ['flickr.photos.recentlyUpdated', 'flickr.people.getPhotos', 'flickr.photosets.getList', 'flickr.collections.getTree']) {
      assert.equal(counts[method], 1, `${method} asked once`)
    }
    const meta = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, id)}.metadata`), 'utf8')) as { title: string }
    assert.equal(meta.title, 'Edited between two pins')
    assert.equal((await pinAgain()).checkedAgainstRecord, true)
  })

  void it('other options than the recorded tree was made with run the whole pin', async () => {
    const a = fake.account
    const sidecar = join(dest, 'photostream', `${mediaName(a, a.photostream[0] ?? '')}.metadata`)
    const withViews = await readFile(sidecar)
    // --ignore-views writes other sidecars (no view counts): a record of the tree with views must not pass for it.
    const views = await pinAgain({ ignoreViews: true })
    assert.equal(views.checkedAgainstRecord, false)
    assert.ok(views.tree.written > 0)
    assert.equal((await pinAgain({ ignoreViews: true })).checkedAgainstRecord, true)
    const back = await pinAgain()
    assert.equal(back.checkedAgainstRecord, false)
    assert.ok((await readFile(sidecar)).equals(withViews), 'the sidecars have their views again')
    assert.equal((await pinAgain()).checkedAgainstRecord, true)
  })

  void it('a pin that fails leaves no record: the next one runs whole and fetches what failed', async () => {
    const a = fake.account
    const id = a.photostream.find((x) => a.requirePhoto(x).media === 'photo') ?? ''
    const original = join(dest, 'photostream', mediaName(a, id))
    await rm(original)
    fake.faults.inject('http500', { count: 1_000, target: 'media:GET' })
    const failed = await pinAgain({ maxRetries: 0 })
    fake.faults.clear()
    assert.equal(failed.checkedAgainstRecord, false)
    assert.ok(failed.failures.some((f) => f.id === id), 'the download failed')
    assert.equal(await exists(record()), false, 'no record after a failed run')
    fake.resetCounts()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false)
    assert.equal(gets(), 1)
    assert.ok((await readFile(original)).equals(a.originalBytes(id)))
    assert.equal((await pinAgain()).checkedAgainstRecord, true)
  })
})

/**
 * Set and collection folders hold only links and a metadata file (docs/LAYOUT.md): the record
 * leaves their links out and lets the folder's own lstat stand for them (tree-record.ts
 * linksVouchedFor). Every change a folder's entries can undergo moves its ctime, even with its
 * mtime put back, so each is still repaired; a link's own times (lutimes) are what it cannot see,
 * until a full listing's run checks every link.
 */
void describe('a folder of links stands for its links in the record', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  const pinAgain = (): Promise<PinReport> => pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS })

  /** A folder's mtime put back after a change of its entries: only its ctime tells. */
  const keepingFolderTime = async (folder: string, change: () => Promise<void>): Promise<void> => {
    const was = await lstat(folder)
    await change()
    await utimes(folder, was.atime, was.mtime)
    assert.equal((await lstat(folder)).mtimeMs, was.mtimeMs)
  }

  /** `change` made to a clean DEST is seen by the next pin, which runs whole and puts the tree back as it was. */
  const assertRepaired = async (change: () => Promise<void>): Promise<void> => {
    const clean = await snapshot(dest)
    await change()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false, 'DEST differs from the record: the whole pin ran')
    const repaired = await snapshot(dest)
    assertTreeBack(clean, repaired)
    assert.deepEqual([...repaired.keys()].filter((p) => !clean.has(p)), [], 'nothing else left')
    assert.equal((await pinAgain()).checkedAgainstRecord, true, 'and the next pin is checked against the new record')
  }

  /** The links of the first folder named `prefix…` that holds at least two of them with different targets. */
  const linksOf = async (prefix: string): Promise<{ folder: string; links: Array<[string, string]> }> => {
    const tree = await snapshot(dest)
    for (const [p, e] of tree) {
      if (e.kind !== 'dir' || !p.startsWith(prefix) || p.includes('/')) continue
      const links = [...tree].filter(([q, f]) => f.kind === 'link' && q.startsWith(`${p}/`) && !q.slice(p.length + 1).includes('/')).map(([q, f]): [string, string] => [q, f.target ?? ''])
      if (links.length >= 2 && links[0]?.[1] !== links[1]?.[1]) return { folder: join(dest, p), links }
    }
    throw new Error(`no folder ${prefix}… with two links`)
  }

  /** Points the first link of a `prefix…` folder at its second link's target (keeping the link's own times, when asked), folder time put back. */
  const retargetFirstLink = async (prefix: string, keepLinkTime: boolean): Promise<void> => {
    const { folder, links } = await linksOf(prefix)
    const [link, other] = links
    assert.ok(link && other)
    await assertRepaired(() =>
      keepingFolderTime(folder, async () => {
        const path = join(dest, link[0])
        const was = await lstat(path)
        await rm(path)
        await symlink(other[1], path)
        if (keepLinkTime) await lutimes(path, was.atime, was.mtime)
      }),
    )
  }

  before(async () => {
    fake = await startFake({ seed: 22, photos: 24, videos: 1, sets: 4, collections: 2, commentedFraction: 0.3, meanPhotoBytes: 6_000, meanVideoBytes: 12_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    assert.deepEqual((await pinAgain()).failures, [])
    assert.equal((await pinAgain()).checkedAgainstRecord, true)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('the record holds no link whose folder it holds', async () => {
    const file = await readFile(join(dest, '.flickrfs', 'tree-record'))
    const header = JSON.parse(file.toString('utf8', 4, 4 + file.readUInt32LE(0))) as { chunks: Array<[string, string]> }
    const recorded = new Set(header.chunks.flatMap(([dir, names]) => names.split('/').map((n) => (dir === '' ? n : `${dir}/${n}`))))
    const tree = await snapshot(dest)
    const links = [...tree].filter(([, e]) => e.kind === 'link').map(([p]) => p)
    assert.ok(links.length > 0)
    for (const p of links) assert.ok(!recorded.has(p), `${p} is left to its folder`)
    // Everything else is in it: the folders, their metadata files, photostream/'s files.
    for (const [p, e] of tree) if (e.kind !== 'link') assert.ok(recorded.has(p), `${p} is recorded`)
  })

  void it('a link removed from a set folder is put back', async () => {
    const { folder, links } = await linksOf('Set ')
    await assertRepaired(() => keepingFolderTime(folder, () => rm(join(dest, links[0]?.[0] ?? ''))))
  })

  void it('a set link replaced by one to another photo is put back', async () => {
    await retargetFirstLink('Set ', true)
  })

  void it('a link in Not in any set replaced by a file is put back', async () => {
    const { folder, links } = await linksOf('Not in any set')
    await assertRepaired(() =>
      keepingFolderTime(folder, async () => {
        const path = join(dest, links[0]?.[0] ?? '')
        await rm(path)
        await writeFile(path, 'not a link')
      }),
    )
  })

  void it("a collection's link to a set retargeted is put back", async () => {
    await retargetFirstLink('Collection ', false)
  })

  void it('a file put in a set folder is removed', async () => {
    const { folder } = await linksOf('Set ')
    await assertRepaired(() => keepingFolderTime(folder, () => writeFile(join(folder, 'stray.txt'), 'not flickrfs')))
  })

  void it("a set's metadata file edited in place, its size and mtime put back, is repaired", async () => {
    const { folder } = await linksOf('Set ')
    const metadata = join(folder, 'metadata')
    const clean = await readFile(metadata)
    await assertRepaired(async () => {
      const was = await lstat(metadata)
      const bytes = Buffer.from(clean)
      const at = bytes.indexOf(':') + 2
      bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30
      await writeFile(metadata, bytes)
      await utimes(metadata, was.atime, was.mtime)
    })
    assert.ok((await readFile(metadata)).equals(clean))
  })

  void it("a link's own time (lutimes) is what its folder cannot see: left until the next full listing", async () => {
    const { links } = await linksOf('Set ')
    const path = join(dest, links[0]?.[0] ?? '')
    const clean = (await lstat(path)).mtimeMs
    await lutimes(path, new Date(), new Date(2001, 0, 1))
    const r = await pinAgain()
    assert.equal(r.checkedAgainstRecord, true, 'its folder is as recorded')
    assert.equal(r.tree.written, 0)
    assert.notEqual((await lstat(path)).mtimeMs, clean)
    // A change on Flickr runs the whole pin, which takes the links of a folder still as it sealed
    // it without looking at them (write-tree.ts #syncManagedDir; test/pin/folder-seals.test.ts).
    fake.account.editPhoto(fake.account.photostream[0] ?? '', { title: 'A change on Flickr' })
    const whole = await pinAgain()
    assert.equal(whole.checkedAgainstRecord, false)
    assert.ok(whole.tree.sealed > 0)
    assert.notEqual((await lstat(path)).mtimeMs, clean)
    // A full listing (weekly by default) checks every link's time.
    const full = await pinOnce(fake, dest, { fullListingEveryMs: 0 })
    assert.equal(full.tree.sealed, 0)
    assert.equal((await lstat(path)).mtimeMs, clean, 'the full listing\'s run put its time back')
  })
})
