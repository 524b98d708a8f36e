/**
 * How far V8's old generation may grow past what its last full GC left before it collects again.
 *
 * V8 lets it grow up to 4× that: at 100,000 items a refresh with ~280 MB live peaked at 830 MB RSS.
 * `--heap-growing-percent` (read each time V8 sets the next limit, so it takes when set at run
 * time) makes it grow by that much instead, for more full GCs. Only once the heap is past 32 MB:
 * below it V8's minimum step (8 MB) made a first pin of 700 items (13 MB live) run 8 full GCs
 * instead of 2, ~0.15 ms of CPU per item, to save nothing worth it.
 *
 * The command line's default (bin/flickrfs) is 30%; a mount's first sync asks for less while it
 * runs (`growOldGenerationByWhile`: its peak is this growth, bench/RESULTS.md "sync-peak"). The last
 * call wins.
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const FROM_BYTES = 32 * 1024 * 1024

/**
 * While a first sync runs (a mount's first catalog, a pin into a DEST with no catalog yet), the old
 * generation grows by this much instead: at 100,000 items a mount's first sync peaked at 340 MB
 * against 403 with 30 (0.84×), for ~1.3× its CPU (bench/RESULTS.md "sync-peak"). Only then: a
 * loaded mount and its refreshes gained nothing measurable from it and paid the same ~1.3× CPU
 * (session 10's re-measure).
 */
export const FIRST_SYNC_OLD_GROWTH_PERCENT = 10

let wanted = 0
/** Until the heap is past the floor: `wanted` is applied then (afterGcWhen). */
let waiting = false

export function growOldGenerationBy(percent: number): void {
  wanted = percent
  if (waiting) return
  waiting = true
  afterGcWhen(pastFloor, () => {
    waiting = false
    apply()
  })
}

function pastFloor(): boolean {
  return getHeapStatistics().used_heap_size >= FROM_BYTES
}

function apply(): void {
  setFlagsFromString(`--heap-growing-percent=${wanted}`)
}

/** The growth last asked for (0: none, V8's own). */
export function oldGenerationGrowthAsked(): number {
  return wanted
}

/** Grows by `percent` until the returned function is called, then by what was asked before. */
export function growOldGenerationByWhile(percent: number): () => void {
  const before = wanted
  growOldGenerationBy(percent)
  return () => growOldGenerationBy(before)
}

/**
 * Runs `then` at once when `ready()`, else after the first GC at which `ready()` holds: a GC is
 * when V8 sizes its spaces. For V8 settings that should take only once the heap has come to some
 * size (this file, young-generation.ts). Here because every command loads this module as it starts.
 */
export function afterGcWhen(ready: () => boolean, then: () => void): void {
  if (ready()) return then()
  const watch = new PerformanceObserver(() => {
    if (!ready()) return
    watch.disconnect()
    then()
  })
  watch.observe({ entryTypes: ['gc'] })
}

let fullGc: (() => void) | undefined

/**
 * A full GC now: for a long-lived process that has just let go of much, so that its garbage is
 * collected before the next burst of allocation instead of under it, which then fills the free room
 * the collection leaves rather than new pages (a mount's first sync: before its assembly and whole
 * tree, and once saved, before the first `ls` of photostream/: ~30 MB of names and stats at 100,000 items). One collection,
 * ~0.1–0.3 s of CPU at 100,000 items (a GC after every partial view cost 9%: bench/RESULTS.md
 * "sync-view"). node offers it only with --expose-gc on its command line, which an npm bin does not
 * control; set at run time, the flag puts `gc` on the global of a context made after it.
 *
 * `compact`: the collection also moves what survives together, so that the pages it empties go
 * back to the system. A plain one frees the objects but keeps every page still holding one: once a
 * mount's first sync of 300,000 items was saved and served lazily, 76 MB live kept 326 MB of heap
 * pages (513 MB of RSS, and so 12 s later; 268–275 MB 10 s after a compacted one). For a moment after which the process holds much
 * less than before, not for every collection: compaction copies every survivor.
 * A plain collection comes first: compaction copies the survivors into new pages before it gives
 * any page back, so the pages that hold only garbage must be gone before it starts. Compacted
 * alone, a 1,000,000-item mount's first sync peaked at that copy (1,866 MB of RSS with 191 MB of
 * heap live, against 1,758 MB just before it; bench/RESULTS.md "Session 36").
 */
export function collectGarbageNow({ compact = false }: { compact?: boolean } = {}): void {
  if (fullGc === undefined) {
    setFlagsFromString('--expose-gc')
    fullGc = runInNewContext('gc') as () => void
  }
  fullGc()
  if (!compact) return
  setFlagsFromString('--compact-on-every-full-gc')
  try {
    fullGc()
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc')
  }
}
