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

const FROM_BYTES = 32 * 1024 * 1024

let wanted = 0
/** Until the heap is past the floor: the observer that applies `wanted` then. */
let watch: PerformanceObserver | undefined

export function growOldGenerationBy(percent: number): void {
  wanted = percent
  if (watch !== undefined) return
  if (pastFloor()) return apply()
  const w = new PerformanceObserver(() => {
    if (!pastFloor()) return
    apply()
    w.disconnect()
    watch = undefined
  })
  w.observe({ entryTypes: ['gc'] })
  watch = w
}

function pastFloor(): boolean {
  return getHeapStatistics().used_heap_size >= FROM_BYTES
}

function apply(): void {
  setFlagsFromString(`--heap-growing-percent=${wanted}`)
}

/** Grows by `percent` until the returned function is called, then by what was asked before. */
export function growOldGenerationByWhile(percent: number): () => void {
  const before = wanted
  growOldGenerationBy(percent)
  return () => growOldGenerationBy(before)
}
