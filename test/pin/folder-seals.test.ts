/**
 * A pin seals each folder of links it writes (src/pin/write-tree.ts #syncManagedDir): the manifest
 * keeps the folder's lstat and the digest of its entries. A later whole run from what changed on
 * Flickr takes the links of a folder still as sealed without an lstat or a read; a folder changed
 * behind pin's back (its ctime moved, whatever its mtime says) or whose links the layout changed
 * is checked and repaired as ever; a full listing checks every link.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, lutimes, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import type { PinOptions, PinReport } from '../../src/pin/pin.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { readManifest } from '../../src/pin/manifest.js'
import { changedPaths, mediaName, numbered, pinOnce, removeDir, snapshot, startFake, type Entry } from './helpers.js'
import { tempDir } from '../support/repo.js'

void describe('folders of links sealed by one pin are taken as they are by the next whole run', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  /** Incremental refreshes, as the CLI makes them by default. */
  const pinAgain = (opts: Partial<PinOptions> = {}): Promise<PinReport> =>
    pinOnce(fake, dest, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS, ...opts })
  /** A change on Flickr that moves no link: the next pin is a whole run from what changed. */
  let edits = 0
  const changeOnFlickr = (): void => {
    fake.account.editPhoto(fake.account.photostream[0] ?? '', { title: `Edited on Flickr ${++edits}` })
  }
  const folderOf = (p: string): string => p.slice(0, Math.max(0, p.lastIndexOf('/')))
  /**
   * The links of the folders beside photostream/, by folder: those a pin seals. A collection that
   * holds a child collection is not sealed (its subfolder's changes do not move its ctime).
   */
  const linksByFolder = (tree: Map<string, Entry>): Map<string, string[]> => {
    const holdFolders = new Set([...tree].filter(([, e]) => e.kind === 'dir').map(([p]) => folderOf(p)))
    const out = new Map<string, string[]>()
    for (const [p, e] of tree) {
      const folder = folderOf(p)
      if (e.kind !== 'link' || p.startsWith('photostream/') || holdFolders.has(folder)) continue
      out.set(folder, [...(out.get(folder) ?? []), p])
    }
    return out
  }
  const count = (byFolder: Map<string, string[]>, except: readonly string[] = []): number =>
    [...byFolder].filter(([f]) => !except.includes(f)).reduce((n, [, links]) => n + links.length, 0)
  /** The same pin with a full listing, which checks every link: it finds nothing to write. */
  const assertNothingLeftToFix = async (): Promise<void> => {
    const before = await snapshot(dest)
    const full = await pinOnce(fake, dest, { fullListingEveryMs: 0 })
    assert.deepEqual(full.failures, [])
    assert.equal(full.tree.sealed, 0, 'a full listing checks every link')
    assert.equal(full.tree.written, 0, 'the sealed run left nothing for a full check to write')
    assert.equal(full.tree.removed, 0)
    assert.deepEqual(changedPaths(before, await snapshot(dest), { ignoreDirs: true }), [])
  }

  before(async () => {
    fake = await startFake({ seed: 31, photos: 30, videos: 2, sets: 4, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 5_000, meanVideoBytes: 9_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    const first = await pinAgain()
    assert.deepEqual(first.failures, [])
    assert.equal(first.tree.sealed, 0, 'a first pin has no seals to take')
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('seals every folder of links, with its lstat; not a folder that holds a folder', async () => {
    const seals = (await readManifest(dest)).seals
    const tree = await snapshot(dest)
    const folders = [...linksByFolder(tree).keys()]
    assert.ok(folders.some((f) => f.startsWith('Set ')) && folders.includes('Not in any set'), `folders of links: ${folders.join(', ')}`)
    assert.ok(folders.some((f) => f.startsWith('Collection ')), 'a collection of links only')
    const parents = [...tree].filter(([p, e]) => e.kind === 'dir' && p.startsWith('Collection ') && p.includes('/')).map(([p]) => folderOf(p))
    assert.ok(parents.length > 0, 'a collection holding a collection')
    for (const parent of parents) assert.equal(seals[parent], undefined, `${parent} holds a folder: not sealed`)
    for (const folder of folders) {
      const seal = seals[folder]
      assert.ok(seal !== undefined, `${folder} is sealed`)
      const st = await lstat(join(dest, folder))
      assert.deepEqual(seal.slice(0, 3), [st.ino, st.mtimeMs, st.ctimeMs], `${folder}'s seal holds its lstat`)
    }
  })

  void it('a whole run from a change on Flickr takes every sealed link unread, and leaves the tree right', async () => {
    const byFolder = linksByFolder(await snapshot(dest))
    changeOnFlickr()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.checkedAgainstRecord, false, 'a change on Flickr: the whole pin ran')
    assert.equal(r.tree.sealed, count(byFolder), 'every link of every folder taken from its seal')
    await assertNothingLeftToFix()
  })

  void it('a folder changed behind pin\'s back is checked, its mtime put back or not: only the ctime tells', async () => {
    const byFolder = linksByFolder(await snapshot(dest))
    const sets = [...byFolder.keys()].filter((f) => f.startsWith('Set ') && (byFolder.get(f)?.length ?? 0) >= 2)
    const [retargeted, added] = sets
    assert.ok(retargeted !== undefined && added !== undefined, 'two sets of two links or more')
    // In one set, a link retargeted to another's target, the link's and the folder's times put back.
    const [link, other] = byFolder.get(retargeted) ?? []
    assert.ok(link !== undefined && other !== undefined)
    const target = await readlink(join(dest, link))
    const linkWas = await lstat(join(dest, link))
    const folderWas = await lstat(join(dest, retargeted))
    await rm(join(dest, link))
    await symlink(await readlink(join(dest, other)), join(dest, link))
    await lutimes(join(dest, link), linkWas.atime, linkWas.mtime)
    await utimes(join(dest, retargeted), folderWas.atime, folderWas.mtime)
    const folderNow = await lstat(join(dest, retargeted))
    assert.equal(folderNow.mtimeMs, folderWas.mtimeMs)
    assert.notEqual(folderNow.ctimeMs, folderWas.ctimeMs)
    // In another, a stray file, and a link removed.
    const removed = byFolder.get(added)?.[0] ?? ''
    const removedTarget = await readlink(join(dest, removed))
    await writeFile(join(dest, added, 'stray.txt'), 'not flickrfs\'s')
    await rm(join(dest, removed))

    changeOnFlickr()
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    assert.equal(r.tree.sealed, count(byFolder, [retargeted, added]), 'the two changed folders were checked, the others taken from their seals')
    assert.equal(await readlink(join(dest, link)), target, 'the retargeted link has its target back')
    assert.equal(await readlink(join(dest, removed)), removedTarget, 'the removed link is back')
    assert.deepEqual((await readdir(join(dest, added))).filter((n) => n === 'stray.txt'), [], 'the stray file is removed')
    await assertNothingLeftToFix()
  })

  void it('a folder whose links the layout changed is checked: a set reordered on Flickr', async () => {
    const snapshotBefore = snapshot(dest)
    const byFolder = linksByFolder(await snapshotBefore)
    const setFolder = [...byFolder.keys()].find((f) => f.startsWith('Set ') && (byFolder.get(f)?.length ?? 0) >= 2)
    assert.ok(setFolder !== undefined)
    const setId = /^Set (\d+)/.exec(setFolder)?.[1] ?? ''
    const set = fake.account.requireSet(setId)
    const reordered = [...set.photoIds].reverse()
    fake.account.reorderSet(setId, reordered)
    const r = await pinAgain()
    assert.deepEqual(r.failures, [])
    // The folders whose links the run changed (names, targets or times: a link in a collection
    // has its set's time) were checked; every other one was taken from its seal.
    const after = linksByFolder(await snapshot(dest))
    const entriesOf = (tree: Map<string, Entry>, links: readonly string[] | undefined): string =>
      JSON.stringify((links ?? []).map((p) => [p, tree.get(p)?.target, tree.get(p)?.mtimeMs]))
    const [beforeTree, afterTree] = [await snapshotBefore, await snapshot(dest)]
    const changed = [...byFolder.keys()].filter((f) => entriesOf(beforeTree, byFolder.get(f)) !== entriesOf(afterTree, after.get(f)))
    assert.ok(changed.includes(setFolder), 'the reordered set\'s links changed')
    assert.equal(r.tree.sealed, count(byFolder, changed), `every folder but ${changed.join(', ')} taken from its seal`)
    const now = (await readdir(join(dest, setFolder))).filter((n) => n !== 'metadata').sort()
    const expected = reordered.map((id, i) => numbered(i, reordered.length, mediaName(fake.account, id))).sort()
    assert.deepEqual(now, expected, 'the set\'s links are in its new order')
    for (const [i, id] of reordered.entries()) {
      assert.equal(await readlink(join(dest, setFolder, numbered(i, reordered.length, mediaName(fake.account, id)))), `../photostream/${mediaName(fake.account, id)}`)
    }
    await assertNothingLeftToFix()
  })

  void it('a full listing checks every link: a link\'s own time, which no seal sees, is put back', async () => {
    const byFolder = linksByFolder(await snapshot(dest))
    const link = [...byFolder.values()][0]?.[0] ?? ''
    const clean = (await lstat(join(dest, link))).mtimeMs
    await lutimes(join(dest, link), new Date(), new Date(2001, 0, 1))
    changeOnFlickr()
    const r = await pinAgain()
    assert.equal(r.tree.sealed, count(byFolder), 'lutimes moves no folder\'s ctime')
    assert.notEqual((await lstat(join(dest, link))).mtimeMs, clean)
    const full = await pinOnce(fake, dest, { fullListingEveryMs: 0 })
    assert.equal(full.tree.sealed, 0)
    assert.equal((await lstat(join(dest, link))).mtimeMs, clean, 'the full listing\'s run put its time back')
  })
})
