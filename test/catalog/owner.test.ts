/**
 * A catalog is one account's (src/catalog/owner.ts): another account's token stops a refresh with
 * what to do, also when a call that cannot tell the owner (photosets.getPhotos of the catalog's
 * user, "Unknown user" for another token) fails before a photostream answer that can is in.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ownedApi } from '../../src/catalog/owner.js'
import type { CatalogApi } from '../../src/catalog/ports.js'

const owner = { root: '/mirror', userId: '12345678@N00', userName: 'me' }
const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

/** An API whose set call fails at once and whose recentlyUpdated answers `records` 30 ms later. */
function api(records: Array<Record<string, unknown>>): CatalogApi {
  return {
    getRecentlyUpdated: () => later(30, records),
    getSetPhotos: () => Promise.reject(new Error('Flickr call flickr.photosets.getPhotos failed with error 2: Unknown user.')),
  } as unknown as CatalogApi
}

void test('a call failing before the photostream answer of another account fails with that account, not its own error', async () => {
  const owned = ownedApi(api([{ id: '1', owner: '99999999@N00' }]), owner)
  const changes = owned.getRecentlyUpdated(0, [])
  const other = /^\/mirror holds the Flickr account me \(12345678@N00\), but the token given is another account's \(Flickr answered with photos of 99999999@N00\)\. Nothing was changed\./
  await assert.rejects(owned.getSetPhotos('72157', owner.userId, []), (err: Error) => {
    assert.match(err.message, other)
    return true
  })
  await assert.rejects(changes, (err: Error) => other.test(err.message))
})

void test('a call failing while the photostream answers are the catalog\'s own fails with its own error', async () => {
  const owned = ownedApi(api([{ id: '1', owner: owner.userId }]), owner)
  const changes = owned.getRecentlyUpdated(0, [])
  await assert.rejects(owned.getSetPhotos('72157', owner.userId, []), /error 2: Unknown user/)
  assert.equal((await changes).length, 1)
})

void test('a call failing during a whole photostream listing waits for its first page only, not the whole listing', async () => {
  let pagesAsked = 0
  const listing = {
    // A listing of 50 pages 20 ms apart, every page the catalog's own.
    getPhotostream: async (_extras: string[], resume?: { onPage?: (page: number, items: Array<Record<string, unknown>>) => void }) => {
      const all: Array<Record<string, unknown>> = []
      for (let page = 1; page <= 50; page++) {
        const items = await later(20, [{ id: String(page), owner: owner.userId }])
        pagesAsked = page
        resume?.onPage?.(page, items)
        all.push(...items)
      }
      return all
    },
    getSetPhotos: () => later(5, undefined).then(() => Promise.reject(new Error('the network is gone'))),
  } as unknown as CatalogApi
  const owned = ownedApi(listing, owner)
  const whole = owned.getPhotostream([])
  await assert.rejects(owned.getSetPhotos('72157', owner.userId, []), /the network is gone/)
  assert.ok(pagesAsked < 5, `the failure waited for ${pagesAsked} pages`)
  assert.equal((await whole).length, 50)
})
