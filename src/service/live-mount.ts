/**
 * The live mount: a cache root's catalog and store behind the FUSE layer. Listings and stat come
 * from the layout built from the in-memory catalog (never the network); originals are read through
 * the store, which downloads on first read. Refreshes run in the background and swap the tree whole.
 */
import { resolve } from 'node:path'
import createDebug from 'debug'
import { Catalog, acquireRootLock, setAsideDamagedCatalog, type CatalogApi, type CatalogMedia, type RefreshReport, type RootLock } from '../catalog/index.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { checkMountpoint, mountFlickrfs, type MountHandle } from '../fs/index.js'
import { buildLayout, type Layout } from '../layout/index.js'
import { evictAfterDownload, OriginalStore, type MediaSource } from '../store/index.js'
import { errorMessage } from '../util/abort.js'
import { confineState } from '../util/confine.js'
import { unwritableReason } from '../util/read-only.js'
import { STATE_REL, stateDir } from '../util/state-paths.js'

const log = createDebug('flickrfs:mount')

export interface LiveMountOptions {
  mountpoint: string
  root: string
  /** Absent: offline, nothing touches the network. */
  remote?: { api: CatalogApi; media: CatalogMedia & MediaSource }
  cacheMaxBytes?: number
  refreshEveryMs?: number
  /** Refreshes list the whole account when the last full listing is this old, else only what changed (absent or 0: always full). */
  fullListingEveryMs?: number
  allowOther?: boolean
  cookies?: string
  ignoreViews?: boolean
  onLine?: (line: string) => void
  /**
   * The first catalog says how far it has come on `onLine`: at each phase and at most this often
   * in between (default 15 s), so `mount --background` can tell a slow start from a stuck one.
   */
  progressEveryMs?: number
  /**
   * How long close() waits for a refresh in flight (default 3 s). Against an unreachable Flickr a
   * refresh retries for minutes; the mount is already gone, so waiting would only hold the lock.
   */
  closeGraceMs?: number
}

export interface LiveMount {
  readonly handle: MountHandle
  readonly layout: () => Layout
  refresh(): Promise<RefreshReport | undefined>
  /**
   * Stops the timer, closes the store and catalog and releases the root lock. Resolves with
   * `abandoned: true` when a refresh was still running after the grace period: the catalog was
   * then left open (closing it would wait for the refresh) and the caller should exit the process;
   * the catalog's saves are atomic, so an interrupted refresh leaves the last catalog intact.
   */
  close(): Promise<{ abandoned: boolean }>
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
  let store: OriginalStore | undefined
  try {
    if (!readOnly) {
      const setAside = await setAsideDamagedCatalog(root)
      if (setAside !== undefined) say(setAside)
    }
    catalog = await Catalog.open(root, { readOnly })
    store = await openStore(root, opts, readOnly)
    await ensureCatalog(catalog, root, opts, say)
    const tree = new LiveTree(catalog, store, opts.ignoreViews)
    const handle = await mountFlickrfs({
      mountpoint: opts.mountpoint,
      tree: { current: () => tree.layout },
      originals: store,
      allowOther: opts.allowOther,
    })
    return new ServedMount({ opts, say, lock, catalog, store, tree, handle })
  } catch (err) {
    await store?.close().catch(() => undefined)
    await catalog?.close().catch(() => undefined)
    await lock?.release()
    throw err
  }
}

function openStore(root: string, opts: LiveMountOptions, readOnly: boolean): Promise<OriginalStore> {
  return OriginalStore.open(root, opts.remote?.media ?? offlineMedia, {
    readOnly,
    maxBytes: opts.cacheMaxBytes,
    afterDownload: opts.cacheMaxBytes !== undefined ? evictAfterDownload : undefined,
    cookies: opts.cookies,
  })
}

/** A root that was never refreshed gets its first catalog now, or is refused when offline. */
async function ensureCatalog(catalog: Catalog, root: string, opts: LiveMountOptions, say: (line: string) => void): Promise<void> {
  if (catalog.snapshot().refreshedAtMs !== 0) return
  if (!opts.remote) {
    throw new FlickrfsError('CATALOG', `${root} holds no catalog yet, and --offline forbids fetching one. Run once without --offline, or pin into it first.`)
  }
  say('Fetching the catalog for the first time…')
  // A line at each phase and at least every progressEveryMs: `mount --background` waits while lines come.
  const every = opts.progressEveryMs ?? 15_000
  let lastPhase = ''
  let lastAt = 0
  const first = await catalog.refresh(opts.remote.api, opts.remote.media, {
    cookies: opts.cookies,
    onProgress: (p) => {
      const now = Date.now()
      if (p.phase === lastPhase && now - lastAt < every) return
      lastPhase = p.phase
      lastAt = now
      say(`first catalog: ${p.phase}; ${p.photos} items listed, ${p.setsListed}/${p.sets} sets, ` +
        `sizes ${p.mediaResolved}/${p.mediaToResolve}, comments ${p.commentsFetched}/${p.commentsToFetch}`)
    },
  })
  sayLeftOut(first, say)
}

