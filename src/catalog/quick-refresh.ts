/**
 * An incremental refresh that finds nothing to change, decided without loading the catalog: from
 * its head and its small chunks (photostream order, sets, collections), the calls an incremental
 * refresh makes anyway (recentlyUpdated, the page-1 check, getList, the sets that may have moved,
 * getTree), and only the photo buckets that hold a photo recentlyUpdated reported. When that
 * proves the refresh would make the very catalog it starts from (incremental.ts unchangedListing),
 * the head is saved again with its refresh time and listing marks moved on (the same chunks, so
 * the same content); anything else (something to merge, a full listing due, a catalog saved before
 * the head kept its facts) answers undefined, and the caller runs the whole refresh. A catalog held
 * loaded, or served by a lazy view of the very head, gives the lists itself: nothing is read again.
 *
 * At 50,000 photos a loaded catalog is a second of parsing and GC; this reads a few hundred KB.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import createDebug from '../util/debug.js'
import { eachLimit } from '../util/pool.js'
import { HEAD_CHECK_PER_PAGE, knownMembers, lookupOf, marksUnchanged, planFor, reportedAsKnown, unchangedListing, type ListingMarks, type PendingVerdict, type PlanChoices, type UnchangedPrevious } from './incremental.js'
import { contentKey, rowVersions, type CatalogStore, type Head } from './persist.js'
import { bucketGroups } from './lazy-merge.js'
import { ownedApi } from './owner.js'
import { PHOTO_EXTRAS, type CatalogApi } from './ports.js'
import type { ListedPhoto } from './changes.js'
import { dedupeById, listPhotos, safeId, uniqueIds } from './records.js'
import type { RefreshReport } from './refresh.js'
import type { CatalogState } from './state.js'
import type { RawRecord } from './types.js'

const debug = createDebug('flickrfs:catalog')

/** More photos reported than decodeReportedUpTo, and one of them changed: their rows are left to the merge. */
const BULK = Symbol('bulk')
/** More photos reported than decodeReportedUpTo, each as the catalog holds it (weighed group by group, none held). */
const AS_KNOWN = Symbol('as known')

/**
 * The plan's choices (incremental.ts planChoicesOf): items to resolve again (`retrying`: a pin's
 * failed downloads) make it never "unchanged", the photostream listed whole when planFor says so;
 * items failing elsewhere (`failingElsewhere`) leave it "unchanged" unless their listing is due;
 * transcodes retried when the plan says so (cookies given: transcodeTry) make it never "unchanged"
 * while there are any.
 */
export interface QuickRefreshOptions extends PlanChoices {
  /** The catalog's folder, for what a refresh with another account's token says (owner.ts). */
  root: string
  apiConcurrency: number
  /** Told once the calls are asked (nothing is asked when a full listing is due): the caller's own work can start beside them. */
  onAsking?: () => void
  /**
   * The catalog the caller holds loaded, and the head it was loaded from: when that head is still
   * the saved one, its lists and records answer instead of the chunks (read and parsed again they
   * were ~10-15 MB of garbage at 100,000 photos beside the loaded catalog).
   */
  loaded?: { head: Head; state: CatalogState }
  /**
   * The lazy view the caller serves (lazy-view.ts): when it is of the saved head, its lists answer
   * instead of the chunks (at 1,000,000 items the photostream order and 800,000 set members read
   * and parsed again were +190 MB RSS beside the view, which holds them already).
   */
  served?: { listsOf(generation: string): PreviousLists | undefined }
  /**
   * Hold the rows of at most this many reported photos (persist.ts MERGE_GROUP_PHOTOS). More (a
   * bulk edit) are weighed a bucket group of that size at a time (reportedInGroups), each group's
   * rows let go before the next: when one has changed, the merge decodes them again group by
   * group; when none has (the hour of overlap of the run after a bulk edit reports it all again),
   * nothing changed. Held at once, the rows of ~190,000 photos reported at 200,000 items were
   * ~220 MB more heap at the merge's end, on top of the records themselves (bench/RESULTS.md,
   * "Session 45": a pin's peak 808–819 MB against 602–603).
   */
  decodeReportedUpTo?: number
}

