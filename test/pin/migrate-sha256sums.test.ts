/**
 * A DEST pinned before photostream/SHA256SUMS existed kept each original's hash in its sidecar
 * (`"flickrfs": {"size", "sha256"}`). The next pin moves the hashes over from the store's index
 * without downloading anything: sidecars written again without sha256, SHA256SUMS written.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { pinOnce, removeDir, startFake } from './helpers.js'
import { sha256 } from '../support/files.js'
import { tempDir } from '../support/repo.js'

/** The sidecar as the old code wrote it: `sha256` right after `size` in `"flickrfs"`, same JSON style. */
function withOldHash(sidecar: string, hash: string): string {
  const record = JSON.parse(sidecar) as Record<string, unknown> & { flickrfs: Record<string, unknown> }
  const { size, ...rest } = record.flickrfs
  record.flickrfs = { size, sha256: hash, ...rest }
  return JSON.stringify(record, null, 2) + '\n'
}

void describe('pin migrates a DEST whose sidecars hold the hashes', () => {
  let fake: FakeFlickr
  let work: string

  before(async () => {
    fake = await startFake({ seed: 43, photos: 15, videos: 3, sets: 2, collections: 1, commentedFraction: 0.3 })
    work = await tempDir('flickrfs-migrate-')
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('rewrites the sidecars without sha256 and writes SHA256SUMS from the index, with no media request', async () => {
    const dest = join(work, 'dest')
    await pinOnce(fake, dest)
    const photostream = join(dest, 'photostream')
    const originals = (await readdir(photostream)).filter((n) => /^\d+\.[a-z0-9]+$/.test(n)).sort()
    assert.equal(originals.length, 18)
    const newSidecars = new Map<string, { text: string; mtimeMs: number }>()
    let wantSums = ''
    // Make it look as the old code left it: hashes in the sidecars, no SHA256SUMS.
    for (const name of originals) {
      const hash = sha256(await readFile(join(photostream, name)))
      wantSums += `${hash}  ${name}\n`
      const sidecar = join(photostream, `${name}.metadata`)
      const text = await readFile(sidecar, 'utf8')
      assert.ok(!text.includes('sha256'), `${name}: a new pin writes no sha256 in its sidecar`)
      const { mtime, mtimeMs } = await stat(sidecar)
      newSidecars.set(name, { text, mtimeMs })
      const old = withOldHash(text, hash)
      assert.match(old, /"flickrfs": \{\n {4}"size": \d+,\n {4}"sha256": "[0-9a-f]{64}"/)
      await writeFile(sidecar, old)
      await utimes(sidecar, mtime, mtime)
    }
    await rm(join(photostream, 'SHA256SUMS'))

    fake.resetCounts()
    const report = await pinOnce(fake, dest)
    assert.deepEqual(report.failures, [])
    assert.equal(report.downloaded, 0)
    assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'no original is downloaded again')
    assert.equal(await readFile(join(photostream, 'SHA256SUMS'), 'utf8'), wantSums)
    for (const [name, want] of newSidecars) {
      const sidecar = join(photostream, `${name}.metadata`)
      assert.equal(await readFile(sidecar, 'utf8'), want.text, `${name}.metadata`)
      assert.equal((await stat(sidecar)).mtimeMs, want.mtimeMs, `${name}.metadata keeps its mtime`)
    }
    assert.ok(report.tree.written >= originals.length + 1, 'every sidecar and SHA256SUMS written')
  })
})
