/**
 * A pin of a fresh account makes one media request per original: the GET that downloads it also
 * sizes it (and names a video), with no HEAD. The size lands in the catalog, so a mount of the pinned
 * DEST afterwards shows every size (stat and sidecar) without a HEAD either.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Catalog } from '../../src/catalog/index.js'
import { mediaKey } from '../../src/catalog/types.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, pinOnce, startFake } from './helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'

const skipMount = await fuseUnusableReason()

interface Sidecar { flickrfs: { size: number } }

void describe('pin: one media request per original', () => {
  let fake: FakeFlickr
  let lab: MountLab
  let dest: string
  let photos: string[]
  let videos: string[]

  before(async () => {
    fake = await startFake({ seed: 12, photos: 30, videos: 4, sets: 3, collections: 1, meanPhotoBytes: 6_000, meanVideoBytes: 30_000 })
    lab = await MountLab.create('flickrfs-test-one-request-')
    dest = join(lab.dir, 'dest')
    const a = fake.account
    photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('a first pin GETs each original once, HEADs none, and records each size in the catalog', async () => {
    fake.resetCounts()
    const r = await pinOnce(fake, dest)
    assert.deepEqual(r.failures, [])
    assert.equal(r.downloaded, photos.length + videos.length)
    const counts = fake.counts()
    assert.equal(counts['media:HEAD'] ?? 0, 0, `no HEAD: ${JSON.stringify(counts)}`)
    assert.equal(counts['media:GET'] ?? 0, photos.length + videos.length, `one GET per original: ${JSON.stringify(counts)}`)
    // A video's GET goes through its play URL once (the redirect), and nothing else does.
    assert.equal(counts['media:play'] ?? 0, videos.length)

    const a = fake.account
    const catalog = await Catalog.open(dest, { readOnly: true })
    try {
      const media = catalog.snapshot().media
      for (const id of a.photostream) {
        const p = a.requirePhoto(id)
        const m = media.get(mediaKey(id, p.originalsecret))
        assert.ok(m, `${id} is in the catalog`)
        assert.equal(m.size, p.bytes, `${id}: the catalog has the size the GET stated`)
        assert.equal(`${m.id}.${m.ext}`, mediaName(a, id), `${id}: named as LAYOUT.md says (videos by Content-Disposition)`)
        const name = mediaName(a, id)
        assert.equal((await stat(join(dest, 'photostream', name))).size, p.bytes)
        const sidecar = JSON.parse(await readFile(join(dest, 'photostream', `${name}.metadata`), 'utf8')) as Sidecar
        assert.equal(sidecar.flickrfs.size, p.bytes, `${name}.metadata states the size`)
      }
    } finally {
      await catalog.close()
    }

    // Nothing new: no media request at all.
    fake.resetCounts()
    const again = await pinOnce(fake, dest)
    assert.deepEqual(again.failures, [])
    assert.equal(again.downloaded, 0)
    assert.deepEqual(Object.keys(fake.counts()).filter((k) => k.startsWith('media:')), [])
  })

  void it('the sizing GET reads the size from Content-Range: a short Content-Length does not shrink the original', async () => {
    const other = await startFake({ seed: 13, photos: 5, videos: 0, sets: 1, collections: 0, meanPhotoBytes: 8_000 })
    try {
      const a = other.account
      const victim = a.photostream[0] ?? ''
      other.faults.hostile = { [victim]: 'contentLengthTooSmall' }
      const d = join(lab.dir, 'short-length')
      const r = await pinOnce(other, d)
      assert.deepEqual(r.failures, [])
      const name = mediaName(a, victim)
      assert.ok((await readFile(join(d, 'photostream', name))).equals(a.originalBytes(victim)), `${name} whole`)
      const sidecar = JSON.parse(await readFile(join(d, 'photostream', `${name}.metadata`), 'utf8')) as Sidecar
      assert.equal(sidecar.flickrfs.size, a.requirePhoto(victim).bytes)
      assert.equal(other.counts()['media:HEAD'] ?? 0, 0)
    } finally {
      await other.close()
    }
  })

  void it('a mount of the pinned DEST shows every size without a HEAD', { skip: skipMount }, async () => {
    const a = fake.account
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    const mnt = await lab.mkdir('mnt')
    fake.resetCounts()
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    try {
      for (const id of a.photostream) {
        const name = mediaName(a, id)
        assert.equal((await stat(join(mnt, 'photostream', name))).size, a.requirePhoto(id).bytes, name)
        const sidecar = JSON.parse(await readFile(join(mnt, 'photostream', `${name}.metadata`), 'utf8')) as Sidecar
        assert.equal(sidecar.flickrfs.size, a.requirePhoto(id).bytes, `${name}.metadata`)
      }
    } finally {
      assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
    }
    assert.equal(fake.counts()['media:HEAD'] ?? 0, 0, `no HEAD: ${JSON.stringify(fake.counts())}`)
  })
})