/** The lists of the catalog a quick refresh starts from, as unchangedListing reads them. */
export type PreviousLists = Pick<UnchangedPrevious, 'photostream' | 'sets' | 'collections'>

export interface QuickRefreshResult {
  /**
   * Nothing changed: the refresh's report, the content of the catalog (persist.ts contentKey), the
   * same as before, and the listing marks saved with it.
   */
  unchanged?: { report: RefreshReport; contentKey: string; listing: ListingMarks }
  /** Something to merge: what the calls answered, for the whole refresh to take instead of asking again (`answering`). */
  answers?: RecordedAnswers
}

/** The answers of an incremental refresh's calls, asked by refreshIfUnchanged at `startedAtMs`. */
export interface RecordedAnswers {
  startedAtMs: number
  minDateSec: number
  /**
   * The records recentlyUpdated answered; undefined once a merge let go of them (letGoOfReported):
   * a refresh answered from here asks recentlyUpdated again then.
   */
  changed?: unknown[]
  page: { total: number; photos: unknown[] }
  setList: unknown[]
  setPhotos: ReadonlyMap<string, unknown[]>
  tree: unknown[]
  /** The reported photos as the catalog of head `generation` holds them (decoded, or a loaded snapshot): a merge need not decode them again (lazy-merge.ts). */
  reported?: { generation: string; rows: UnchangedPrevious['known'] }
  /**
   * The calls of a merge's search for deleted photos (lazy-merge.ts, incremental.ts
   * locateDeletions), by `searchKey`: a whole refresh after a merge that fell back asks the same
   * and is answered from here.
   */
  searched?: Map<string, Promise<unknown>>
}

/**
 * `answers` without the records recentlyUpdated answered: a merge in groups (lazy-merge.ts
 * finishMerge) lets go of each group's once it is written, and these held them all to its end. A
 * whole refresh after a merge that fell back from there asks recentlyUpdated again (`answering`).
 */
export function letGoOfReported(answers: RecordedAnswers): void {
  delete answers.changed
}

/** The key of a search call in RecordedAnswers.searched. */
function searchKey(call: 'page' | 'sizes', ...args: ReadonlyArray<string | number>): string {
  return `${call}:${args.join(':')}`
}

/** `api`, keeping the answers of the calls a deletion search makes in `answers.searched`. */
export function recordingSearch(api: CatalogApi, answers: RecordedAnswers): CatalogApi {
  const kept = (answers.searched ??= new Map())
  const keep = <T>(key: string, ask: () => Promise<T>): Promise<T> => {
    const answer = ask()
    kept.set(key, answer)
    return answer
  }
  return {
    ...api,
    getPhotostreamPage: (page, perPage, extras) => keep(searchKey('page', page, perPage, extras.join(',')), () => api.getPhotostreamPage(page, perPage, extras)),
    getSizes: (photoId) => keep(searchKey('sizes', photoId), () => api.getSizes(photoId)),
  }
}

/**
 * `api`, answering each call refreshIfUnchanged made with its recorded answer, once, when asked
 * with the same arguments (the refresh that follows plans from the same start, so it asks the
 * same); anything else is asked of `api`. One refresh's calls are then made once, however it went.
 */
