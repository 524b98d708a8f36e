/**
 * The live mount: a cache root's catalog and store behind the FUSE layer. Listings and stat come
 * from the layout built from the in-memory catalog (never the network); originals are read through
 * the store, which downloads on first read. Refreshes run in the background and swap the tree whole.
 */
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import createDebug from '../util/debug.js'
import { Catalog, acquireRootLock, catalogDamage, catalogPath, emptySnapshot, setAsideCatalog, setAsideDamagedCatalog, type CatalogApi, type CatalogOpenOptions, type CatalogMedia, type CatalogSnapshot, type CatalogView, type MediaEvent, type RefreshProgress, type RefreshReport, type RootLock } from '../catalog/index.js'
import { FirstCatalog, type PartialView } from './first-catalog.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { checkMountpoint, mountFlickrfs, type MountHandle } from '../fs/index.js'
import { buildLayout, buildLayoutInSteps, type LayoutInSteps, PHOTO_METADATA_FORMAT, PHOTOSTREAM_DIR, photoSidecarSizer, SHA256SUMS_FILE, type Layout, type OriginalHashes } from '../layout/index.js'
import { evictAfterDownload, OriginalStore, type MediaSource } from '../store/index.js'
import { errorMessage, resolvesWithin } from '../util/abort.js'
import { confineState } from '../util/confine.js'
import { exists } from '../util/fs.js'
import { isEnoent } from '../util/fs-errors.js'
import { collectGarbageNow, FIRST_SYNC_OLD_GROWTH_PERCENT, growOldGenerationByWhile } from '../util/old-generation.js'
import { unwritableReason } from '../util/read-only.js'
import { STATE_REL, stateDir } from '../util/state-paths.js'
import { Semaphore } from '../util/semaphore.js'
import { LoadingStore } from './loading-store.js'

const log = createDebug('flickrfs:mount')

/**
 * A mount of a saved catalog of at least this many photos reads it lazily (catalog.ts `LazyOpen`):
 * it holds only the listing's columns (914 MB against 2,097 for a whole load at 1,000,000 items
 * with `ls`, listed in 21 s against 92), but a sidecar's first read reads the bucket of up to
 * 128 records its photo is in and parses its row: ~1.1 ms (~10 ms in a catalog whose 2,000-photo
 * buckets an older flickrfs made), where a whole load answers at once. So a reader of every
 * sidecar (a backup through the mount) is slower: `cat` of every sidecar took 247 s lazily against
 * 33 s at 100,000 items before only the row was parsed, and 4.95× the default mount's time at
 * 20,000 items since (bench/RESULTS.md, sessions 13, 23 and 24; bench/mount-sidecars.ts --lazy).
 * Online, a refresh that finds nothing to change keeps it so; one with a small change merges it
 * into the stored catalog (catalog/lazy-merge.ts), and anything else loads the whole catalog for
 * its duration and lets it go after its save. Below this a whole load stays under ~1 GB (~2 KB a
 * photo). FLICKRFS_LAZY_CATALOG_FROM sets it (cli/mount.ts). Schema 3's rows
 * (catalog README) would make a record ~0.1 ms, lazily.
 */
export const LAZY_CATALOG_FROM_PHOTOS = 400_000

/** A first catalog's HEADs in flight at once (the refresh's default). */
const FIRST_CATALOG_HEADS = 16

