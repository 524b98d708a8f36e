/**
 * The mount's side of a pin handed over by `flickrfs pin DEST` (pin-handoff.ts, the pin's side):
 * the request's flags checked, the pin run as the mount's exclusive job on its own catalog and
 * store, its progress and report streamed back; while the mount's first catalog still comes in,
 * the originals it shows are downloaded meanwhile.
 */
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { outageNote, type OutageWatch } from '../flickr/index.js'
import { DEFAULT_PIN_CONCURRENCY, pinOpenRoot } from '../pin/pin.js'
import { GetSizer } from '../pin/get-sizer.js'
import { mediaKey, type MediaEvent } from '../catalog/index.js'
import type { Layout, LayoutNode } from '../layout/index.js'
import { parseMediaFileName } from '../layout/names.js'
import { mediaMtimeMs } from '../layout/times.js'
import { eachLimit } from '../util/pool.js'
import { sleep } from '../util/abort.js'
import { Semaphore } from '../util/semaphore.js'
import type { ControlHandler } from '../service/control.js'
import type { FillingRoot, FirstCatalogSizer, LiveMount, MountedRoot } from '../service/live-mount.js'
import type { OriginalStore } from '../store/index.js'
import type { CatalogView } from '../catalog/view.js'
import { pinChoices, type HandedPinOptions, type Prefetched } from './pin-handoff.js'
import { formatBytes, plural } from './progress.js'

/** Progress messages at most this often (the terminal redraws at most every 100 ms anyway). */
const PROGRESS_EVERY_MS = 100
/** How often a pin waiting for the mount's first catalog is told how far it has come. */
const WAITING_EVERY_MS = 1000
/** How often the originals shown are looked at again while the first catalog comes in (when its tree has changed). */
const SHOWN_EVERY_MS = 1000
const MAX_CONCURRENCY = 32

/** A request as the mount accepts it: a pin, with known flags of the right types. */
function handedOptions(request: unknown): HandedPinOptions & { pid?: number } {
  const r = request as { type?: unknown; version?: unknown; pid?: unknown; options?: unknown }
  if (r?.type !== 'pin' || r.version !== 1 || typeof r.options !== 'object' || r.options === null) {
    throw new FlickrfsError('USAGE', 'This mount does not understand the request: are the pin and the mount the same flickrfs version?')
  }
  const opts = r.options as Record<string, unknown>
  const out: HandedPinOptions & { pid?: number } = {}
  for (const k of ['ignorePhotos', 'ignoreVideos', 'ignoreViews', 'deleteUnknown', 'force', 'verbose'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new FlickrfsError('USAGE', `The pin request's ${k} is not true or false.`)
    if (opts[k] === true) out[k] = true
  }
  const c = opts.concurrency
  if (c !== undefined) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_CONCURRENCY) throw new FlickrfsError('USAGE', `The pin request's concurrency must be 1 to ${MAX_CONCURRENCY}.`)
    out.concurrency = c
  }
  if (typeof r.pid === 'number') out.pid = r.pid
  return out
}

/**
 * Records every photostream original the pin left in DEST as pinned, so a bounded mount
 * (--cache-size) never evicts a file the pinned tree names: those it downloaded are already, those
 * that were there before (read through the mount) are marked now.
 */
async function pinStored(store: OriginalStore, view: CatalogView): Promise<void> {
  const ids: string[] = []
  for (let i = 0; i < view.photostreamLength; i++) {
    const id = view.photostreamId(i)
    const r = store.recordOf(id)
    if (r !== undefined && r.pinned !== true) ids.push(id)
  }
  if (ids.length > 0) await store.pin(ids)
}

/** The mount's side of a handed-over pin: where it runs, what it says, its client's call count, its own flags. */
interface HandlerOptions {
  mountpoint: string
  say: (line: string) => void
  apiCalls: () => number
  cookies?: string
  fullListingEveryMs?: number
  /** The watch of the job's downloads (mount.ts jobMedia): an outage is said in the log and to the pin that asked. */
  outage?: OutageWatch
}

/**
 * The mount's side: runs a handed-over pin as the mount's exclusive job and streams it back.
 * `apiCalls` counts the API calls of the mount's client, for the summary line.
 */
