/**
 * `pin` after a first sync fetches only what changed (recentlyUpdated plus one page-1 check, and
 * a getSizes for a photo found deleted),
 * lists everything with `--full-listing-every 0` or config.json `fullListingEvery: 0`, and refuses
 * a config value it cannot read with one line.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { runCli } from '../support/cli.js'
import { cliEnv, mediaName, removeDir, startFake } from '../pin/helpers.js'
import { tempDir } from '../support/repo.js'

void describe('pin --full-listing-every', () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let env: NodeJS.ProcessEnv
  before(async () => {
    fake = await startFake({ seed: 5, photos: 40, videos: 1, sets: 3, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
    work = await tempDir('flickrfs-full-listing-')
    dest = join(work, 'dest')
    await mkdir(join(work, 'config'))
    env = cliEnv(fake, join(work, 'config'))
    const first = await runCli(['pin', '-q', dest], env)
    assert.equal(first.code, 0, first.stderr)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  const pages = (): number => Math.ceil(fake.account.photostream.length / 500)

  void it('a second pin takes in an upload and a comment from recentlyUpdated, without listing the photostream', async () => {
    const a = fake.account
    const upload = a.addPhoto({ title: 'after the first pin', bytes: 1_500 })
    const commented = a.photostream[4] as string
    a.addComment(commented, 'seen by the incremental pin')
    fake.resetCounts()
    const r = await runCli(['pin', '-q', '-s', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Listing: only what changed \(\d+ items reported\), members of 0 of 3 sets listed$/m)
    const counts = fake.counts()
    assert.equal(counts['flickr.photos.recentlyUpdated'], 1)
    assert.equal(counts['flickr.people.getPhotos'], 1, 'only the page-1 check')
    assert.equal(counts['flickr.photos.comments.getList'], 1)
    assert.ok((await readFile(join(dest, 'photostream', mediaName(a, upload.id)))).equals(a.originalBytes(upload.id)))
    const meta = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, commented)}.metadata`), 'utf8')) as { comments: Array<{ _content: string }> }
    assert.equal(meta.comments.at(-1)?._content, 'seen by the incremental pin')
  })

  void it('a deletion is found from the page-1 check and confirmed with getSizes, and the summary says so', async () => {
    fake.account.deletePhoto(fake.account.photostream[9] as string)
    fake.resetCounts()
    const r = await runCli(['pin', '-q', '-s', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Deleted on Flickr: 1$/m)
    assert.match(r.stdout, /^Listing: only what changed \(\d+ items reported; 1 deletion found with 0 more pages\), members of \d of 3 sets listed$/m)
    assert.equal(fake.counts()['flickr.people.getPhotos'], 1, 'only the page-1 check')
    assert.equal(fake.counts()['flickr.photos.getSizes'], 1)
  })

  void it('--full-listing-every 0 lists everything', async () => {
    fake.resetCounts()
    const r = await runCli(['pin', '-q', '-s', '--full-listing-every', '0', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Listing: everything \(full listings every time\), members of 3 of 3 sets listed$/m)
    assert.equal(fake.counts()['flickr.photos.recentlyUpdated'] ?? 0, 0)
    assert.equal(fake.counts()['flickr.people.getPhotos'], pages())
  })

  void it('config.json fullListingEvery is read, and a bad value is one line', async () => {
    await writeFile(join(work, 'config', 'config.json'), JSON.stringify({ fullListingEvery: 0 }))
    fake.resetCounts()
    let r = await runCli(['pin', '-q', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(fake.counts()['flickr.photos.recentlyUpdated'] ?? 0, 0)
    // The flag wins over the config.
    fake.resetCounts()
    r = await runCli(['pin', '-q', '--full-listing-every', '7d', dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(fake.counts()['flickr.photos.recentlyUpdated'], 1)
    await writeFile(join(work, 'config', 'config.json'), JSON.stringify({ fullListingEvery: 'weekly' }))
    r = await runCli(['pin', '-q', dest], env)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr.trim(), /^flickrfs: fullListingEvery in .*config\.json takes a duration like "1d" or "7d" \(or seconds\), got "weekly"\.$/)
    r = await runCli(['pin', '-q', '--full-listing-every', 'weekly', dest], env)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr.trim(), /^flickrfs: --full-listing-every takes a duration like 90s, 15m or 2h, got "weekly"\.$/)
    await writeFile(join(work, 'config', 'config.json'), '{}')
  })
})