export interface LiveMountOptions {
  mountpoint: string
  root: string
  /**
   * Absent: offline, nothing touches the network. `jobMedia` serves the downloads while a job
   * (`exclusive`: a handed-off pin) runs: a read must fail fast, a pin should retry.
   */
  remote?: { api: CatalogApi; media: CatalogMedia & MediaSource; jobMedia?: CatalogMedia & MediaSource }
  cacheMaxBytes?: number
  /** Seconds the kernel trusts sizes, times and names (default 60, src/fs/mount.ts). */
  attrTimeoutSec?: number
  refreshEveryMs?: number
  /** Refreshes list the whole account when the last full listing is this old, else only what changed (absent or 0: always full). */
  fullListingEveryMs?: number
  allowOther?: boolean
  cookies?: string
  /**
   * The photos whose download failed in the last pin of this root (pin/pin-state.ts, which this
   * layer does not import): each refresh counts them as failing for the photostream's listing
   * for fresh records (catalog/incremental.ts `failingElsewhere`; the pin retries them itself).
   * Without them the mount's refresh saw nothing failing and dropped the backoff of that listing,
   * so the next pin handed to it listed the whole photostream again. Counted only: a refresh
   * that retried them would never be one that finds nothing changed.
   */
  failedDownloads?: () => Promise<ReadonlySet<string>>
  ignoreViews?: boolean
  /** Read a saved catalog of at least this many photos lazily (default LAZY_CATALOG_FROM_PHOTOS). */
  lazyCatalogFromPhotos?: number
  onLine?: (line: string) => void
  /**
   * The first catalog says how far it has come on `onLine`: at each phase and at most this often
   * in between (default 15 s), so `mount --background` can tell a slow start from a stuck one.
   */
  progressEveryMs?: number
  /** How often, at most, a first catalog still coming in is shown anew (default 1 s). */
  partialEveryMs?: number
  /** How often, at most, it is shown anew when only comments came in (default 5 s). */
  partialCommentsEveryMs?: number
  /** How long after a failed first catalog it is tried again (default 30 s). */
  firstRetryMs?: number
  /**
   * How long close() waits for a refresh in flight (default 3 s). Against an unreachable Flickr a
   * refresh retries for minutes; the mount is already gone, so waiting would only hold the lock.
   */
  closeGraceMs?: number
  /**
   * The store is opened (its index read) only once this resolves: a test's stand-in for an index
   * that takes long to read, the mount being up meanwhile (loading-store.ts).
   */
  storeOpensAfter?: Promise<void>
}

export interface LiveMount {
  readonly handle: MountHandle
  readonly layout: () => Layout
  /** True while the first catalog of a fresh root is still coming in (the tree fills in as it does). */
  filling(): boolean
  /** How far that first catalog has come (what a pin handed over meanwhile waits for); undefined when none is being fetched. */
  firstCatalogProgress(): RefreshProgress | undefined
  refresh(): Promise<RefreshReport | undefined>
  /**
   * Runs `job` as the root's one writer besides the reads (a pin handed over by `flickrfs pin`):
   * after the refresh in flight, with timer and asked refreshes skipped meanwhile (the job
   * refreshes itself), everything downloaded meanwhile recorded pinned and nothing evicted. A second
   * job is refused (LOCKED). A catalog change the job makes is served at once.
   */
  exclusive<T>(what: string, job: (root: MountedRoot) => Promise<T>, meanwhile?: (filling: FillingRoot) => Promise<void>): Promise<T>
  /**
   * Stops the timer, closes the store and catalog and releases the root lock. Resolves with
   * `abandoned: true` when a refresh was still running after the grace period: the catalog was
   * then left open (closing it would wait for the refresh) and the caller should exit the process;
   * the catalog's saves are atomic, so an interrupted refresh leaves the last catalog intact.
   */
  close(): Promise<{ abandoned: boolean }>
}

/**
 * What an exclusive job may do while it waits for the first catalog (`meanwhile`): read the tree
 * shown so far and download into the store (recorded pinned: the job is running) until `signal`
 * says the catalog is in, or the mount stops.
 */
export interface FillingRoot {
  /** The cache root (DEST, for a handed pin). */
  root: string
  store: OriginalStore
  layout: () => Layout
  signal: AbortSignal
  /** What the first catalog sizes its originals with (a HEAD each) when no job sizes them. */
  media: CatalogMedia
  /**
   * From now until the first catalog is in, its originals are sized by `sizer` instead of a HEAD
   * each: a job that downloads them anyway answers from its GET (cli/handed-pin.ts), so an original
   * costs one request, not a HEAD and then a GET. An original still shows once its size is known.
   */
  sizeWith(sizer: FirstCatalogSizer): void
}

/**
 * Sizes a first catalog's originals for a job that runs meanwhile (FillingRoot.sizeWith): the
 * refresh's CatalogMedia, told each entry the refresh makes of an original (`made`), whoever sized it.
 */
export interface FirstCatalogSizer extends CatalogMedia {
  made(ev: MediaEvent): void
  /** How many originals it sizes at once (the catalog's 16 HEADs are raised to that many). */
  concurrency: number
}

/** What an exclusive job works on: the mount's own catalog and store, under the lock the mount holds. */
export interface MountedRoot {
  root: string
  catalog: Catalog
  store: OriginalStore
  /** Absent when the mount is --offline. */
  remote?: { api: CatalogApi; media: CatalogMedia & MediaSource }
}

