/**
 * A generated account as a catalog state, as a refresh would leave it (every photo with its
 * original, 5% commented, 2% videos): what the catalog benches save and load.
 */
import { PHOTO_EXTRAS } from '../src/catalog/index.js'
import { collectionFromRaw, photoFields, setFromRaw } from '../src/catalog/records.js'
import type { CatalogState } from '../src/catalog/state.js'
import { emptySnapshot } from '../src/catalog/state.js'
import { mediaKey, type MediaEntry, type PhotoEntry, type RawRecord } from '../src/catalog/types.js'
import { generateAccount, type FakeAccount } from '../src/fake-flickr/index.js'
import { collectionNode, commentRecord, listPhoto, setRecord } from '../src/fake-flickr/records.js'
import type { CollectionEntry } from '../src/catalog/types.js'

const ORIGIN = 'http://127.0.0.1:1'

export function stateOf(items: number, sets: number): CatalogState {
  const videos = Math.round(items * 0.02)
  const account = generateAccount({ seed: 42, photos: items - videos, videos, sets, collections: 0, commentedFraction: 0.05 })
  const ctx = { account, extras: new Set(PHOTO_EXTRAS), origin: ORIGIN }
  const now = Date.now()
  const photos = new Map<string, PhotoEntry>()
  const media = new Map<string, MediaEntry>()
  const comments = new Map<string, readonly RawRecord[]>()
  for (const id of account.photostream) {
    const p = account.requirePhoto(id)
    const entry = photoFields(listPhoto(p, ctx), id, now)
    photos.set(id, entry)
    const ext = p.media === 'video' ? (p.videoFormat ?? 'mp4') : entry.format
    media.set(mediaKey(id, entry.secret), { id, secret: entry.secret, size: p.bytes, ext, url: `${ORIGIN}/o/${id}.${ext}`, kind: 'original' })
    if (p.comments.length > 0) comments.set(id, p.comments.map((c) => commentRecord(account, p, c, ORIGIN)))
  }
  const setEntries = account.sets.flatMap((s) => setFromRaw(setRecord(account, s), [...s.photoIds], now) ?? [])
  const snap = { ...emptySnapshot(), userId: account.user.id, userName: account.user.username, photostream: [...account.photostream], photos, media, comments, sets: setEntries, photostreamChangedAtMs: now, refreshedAtMs: now }
  return { snap, commentsFetchedAt: new Map([...comments.keys()].map((id) => [id, photos.get(id)?.lastUpdate ?? 0])) }
}

/**
 * `account` as the catalog a first sync from the fake Flickr serving it at `origin` leaves, as far
 * as an incremental refresh reads it: the same records, sets and collection tree, every original
 * known, and listing marks of a full listing at `nowMs` (so the next refresh is incremental, and
 * finds nothing changed until the account changes). Not byte for byte a first sync's (change
 * times, the originals' URLs), which no incremental refresh compares.
 */
export function syncedStateOf(account: FakeAccount, origin: string, nowMs: number): CatalogState {
  const ctx = { account, extras: new Set(PHOTO_EXTRAS), origin }
  const photos = new Map<string, PhotoEntry>()
  const media = new Map<string, MediaEntry>()
  const comments = new Map<string, readonly RawRecord[]>()
  let newest = 0
  for (const id of account.photostream) {
    const p = account.requirePhoto(id)
    const entry = photoFields(JSON.parse(JSON.stringify(listPhoto(p, ctx))) as RawRecord, id, nowMs)
    photos.set(id, entry)
    newest = Math.max(newest, entry.lastUpdate)
    const ext = p.media === 'video' ? (p.videoFormat ?? 'mp4') : entry.format
    media.set(mediaKey(id, entry.secret), { id, secret: entry.secret, size: p.bytes, ext, url: entry.urlO ?? `${origin}/o/${id}.${ext}`, kind: 'original' })
    if (p.comments.length > 0) comments.set(id, p.comments.map((c) => JSON.parse(JSON.stringify(commentRecord(account, p, c, origin))) as RawRecord))
  }
  const setEntries = account.sets.flatMap((s) => setFromRaw(JSON.parse(JSON.stringify(setRecord(account, s))) as RawRecord, [...s.photoIds], nowMs) ?? [])
  const collections = account.collections.flatMap<CollectionEntry>((c) => collectionFromRaw(JSON.parse(JSON.stringify(collectionNode(account, c))), () => nowMs) ?? [])
  const snap = { ...emptySnapshot(), userId: account.user.id, userName: account.user.username, photostream: [...account.photostream], photos, media, comments, sets: setEntries, collections, photostreamChangedAtMs: nowMs, refreshedAtMs: nowMs }
  const startedSec = Math.floor(nowMs / 1000)
  return {
    snap,
    commentsFetchedAt: new Map([...comments.keys()].map((id) => [id, photos.get(id)?.lastUpdate ?? 0])),
    listing: { fullListingAtMs: nowMs, changesSinceSec: newest > 0 ? Math.min(startedSec, newest) : startedSec, newestSec: newest },
  }
}

/** Items that failed: `ids` held with no original on record in `state` (syncedStateOf's, changed in place). */
export function dropOriginals(state: CatalogState, ids: readonly string[]): void {
  const media = state.snap.media as Map<string, MediaEntry>
  for (const id of ids) {
    const entry = state.snap.photos.get(id)
    if (entry !== undefined) media.delete(mediaKey(id, entry.secret))
  }
}
