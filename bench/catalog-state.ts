/**
 * A generated account as a catalog state, as a refresh would leave it (every photo with its
 * original, 5% commented, 2% videos): what the catalog benches save and load.
 */
import { PHOTO_EXTRAS } from '../src/catalog/index.js'
import { photoFields, setFromRaw } from '../src/catalog/records.js'
import type { CatalogState } from '../src/catalog/state.js'
import { emptySnapshot } from '../src/catalog/state.js'
import { mediaKey, type MediaEntry, type PhotoEntry, type RawRecord } from '../src/catalog/types.js'
import { generateAccount } from '../src/fake-flickr/index.js'
import { commentRecord, listPhoto, setRecord } from '../src/fake-flickr/records.js'

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