/** Fails every media request at once: offline means no network, and a read then answers EIO fast. */
export const offlineMedia: CatalogMedia & MediaSource = {
  head: () => Promise.reject(new FlickrfsError('NETWORK', 'offline: this original is not in the cache')),
  get: () => Promise.reject(new FlickrfsError('NETWORK', 'offline: this original is not in the cache')),
}

export async function startLiveMount(opts: LiveMountOptions): Promise<LiveMount> {
  const root = resolve(opts.root)
  const say = opts.onLine ?? ((line: string) => log(line))
  // A bad mountpoint is refused before the lock and the first catalog fetch (minutes for a big
  // account); mountFlickrfs checks again, and clears a stale mount, when it mounts.
  await checkMountpoint(opts.mountpoint)
  // A cache this process cannot write (a pinned DEST on a disk mounted read-only) is served as it
  // is, offline: nothing is created, downloaded or recorded, and no lock is taken (nobody can
  // write there, so there is no writer to keep out).
  const unwritable = await unwritableReason(stateDir(root))
  if (unwritable !== undefined && opts.remote) {
    throw new FlickrfsError('DEST', `The cache ${root} is read-only (${unwritable}): add --offline to serve what it holds, or choose a writable --cache.`)
  }
  const readOnly = unwritable !== undefined
  if (!readOnly) {
    // A link or a file planted where the cache writes is refused now, in one line, not at each read.
    const confined = await confineState(root)
    await confined.isDir('photostream')
    await confined.isDir(STATE_REL.tmp)
  }
  // One writer per cache root: the mount downloads and refreshes into it, so a pin of the same
  // folder must wait for it (and the other way round).
  const lock: RootLock | undefined = readOnly ? undefined : await acquireRootLock(root, `mount at ${resolve(opts.mountpoint)}`)
  let catalog: Catalog | undefined
  let store: LoadingStore | undefined
  try {
    // Only a mount that writes the catalog (online) checks it whole and sets a damaged one aside
    // (openChecked). An offline mount opens it read-only and fails on damage in what it reads, in
    // one line, leaving the file for a writer (pin, an online mount) to set aside.
    // A writable catalog saves each sidecar's lengths as the layout measures them.
    const openOptions = await catalogOpenOptions(root, opts, readOnly)
    catalog = !readOnly && opts.remote !== undefined ? await openChecked(root, openOptions, say) : await Catalog.open(root, openOptions)
    const job: JobState = { running: undefined }
    // The mount comes up while the store's index loads (~6 s at 1,000,000 originals): a listing
    // needs only the catalog; what needs the store waits for it (loading-store.ts).
    const opening = opts.storeOpensAfter === undefined ? openStore(root, opts, readOnly, job) : opts.storeOpensAfter.then(() => openStore(root, opts, readOnly, job))
    store = new LoadingStore(opening, opts.cacheMaxBytes)
    // A fresh root mounts before its first catalog is in: a token Flickr refuses must fail the
    // mount now, not leave an empty folder behind. The refresh reuses the answer.
    const identity = needsFirstCatalog(catalog, root, opts) ? await opts.remote?.api.testLogin() : undefined
    const tree = new LiveTree(catalog, store.hashes, opts.ignoreViews)
    // Said before the mount appears: `mount --background` returns once it does.
    if (identity) say('Fetching the catalog for the first time; the tree fills in as it comes.')
    const handle = await mountFlickrfs({
      mountpoint: opts.mountpoint,
      tree: { current: () => tree.layout },
      originals: store,
      allowOther: opts.allowOther,
      // Offline, nothing changes the tree while it is served (no refresh, no pin, no download):
      // open and release need no hand-off to this thread.
      fileHandles: opts.remote !== undefined,
      // Offline, every original served is a local file: read it on this thread (no thread-pool
      // round trip per 128 KiB), at the price described in src/fs/README.md.
      syncLocalReads: opts.remote === undefined,
      // SHA256SUMS is made from the store's index: never from half of it.
      waitFor: { ready: store.ready, paths: new Set([`/${PHOTOSTREAM_DIR}/${SHA256SUMS_FILE}`]) },
      ...(opts.attrTimeoutSec !== undefined ? { attrTimeoutSec: opts.attrTimeoutSec } : {}),
    })
    store.ready.then(() => log('store open'), (err: unknown) => {
      say(`The store of originals could not be opened (${errorMessage(err)}): reads of originals and photostream/SHA256SUMS fail (EIO) until the mount is started again.`)
    })
    tree.finishBuilding()
    const served = new ServedMount({ opts, say, lock, catalog, store, tree, handle, root, job })
    if (identity) served.fillFirstCatalog(identity)
    return served
  } catch (err) {
    await store?.close().catch(() => undefined)
    await catalog?.close().catch(() => undefined)
    await lock?.release()
    throw err
  }
}

