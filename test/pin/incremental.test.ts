/**
 * Pin again after each kind of change on Flickr: only what changed is fetched and rewritten, the
 * tree matches LAYOUT.md again, and deletions follow --delete-unknown.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { changedPaths, dirName, expectedTree, mediaName, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'
import { exists } from '../support/files.js'

void describe('pin again after changes on Flickr', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string

  /** The tree must be exactly LAYOUT.md's for the account, plus `kept` (entries of deleted photos). */
  const assertTree = async (kept: string[] = []): Promise<void> => {
    const want = [...expectedTree(fake.account).entries.keys(), ...kept].sort()
    assert.deepEqual([...(await snapshot(dest)).keys()].sort(), want)
  }
  const gets = (): number => fake.counts()['media:GET'] ?? 0

  before(async () => {
    fake = await startFake({ seed: 11, photos: 30, videos: 2, sets: 4, collections: 2, commentedFraction: 0.3, meanPhotoBytes: 8_000, meanVideoBytes: 16_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    await assertTree()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('a replaced original, also in a new format, is fetched again and the old file goes', async () => {
    const a = fake.account
    const id = a.photostream.find((x) => a.requirePhoto(x).media === 'photo' && a.requirePhoto(x).originalformat === 'jpg' && a.setsContaining(x).length > 0)
    assert.ok(id !== undefined)
    fake.resetCounts()
    a.replaceOriginal(id, { format: 'png', bytes: 5_000 })
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(gets(), 1)
    assert.equal(await exists(join(dest, 'photostream', `${id}.jpg`)), false, 'old original removed')
    assert.equal(await exists(join(dest, 'photostream', `${id}.jpg.metadata`)), false, 'old sidecar removed')
    assert.ok((await readFile(join(dest, 'photostream', `${id}.png`))).equals(a.originalBytes(id)))
    await assertTree()
  })

  void it('a title edit rewrites only that sidecar and downloads nothing', async () => {
    const a = fake.account
    const id = a.photostream[3] ?? ''
    const before = await snapshot(dest)
    fake.resetCounts()
    a.editPhoto(id, { title: 'A brand new title' })
    await pinOnce(fake, dest)
    assert.equal(gets(), 0)
    const sidecar = `photostream/${mediaName(a, id)}.metadata`
    // Links are not rewritten (same inode and target); the layout gives a link to a set directory
    // that directory's mtime, which follows its members' metadata, so only link mtimes may move.
    assert.deepEqual(changedPaths(before, await snapshot(dest), { ignoreDirs: true, ignoreLinkMtimes: true }), [`~${sidecar}`])
    const meta = JSON.parse(await readFile(join(dest, sidecar), 'utf8')) as { title: string }
    assert.equal(meta.title, 'A brand new title')
  })

  void it('a new comment updates only that sidecar', async () => {
    const a = fake.account
    const id = a.photostream[5] ?? ''
    const before = await snapshot(dest)
    fake.resetCounts()
    a.addComment(id, 'What a view!')
    await pinOnce(fake, dest)
    assert.equal(gets(), 0)
    assert.equal(fake.counts()['flickr.photos.comments.getList'], 1)
    const sidecar = `photostream/${mediaName(a, id)}.metadata`
    assert.deepEqual(changedPaths(before, await snapshot(dest), { ignoreDirs: true, ignoreLinkMtimes: true }), [`~${sidecar}`])
    const meta = JSON.parse(await readFile(join(dest, sidecar), 'utf8')) as { comments: Array<{ _content: string }> }
    assert.equal(meta.comments.at(-1)?._content, 'What a view!')
  })

  void it('a renamed set gets its new directory, the old one goes, and collection links follow', async () => {
    const a = fake.account
    const set = a.sets[0]
    assert.ok(set !== undefined)
    const old = dirName('Set', set.id, set.title)
    a.renameSet(set.id, 'Renamed / on Flickr')
    await pinOnce(fake, dest)
    assert.equal(await exists(join(dest, old)), false)
    assert.ok(await exists(join(dest, dirName('Set', set.id, 'Renamed / on Flickr'), 'metadata')))
    await assertTree()
  })

  void it('a deleted photo and set stay without --delete-unknown and go with it', async () => {
    const a = fake.account
    const id = a.photostream.find((x) => a.setsContaining(x).length > 0) ?? ''
    const name = mediaName(a, id)
    const gone = a.sets[a.sets.length - 1]
    assert.ok(gone !== undefined)
    const goneDir = dirName('Set', gone.id, gone.title)
    a.deletePhoto(id)
    a.deleteSet(gone.id)

    let r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.ok(await exists(join(dest, 'photostream', name)), 'original kept')
    assert.ok(await exists(join(dest, 'photostream', `${name}.metadata`)), 'sidecar kept')
    assert.ok(await exists(join(dest, goneDir)), 'deleted set kept')
    const order = JSON.parse(await readFile(join(dest, 'photostream', 'metadata'), 'utf8')) as { photos: string[] }
    assert.ok(!order.photos.includes(id))

    r = await pinOnce(fake, dest, { deleteUnknown: true })
    assert.deepEqual(r.failures, [])
    assert.equal(await exists(join(dest, 'photostream', name)), false, 'original removed')
    assert.equal(await exists(join(dest, 'photostream', `${name}.metadata`)), false, 'sidecar removed')
    assert.equal(await exists(join(dest, goneDir)), false, 'deleted set removed')
    await assertTree()
  })
})
