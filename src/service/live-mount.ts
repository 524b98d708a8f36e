/**
 * The live mount: a cache root's catalog and store behind the FUSE layer. Listings and stat come
 * from the layout built from the in-memory catalog (never the network); originals are read through
 * the store, which downloads on first read. Refreshes run in the background and swap the tree whole.
 */
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import createDebug from 'debug'
import { Catalog, acquireRootLock, type CatalogApi, type CatalogMedia, type RefreshReport, type RootLock } from '../catalog/index.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { checkMountpoint, mountFlickrfs, type MountHandle } from '../fs/index.js'
import { buildLayout, type Layout } from '../layout/index.js'
import { evictAfterDownload, OriginalStore, type MediaSource } from '../store/index.js'
import { errorMessage } from '../util/abort.js'
import { stateDir } from '../util/state-paths.js'

const log = createDebug('flickrfs:mount')

export interface LiveMountOptions {
  mountpoint: string
  root: string
  /** Absent: offline, nothing touches the network. */
  remote?: { api: CatalogApi; media: CatalogMedia & MediaSource }
  cacheMaxBytes?: number
  refreshEveryMs?: number
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
  await mkdir(stateDir(root), { recursive: true })
  // One writer per cache root: the mount downloads and refreshes into it, so a pin of the same
  // folder must wait for it (and the other way round).
  const lock: RootLock = await acquireRootLock(root, `mount at ${resolve(opts.mountpoint)}`)
  let catalog: Catalog | undefined
  let store: OriginalStore | undefined
  try {
    catalog = await Catalog.open(root)
    const media = opts.remote?.media ?? offlineMedia
    store = await OriginalStore.open(root, media, {
      maxBytes: opts.cacheMaxBytes,
      afterDownload: opts.cacheMaxBytes !== undefined ? evictAfterDownload : undefined,
      cookies: opts.cookies,
    })
    const cat = catalog
    const st = store

    if (cat.snapshot().refreshedAtMs === 0) {
      if (!opts.remote) {
        throw new FlickrfsError('CATALOG', `${root} holds no catalog yet, and --offline forbids fetching one. Run once without --offline, or pin into it first.`)
      }
      say('Fetching the catalog for the first time…')
      const every = opts.progressEveryMs ?? 15_000
      let lastPhase = ''
      let lastAt = 0
      await cat.refresh(opts.remote.api, opts.remote.media, {
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
    }

    // Sidecars ask the store at each read, so a download shows its sha256 without a rebuild.
    const hashes = { hashOf: (id: string, secret: string) => st.knownHash(id, secret), finishing: (id: string, secret: string) => st.finishing(id, secret) }
    const build = (): Layout => buildLayout(cat.snapshot(), { ignoreViews: opts.ignoreViews, hashes })
    let layout = build()
    const handle = await mountFlickrfs({
      mountpoint: opts.mountpoint,
      tree: { current: () => layout },
      originals: st,
      allowOther: opts.allowOther,
    })
    cat.on('change', () => {
      layout = build()
      log('tree rebuilt: %d photos', layout.stats.photos)
    })

    let running: Promise<RefreshReport | undefined> | undefined
    const refresh = (): Promise<RefreshReport | undefined> => {
      if (!opts.remote) return Promise.resolve(undefined)
      const remote = opts.remote
      running ??= cat
        .refresh(remote.api, remote.media, { cookies: opts.cookies })
        .then(
          (r) => {
            // A quiet refresh says nothing: a mount that lives for weeks should not fill its log.
            if (r.changed) say(`Refreshed: ${r.photos.total} items (${r.photos.added} new, ${r.photos.changed} changed, ${r.photos.deleted} deleted)`)
            return r
          },
          (err: unknown) => {
            // Unreachable is not deleted: the tree stays as it was.
            say(`Refresh failed, still serving the last catalog: ${errorMessage(err)}`)
            return undefined
          },
        )
        .finally(() => {
          running = undefined
        })
      return running
    }
    const timer = opts.remote && opts.refreshEveryMs ? setInterval(() => void refresh(), opts.refreshEveryMs) : undefined
    timer?.unref()

    let closed = false
    return {
      handle,
      layout: () => layout,
      refresh,
      async close() {
        if (closed) return { abandoned: false }
        closed = true
        if (timer) clearInterval(timer)
        let grace: NodeJS.Timeout | undefined
        const settled = running === undefined || (await Promise.race([
          running.then(() => true),
          new Promise<boolean>((res) => (grace = setTimeout(() => res(false), opts.closeGraceMs ?? 3_000))),
        ]))
        clearTimeout(grace)
        await st.close()
        if (settled) await cat.close()
        else say('Stopped while a refresh was still running; the last saved catalog stays.')
        await lock.release()
        return { abandoned: !settled }
      },
    }
  } catch (err) {
    await store?.close().catch(() => undefined)
    await catalog?.close().catch(() => undefined)
    await lock.release()
    throw err
  }
}
