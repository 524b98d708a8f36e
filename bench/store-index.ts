/**
 * What the store's index of originals costs alone (issue 11 item 4): the heap and the memory
 * outside it (typed arrays) that StoreIndex.load keeps, after a full GC, and the load's time and CPU.
 *
 *   node --import tsx --expose-gc bench/store-index.ts ROOT [--runs 3]
 *
 * ROOT holds a store index (bench/pin-parts.ts fills one with a record per photo of its catalog).
 * Each run loads it into a fresh StoreIndex, the one before let go; the figures are each run's, and
 * the time to walk every record (all(), which makes each record on demand where the index is in columns).
 */
import { StoreIndex, openStoreKeyv } from '../src/store/store-index.js'

const MB = 1024 * 1024
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

function held(): { heap: number; outside: number } {
  gc?.()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, outside: m.arrayBuffers }
}

async function main(): Promise<void> {
  const root = process.argv[2]
  if (root === undefined) throw new Error('usage: bench/store-index.ts ROOT [--runs 3]')
  const runsArg = process.argv.indexOf('--runs')
  const runs = runsArg === -1 ? 3 : Number(process.argv[runsArg + 1])
  const keyv = await openStoreKeyv(root, { readOnly: true })
  try {
    for (let run = 1; run <= runs; run++) {
      const before = held()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      let index: StoreIndex | undefined = new StoreIndex(keyv)
      await index.load()
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const after = held()
      const w0 = performance.now()
      let count = 0
      for (const _ of index.all()) count++
      const walkMs = performance.now() - w0
      console.log(
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
