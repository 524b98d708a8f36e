/**
 * One refresh: list everything, fetch what is new, and build the next catalog state entirely in
 * memory. Nothing here writes; the Catalog persists the result in one step or keeps the old one.
 *
 * API calls: photostream pages + set list pages + each set's pages + the collection tree, always;
 * test.login only when the user is not known yet; comments only for photos with comments whose
 * `lastupdate` moved since their comments were fetched; getSizes only for videos whose original is
 * not resolved yet. Media requests: one HEAD per original not resolved yet (keyed by id+secret).
 */
import createDebug from 'debug'
import { asRecord, toInt } from '../flickr/lenient.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { eachLimit } from '../util/pool.js'
import { sameJson } from './same-json.js'
import { PHOTO_EXTRAS, type CatalogApi, type CatalogMedia } from './ports.js'
import { collectionFromRaw, photoFields, safeId, setFromRaw, uniqueIds } from './records.js'
import { isUnavailable, OriginalUnavailable, resolveMedia } from './resolve-media.js'
import type { CatalogState } from './state.js'
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, RawRecord, SetEntry } from './types.js'
import { mediaKey } from './types.js'
import { errorMessage } from '../util/abort.js'

const debug = createDebug('flickrfs:catalog')

export type RefreshPhase = 'login' | 'listing' | 'details' | 'saving' | 'done'

export interface RefreshProgress {
  phase: RefreshPhase
  /** Photos in the photostream listing (0 until it is in). */
  photos: number
  sets: number
  /** Sets whose members are listed so far. */
  setsListed: number
  commentsToFetch: number
  commentsFetched: number
  mediaToResolve: number
  mediaResolved: number
}

/** A MediaEntry as soon as it is known in a refresh: the reused ones first, then each as resolved. */
export interface MediaEvent {
  photo: PhotoEntry
  media: MediaEntry
  /** true when resolved in this refresh, false when known from before. */
  resolved: boolean
}

export interface RefreshOptions {
  /** `cookie_accid=…; cookie_epass=…`: lets video originals through where Flickr wants a web session. */
  cookies?: string
  /** Resolve videos again that are only known as a transcode (implied by `cookies`). */
  retryTranscodes?: boolean
  onProgress?: (progress: RefreshProgress) => void
  /** Called for every original as soon as its size is known, while comments are still being fetched. */
  onMedia?: (event: MediaEvent) => void
  /** Set-listing, comment and getSizes requests queued at once; the client limits what is in flight (default 8). */
  apiConcurrency?: number
  /** HEAD requests in flight at once (default 16: each is tiny, latency dominates). */
  mediaConcurrency?: number
}

export interface RefreshReport {
  userId: string
  /** Anything besides `refreshedAtMs` differs from the previous catalog. */
  changed: boolean
  startedAtMs: number
  finishedAtMs: number
  photos: { total: number; added: number; changed: number; deleted: number }
  sets: { total: number; added: number; changed: number; deleted: number }
  collections: { total: number; added: number; changed: number; deleted: number }
  photostreamOrderChanged: boolean
  /** Photos whose comments were fetched in this refresh. */
  commentsFetched: number
  media: {
    resolved: number
    reused: number
    /** Videos stored as a transcode because the original was refused. */
    transcodes: Array<{ id: string; label: string }>
    /** Originals the media host refused or did not size; retried on the next refresh. */
    unavailable: Array<{ id: string; message: string }>
  }
  /** Calls made through the client, by client method (pages are not visible at this level). */
  clientCalls: Record<string, number>
  /** Identifies what was saved (empty when nothing was saved). */
  generation: string
}

interface Stopper {
  stopped: boolean
}