export function answering(api: CatalogApi, answers: RecordedAnswers): CatalogApi {
  const used = new Set<string>()
  const take = <T>(key: string, matches: boolean, value: T | undefined, ask: () => Promise<T>): Promise<T> => {
    if (!matches || value === undefined || used.has(key)) return ask()
    used.add(key)
    return Promise.resolve(value)
  }
  // A recorded search call's answer (or failure), once.
  const searched = <T>(key: string, ask: () => Promise<T>): Promise<T> => {
    const kept = answers.searched?.get(key)
    if (kept === undefined || used.has(key)) return ask()
    used.add(key)
    return kept as Promise<T>
  }
  return {
    testLogin: () => api.testLogin(),
    getPhotostream: (extras, resume) => api.getPhotostream(extras, resume),
    getRecentlyUpdated: (minDateSec, extras) =>
      take('changed', minDateSec === answers.minDateSec, answers.changed, () => api.getRecentlyUpdated(minDateSec, extras)),
    getPhotostreamPage: (page, perPage, extras) => (page === 1 && perPage === HEAD_CHECK_PER_PAGE && !used.has('page')
      ? take('page', true, answers.page, () => api.getPhotostreamPage(page, perPage, extras))
      : searched(searchKey('page', page, perPage, extras.join(',')), () => api.getPhotostreamPage(page, perPage, extras))),
    getSetList: (expectedSets) => take('sets', true, answers.setList, () => api.getSetList(expectedSets)),
    getSetPhotos: (setId, userId, extras) =>
      take(`set:${setId}`, extras === undefined, answers.setPhotos.get(setId), () => api.getSetPhotos(setId, userId, extras)),
    getCollectionTree: () => take('tree', true, answers.tree, () => api.getCollectionTree()),
    getComments: (photoId) => api.getComments(photoId),
    getSizes: (photoId) => searched(searchKey('sizes', photoId), () => api.getSizes(photoId)),
  }
}

/**
 * See the top of this file. Undefined when no call was made (a full listing is due, or the head
 * lacks what the check needs). Call under the root lock, with no other refresh of this root running.
 */
