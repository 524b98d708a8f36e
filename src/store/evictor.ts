/**
 * Eviction: removes unpinned originals, least recently read first, until the unpinned bytes fit in
 * `maxBytes` (without a bound it removes nothing). It never removes a pinned original, one with a
 * download in flight, one the caller protects, or one recorded at or after `protectCompletedSince`.
 * An evicted original's size and sha256 stay in the index (Originals.evictFile).
 *
 * Runs are serialised: each starts when the one before has ended, so two never pick the same
 * files or count bytes another is freeing.
 *
 * A run that ends over the bound having passed over busy originals (a download whose job has not
 * ended, read-ahead's holds) is owed: it runs again, with the same protections, when one of those
 * is no longer busy (`Originals.onIdle`), and so on until the bound holds or nothing busy was in
 * the way. Without that the cache stayed over its bound until the next download: the eviction a
 * download starts runs before that download's own job ends, so after downloads recorded in one
 * batch every run found all of them busy, and no run came after.
 */
import createDebug from '../util/debug.js'
import type { Originals } from './originals.js'
import type { Pins } from './pins.js'
import { safeId } from './safe-names.js'

const debug = createDebug('flickrfs:store')

export interface EvictOptions {
  /** Ids kept whatever their access time. */
  protect?: Iterable<string>
  /** Originals recorded at or after this time (ms) are kept. */
  protectCompletedSince?: number
}

export interface EvictReport {
  removed: string[]
  freedBytes: number
  /** Unpinned bytes still held afterwards. */
  unpinnedBytes: number
}

export class Evictor {
  private running: Promise<unknown> = Promise.resolve()
  /** The last run ended over the bound having passed over the busy `ids`: it runs again, as `opts`, when one is idle. */
  private owed: { ids: Set<string>; opts: EvictOptions } | undefined
  private closed = false

  constructor(private readonly originals: Originals, private readonly pins: Pins, private readonly maxBytes: number | undefined) {
    originals.onIdle((id) => {
      if (this.closed || this.owed?.ids.has(id) !== true) return
      this.runOwed(this.owed.opts)
    })
  }

  /** No owed run starts after this; resolves once the run in progress (if any) has ended. */
  async close(): Promise<void> {
    this.closed = true
    await this.running
  }

  /** Marks originals as pinned: never evicted. Ids not yet stored are pinned when they arrive. */
  async pin(ids: Iterable<string>): Promise<void> {
    for (const id of ids) {
      this.pins.add(safeId(id))
      await this.originals.setPinned(id)
    }
  }

  evict(opts: EvictOptions = {}): Promise<EvictReport> {
    const run = this.running.then(() => this.evictNow(new Set(opts.protect ?? []), opts.protectCompletedSince ?? Infinity))
    this.running = run.catch(() => {})
    return run
  }

  private runOwed(opts: EvictOptions): void {
    this.owed = undefined
    if (this.closed) return
    this.evict(opts).catch((err: unknown) => debug('owed eviction failed: %O', err))
  }

  private async evictNow(protect: Set<string>, protectCompletedSince: number): Promise<EvictReport> {
    // Access times are batched in memory; the index gets them before files go.
    await this.originals.flush()
    const unpinned = [...this.originals.unpinnedRecords()].filter((r) => !this.pins.has(r.id))
    let unpinnedBytes = unpinned.reduce((sum, r) => sum + r.size, 0)
    const report: EvictReport = { removed: [], freedBytes: 0, unpinnedBytes }
    const max = this.maxBytes
    if (max === undefined || unpinnedBytes <= max) {
      this.owed = undefined
      return report
    }
    const busy = this.originals.busyIds()
    const passed: string[] = []
    unpinned.sort((a, b) => a.lastAccessMs - b.lastAccessMs)
    for (const r of unpinned) {
      if (unpinnedBytes <= max) break
      if (protect.has(r.id) || r.completedAt >= protectCompletedSince) continue
      if (busy.has(r.id)) {
        passed.push(r.id)
        continue
      }
      if (!(await this.originals.evictFile(r))) continue
      unpinnedBytes -= r.size
      report.removed.push(r.id)
      report.freedBytes += r.size
    }
    report.unpinnedBytes = unpinnedBytes
    if (unpinnedBytes <= max) this.owed = undefined
    else if (passed.length > 0) {
      // Those passed over that are still busy say so through onIdle when they no longer are; if
      // one went idle during this run (its event found nothing owed yet), the run is owed now.
      const opts: EvictOptions = { protect, protectCompletedSince }
      const still = this.originals.busyIds()
      if (passed.every((id) => still.has(id))) this.owed = { ids: new Set(passed), opts }
      else this.runOwed(opts)
    }
    debug('evicted %d originals, %d bytes', report.removed.length, report.freedBytes)
    return report
  }
}