export async function buildRefreshedState(
  old: CatalogState,
  api: CatalogApi,
  media: CatalogMedia,
  opts: RefreshOptions,
  clock: () => number,
): Promise<{ state: CatalogState; report: RefreshReport }> {
  const startedAtMs = clock()
  const calls: Record<string, number> = {}
  const stop: Stopper = { stopped: false }
  const client = countingApi(api, calls, stop)
  const apiConcurrency = opts.apiConcurrency ?? 8
  const mediaConcurrency = opts.mediaConcurrency ?? 16
  const progress: RefreshProgress = {
    phase: 'login', photos: 0, sets: 0, setsListed: 0, commentsToFetch: 0, commentsFetched: 0, mediaToResolve: 0, mediaResolved: 0,
  }
  const tell = (): void => opts.onProgress?.({ ...progress })

  let userId = old.snap.userId
  let userName = old.snap.userName
  if (userId === '') {
    tell()
    const me = await client.testLogin()
    userId = me.id
    userName = me.username
  }
  progress.phase = 'listing'
  tell()

  // Details (comments, media) start as soon as the photostream is in, while sets are still listed.
  const photosTask = client.getPhotostream([...PHOTO_EXTRAS]).then(async (rawPhotos) => {
    const photos = listPhotos(rawPhotos)
    progress.photos = photos.length
    progress.phase = 'details'
    tell()
    const details = await fetchDetails(photos, old, client, media, opts, progress, tell, stop, apiConcurrency, mediaConcurrency)
    return { photos, ...details }
  })
  const setsTask = client.getSetList().then(async (rawSets) => {
    const list = dedupeById(rawSets)
    progress.sets = list.length
    const members = new Map<string, string[]>()
    await eachLimit(list, apiConcurrency, async (raw) => {
      const id = safeId(raw.id) as string
      members.set(id, isKnownEmpty(raw) ? [] : uniqueIds(await client.getSetPhotos(id, userId)))
      progress.setsListed++
    })
    return { list, members }
  })
  const treeTask = client.getCollectionTree()

  const [listed, setListing, tree] = await allOrStop([photosTask, setsTask, treeTask] as const, stop)

  const nowMs = clock()
  const prev = old.snap

  // Photos, with changedAtMs kept wherever the content (record, comments, media) is the same.
  const photos = new Map<string, PhotoEntry>()
  const comments = new Map<string, readonly RawRecord[]>()
  const mediaMap = new Map<string, MediaEntry>()
  const photoCounts = { total: 0, added: 0, changed: 0, deleted: 0 }
  for (const base of listed.photos) {
    const id = base.id
    const photoComments = listed.comments.get(id)
    const entry = listed.media.get(id)
    const before = prev.photos.get(id)
    if (before === undefined) {
      photoCounts.added++
      photos.set(id, { ...base, changedAtMs: nowMs, changedAtMsIgnoringViews: nowMs })
      if (photoComments !== undefined && photoComments.length > 0) comments.set(id, photoComments)
      if (entry !== undefined) mediaMap.set(mediaKey(id, entry.secret), entry)
      continue
    }
    const beforeComments = prev.comments.get(id)
    const beforeMedia = prev.media.get(mediaKey(id, before.secret))
    if (sameContent(photoContent(base.raw, photoComments, entry, false), photoContent(before.raw, beforeComments, beforeMedia, false))) {
      // Unchanged: keep the previous objects, so readers and the next save can tell by identity.
      photos.set(id, before)
      if (beforeComments !== undefined) comments.set(id, beforeComments)
      if (beforeMedia !== undefined) mediaMap.set(mediaKey(id, before.secret), beforeMedia)
      continue
    }
    photoCounts.changed++
    const sameButViews = sameContent(photoContent(base.raw, photoComments, entry, true), photoContent(before.raw, beforeComments, beforeMedia, true))
    const changedAtMsIgnoringViews = sameButViews ? (before.changedAtMsIgnoringViews ?? before.changedAtMs) : nowMs
    photos.set(id, { ...base, changedAtMs: nowMs, changedAtMsIgnoringViews })
    if (photoComments !== undefined && photoComments.length > 0) comments.set(id, photoComments)
    if (entry !== undefined) mediaMap.set(mediaKey(id, entry.secret), entry)
  }
  photoCounts.total = photos.size
  for (const id of prev.photos.keys()) if (!photos.has(id)) photoCounts.deleted++
  const photostream = listed.photos.map((p) => p.id)
  const photostreamOrderChanged = !sameList(photostream, prev.photostream)

  // Sets: members limited to photos of this listing (an upload between the two listings would
  // otherwise point at a photo the catalog does not have).
  const prevSets = new Map(prev.sets.map((s) => [s.id, s]))
  const sets: SetEntry[] = []
  const setCounts = { total: 0, added: 0, changed: 0, deleted: 0 }
  for (const raw of setListing.list) {
    const id = safeId(raw.id) as string
    const memberIds = (setListing.members.get(id) ?? []).filter((m) => photos.has(m))
    const before = prevSets.get(id)
    const same = before !== undefined && sameContent(setContent(raw, memberIds), setContent(before.raw, before.photoIds))
    const entry = same ? before : setFromRaw(raw, memberIds, nowMs)
    if (entry === null) continue
    sets.push(entry)
    if (before === undefined) setCounts.added++
    else if (!same) setCounts.changed++
  }
  setCounts.total = sets.length
  const setIds = new Set(sets.map((s) => s.id))
  for (const s of prev.sets) if (!setIds.has(s.id)) setCounts.deleted++

  // Collections: a node's content is its own record and the ids of its sets and children.
  const prevCollections = flattenCollections(prev.collections)
  const collectionCounts = { total: 0, added: 0, changed: 0, deleted: 0 }
  const seen = new Set<string>()
  const collections: CollectionEntry[] = []
  for (const node of tree) {
    const entry = collectionFromRaw(
      node,
      (c) => {
        collectionCounts.total++
        const before = prevCollections.get(c.id)
        if (before === undefined) {
          collectionCounts.added++
          return nowMs
        }
        if (sameContent(collectionContent(c), collectionContent(before))) return before.changedAtMs
        collectionCounts.changed++
        return nowMs
      },
      seen,
    )
    if (entry !== null) collections.push(entry)
  }
  for (const id of prevCollections.keys()) if (!seen.has(id)) collectionCounts.deleted++

  const snap: CatalogSnapshot = {
    userId,
    userName,
    photostream,
    photos,
    comments,
    media: mediaMap,
    sets,
    collections,
    photostreamChangedAtMs: photostreamOrderChanged || prev.refreshedAtMs === 0 ? nowMs : prev.photostreamChangedAtMs,
    refreshedAtMs: clock(),
  }
  const commentsFetchedAt = new Map<string, number>()
  for (const [id, at] of listed.fetchedAt) if (photos.has(id)) commentsFetchedAt.set(id, at)

  const changed =
    userId !== prev.userId ||
    photoCounts.added + photoCounts.changed + photoCounts.deleted > 0 ||
    setCounts.added + setCounts.changed + setCounts.deleted > 0 ||
    collectionCounts.added + collectionCounts.changed + collectionCounts.deleted > 0 ||
    photostreamOrderChanged ||
    !sameList(sets.map((s) => s.id), prev.sets.map((s) => s.id)) ||
    !sameList(collections.map((c) => c.id), prev.collections.map((c) => c.id))

  const report: RefreshReport = {
    userId,
    changed,
    startedAtMs,
    finishedAtMs: snap.refreshedAtMs,
    photos: photoCounts,
    sets: setCounts,
    collections: collectionCounts,
    photostreamOrderChanged,
    commentsFetched: listed.commentsFetched,
    media: { resolved: listed.resolved, reused: listed.reused, transcodes: listed.transcodes, unavailable: listed.unavailable },
    clientCalls: calls,
    generation: '',
  }
  return { state: { snap, commentsFetchedAt }, report }
}

