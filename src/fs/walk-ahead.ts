/**
 * Read-ahead across files: when a client walks a directory and opens its originals one after
 * another (rsync and restic in sorted-name order, tar in listing order, borg in inode order, `cp
 * -rL` of a set folder in the set's order), the originals that walk will open next are fetched in
 * the background, so the client finds them on local disk instead of waiting for each download.
 *
 * How a walk is recognised: each directory remembers the last few distinct originals opened in it.
 * Each way of going through the directory is an order: its listing order, byte-sorted names, inode
 * order, and, for every folder of links into it (a set, `Not in any set`), that folder's listing
 * and sorted order (the kernel resolves a link before it opens, so a walk of a set folder arrives
 * here as opens in photostream/). In each order, the recent opens near the furthest one score a
 * point for each step forward from the open before; the best order is the walk's, and its next
 * originals are fetched: `window` once a walk is evident (two steps: three neighbours opened),
 * `firstWindow` (default none) after one step. Concurrent readers (restic reads two files at once) only
 * shuffle neighbours, which costs a point, not the walk; a walk backwards or random opens score
 * nothing.
 *
 * Bounds: `concurrency` prefetches downloading across all walks (a slot is free again once the bytes
 * are in, while the store still fsyncs, renames and records the file); the bytes fetched ahead and not yet
 * opened stay within `cacheFraction` of the cache bound (or `maxBytes` without one), and the store
 * keeps them from eviction until they are opened or dropped. Only opens count: getattr, lookup and
 * readdir (`ls`, `stat`) never fetch, and an idle mount fetches nothing. A walk with no open for
 * `idleMs` has stopped: what it fetched ahead is released and downloads no reader has joined are
 * cancelled; unmount does the same for every walk. Prefetch failures are silent: the reader's own
 * read fetches again and reports errors as it always did.
 */
import createDebug from '../util/debug.js'
import { posix } from 'node:path'
import type { FsDir, FsFile, FsTree, OriginalReader } from './types.js'
import type { MediaEntry } from '../catalog/types.js'

const log = createDebug('flickrfs:walk-ahead')

export interface WalkAheadOptions {
  /**
   * Prefetches downloading at once, across every walk (default 32, as many as `pin` downloads at
   * once: at Flickr's 100 ms or more per request, fewer cap a walk below pin's pace). A prefetch
   * holds its slot until its bytes are in, not while the store makes the file durable and records it.
   */
  concurrency?: number
  /** Originals fetched ahead of an evident walk (three neighbours opened; default 48, within the byte budget below). */
  window?: number
  /**
   * Originals fetched ahead after two neighbours were opened (default 0: nothing is fetched before
   * a walk is evident, so `cat a b` of two files fetches those two and no third).
   */
  firstWindow?: number
  /** A walk with no open for this long has stopped (default 15 s). */
  idleMs?: number
  /** Share of the cache bound that bytes fetched ahead may take (default 1/4). */
  cacheFraction?: number
  /** Bytes fetched ahead when the cache has no bound (default 1 GiB). */
  maxBytes?: number
}

const DEFAULTS = { concurrency: 32, window: 48, firstWindow: 0, idleMs: 15_000, cacheFraction: 0.25, maxBytes: 1 << 30 }
/** Distinct originals remembered per directory. */
const RECENT = 8
/** Opens within this many places of the latest (in an order) count as one walk. */
const SLACK = 2
/** Opens in one order, close together, that make a walk evident. */
const EVIDENT = 3
/** Orders are rebuilt for a new tree at most this often. */
const BOOK_MIN_AGE_MS = 5000
/** Directories walked at once that are tracked. */
const MAX_WALKS = 16
/**
 * The reason every prefetch is let go with (opened, no longer wanted, the walk stopped): one
 * object, since `abort()` without a reason makes a DOMException with a stack trace each time,
 * once per original a walk reads.
 */
const RELEASED = new Error('read-ahead released')

/** One way of going through a directory's originals. */
interface Order {
  names: string[]
  pos: Map<string, number>
}