export function pinHandler(live: LiveMount, o: HandlerOptions): ControlHandler {
  return async (request, conn) => {
    const flags = handedOptions(request)
    conn.send({ type: 'hello', pid: process.pid, mountpoint: o.mountpoint, cookies: o.cookies !== undefined })
    // A pin that leaves a kind out downloads nothing meanwhile: the tree shown does not say which original is a video.
    const meanwhile = flags.ignorePhotos !== true && flags.ignoreVideos !== true
    if (live.filling()) {
      conn.send({ type: 'note', line: `the mount is still fetching its first catalog; the pin ${meanwhile ? 'downloads what it shows meanwhile and ' : ''}goes on once that is in.` })
    }
    // Meanwhile the pin that asked is told how far that catalog has come, how long its rest takes,
    // and what was downloaded meanwhile.
    const downloaded: Prefetched = { items: 0, bytes: 0 }
    const tellWaiting = (): void => {
      const p = live.firstCatalogProgress()
      if (p !== undefined && !conn.gone) conn.send({ type: 'waiting', progress: p, downloaded: { ...downloaded } })
    }
    tellWaiting()
    const waiting = setInterval(tellWaiting, WAITING_EVERY_MS)
    // The job's downloads wait out a network outage, as a pin of its own does: said as it starts and ends.
    const unwatch = o.outage?.onChange((on, why) => {
      const line = outageNote(on, why, true)
      o.say(line)
      if (!conn.gone) conn.send({ type: 'note', line })
    })
    try {
      await live.exclusive('pin', async (root) => {
        clearInterval(waiting)
        await runHanded(root, flags, conn, o, downloaded)
      }, !meanwhile ? undefined : async (filling) => {
        o.say('a pin asked while the first catalog comes in: downloading the originals it shows meanwhile')
        const sized = await downloadWhileFilling(filling, flags.concurrency ?? DEFAULT_PIN_CONCURRENCY, downloaded)
        o.say(`downloaded ${plural(downloaded.items, 'original')} (${formatBytes(downloaded.bytes)}) while the first catalog came in; the pin goes on ` +
          `(${sized} sized by their download, not a HEAD)`)
      })
    } finally {
      clearInterval(waiting)
      unwatch?.()
    }
  }
}

/**
 * While the mount's first catalog comes in, the originals its tree shows so far are downloaded, as
 * many at a time as the pin downloads, and recorded pinned (the pin's job is running): a first pin
 * starts downloading from the first listing page, handed to a mount or not, instead of after hours
 * of comments. The pin that follows finds them in place; one that failed here is tried again (and
 * reported) there. Originals the catalog sizes from now on are sized by their download (one GET,
 * not a HEAD and then a GET: at 100,000 items the HEADs made the mount's first catalog longer than
 * a whole pin of its own, bench/RESULTS.md "Session 49"); those it sized before are found by
 * walking the tree, again whenever it has changed. Returns how many were sized by their download.
 */
async function downloadWhileFilling(f: FillingRoot, concurrency: number, got: Prefetched): Promise<number> {
  // By photo id, as a number where it is one (Flickr's are): at 1,000,000 originals ~20 MB, not ~70 as names.
  const tried = new Set<number | string>()
  const asKey = (id: string): number | string => (/^\d{1,15}$/.test(id) ? Number(id) : id)
  const idOf = (name: string): number | string | undefined => {
    const id = parseMediaFileName(name)?.id
    return id !== undefined ? asKey(id) : undefined
  }
  const counted = (r: { downloaded: boolean; size: number } | undefined): void => {
    if (r?.downloaded !== true) return
    got.items++
    got.bytes += r.size
  }
  // What the catalog sizes from now on, it sizes by their downloads (as a pin of its own does): one
  // GET an original instead of a HEAD, then a GET here.
  let sized = 0
  const sizing = new SizedByDownload(f, concurrency, (ev, settled) => {
    sized++
    tried.add(asKey(ev.media.id))
    void settled.then(counted, () => undefined)
  })
  f.sizeWith(sizing)
  try {
    await walkWhileFilling(f, concurrency, tried, idOf, counted)
  } finally {
    await sizing.done()
  }
  return sized
}

/**
 * The originals the tree shows and nobody has tried yet (shown before this job sized them: sized by
 * a HEAD), downloaded as many at a time as the pin downloads.
 */
async function walkWhileFilling(
  f: FillingRoot, concurrency: number, tried: Set<number | string>, idOf: (name: string) => number | string | undefined,
  counted: (r: { downloaded: boolean; size: number } | undefined) => void,
): Promise<void> {
  let seen: Layout | undefined
  // Children of photostream/ at the last pass: a tree remade with as many (comments came in) has no
  // original not tried, and is not walked again (a walk visits every photo, and a first catalog's
  // comments remake the tree every few seconds for hours).
  let walked = -1
  while (!f.signal.aborted) {
    const layout = f.layout()
    const found = layout === seen ? undefined : layout.lookup('/photostream')
    seen = layout
    const dir = found?.kind === 'dir' && found.children.size !== walked ? found : undefined
    const names: string[] = []
    if (dir !== undefined) {
      walked = dir.children.size
      const each = dir.eachChild?.bind(dir) ?? ((fn: (name: string, child: LayoutNode) => void) => dir.children.forEach((c, n) => fn(n, c)))
      each((name, child) => {
        if (child.kind !== 'file') return
        const id = idOf(name)
        if (id !== undefined && !tried.has(id)) names.push(name)
      })
    }
    if (names.length === 0) {
      await sleep(SHOWN_EVERY_MS, f.signal).catch(() => undefined)
      continue
    }
    await eachLimit(names, concurrency, async (name) => {
      if (f.signal.aborted) return
      const node = layout.lookup(`/photostream/${name}`)
      if (node?.kind !== 'file' || node.content.type !== 'original') return
      const id = idOf(name) ?? name
      // Sized by its download meanwhile (SizedByDownload): that download is under way or done.
      if (tried.has(id)) return
      tried.add(id)
      counted(await f.store.ensure(node.content.media, { mtimeMs: node.mtimeMs }).catch(() => undefined))
    })
  }
}