/**
 * The catalog of an online mount, checked whole first (catalogDamage: every row read, ~1.1 GB and
 * 1-2 s at 1,000,000 items), a damaged one set aside and a new one begun; nothing is shown before
 * the check passes. The check runs on sqlite's thread while the catalog opens (its lazy open is ~2 s,
 * mostly on this thread): the open was waiting for it, the ~1-1.5 s an online mount took longer
 * to come up than an offline one (bench/RESULTS.md "mountfast"). A damaged file's open is closed or
 * its failure dropped, for the verdict's. An empty file is set aside before the open, which would
 * make it a catalog of nothing (the check could then find it sound), and a root with no catalog
 * file is not checked.
 */
async function openChecked(root: string, options: CatalogOpenOptions, say: (line: string) => void): Promise<Catalog> {
  const size = await stat(catalogPath(root)).then((st) => st.size, (err: unknown) => (isEnoent(err) ? undefined : 0))
  // No file: nothing to check (and a check beside the open could find the file it starts empty).
  if (size === undefined) return Catalog.open(root, options)
  if (size === 0) {
    // Or another failure to stat: the check says it, before anything is opened, as it always did.
    const setAside = await setAsideDamagedCatalog(root, 'mount')
    if (setAside !== undefined) say(setAside)
    return Catalog.open(root, options)
  }
  const [damage, opened] = await Promise.all([
    catalogDamage(root).then((found) => ({ found }), (err: unknown) => ({ err })),
    Catalog.open(root, options).then((catalog) => ({ catalog }), (err: unknown) => ({ err })),
  ])
  if ('err' in damage || damage.found !== undefined) await ('catalog' in opened ? opened.catalog.close() : undefined)
  if ('err' in damage) throw damage.err
  if (damage.found === undefined) {
    if ('err' in opened) throw opened.err
    return opened.catalog
  }
  say(await setAsideCatalog(root, damage.found, 'mount'))
  return Catalog.open(root, options)
}

/**
 * Online, a writable catalog that saves its sidecar sizes. Offline nothing writes the catalog, so a
 * saved one is opened read-only. Either way a saved one, when big, is read lazily
 * (LAZY_CATALOG_FROM_PHOTOS); a root with no catalog opens as before, for needsFirstCatalog to say what to do.
 */
async function catalogOpenOptions(root: string, opts: LiveMountOptions, readOnly: boolean): Promise<CatalogOpenOptions> {
  const lazy = { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: opts.lazyCatalogFromPhotos ?? LAZY_CATALOG_FROM_PHOTOS }
  if (opts.remote === undefined && (readOnly || (await exists(catalogPath(root))))) return { readOnly: true, lazy }
  return readOnly ? { readOnly } : { sidecarSizer: photoSidecarSizer, lazy }
}

/** The exclusive job running, if any: the store pins what arrives meanwhile and fetches with jobMedia. */
interface JobState {
  running: { what: string; done: Promise<unknown> } | undefined
}

function openStore(root: string, opts: LiveMountOptions, readOnly: boolean, job: JobState): Promise<OriginalStore> {
  const media = opts.remote?.media ?? offlineMedia
  const jobMedia = opts.remote?.jobMedia ?? media
  const source: MediaSource = { get: (url, o) => (job.running ? jobMedia : media).get(url, o) }
  return OriginalStore.open(root, source, {
    readOnly,
    // While a pin runs, what it downloads is pinned as it is recorded, as in a pin of its own.
    pins: () => job.running !== undefined,
    maxBytes: opts.cacheMaxBytes,
    afterDownload: opts.cacheMaxBytes !== undefined ? evictAfterDownload : undefined,
    cookies: opts.cookies,
    readAhead: opts.remote !== undefined,
  })
}

/**
 * Whether a root was never refreshed. Offline, such a root is refused (there is nothing to show);
 * online, the mount comes up at once and its first catalog fills the tree in (ServedMount).
 */