function orderOf(names: string[]): Order {
  return { names, pos: new Map(names.map((n, i) => [n, i])) }
}

function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}

const isOriginal = (n: unknown): n is FsFile & { content: { type: 'original'; media: MediaEntry } } =>
  (n as FsFile | undefined)?.kind === 'file' && (n as FsFile).content.type === 'original'

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The orders of one tree's directories, built when first asked. A refresh swaps the tree, and
 * with it the book.
 */
class OrderBook {
  private linksInto: Map<string, string[]> | undefined
  private readonly byDir = new Map<string, { base: Order[]; linked: Map<string, Order[]> }>()

  constructor(private readonly tree: FsTree) {}

  /** The orders of `dir` worth trying after an open of `name`: its own, and those of link folders holding `name`. */
  ordersFor(dirPath: string, dir: FsDir, name: string): Order[] {
    let entry = this.byDir.get(dirPath)
    if (!entry) {
      entry = this.build(dirPath, dir)
      this.byDir.set(dirPath, entry)
    }
    return [...entry.base, ...(entry.linked.get(name) ?? [])]
  }

  private build(dirPath: string, dir: FsDir): { base: Order[]; linked: Map<string, Order[]> } {
    // One pass over the children, inode numbers kept by name: a layout may make photostream/'s
    // nodes on demand, so a get() per comparison of the sort would make each one ~17 times.
    const listed: string[] = []
    const inoOf = new Map<string, number>()
    for (const [name, n] of dir.children) {
      if (!isOriginal(n)) continue
      listed.push(name)
      inoOf.set(name, n.ino)
    }
    const base: Order[] = []
    const add = (names: string[], into: Order[]): Order | undefined => {
      if (names.length < 2 || into.some((o) => sameNames(o.names, names)) || base.some((o) => sameNames(o.names, names))) return undefined
      const o = orderOf(names)
      into.push(o)
      return o
    }
    add(listed, base)
    add([...listed].sort(byName), base)
    add([...listed].sort((a, b) => (inoOf.get(a) ?? 0) - (inoOf.get(b) ?? 0)), base)
    const linked = new Map<string, Order[]>()
    const found: Order[] = []
    for (const from of this.linkFolders().get(dirPath) ?? []) {
      const folder = this.tree.lookup(from)
      if (folder?.kind !== 'dir') continue
      const pairs: Array<[string, string]> = []
      for (const [linkName, n] of folder.children) {
        if (n.kind !== 'link') continue
        const target = posix.resolve(from, n.target)
        const name = posix.basename(target)
        if (posix.dirname(target) === dirPath && isOriginal(dir.children.get(name))) pairs.push([linkName, name])
      }
      for (const names of [pairs.map((p) => p[1]), [...pairs].sort((a, b) => byName(a[0], b[0])).map((p) => p[1])]) {
        const o = add(names, found)
        if (!o) continue
        for (const n of names) {
          const list = linked.get(n)
          if (list) list.push(o)
          else linked.set(n, [o])
        }
      }
    }
    return { base, linked }
  }

  /** Directory → folders holding links into it; one pass over the tree, on the first walk. */
  private linkFolders(): Map<string, string[]> {
    if (this.linksInto) return this.linksInto
    const into = new Map<string, string[]>()
    const visit = (path: string, dir: FsDir): void => {
      for (const [name, n] of dir.children) {
        const p = path === '/' ? `/${name}` : `${path}/${name}`
        if (n.kind === 'dir') visit(p, n)
        else if (n.kind === 'link') {
          const target = posix.dirname(posix.resolve(path, n.target))
          const list = into.get(target)
          if (!list) into.set(target, [path])
          else if (list[list.length - 1] !== path) list.push(path)
        }
      }
    }
    visit('/', this.tree.root)
    this.linksInto = into
    return into
  }
}

/** One original fetched ahead. */
interface Ahead {
  readonly name: string
  readonly media: MediaEntry
  readonly size: number
  readonly stop: AbortController
  state: 'queued' | 'running' | 'done'
  /** Opened by the walk while its prefetch ran: released when it settles. */
  claimed: boolean
}

