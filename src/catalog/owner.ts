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

/**
 * `api` with every photostream answer checked against `owner` (a catalog never synced has none:
 * nothing to check). Another account's token also makes other calls fail (photosets.getPhotos of
 * the catalog's user: "Unknown user"), and one of those may fail before a photostream answer is in:
 * a failing call then waits for the first answer of each photostream call under way (one page of
 * a listing, not the whole listing: a real failure is not held up), and fails with the other
 * account when one of them found it (the refresh stops at the first failure it sees).
 */
export function ownedApi(api: CatalogApi, owner: CatalogOwner): CatalogApi {
  if (owner.userId === '') return api
  let mismatch: FlickrfsError | undefined
  const check = (records: readonly unknown[]): void => {
    for (const r of records) {
      const of = typeof r === 'object' && r !== null ? (r as Record<string, unknown>).owner : undefined
      if (typeof of === 'string' && of !== '' && of !== owner.userId) throw (mismatch ??= otherAccount(owner, of))
    }
  }
  /** The first answer of each photostream call under way: settled once it is checked, or the call is over. */
  const firstAnswers = new Set<Promise<unknown>>()
  const watch = (first: Promise<unknown>): void => {
    firstAnswers.add(first)
    const done = (): void => void firstAnswers.delete(first)
    first.then(done, done)
  }
  const checked = <T>(call: Promise<T>): Promise<T> => {
    watch(call)
    return call
  }
  const failing = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call()
    } catch (err) {
      await Promise.allSettled([...firstAnswers])
      throw mismatch ?? err
    }
  }
  return {
    ...api,
    testLogin: () => api.testLogin(),
    getPhotostream: (extras, resume?: PhotostreamResume) => photostream(extras, resume),
    getRecentlyUpdated: (minDateSec, extras) => checked(recentlyUpdated(minDateSec, extras)),
    getPhotostreamPage: (page, perPage, extras) => checked(photostreamPage(page, perPage, extras)),
    getSetList: (expectedSets) => failing(() => api.getSetList(expectedSets)),
    getSetPhotos: (setId, userId, extras) => failing(() => api.getSetPhotos(setId, userId, extras)),
    getCollectionTree: () => failing(() => api.getCollectionTree()),
    getComments: (photoId) => failing(() => api.getComments(photoId)),
    getSizes: (photoId) => failing(() => api.getSizes(photoId)),
  }

  async function photostream(extras: Parameters<CatalogApi['getPhotostream']>[0], resume?: PhotostreamResume): ReturnType<CatalogApi['getPhotostream']> {
    const onPage = resume?.onPage
    let answered!: () => void
    watch(new Promise<void>((resolve) => (answered = resolve)))
    const pages: PhotostreamResume = {
      ...resume,
      onPage: (page, items) => {
        try {
          check(items)
        } finally {
          answered()
        }
        return onPage?.(page, items)
      },
    }
    try {
      const all = await api.getPhotostream(extras, pages)
      check(all)
      return all
    } finally {
      answered()
    }
  }

  async function recentlyUpdated(minDateSec: number, extras: Parameters<CatalogApi['getRecentlyUpdated']>[1]): ReturnType<CatalogApi['getRecentlyUpdated']> {
    const changed = await api.getRecentlyUpdated(minDateSec, extras)
    check(changed)
    return changed
  }

  async function photostreamPage(page: number, perPage: number, extras: Parameters<CatalogApi['getPhotostreamPage']>[2]): ReturnType<CatalogApi['getPhotostreamPage']> {
    const got = await api.getPhotostreamPage(page, perPage, extras)
    check(got.photos)
    return got
  }
}

function otherAccount(owner: CatalogOwner, other: string): FlickrfsError {
  const who = owner.userName === '' ? owner.userId : `${owner.userName} (${owner.userId})`
  return new FlickrfsError('AUTH_FAILED', `${owner.root} holds the Flickr account ${who}, but the token given is another account's ` +
    `(Flickr answered with photos of ${other}). Nothing was changed. Use ${owner.userId}'s token (--env-file, or \`flickrfs login\` as that user), ` +
    'or give the other account a folder of its own.')
}