function needsFirstCatalog(catalog: Catalog, root: string, opts: LiveMountOptions): boolean {
  if (catalog.view().refreshedAtMs !== 0) return false
  if (!opts.remote) {
    throw new FlickrfsError('CATALOG', `${root} holds no catalog yet, and --offline forbids fetching one. Run once without --offline, or pin into it first.`)
  }
  return true
}

/**
 * `/N` of the first catalog's sizes line: the originals to size once the listing is whole, the
 * photos listed before (originals are sized page by page meanwhile, so "80/0" said nothing true).
 */
function sizesOutOf(p: RefreshProgress): string {
  const total = p.mediaToResolve > 0 ? p.mediaToResolve : p.photos
  return total > 0 ? `/${total}` : ''
}

/** A line at each phase of the first catalog and at least every `everyMs` in between. */
export function firstCatalogProgress(say: (line: string) => void, everyMs: number): (p: RefreshProgress) => void {
  let lastPhase = ''
  let lastAt = 0
  return (p) => {
    const now = Date.now()
    if (p.phase === lastPhase && now - lastAt < everyMs) return
    lastPhase = p.phase
    lastAt = now
    say(`first catalog: ${p.phase}; ${p.photos} items listed, ${p.setsListed}/${p.sets} sets, ` +
      `sizes ${p.mediaResolved}${sizesOutOf(p)}, comments ${p.commentsFetched}/${p.commentsToFetch}`)
  }
}

/** Originals the refresh could not have or size: left out of the tree, each with its reason. */
function sayLeftOut(r: RefreshReport, say: (line: string) => void): void {
  const out = r.media.unavailable
  if (out.length === 0) return
  say(`Left out ${out.length} item${out.length === 1 ? '' : 's'} whose original cannot be had now (tried again at the next refresh):`)
  for (const u of out.slice(0, 20)) say(`  ${u.id}: ${u.message}`)
  if (out.length > 20) say(`  … and ${out.length - 20} more`)
}

/**
 * A refresh of the catalog a mount serves, lazy or loaded. It is first asked whether anything changed
 * from its head and the incremental calls (Catalog.refreshIfUnchanged: no whole refresh, which at
 * 100,000 photos built a second snapshot beside the first, ~40 MB and 2-3 s of CPU); a small change
 * to a lazy catalog is then merged into the stored catalog from those answers, still without loading
 * it (catalog/lazy-merge.ts, inside Catalog.refresh when `answered` is given to a lazy catalog); only
 * what the merge does not take (a full listing due, a deletion, thousands of photos reported) runs
 * whole, loading a lazy catalog whole and letting it go after its save.
 */
async function refreshServed(catalog: Catalog, remote: NonNullable<LiveMountOptions['remote']>, opts: LiveMountOptions): Promise<RefreshReport> {
  const failed = (await opts.failedDownloads?.())?.size ?? 0
  const asked = { cookies: opts.cookies, fullListingEveryMs: opts.fullListingEveryMs, ...(failed > 0 ? { failingElsewhere: failed } : {}) }
  const quick = await catalog.refreshIfUnchanged(remote.api, asked)
  if (quick?.unchanged !== undefined) return quick.unchanged.report
  // Its HEADs through the background client, as the first catalog's.
  return catalog.refresh(remote.api, remote.jobMedia ?? remote.media, { ...asked, letGo: true, ...(quick?.answers !== undefined ? { answered: quick.answers } : {}) })
}

/** The layout the mount serves, rebuilt whole each time the catalog changes. */
class LiveTree {
  layout: Layout
  /** From the catalog's view by default; the first catalog's partial and whole snapshots are handed in. */
  readonly #build: (source?: CatalogView | CatalogSnapshot, partial?: boolean) => Layout

