/**
 * Eviction: removes unpinned originals, least recently read first, until the unpinned bytes fit in
 * `maxBytes` (without a bound it removes nothing). It never removes a pinned original, one with a
 * download in flight, one the caller protects, or one recorded at or after `protectCompletedSince`.
 * An evicted original's size and sha256 stay in the index (Originals.evictFile).
 *
 * Runs are serialised: each starts when the one before has ended, so two never pick the same
 * files or count bytes another is freeing.
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

  constructor(private readonly originals: Originals, private readonly pins: Pins, private readonly maxBytes: number | undefined) {}

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

  private async evictNow(protect: Set<string>, protectCompletedSince: number): Promise<EvictReport> {
    // Access times are batched in memory; the index gets them before files go.
    await this.originals.flush()
    const unpinned = [...this.originals.unpinnedRecords()].filter((r) => !this.pins.has(r.id))
    let unpinnedBytes = unpinned.reduce((sum, r) => sum + r.size, 0)
    const report: EvictReport = { removed: [], freedBytes: 0, unpinnedBytes }
    const max = this.maxBytes
    if (max === undefined || unpinnedBytes <= max) return report
    const busy = this.originals.busyIds()
    unpinned.sort((a, b) => a.lastAccessMs - b.lastAccessMs)
    for (const r of unpinned) {
      if (unpinnedBytes <= max) break
      if (protect.has(r.id) || busy.has(r.id) || r.completedAt >= protectCompletedSince) continue
      if (!(await this.originals.evictFile(r))) continue
      unpinnedBytes -= r.size
      report.removed.push(r.id)
      report.freedBytes += r.size
    }
    report.unpinnedBytes = unpinnedBytes
    debug('evicted %d originals, %d bytes', report.removed.length, report.freedBytes)
    return report
  }
}
