/**
 * A catalog is one account's. A refresh with the token of another account (the wrong --env-file
 * for a DEST, a `flickrfs login` as someone else) would list that account's photostream into it:
 * its photos beside the first account's files, and a --delete-unknown that removes the first
 * account's. Every record of the photostream names its `owner`; the first one of another account
 * stops the refresh, before anything is saved, with what to do. No call is added for it.
 */
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { CatalogApi, PhotostreamResume } from './ports.js'

/** The catalog's account, as its head names it. */
export interface CatalogOwner {
  root: string
  userId: string
  userName: string
}

/** `api` with every photostream answer checked against `owner` (a catalog never synced has none: nothing to check). */
export function ownedApi(api: CatalogApi, owner: CatalogOwner): CatalogApi {
  if (owner.userId === '') return api
  const check = (records: readonly unknown[]): void => {
    for (const r of records) {
      const of = typeof r === 'object' && r !== null ? (r as Record<string, unknown>).owner : undefined
      if (typeof of === 'string' && of !== '' && of !== owner.userId) throw otherAccount(owner, of)
    }
  }
  return {
    ...api,
    testLogin: () => api.testLogin(),
    getPhotostream: async (extras, resume?: PhotostreamResume) => {
      const onPage = resume?.onPage
      const checked: PhotostreamResume = {
        ...resume,
        onPage: (page, items) => {
          check(items)
          onPage?.(page, items)
        },
      }
      const all = await api.getPhotostream(extras, checked)
      check(all)
      return all
    },
    getRecentlyUpdated: async (minDateSec, extras) => {
      const changed = await api.getRecentlyUpdated(minDateSec, extras)
      check(changed)
      return changed
    },
    getPhotostreamPage: async (page, perPage, extras) => {
      const got = await api.getPhotostreamPage(page, perPage, extras)
      check(got.photos)
      return got
    },
    getSetList: (expectedSets) => api.getSetList(expectedSets),
    getSetPhotos: (setId, userId, extras) => api.getSetPhotos(setId, userId, extras),
    getCollectionTree: () => api.getCollectionTree(),
    getComments: (photoId) => api.getComments(photoId),
    getSizes: (photoId) => api.getSizes(photoId),
  }
}

function otherAccount(owner: CatalogOwner, other: string): FlickrfsError {
  const who = owner.userName === '' ? owner.userId : `${owner.userName} (${owner.userId})`
  return new FlickrfsError('AUTH_FAILED', `${owner.root} holds the Flickr account ${who}, but the token given is another account's ` +
    `(Flickr answered with photos of ${other}). Nothing was changed. Use ${owner.userId}'s token (--env-file, or \`flickrfs login\` as that user), ` +
    'or give the other account a folder of its own.')
}
