/**
 * pin walks photostream/ in pages (src/pin/write-tree.ts) rather than holding every node at once:
 * an account whose photostream/ spans several pages (2 entries a photo, 2,048 a page) still gets
 * every original, sidecar and order file, and a second pin finds nothing to write.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fakeAndDest, mediaName, pinOnce } from './helpers.js'

void test('photostream/ over several pages: every original and sidecar, in one pin, and nothing to write in the next', async (t) => {
  const { fake, dest } = await fakeAndDest(t, { seed: 5, photos: 2_300, videos: 0, sets: 2, collections: 0, commentedFraction: 0.01, meanPhotoBytes: 200 })
  const a = fake.account
  const first = await pinOnce(fake, dest)
  assert.deepEqual(first.failures, [])
  assert.equal(first.downloaded, a.photostream.length)
  const names = new Set(await readdir(join(dest, 'photostream')))
  const want = a.photostream.flatMap((id) => [mediaName(a, id), `${mediaName(a, id)}.metadata`])
  assert.ok(want.length > 2 * 2048, `${want.length} entries: more than two pages`)
  for (const name of want) assert.ok(names.has(name), name)
  assert.equal(names.size, want.length + 2, 'the originals, their sidecars, metadata and SHA256SUMS')
  const last = a.photostream.at(-1) as string
  const sidecar = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, last)}.metadata`), 'utf8')) as { id: string }
  assert.equal(sidecar.id, last, 'the last page written too')
  const order = JSON.parse(await readFile(join(dest, 'photostream', 'metadata'), 'utf8')) as { photos: string[] }
  assert.deepEqual(order.photos, a.photostream)

  const again = await pinOnce(fake, dest)
  assert.equal(again.downloaded, 0)
  assert.equal(again.tree.written, 0, 'nothing written on a second pin')
})