export async function refreshIfUnchanged(store: CatalogStore, given: CatalogApi, opts: QuickRefreshOptions, clock: () => number): Promise<QuickRefreshResult | undefined> {
  const head = await store.readHead()
  const facts = head?.facts
  const marks = head?.listing
  if (head === undefined || facts === undefined || marks?.newestSec === undefined || head.userId === '') return undefined
  // Its answers are this account's, or nothing is saved (owner.ts): checked against the head read here.
  const api = ownedApi(given, { root: opts.root, userId: head.userId, userName: head.userName })
  const startedAtMs = clock()
  const plan = planFor({ refreshedAtMs: head.refreshedAtMs, listing: marks, unresolved: () => facts.unresolved }, { ...opts, nowMs: startedAtMs })
  if (plan.mode !== 'changes') return undefined
  // Transcodes retried (cookies given, and due): the refresh resolves each again, so it is never "unchanged".
  const retryTranscodes = plan.transcodes !== undefined
  const retryingTranscodes = retryTranscodes && facts.transcodes.length > 0
  const calls: Record<string, number> = {}
  const counted = <T>(name: string, p: () => Promise<T>): Promise<T> => {
    calls[name] = (calls[name] ?? 0) + 1
    return p()
  }
  const extras = [...PHOTO_EXTRAS]
  const minDateSec = plan.minDateSec
  // The refresh's calls, all at once as it asks them (incremental.ts says why answers apart in time
  // still add up), while the catalog's small chunks are read.
  const held = opts.loaded?.head.generation === head.generation ? opts.loaded.state : undefined
  const atHand = listsAtHand(head, held, opts.served)
  const lists = atHand !== undefined ? Promise.resolve(atHand) : readLists(store, head)
  const rawChanged = counted('getRecentlyUpdated', () => api.getRecentlyUpdated(minDateSec, extras))
  const changed = rawChanged.then((raw) => listPhotos(raw))
  // The buckets of the reported photos as soon as they are known, beside the other calls.
  const upTo = opts.decodeReportedUpTo ?? Infinity
  const known: Promise<UnchangedPrevious['known'] | undefined | typeof BULK | typeof AS_KNOWN> = held !== undefined
    ? Promise.resolve({ ...held.snap, commentsFetchedAt: held.commentsFetchedAt })
    : changed.then(async (photos) => (photos.length > upTo
      ? reportedInGroups(store, head, photos, upTo, retryTranscodes, clock())
      : store.decodeBucketsOf(head, photos.map((p) => p.id))))
  const page = counted('getPhotostreamPage', () => api.getPhotostreamPage(1, HEAD_CHECK_PER_PAGE, extras))
  const tree = counted('getCollectionTree', () => api.getCollectionTree())
  // A catalog loaded or served knows how many sets there were: their pages are asked together from the start.
  const rawSetList = counted('getSetList', () => api.getSetList(atHand?.sets.length))
  opts.onAsking?.()
  const setPhotos = new Map<string, unknown[]>()
  // The verdict but for the members of the sets listed again (incremental.ts unchangedListing),
  // from the lists and every other answer, made while those members are listed.
  const beforeMembers = async (l: PreviousLists, list: RawRecord[]): Promise<PendingVerdict | undefined> => {
    const [c, k, p, t] = await Promise.all([changed, known, page, tree])
    if (k === undefined || k === BULK) return undefined
    await callsWritten()
    // Reported photos weighed group by group already: the verdict's photo part holds.
    const weighed = k === AS_KNOWN
    return unchangedListing({ refreshedAtMs: head.refreshedAtMs, ...l, known: weighed ? noRows() : k }, {
      changed: weighed ? [] : c, head: p, setList: list, tree: t, minDateSec, retryTranscodes,
    }, clock())
  }
  const sets = Promise.all([lists, rawSetList]).then(async ([l, rawList]) => {
    const list = dedupeById(rawList)
    const listed = new Map<string, string[]>()
    if (l === undefined) return { list, listed }
    const before = new Map(l.sets.map((s) => [s.id, s]))
    // The sets the refresh would list (their getList record moved, or moved in the overlap hour).
    const toList: string[] = []
    for (const raw of list) {
      const id = safeId(raw.id) as string
      if (knownMembers(raw, before.get(id), minDateSec) === undefined) toList.push(id)
    }
    // Beyond apiConcurrency a set is asked once an answer is in: the verdict waits until the last
    // is asked, or it would hold back the first answers, and with them those asks.
    let asked = 0
    let everyAsked = (): void => undefined
    const allAsked = new Promise<void>((resolve) => (everyAsked = resolve))
    const listing = eachLimit(toList, opts.apiConcurrency, async (id) => {
      if (++asked === toList.length) everyAsked()
      const raw = await counted('getSetPhotos', () => api.getSetPhotos(id, head.userId))
      setPhotos.set(id, raw)
      listed.set(id, uniqueIds(raw))
    })
    // (None to ask, or a failure that stops the asking: at once.)
    const pending = Promise.race([allAsked, listing.catch(() => undefined)]).then(() => beforeMembers(l, list))
    // Its failure is the answers' own, told by settledAll below: not an unhandled one meanwhile.
    pending.catch(() => undefined)
    await listing
    return { list, listed, pending: await pending }
  })
  const [l, c, decoded, p, t, s, rc, rs] = await settledAll([lists, changed, known, page, tree, sets, rawChanged, rawSetList] as const)
  const rows = decoded === BULK || decoded === AS_KNOWN ? undefined : decoded
  const answers: RecordedAnswers = { startedAtMs, minDateSec, changed: rc, page: p, setList: rs, setPhotos, tree: t, ...(rows !== undefined ? { reported: { generation: head.generation, rows } } : {}) }
  if (decoded === BULK) debug('quick refresh: %d photos reported, weighed in groups of up to %d: one changed, merged group by group', c.length, upTo)
  if (l === undefined || decoded === undefined || decoded === BULK) return { answers }
  debug('quick refresh: answers in, %d photos reported (%d of %d buckets decoded), %d sets listed', c.length, bucketsOf(head, c), head.chunks.photos.length, s.listed.size)
  // Items that failed last time (tried again, and the photostream listed whole for them when planFor
  // says so) and transcodes retried are work to merge: no verdict.
  const retryWork = opts.retrying > 0 || facts.unresolved > 0 || plan.relist !== undefined
  const verdict = !retryWork && !retryingTranscodes ? s.pending?.withMembers(s.listed) : undefined
  const next = marksUnchanged(marks, startedAtMs, plan)
  if (verdict === undefined || next === undefined) {
    debug('quick refresh: something to merge (%d reported, %d sets listed); refreshing whole', c.length, s.listed.size)
    return { answers }
  }
  const refreshedAtMs = clock()
  const saved = await store.saveUnchanged(head, { refreshedAtMs, listing: next }, refreshedAtMs)
  if (saved === undefined) return { answers }
  debug('quick refresh: nothing changed; head saved again as %s', saved.generation)
  const none = (total: number): RefreshReport['photos'] => ({ total, added: 0, changed: 0, deleted: 0 })
  const report: RefreshReport = {
    userId: head.userId,
    changed: false,
    startedAtMs,
    finishedAtMs: refreshedAtMs,
    photos: none(verdict.photos),
    sets: none(verdict.sets),
    collections: none(verdict.collections),
    photostreamOrderChanged: false,
    commentsFetched: 0,
    listing: { mode: 'changes', changesReported: c.length, setsListed: s.listed.size },
    media: { resolved: 0, reused: verdict.photos, transcodes: facts.transcodes, unavailable: [] },
    clientCalls: calls,
    generation: saved.generation,
  }
  return { unchanged: { report, contentKey: contentKey(saved), listing: next } }
}

