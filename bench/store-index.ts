/**
 * What the store's index of originals costs alone (issue 11 item 4): the heap and the memory
 * outside it (typed arrays) that StoreIndex.load keeps, after a full GC, and the load's time and CPU.
 *
 *   node --import tsx --expose-gc bench/store-index.ts ROOT [--runs 3]
 *
 * ROOT holds a store index (bench/pin-parts.ts fills one with a record per photo of its catalog).
 * Each run loads it into a fresh StoreIndex, the one before let go; the figures are each run's, and
 * the time to walk every record (all(), which makes each record on demand where the index is in columns).
 *
 *   node --import tsx --expose-gc bench/store-index.ts ROOT --pages 20000,1000 [--runs 3]
 *
 * instead loads the index once per fresh child process (`--page N --runs 1`), alternating the page
 * sizes given (rows read from sqlite at once; the first is the baseline), and prints each one's
 * median peak RSS (VmHWM: the page's strings leave their mark there, not in what is held) and load
 * time, with their ratio to the baseline's.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { StoreIndex, openStoreKeyv } from '../src/store/store-index.js'
import { benchArgs, median, ownRss } from './measure.js'

const MB = 1024 * 1024
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

function held(): { heap: number; outside: number } {
  gc?.()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, outside: m.arrayBuffers }
}

/** --pages A,B: each page size in its own child process, alternating, `runs` times. */
function comparePages(root: string, pages: number[], runs: number): void {
  const peaks = new Map<number, number[]>(pages.map((p) => [p, []]))
  const loads = new Map<number, number[]>(pages.map((p) => [p, []]))
  const self = fileURLToPath(import.meta.url)
  for (let run = 1; run <= runs; run++) {
    for (const page of pages) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', self, root, '--page', String(page), '--runs', '1', '--json'], { encoding: 'utf8' })
      const { peak, loadMs } = JSON.parse(out.trim().split('\n').pop() as string) as { peak: number; loadMs: number }
      peaks.get(page)?.push(peak)
      loads.get(page)?.push(loadMs)
      console.log(`run ${run}, pages of ${page}: peak RSS ${(peak / MB).toFixed(0)} MB, loaded in ${(loadMs / 1000).toFixed(2)} s`)
    }
  }
  const [base] = pages as [number]
  for (const page of pages) {
    const p = median(peaks.get(page) ?? [])
    const l = median(loads.get(page) ?? [])
    const ratio = page === base ? 'baseline' : `${(p / median(peaks.get(base) ?? [])).toFixed(2)}× the peak, ${(l / median(loads.get(base) ?? [])).toFixed(2)}× the time`
    console.log(`pages of ${page}: median peak RSS ${(p / MB).toFixed(0)} MB, load ${(l / 1000).toFixed(2)} s (${runs} runs): ${ratio}`)
  }
}

async function main(): Promise<void> {
  const { args, has, number, text } = benchArgs()
  const root = args[0]
  if (root === undefined) throw new Error('usage: bench/store-index.ts ROOT [--runs 3] [--pages A,B | --page N]')
  const runs = number('runs', 3)
  const pages = text('pages')
  if (pages !== undefined) return comparePages(root, pages.split(',').map(Number), runs)
  const page = text('page')
  const json = has('json')
  const keyv = await openStoreKeyv(root, { readOnly: true })
  try {
    for (let run = 1; run <= runs; run++) {
      const before = held()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      let index: StoreIndex | undefined = page === undefined ? new StoreIndex(keyv) : new StoreIndex(keyv, Number(page))
      await index.load()
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const after = held()
      const peak = ownRss().hwm
      const w0 = performance.now()
      let count = 0
      for (const _ of index.all()) count++
      const walkMs = performance.now() - w0
      if (json) console.log(JSON.stringify({ peak, loadMs: ms }))
      else console.log(
        `run ${run}: ${count} records loaded in ${(ms / 1000).toFixed(2)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s); ` +
          `held: heap ${((after.heap - before.heap) / MB).toFixed(0)} MB, outside the heap ${((after.outside - before.outside) / MB).toFixed(0)} MB, ` +
          `total ${((after.heap - before.heap + after.outside - before.outside) / MB).toFixed(0)} MB; every record through all() in ${(walkMs / 1000).toFixed(2)} s`,
      )
      index = undefined
    }
  } finally {
    await keyv.disconnect()
  }
}

await main()