/** Originals the refresh could not have or size: left out of the tree, each with its reason. */
function sayLeftOut(r: RefreshReport, say: (line: string) => void): void {
  const out = r.media.unavailable
  if (out.length === 0) return
  say(`Left out ${out.length} item${out.length === 1 ? '' : 's'} whose original cannot be had now (tried again at the next refresh):`)
  for (const u of out.slice(0, 20)) say(`  ${u.id}: ${u.message}`)
  if (out.length > 20) say(`  … and ${out.length - 20} more`)
}

/** The layout the mount serves, rebuilt whole each time the catalog changes. */
class LiveTree {
  layout: Layout
  readonly #build: () => Layout

  constructor(catalog: Catalog, store: OriginalStore, ignoreViews: boolean | undefined) {
    // Sidecars ask the store at each read, so a download shows its sha256 without a rebuild.
    const hashes = {
      hashOf: (id: string, secret: string) => store.knownHash(id, secret),
      finishing: (id: string, secret: string) => store.finishing(id, secret),
    }
    this.#build = () => buildLayout(catalog.snapshot(), { ignoreViews, hashes })
    this.layout = this.#build()
    catalog.on('change', () => {
      this.layout = this.#build()
      log('tree rebuilt: %d photos', this.layout.stats.photos)
    })
  }
}

interface ServedParts {
  opts: LiveMountOptions
  say: (line: string) => void
  /** Absent on a read-only cache: nobody can write there, so there is no writer to keep out. */
  lock: RootLock | undefined
  catalog: Catalog
  store: OriginalStore
  tree: LiveTree
  handle: MountHandle
}

/** A mounted root: refreshes on a timer (one at a time) and closes everything in order. */
class ServedMount implements LiveMount {
  readonly handle: MountHandle
  readonly #parts: ServedParts
  readonly #timer: NodeJS.Timeout | undefined
  #running: Promise<RefreshReport | undefined> | undefined
  #closed = false

  constructor(parts: ServedParts) {
    this.#parts = parts
    this.handle = parts.handle
    const { remote, refreshEveryMs } = parts.opts
    this.#timer = remote && refreshEveryMs ? setInterval(() => void this.refresh(), refreshEveryMs) : undefined
    this.#timer?.unref()
  }

  readonly layout = (): Layout => this.#parts.tree.layout

  refresh(): Promise<RefreshReport | undefined> {
    const { opts, catalog } = this.#parts
    if (!opts.remote) return Promise.resolve(undefined)
    this.#running ??= catalog
      .refresh(opts.remote.api, opts.remote.media, { cookies: opts.cookies, fullListingEveryMs: opts.fullListingEveryMs })
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

  #refreshed(r: RefreshReport): RefreshReport {
    // A quiet refresh says nothing: a mount that lives for weeks should not fill its log.
    if (r.changed) this.#parts.say(`Refreshed: ${r.photos.total} items (${r.photos.added} new, ${r.photos.changed} changed, ${r.photos.deleted} deleted)`)
    if (r.changed) sayLeftOut(r, this.#parts.say)
    return r
  }

  async close(): Promise<{ abandoned: boolean }> {
    if (this.#closed) return { abandoned: false }
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    const settled = await this.#refreshSettled()
    const { store, catalog, lock, say } = this.#parts
    await store.close()
    if (settled) await catalog.close()
    else say('Stopped while a refresh was still running; the last saved catalog stays.')
    await lock?.release()
    return { abandoned: !settled }
  }

  /** True once no refresh is running; false when one outlives the close grace period. */
  async #refreshSettled(): Promise<boolean> {
    const running = this.#running
    if (running === undefined) return true
    let grace: NodeJS.Timeout | undefined
    const settled = await Promise.race([
      running.then(() => true),
      new Promise<boolean>((res) => (grace = setTimeout(() => res(false), this.#parts.opts.closeGraceMs ?? 3_000))),
    ])
    clearTimeout(grace)
    return settled
  }
}