/**
 * A first catalog's originals sized by their downloads (pin/get-sizer.ts, as in a pin of its own),
 * each download recorded (pinned: the job runs) under the entry the refresh makes of its answer, with
 * the time the tree gives the file. `onSettling` is told each such entry and its recording.
 * Downloads sized but never made an entry of (refused a name, or the refresh failed) are abandoned
 * by `done`, and any answered after it at once.
 */
class SizedByDownload implements FirstCatalogSizer {
  readonly concurrency: number
  readonly #sizer: GetSizer
  readonly #hours = new Map<number, number>()
  #done = false

  constructor(f: FillingRoot, concurrency: number, private readonly onSettling: (ev: MediaEvent, settled: Promise<{ downloaded: boolean; size: number }>) => void) {
    this.concurrency = concurrency
    this.#sizer = new GetSizer({
      dest: f.root, store: f.store, media: f.media, slots: new Semaphore(concurrency), wanted: () => true, stopped: () => undefined,
    })
  }

  async head(url: string, opts?: Parameters<GetSizer['head']>[1]): ReturnType<GetSizer['head']> {
    const answer = await this.#sizer.head(url, opts)
    const of = opts?.of?.photo
    if (this.#done && of !== undefined) {
      const late = this.#sizer.take(mediaKey(of.id, of.secret))
      if (late !== undefined) await late.job.abandon().finally(late.release)
    }
    return answer
  }

  made(ev: MediaEvent): void {
    const sized = this.#sizer.take(mediaKey(ev.media.id, ev.media.secret))
    if (sized === undefined) return
    const settled = sized.job.settle(ev.media, mediaMtimeMs(ev.photo, this.#hours), sized.release).finally(sized.release)
    this.onSettling(ev, settled)
  }

  async done(): Promise<void> {
    this.#done = true
    await this.#sizer.done()
  }
}

/** A handed-over pin, as the mount's exclusive job on `root`, streamed back over `conn`. */
async function runHanded(
  root: MountedRoot,
  flags: HandedPinOptions & { pid?: number },
  conn: Parameters<ControlHandler>[1],
  o: HandlerOptions,
  before: Prefetched,
): Promise<void> {
  if (!root.remote) {
    throw new FlickrfsError('LOCKED', `The mount at ${o.mountpoint} is --offline and cannot pin. ` +
      `Stop it (flickrfs unmount ${o.mountpoint}) and run the pin again, or mount without --offline.`)
  }
  o.say(`pin of ${root.root} asked${flags.pid !== undefined ? ` by pid ${flags.pid}` : ''}: running it here; the mount serves on`)
  const calls = o.apiCalls()
  let sentAt = 0
  let phase = ''
  const report = await pinOpenRoot({ dest: root.root, catalog: root.catalog, store: root.store }, {
    dest: root.root,
    api: root.remote.api,
    media: root.remote.media,
    ...pinChoices(flags),
    cookies: o.cookies,
    // The mount's own --full-listing-every, like its --cookies.
    fullListingEveryMs: o.fullListingEveryMs,
    onProgress: (p) => {
      const now = Date.now()
      if (p.phase === phase && now - sentAt < PROGRESS_EVERY_MS && p.done < p.queued) return
      phase = p.phase
      sentAt = now
      conn.send({ type: 'progress', progress: p })
    },
    onDetail: flags.verbose ? (line) => conn.send({ type: 'detail', line }) : undefined,
  })
  await pinStored(root.store, root.catalog.view())
  // What it downloaded while the first catalog came in, it found in place: downloaded all the same.
  const moved = Math.min(before.items, report.alreadyPresent)
  const whole = moved === 0 ? report : {
    ...report,
    downloaded: report.downloaded + moved,
    downloadedBytes: report.downloadedBytes + before.bytes,
    alreadyPresent: report.alreadyPresent - moved,
  }
  o.say(`pin of ${root.root} done: ${plural(whole.refresh.photos.total, 'item')}, ${whole.downloaded} downloaded, ` +
    `${whole.failures.length} failed${conn.gone ? ' (the pin that asked has gone)' : ''}`)
  conn.send({ type: 'report', report: whole, apiCalls: o.apiCalls() - calls })
}