interface Walk {
  readonly dir: string
  /** Distinct originals opened, the latest last. */
  recent: string[]
  /** What is fetched ahead for this walk, nearest first. */
  readonly ahead: Map<string, Ahead>
  timer: NodeJS.Timeout | undefined
}

export interface WalkAheadStats {
  walks: number
  queued: number
  running: number
  heldBytes: number
  started: number
}

export class WalkAhead {
  private readonly opts: typeof DEFAULTS
  /** Most recently opened last. */
  private readonly walks = new Map<string, Walk>()
  private book: OrderBook | undefined
  private bookTree: FsTree | undefined
  private bookAt = 0
  private running = 0
  private heldBytes = 0
  private started = 0

  constructor(
    private readonly tree: () => FsTree,
    private readonly reader: OriginalReader,
    private readonly closing: AbortSignal,
    options: WalkAheadOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...options }
    closing.addEventListener('abort', () => {
      for (const w of [...this.walks.values()]) this.end(w)
    }, { once: true })
  }

  stats(): WalkAheadStats {
    let queued = 0
    for (const w of this.walks.values()) for (const a of w.ahead.values()) if (a.state === 'queued') queued++
    return { walks: this.walks.size, queued, running: this.running, heldBytes: this.heldBytes, started: this.started }
  }

  /** The hook in `open`: `file` at `path` was opened. Never throws, never waits. */
  opened(path: string, file: FsFile): void {
    if (!this.reader.prefetch || this.reader.prefetches === false || this.closing.aborted || !isOriginal(file)) return
    try {
      this.step(posix.dirname(path), posix.basename(path))
    } catch (err) {
      log('read-ahead after %s skipped: %O', path, err)
    }
  }

  private budget(): number {
    const bound = this.reader.cacheMaxBytes
    return bound === undefined ? this.opts.maxBytes : Math.floor(bound * this.opts.cacheFraction)
  }

  private step(dirPath: string, name: string): void {
    const walk = this.walkOf(dirPath)
    const i = walk.recent.indexOf(name)
    if (i >= 0) walk.recent.splice(i, 1)
    walk.recent.push(name)
    if (walk.recent.length > RECENT) walk.recent.shift()
    const mine = walk.ahead.get(name)
    if (mine) {
      walk.ahead.delete(name)
      this.heldBytes -= mine.size
      if (mine.state === 'running') mine.claimed = true
      else mine.stop.abort(RELEASED)
    }
    // One open is no walk; the orders of a big folder are not even built for it.
    if (walk.recent.length < 2) return
    const tree = this.tree()
    const dir = tree.lookup(dirPath)
    if (dir?.kind !== 'dir') return
    // A first catalog swaps the tree every second or so as it comes in: orders a few seconds old
    // predict as well (names no longer there are skipped), and rebuilding them costs a sort.
    const now = Date.now()
    if (this.book === undefined || (this.bookTree !== tree && now - this.bookAt >= BOOK_MIN_AGE_MS)) {
      this.book = new OrderBook(tree)
      this.bookTree = tree
      this.bookAt = now
    }
    const wanted = this.plan(walk, dir, this.book.ordersFor(dirPath, dir, name))
    const keep = new Set(wanted)
    for (const a of [...walk.ahead.values()]) if (!keep.has(a.name)) this.release(walk, a)
    const budget = this.budget()
    for (const n of wanted) {
      if (walk.ahead.has(n)) continue
      const f = dir.children.get(n)
      if (!isOriginal(f)) continue
      if (this.heldBytes + f.size > budget) break
      this.heldBytes += f.size
      walk.ahead.set(n, { name: n, media: f.content.media, size: f.size, stop: new AbortController(), state: 'queued', claimed: false })
    }
    this.pump()
  }

  /** The names to have fetched ahead of this walk, nearest first (empty: no walk seen). */
  private plan(walk: Walk, dir: FsDir, orders: Order[]): string[] {
    let best: { score: number; order: Order; cursor: number } | undefined
    const latest = walk.recent[walk.recent.length - 1] ?? ''
    for (const order of orders) {
      const at = order.pos.get(latest)
      if (at === undefined) continue
      // With readers in parallel the latest open may not be the furthest one.
      let cursor = at
      for (const n of walk.recent.slice(-3)) {
        const p = order.pos.get(n)
        if (p !== undefined && p > cursor && p - at <= SLACK + 1) cursor = p
      }
      // One, plus each step forward between successive opens close to the cursor: a walk backwards,
      // or opens scattered over the order, score 1.
      const span = walk.recent.length + SLACK
      let score = 1
      let prev: number | undefined
      for (const n of walk.recent) {
        const p = order.pos.get(n)
        const near = p !== undefined && p <= cursor && cursor - p <= span
        if (near && prev !== undefined && p > prev) score++
        prev = near ? p : undefined
      }
      if (!best || score > best.score) best = { score, order, cursor }
    }
    if (!best || best.score < 2) return []
    const window = best.score >= EVIDENT ? this.opts.window : this.opts.firstWindow
    const out: string[] = []
    const opened = new Set(walk.recent)
    // One place back: a parallel reader's neighbour not opened yet.
    for (let p = Math.max(0, best.cursor - 1); p < best.order.names.length && out.length < window; p++) {
      const n = best.order.names[p] ?? ''
      if (!opened.has(n) && isOriginal(dir.children.get(n))) out.push(n)
    }
    return out
  }

  private walkOf(dirPath: string): Walk {
    let walk = this.walks.get(dirPath)
    if (walk) {
      this.walks.delete(dirPath)
    } else {
      walk = { dir: dirPath, recent: [], ahead: new Map(), timer: undefined }
      const oldest = this.walks.values().next().value
      if (this.walks.size >= MAX_WALKS && oldest) this.end(oldest)
    }
    this.walks.set(dirPath, walk)
    const w = walk
    if (w.timer) w.timer.refresh()
    else {
      w.timer = setTimeout(() => this.end(w), this.opts.idleMs)
      w.timer.unref()
    }
    return walk
  }

  /** Starts queued prefetches, the most recently active walk first, up to `concurrency`. */
  private pump(): void {
    if (this.closing.aborted) return
    const walks = [...this.walks.values()].reverse()
    for (const walk of walks) {
      for (const a of walk.ahead.values()) {
        if (this.running >= this.opts.concurrency) return
        if (a.state === 'queued') this.start(a)
      }
    }
  }

  private start(a: Ahead): void {
    // The slot is the network's: it is free again once the bytes are in, while the store still
    // makes the file durable and records it (a batch that waits for company).
    let slot = true
    let starting = true
    const freeSlot = (): void => {
      if (!slot) return
      slot = false
      this.running--
      // Not from inside the prefetch call (nothing to fetch): the pump that started it goes on.
      if (!starting) this.pump()
    }
    this.running++
    a.state = 'running'
    const fetching = this.reader.prefetch?.(a.media, a.stop.signal, freeSlot)
    starting = false
    if (!fetching) {
      a.state = 'queued'
      if (slot) {
        slot = false
        this.running--
      }
      return
    }
    this.started++
    log('prefetch %s', a.name)
    fetching
      .catch((err: unknown) => log('prefetch %s failed: %O', a.name, err))
      .finally(() => {
        a.state = 'done'
        if (a.claimed) a.stop.abort(RELEASED)
        freeSlot()
      })
      .catch(() => undefined)
  }

  /** No longer wanted: not counted, its hold released, its download cancelled if no reader joined it. */
  private release(walk: Walk, a: Ahead): void {
    walk.ahead.delete(a.name)
    this.heldBytes -= a.size
    a.stop.abort(RELEASED)
  }

  private end(walk: Walk): void {
    clearTimeout(walk.timer)
    for (const a of [...walk.ahead.values()]) this.release(walk, a)
    if (this.walks.get(walk.dir) === walk) this.walks.delete(walk.dir)
  }
}