/**
 * More reported photos than a merge group holds, weighed against their rows a bucket group at a time
 * (lazy-merge.ts bucketGroups: each bucket decoded once), each group's rows let go before the next:
 * AS_KNOWN when every one is as the catalog holds it (incremental.ts reportedAsKnown), BULK at the
 * first group where one is not, undefined when a chunk is gone.
 */
async function reportedInGroups(
  store: CatalogStore, head: Head, photos: readonly ListedPhoto[], perGroup: number, retryTranscodes: boolean, nowMs: number,
): Promise<typeof AS_KNOWN | typeof BULK | undefined> {
  // Each group weighed in a function of its own: no register of this loop's frame holds its rows
  // while the next group's are decoded (src/util/README.md, handover.ts).
  const weigh = async (group: readonly ListedPhoto[]): Promise<boolean | undefined> => {
    const rows = await store.decodeBucketsOf(head, group.map((p) => p.id))
    return rows === undefined ? undefined : reportedAsKnown(rows, group, retryTranscodes, head.refreshedAtMs, nowMs)
  }
  for (const group of bucketGroups(head, photos, new Set(), perGroup)) {
    const known = await weigh(group.changed)
    if (known === undefined) return undefined
    if (!known) return BULK
  }
  return AS_KNOWN
}

/** No photo's rows: for a verdict whose photos were weighed already (reportedInGroups). */
function noRows(): UnchangedPrevious['known'] {
  return { photos: new Map(), comments: new Map(), media: new Map(), commentsFetchedAt: new Map() }
}

/**
 * The lists of `head` without a read: the loaded catalog's or the served view's when they are of
 * it. Undefined: read them (readLists).
 */
function listsAtHand(head: Head, held: CatalogState | undefined, served: QuickRefreshOptions['served']): PreviousLists | undefined {
  if (held !== undefined) return { photostream: lookupOf(held.snap.photostream), sets: held.snap.sets, collections: held.snap.collections }
  const viewed = served?.listsOf(head.generation)
  if (viewed !== undefined) debug('quick refresh: the lists of %s from the view served', head.generation)
  return viewed
}

/** The lists of `head` read from its chunks. Undefined when a chunk is gone. */
function readLists(store: CatalogStore, head: Head): Promise<PreviousLists | undefined> {
  return store.readLists(head).then((l) => (l === undefined ? undefined : { ...l, photostream: lookupOf(l.photostream) }))
}

/** How many photo buckets of `head` hold one of `photos` (for the log). */
function bucketsOf(head: Head, photos: ReadonlyArray<{ id: string }>): number {
  const bucket = rowVersions(head)
  return new Set(photos.map((p) => bucket(p.id))).size
}

/**
 * Two turns of the event loop: the calls just asked are written by then, a new connection's in
 * the poll phase between (the work that follows would otherwise hold them back).
 */
async function callsWritten(): Promise<void> {
  for (let i = 0; i < 2; i++) await nextTurn()
}

/** Like Promise.all, but only once every task has settled (no call left running), then the first failure. */
async function settledAll<T extends readonly unknown[]>(tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(tasks)
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}