  constructor(catalog: Catalog, hashes: OriginalHashes, ignoreViews: boolean | undefined) {
    // photostream/SHA256SUMS asks the store again whenever its generation moves, so a download is
    // listed there once it is recorded, without a rebuild.
    this.#build = (source = catalog.view(), partial = false) => buildLayout(source, { ignoreViews, hashes, partial })
    // A fresh root's empty tree is a first catalog with nothing in yet: no Not in any set/ either.
    const view = catalog.view()
    // photostream/ is served as soon as it is built; the set folders, Not in any set/ and the
    // collections are built meanwhile, between the ops (~0.4 s at 1,000,000 items), and the ops
    // on them wait for it (build-layout.ts buildLayoutInSteps). Any later build is whole at once.
    const steps = buildLayoutInSteps(view, { ignoreViews, hashes, partial: view.refreshedAtMs === 0 })
    this.layout = steps.layout
    this.#steps = steps
    catalog.on('change', (snap) => {
      this.#complete = true
      const whole = this.#whole
      this.#whole = undefined
      if (snap === whole && !catalog.servesLazily) {
        // Built from this very snapshot before it was saved (showWhole): nothing to build again.
        log('tree already shows the saved catalog: %d photos', this.layout.stats.photos)
        return
      }
      // Anything else, and a first catalog saved and let go (a big one, now served lazily): the
      // tree built over its snapshot would keep every record alive.
      if (whole !== undefined && catalog.servesLazily) {
        // And they go before the tree over the view is built, not under it: the catalog tells this
        // once its refresh holds the snapshot no more, so with this tree let go it is garbage.
        this.layout = this.#build(emptySnapshot(), true)
        collectGarbageNow()
      }
      this.layout = this.#build()
      log('tree rebuilt: %d photos', this.layout.stats.photos)
    })
  }

  #complete = false
  /** The first layout, built in steps: its rest is built once the mount is up (finishBuilding). */
  #steps: LayoutInSteps | undefined

  /**
   * Builds the rest of the first layout (its set folders, Not in any set/, collections), between
   * the mount's ops: once the mount is up, so that its start and the first ops on photostream/
   * (which come with it) do not wait for the slices.
   */
  finishBuilding(): void {
    const steps = this.#steps
    this.#steps = undefined
    steps?.finish(undefined, () => this.layout === steps.layout).then(
      () => log('tree built whole: %d photos, %d sets', steps.layout.stats.photos, steps.layout.stats.sets),
      (err: unknown) => log('the tree could not be built whole: %O', err),
    )
  }

  /** The first catalog, whole, as shown before its save (showWhole). */
  #whole: CatalogSnapshot | undefined

