import type { ListingMarks } from './incremental.js'
import type { CatalogSnapshot, RawRecord } from './types.js'

/**
 * A snapshot plus what the catalog keeps for itself: the `lastupdate` at which each photo's
 * comments were fetched (comments are fetched again only when it moves).
 */
export interface CatalogState {
  snap: CatalogSnapshot
  commentsFetchedAt: ReadonlyMap<string, number>
  /** When the last full listing ran, and since when changes are known (absent: the next listing is full). */
  listing?: ListingMarks
}

export function emptySnapshot(): CatalogSnapshot {
  return {
    userId: '',
    userName: '',
    photostream: [],
    photos: new Map(),
    comments: new Map<string, readonly RawRecord[]>(),
    media: new Map(),
    sets: [],
    collections: [],
    photostreamChangedAtMs: 0,
    refreshedAtMs: 0,
  }
}

export function emptyState(): CatalogState {
  return { snap: emptySnapshot(), commentsFetchedAt: new Map() }
}