interface Details {
  comments: Map<string, RawRecord[]>
  fetchedAt: Map<string, number>
  media: Map<string, MediaEntry>
  commentsFetched: number
  resolved: number
  reused: number
  transcodes: Array<{ id: string; label: string }>
  unavailable: Array<{ id: string; message: string }>
}

async function fetchDetails(
  photos: Omit<PhotoEntry, 'changedAtMs'>[],
  old: CatalogState,
  api: CatalogApi,
  media: CatalogMedia,
  opts: RefreshOptions,
  progress: RefreshProgress,
  tell: () => void,
  stop: Stopper,
  apiConcurrency: number,
  mediaConcurrency: number,
): Promise<Details> {
  const out: Details = {
    comments: new Map(), fetchedAt: new Map(), media: new Map(), commentsFetched: 0, resolved: 0, reused: 0, transcodes: [], unavailable: [],
  }
  const retryTranscodes = opts.retryTranscodes === true || opts.cookies !== undefined
  const needComments: typeof photos = []
  const needMedia: typeof photos = []
  for (const p of photos) {
    if (p.countComments > 0) {
      const fetchedAt = old.commentsFetchedAt.get(p.id)
      if (fetchedAt === p.lastUpdate) {
        const known = old.snap.comments.get(p.id)
        if (known !== undefined) out.comments.set(p.id, known as RawRecord[])
        out.fetchedAt.set(p.id, fetchedAt)
      } else {
        needComments.push(p)
      }
    }
    const known = old.snap.media.get(mediaKey(p.id, p.secret))
    if (known !== undefined && !(retryTranscodes && known.kind === 'transcode')) {
      out.media.set(p.id, known)
      out.reused++
      if (known.kind === 'transcode') out.transcodes.push({ id: p.id, label: known.label ?? '' })
      opts.onMedia?.({ photo: { ...p, changedAtMs: 0 }, media: known, resolved: false })
    } else {
      needMedia.push(p)
    }
  }
  progress.commentsToFetch = needComments.length
  progress.mediaToResolve = needMedia.length
  tell()
  debug('details: %d comment lists, %d originals to resolve', needComments.length, needMedia.length)

  const commentsTask = eachLimit(needComments, apiConcurrency, async (p) => {
    const list = (await api.getComments(p.id)).map(asRecord)
    out.comments.set(p.id, list)
    out.fetchedAt.set(p.id, p.lastUpdate)
    out.commentsFetched++
    progress.commentsFetched++
    tell()
  })
  const mediaTask = eachLimit(needMedia, mediaConcurrency, async (p) => {
    if (stop.stopped) throw stopped()
    try {
      const entry = await resolveMedia({ ...p, changedAtMs: 0 }, api, media, opts.cookies)
      out.media.set(p.id, entry)
      out.resolved++
      if (entry.kind === 'transcode') out.transcodes.push({ id: p.id, label: entry.label ?? '' })
      opts.onMedia?.({ photo: { ...p, changedAtMs: 0 }, media: entry, resolved: true })
    } catch (err) {
      if (!(err instanceof OriginalUnavailable) && !isUnavailable(err)) throw err
      out.unavailable.push({ id: p.id, message: errorMessage(err) })
      debug('original of %s unavailable: %s', p.id, errorMessage(err))
    }
    progress.mediaResolved++
    tell()
  })
  await allOrStop([commentsTask, mediaTask] as const, stop)
  return out
}