  /** Shows a first catalog still coming in; never once the complete catalog is in. */
  showPartial({ view, allSets }: PartialView): void {
    if (this.#complete) return
    this.layout = this.#build(view, !allSets)
  }

  /**
   * Shows the first catalog whole as soon as it is assembled, before its save: the partial views
   * (and their copies of every photo) are let go instead of held through the save, and the save's
   * 'change' then finds the tree built.
   */
  showWhole(snap: CatalogSnapshot): void {
    if (this.#complete) return
    this.#whole = snap
    this.layout = this.#build(snap, false)
  }
}

interface ServedParts {
  opts: LiveMountOptions
  say: (line: string) => void
  /** Absent on a read-only cache: nobody can write there, so there is no writer to keep out. */
  lock: RootLock | undefined
  catalog: Catalog
  /** Open once its index is read: what needs it waits (loading-store.ts). */
  store: LoadingStore
  tree: LiveTree
  handle: MountHandle
  root: string
  job: JobState
}

/** A mounted root: refreshes on a timer (one at a time) and closes everything in order. */
class ServedMount implements LiveMount {
  readonly handle: MountHandle
  readonly #parts: ServedParts
  readonly #timer: NodeJS.Timeout | undefined
  #running: Promise<RefreshReport | undefined> | undefined
  #closed = false
  #firstProgress: RefreshProgress | undefined
  /** Sizes the first catalog's originals while a job downloads meanwhile (FillingRoot.sizeWith); else its HEADs do. */
  #firstSizer: FirstCatalogSizer | undefined
  /** How many of them it sizes at once: the refresh's 16 HEADs, raised for that job. */
  #firstSizings: Semaphore | undefined

  constructor(parts: ServedParts) {
    this.#parts = parts
    this.handle = parts.handle
    const { remote, refreshEveryMs } = parts.opts
    this.#timer = remote && refreshEveryMs ? setInterval(() => void this.refresh(), refreshEveryMs) : undefined
    this.#timer?.unref()
  }

  readonly layout = (): Layout => this.#parts.tree.layout

  filling(): boolean {
    return this.#parts.catalog.view().refreshedAtMs === 0
  }

  firstCatalogProgress(): RefreshProgress | undefined {
    return this.#firstProgress
  }

  refresh(): Promise<RefreshReport | undefined> {
    const { opts, catalog, job } = this.#parts
    if (!opts.remote) return Promise.resolve(undefined)
    if (job.running) {
      log('refresh skipped: a %s runs and refreshes the catalog itself', job.running.what)
      return Promise.resolve(undefined)
    }
    this.#running ??= refreshServed(catalog, opts.remote, opts)
      .then(
        (r) => this.#refreshed(r),
        (err: unknown) => {
          // Unreachable is not deleted: the tree stays as it was.
          this.#parts.say(`Refresh failed, still serving the last catalog: ${errorMessage(err)}`)
          return undefined
        },
      )
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  /**
   * The first catalog of a fresh root, in the background: the tree shows each photo as soon as it
   * is listed and sized, each set once all its members are listed, collections and Not in any set
   * once every set is, and comments as they come, last (FirstCatalog); whole once the catalog is
   * complete. A failed
   * first catalog is tried again after a pause, keeping what is shown.
   */
  fillFirstCatalog(identity: { id: string; username: string }): void {
    const { opts, catalog, tree, say } = this.#parts
    const remote = opts.remote
    if (!remote || this.#closed) return
    const partial = new FirstCatalog()
    const logProgress = firstCatalogProgress(say, opts.progressEveryMs ?? 15_000)
    const growBackOldGeneration = growOldGenerationByWhile(FIRST_SYNC_OLD_GROWTH_PERCENT)
    const stopShowing = partial.showEvery((view) => tree.showPartial(view), opts.partialEveryMs ?? 1000, opts.partialCommentsEveryMs)
    // A HEAD each, but where a job that runs meanwhile sizes them (a handed pin: by its downloads).
    // Through the background client (default retries, waits out an outage), not the reads' own.
    const media: CatalogMedia = { head: (url, o) => (this.#firstSizer ?? remote.jobMedia ?? remote.media).head(url, o) }
    const sizings = (this.#firstSizings = new Semaphore(FIRST_CATALOG_HEADS))
    this.#running = catalog
      .refresh(remote.api, media, {
        cookies: opts.cookies,
        identity,
        mediaSlots: sizings,
        onProgress: (p) => {
          this.#firstProgress = p
          logProgress(p)
        },
        onMedia: (ev) => {
          partial.add(ev)
          this.#firstSizer?.made(ev)
        },
        onListed: (ev) => partial.listed(ev),
        // Every part is in: the views stop (the last one stays shown until the whole catalog is)
        // and what they were made from goes before the assembly, not after it: at 100,000 items
        // the live heap there is 179 MB instead of 191 (bench/RESULTS.md "sync-view").
        onListingsDone: () => {
          stopShowing()
          partial.release()
          // And the listing's garbage goes before the assembly and the whole tree's build, which
          // then fill the room it leaves: at 100,000 items they made the sync's peak once the save
          // no longer did (bench/RESULTS.md "sync-290").
          collectGarbageNow()
        },
        onAssembled: (snap) => tree.showWhole(snap),
        // A catalog big enough to be read lazily is served so once saved, as after a restart: the
        // mount does not keep the sync's snapshot for its lifetime (at 300,000 items read lazily,
        // 260 MB of RSS 10 s after the sync instead of 594, with the compaction below;
        // bench/RESULTS.md "Session 35").
        letGo: true,
      })
      .then(
        (r) => {
          // The sync's garbage (its listing, the partial views' trees, the save's pieces) goes now,
          // before anyone lists the tree: the first `ls` of photostream/ then fits in what it frees
          // (bench/RESULTS.md "sync-290"). Compacted once the catalog is served lazily: what the
          // mount keeps from now on is then a fraction of what the sync held, and the pages that
          // held the rest go back to the system. Not a catalog kept loaded: compaction copies every
          // survivor before it gives a page back, and there that is the whole catalog (at 100,000
          // items +95 MB on the sync's peak before its records were spooled, ~30 MB since, for ~15 MB
          // less RSS after it; bench/RESULTS.md "Session 38").
          collectGarbageNow({ compact: catalog.servesLazily })
          const { shown, ms } = partial.stats
          say(`first catalog complete: ${r.photos.total} items, ${r.sets.total} sets, ${r.collections.total} collections ` +
            `(shown ${shown} time${shown === 1 ? '' : 's'} as it came in, ${Math.round(ms)} ms of building)`)
          sayLeftOut(r, say)
          return r
        },
        (err: unknown) => {
          const againMs = opts.firstRetryMs ?? 30_000
          say(`The first catalog failed (${errorMessage(err)}); showing the ${partial.size} items known so far and trying again in ${Math.round(againMs / 1000)} s.`)
          const retry = setTimeout(() => {
            if (this.#closed || this.#running !== undefined || this.#parts.job.running !== undefined || !this.filling()) return
            say('Fetching the first catalog again.')
            this.fillFirstCatalog(identity)
          }, againMs)
          retry.unref()
          return undefined
        },
      )
      .finally(() => {
        stopShowing()
        growBackOldGeneration()
        this.#firstProgress = undefined
        this.#firstSizings = undefined
        this.#running = undefined
      })
  }

  #refreshed(r: RefreshReport): RefreshReport {
    // A quiet refresh says nothing: a mount that lives for weeks should not fill its log.
    if (r.changed) this.#parts.say(`Refreshed: ${r.photos.total} items (${r.photos.added} new, ${r.photos.changed} changed, ${r.photos.deleted} deleted)`)
    if (r.changed) sayLeftOut(r, this.#parts.say)
    return r
  }

  async exclusive<T>(what: string, run: (root: MountedRoot) => Promise<T>, meanwhile?: (filling: FillingRoot) => Promise<void>): Promise<T> {
    const { job, opts, catalog, store, root, tree } = this.#parts
    if (this.#closed) throw new FlickrfsError('LOCKED', `The mount of ${root} is stopping; run the ${what} again once it has stopped.`)
    if (job.running) throw new FlickrfsError('LOCKED', `A ${job.running.what} is already running in the mount of ${root}; wait for it to finish.`)
    let done!: () => void
    job.running = { what, done: new Promise<void>((res) => (done = res)) }
    try {
      const inFlight = this.#running?.catch(() => undefined)
      if (inFlight !== undefined && meanwhile !== undefined && this.filling()) {
        const caughtUp = new AbortController()
        // Whatever goes wrong there is the side job's loss, not the job's: it waits for the catalog all the same.
        const media = opts.remote?.media ?? offlineMedia
        const side = store.opened()
          .then((s) => meanwhile({
            root, store: s, layout: () => tree.layout, signal: caughtUp.signal, media,
            sizeWith: (sizer) => {
              if (caughtUp.signal.aborted) return
              this.#firstSizer = sizer
              // Each of its sizings is a download in flight until its answer, as in a pin of its own (pin-run.ts).
              this.#firstSizings?.raiseTo(sizer.concurrency)
            },
          }))
          .catch((err: unknown) => log('what the %s did while the first catalog came in failed: %O', what, err))
        try {
          await inFlight
        } finally {
          this.#firstSizer = undefined
          caughtUp.abort()
        }
        await side
      } else await inFlight
      const opened = await store.opened()
      const remote = opts.remote ? { api: opts.remote.api, media: opts.remote.jobMedia ?? opts.remote.media } : undefined
      return await run({ root, catalog, store: opened, ...(remote ? { remote } : {}) })
    } finally {
      job.running = undefined
      done()
    }
  }

  async close(): Promise<{ abandoned: boolean }> {
    if (this.#closed) return { abandoned: false }
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    const { store, catalog, lock, say, job } = this.#parts
    const jobSettled = await this.#within(job.running?.done)
    if (!jobSettled) {
      // Closing the store and the catalog under a running pin would fail it half-way; the process
      // ends instead, like a kill, which a pin survives (the next one resumes). The lock stays and
      // is taken over as the lock of a process that is gone.
      say(`Stopped while a ${job.running?.what ?? 'job'} was running; it ends here and the next one resumes.`)
      return { abandoned: true }
    }
    const settled = await this.#refreshSettled()
    await store.close()
    if (settled) await catalog.close()
    else say('Stopped while a refresh was still running; the last saved catalog stays.')
    await lock?.release()
    return { abandoned: !settled }
  }

  /** True once no refresh is running; false when one outlives the close grace period. */
  #refreshSettled(): Promise<boolean> {
    return this.#within(this.#running)
  }

  /** True once `running` has settled (at once when there is none); false when it outlives the close grace period. */
  #within(running: Promise<unknown> | undefined): Promise<boolean> {
    return running === undefined ? Promise.resolve(true) : resolvesWithin(running, this.#parts.opts.closeGraceMs ?? 3_000)
  }
}
