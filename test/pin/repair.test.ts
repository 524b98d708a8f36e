/**
 * A no-change pin still checks every file of DEST against the layout and the store's index: an
 * entry changed behind pin's back (bytes edited with the mtime put back, removed, retargeted,
 * truncated, touched) is repaired, and nothing else is rewritten or downloaded.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, lutimes, mkdir, readdir, readFile, readlink, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertTreeBack, changedPaths, mediaName, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { tempDir } from '../support/repo.js'

void describe('a no-change pin repairs what changed behind its back', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string

  before(async () => {
    fake = await startFake({ seed: 12, photos: 24, videos: 1, sets: 3, collections: 1, commentedFraction: 0.3, meanPhotoBytes: 6_000, meanVideoBytes: 12_000 })
    work = await tempDir()
    dest = join(work, 'dest')
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('rewrites edited, removed and retargeted entries, fixes mtimes, downloads only the truncated original', async () => {
    const a = fake.account
    const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    const [edited, removed, touched, truncated, retimed] = photos
    assert.ok(edited && removed && touched && truncated && retimed)
    const ps = join(dest, 'photostream')
    const sidecar = (id: string): string => join(ps, `${mediaName(a, id)}.metadata`)
    const clean = await snapshot(dest)

    const cleanBytes = new Map<string, Buffer>()
    for (const id of [edited, removed]) cleanBytes.set(id, await readFile(sidecar(id)))
    // A sidecar edited in place, same length, its mtime put back: only its bytes tell.
    const bytes = Buffer.from(await readFile(sidecar(edited)))
    const was = await lstat(sidecar(edited))
    const i = bytes.indexOf('"', Math.floor(bytes.length / 2)) - 1
    bytes[i] = bytes[i] === 0x30 ? 0x31 : 0x30
    await writeFile(sidecar(edited), bytes)
    await utimes(sidecar(edited), was.atime, was.mtime)
    await rm(sidecar(removed))
    await utimes(sidecar(touched), new Date(), new Date(2001, 0, 1))
    // An original cut short, one with another mtime.
    const original = (id: string): string => join(ps, mediaName(a, id))
    await truncate(original(truncated), 100)
    await utimes(original(retimed), new Date(), new Date(2001, 0, 1))
    // A link of a set retargeted to another photo's file, its mtime put back.
    const setLinks = [...clean].filter(([p, e]) => e.kind === 'link' && p.startsWith('Set ') && p.split('/').length === 2)
    const [link, other] = setLinks.filter(([p]) => p.startsWith((setLinks[0]?.[0] ?? '').split('/')[0] ?? ''))
    assert.ok(link && other && link[1].target !== other[1].target, 'a set with two links')
    const linkPath = join(dest, link[0])
    const linkWas = await lstat(linkPath)
    await rm(linkPath)
    await symlink(other[1].target ?? '', linkPath)
    await lutimes(linkPath, linkWas.atime, linkWas.mtime)

    // A later second than every record of the first pin: the truncated original's new download must
    // not move SHA256SUMS's mtime (its line, and so the list, is unchanged).
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    fake.resetCounts()
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(fake.counts()['media:GET'] ?? 0, 1, 'only the truncated original is downloaded')
    assert.equal(fake.counts()['media:HEAD'] ?? 0, 0)
    assert.equal(r.downloaded, 1)

    // Every byte, target and mtime as the first pin wrote it.
    assert.ok((await readFile(original(truncated))).equals(a.originalBytes(truncated)))
    assert.equal(await readlink(linkPath), link[1].target)
    const repaired = await snapshot(dest)
    assertTreeBack(clean, repaired)
    for (const [id, was] of cleanBytes) assert.ok((await readFile(sidecar(id))).equals(was), `the sidecar of ${id} has its bytes back`)
    // Rewritten means a new file under the name (temp + rename): exactly the damaged entries.
    const rel = (p: string): string => p.slice(dest.length + 1)
    const rewritten = changedPaths(clean, repaired, { ignoreDirs: true }).filter((p) => clean.get(p.slice(1))?.ino !== repaired.get(p.slice(1))?.ino)
    assert.deepEqual(rewritten.sort(), [`~${rel(original(truncated))}`, `~${rel(sidecar(edited))}`, `~${rel(sidecar(removed))}`, `~${link[0]}`].sort())
    assert.equal(repaired.get(rel(sidecar(touched)))?.ino, clean.get(rel(sidecar(touched)))?.ino, 'a sidecar only touched keeps its inode')
    assert.equal(repaired.get(rel(original(retimed)))?.ino, clean.get(rel(original(retimed)))?.ino, 'an original only touched keeps its inode')
  })

  void it('a pin after that finds nothing to do', async () => {
    const before = await snapshot(dest)
    fake.resetCounts()
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(r.tree.written, 0)
    assert.equal(r.downloaded, 0)
    assert.equal((fake.counts()['media:GET'] ?? 0) + (fake.counts()['media:HEAD'] ?? 0), 0)
    assert.deepEqual(changedPaths(before, await snapshot(dest), { ignoreDirs: true }), [])
  })

  void it('trusts a sidecar unread only while its ino, size, mtime and ctime are as recorded', async () => {
    const a = fake.account
    const ps = join(dest, 'photostream')
    const sidecars = (await readdir(ps)).filter((n) => n.endsWith('.metadata'))
    assert.ok(sidecars.length >= 20)
    const manifest = join(dest, '.flickrfs', 'manifest')
    const manifestWas = await lstat(manifest)

    // Nothing changed since the last pin: every sidecar is taken from its record, unread, and the
    // manifest (the same records) is not written again.
    let r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(r.tree.written, 0)
    assert.equal(r.tree.trusted, sidecars.length, 'every sidecar trusted')
    const manifestNow = await lstat(manifest)
    assert.equal(manifestNow.ino, manifestWas.ino, 'the manifest is not rewritten')
    assert.equal(manifestNow.mtimeMs, manifestWas.mtimeMs)

    const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    const [edited, swapped] = photos.slice(-2)
    assert.ok(edited !== undefined && swapped !== undefined)
    const sidecar = (id: string): string => join(ps, `${mediaName(a, id)}.metadata`)
    const clean = new Map<string, Buffer>()
    for (const id of [edited, swapped]) clean.set(id, await readFile(sidecar(id)))
    const cleanBytes = (id: string): Buffer => clean.get(id) ?? assert.fail(`no bytes of ${id}`)

    // Edited in place with its size and mtime put back: only the ctime (set by the kernel) moved.
    const bytes = Buffer.from(cleanBytes(edited))
    const was = await lstat(sidecar(edited))
    const at = bytes.indexOf(':') + 2
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30
    await writeFile(sidecar(edited), bytes)
    await utimes(sidecar(edited), was.atime, was.mtime)
    const after = await lstat(sidecar(edited))
    assert.equal(after.size, was.size)
    assert.equal(after.mtimeMs, was.mtimeMs)
    assert.notEqual(after.ctimeMs, was.ctimeMs)
    // Another file with the very same bytes and mtime put in its place: read, found right, kept.
    const swappedWas = await lstat(sidecar(swapped))
    const copy = join(work, 'copy')
    await writeFile(copy, cleanBytes(swapped))
    await utimes(copy, swappedWas.atime, swappedWas.mtime)
    await rename(copy, sidecar(swapped))
    const swappedIno = (await lstat(sidecar(swapped))).ino
    assert.notEqual(swappedIno, swappedWas.ino)

    r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(r.tree.trusted, sidecars.length - 2, 'the two changed sidecars are read')
    assert.equal(r.tree.written, 1, 'only the edited sidecar is rewritten')
    assert.ok((await readFile(sidecar(edited))).equals(cleanBytes(edited)), 'the edited sidecar has its bytes back')
    assert.equal((await lstat(sidecar(swapped))).ino, swappedIno, 'the swapped-in copy, right as it is, is kept')

    // And both are trusted again from now on.
    r = await pinOnce(fake, dest)
    assert.equal(r.tree.written, 0)
    assert.equal(r.tree.trusted, sidecars.length)
  })

  void it('a new photo whose names are taken (a folder, a file) in a mirror pinned before gets its own files there', async () => {
    // photostream/ is not listed once a manifest says what pin wrote (write-tree.ts): every name of
    // the new photo may be there, and what is there is looked at before it is replaced.
    const a = fake.account
    const added = a.addPhoto({ title: 'names taken', bytes: 5_000 })
    const ps = join(dest, 'photostream')
    const sidecar = join(ps, `${mediaName(a, added.id)}.metadata`)
    await mkdir(join(sidecar, 'inside'), { recursive: true })
    await writeFile(join(sidecar, 'inside', 'file'), 'a stray folder under the new sidecar\'s name')
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(r.downloaded, 1)
    assert.ok((await lstat(sidecar)).isFile(), 'the folder is replaced by the sidecar')
    assert.equal((JSON.parse(await readFile(sidecar, 'utf8')) as { id: string }).id, added.id)
    assert.ok((await readFile(join(ps, mediaName(a, added.id)))).equals(a.originalBytes(added.id)))
    const after = await pinOnce(fake, dest)
    assert.equal(after.tree.written, 0, 'and a pin after that finds nothing to do')
  })
})