function listPhotos(rawPhotos: unknown[]): Omit<PhotoEntry, 'changedAtMs'>[] {
  const out: Omit<PhotoEntry, 'changedAtMs'>[] = []
  const seen = new Set<string>()
  for (const item of rawPhotos) {
    const raw = asRecord(item)
    const id = safeId(raw.id)
    if (id === null || seen.has(id)) continue
    seen.add(id)
    const { changedAtMs: _ignored, ...fields } = photoFields(raw, id, 0)
    out.push(fields)
  }
  return out
}

function dedupeById(items: unknown[]): RawRecord[] {
  const seen = new Set<string>()
  const out: RawRecord[] = []
  for (const item of items) {
    const raw = asRecord(item)
    const id = safeId(raw.id)
    if (id === null || seen.has(id)) continue
    seen.add(id)
    out.push(raw)
  }
  return out
}

/** getList says the set holds nothing: both counts present and zero (`photos` alone omits videos). */
function isKnownEmpty(raw: RawRecord): boolean {
  const photos = toInt(raw.count_photos ?? raw.photos, -1)
  const videos = toInt(raw.count_videos ?? raw.videos, -1)
  return photos === 0 && videos === 0
}

function photoContent(raw: RawRecord, comments: readonly RawRecord[] | undefined, media: MediaEntry | undefined, ignoreViews: boolean): unknown {
  let record = raw
  if (ignoreViews) {
    const { views: _views, ...rest } = raw
    record = rest
  }
  return { r: record, m: comments !== undefined && comments.length > 0 ? comments : null, e: media ?? null }
}

function setContent(raw: RawRecord, photoIds: readonly string[]): unknown {
  return { r: raw, p: photoIds }
}

function collectionContent(c: Pick<CollectionEntry, 'raw' | 'setIds' | 'children'>): unknown {
  return { r: c.raw, s: c.setIds, c: c.children.map((child) => child.id) }
}

/** Same JSON content, whatever the key order. */
function sameContent(a: unknown, b: unknown): boolean {
  return sameJson(a, b)
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function flattenCollections(list: readonly CollectionEntry[], into = new Map<string, CollectionEntry>()): Map<string, CollectionEntry> {
  for (const c of list) {
    into.set(c.id, c)
    flattenCollections(c.children, into)
  }
  return into
}

function stopped(): FlickrfsError {
  return new FlickrfsError('INTERNAL', 'refresh stopped after another part of it failed')
}

/** Like Promise.all, but waits for every task to settle (no work left running) and stops the rest early. */
async function allOrStop<T extends readonly unknown[]>(tasks: { [K in keyof T]: Promise<T[K]> }, stop: Stopper): Promise<T> {
  let first: { err: unknown } | undefined
  const settled = await Promise.allSettled(
    tasks.map((t) =>
      t.catch((err: unknown) => {
        if (first === undefined && !(err instanceof FlickrfsError && err.code === 'INTERNAL' && stop.stopped)) first = { err }
        stop.stopped = true
        throw err
      }),
    ),
  )
  if (first !== undefined) throw first.err
  const rejected = settled.find((s) => s.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/** Counts calls per method and refuses new ones once the refresh is known to fail. */
function countingApi(api: CatalogApi, calls: Record<string, number>, stop: Stopper): CatalogApi {
  const wrap = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (stop.stopped) throw stopped()
      calls[name] = (calls[name] ?? 0) + 1
      return fn(...args)
    }
  return {
    testLogin: wrap('testLogin', () => api.testLogin()),
    getPhotostream: wrap('getPhotostream', (extras: string[]) => api.getPhotostream(extras)),
    getSetList: wrap('getSetList', () => api.getSetList()),
    getSetPhotos: wrap('getSetPhotos', (setId: string, userId: string, extras?: string[]) => api.getSetPhotos(setId, userId, extras)),
    getCollectionTree: wrap('getCollectionTree', () => api.getCollectionTree()),
    getComments: wrap('getComments', (photoId: string) => api.getComments(photoId)),
    getSizes: wrap('getSizes', (photoId: string) => api.getSizes(photoId)),
  }
}
