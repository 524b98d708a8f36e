import type { CatalogSnapshot, RawRecord } from './types.js'

/**
 * A snapshot plus what the catalog keeps for itself: the `lastupdate` at which each photo's
 * comments were fetched (comments are fetched again only when it moves).
 */
export interface CatalogState {
  snap: CatalogSnapshot
  commentsFetchedAt: ReadonlyMap<string, number>
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
