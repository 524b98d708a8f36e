/**
 * The no-change refresh of a lazily served catalog (issue 11 item 4: the online mount of 1,000,000
 * items peaked in it): what Catalog.refreshIfUnchanged costs on top of the lazy view it serves, for
 * this checkout's build against another's (main's: the lists read again, readLists) in the same run.
 *
 *   npm run build && node --import tsx bench/quick-lazy.ts --cache C --port N --base OTHER [--items 1000000] [--sets 20000] [--runs 6]
 *
 * C: a cache seeded by `bench/memory.ts --online-only --seed --items I --sets S --port N --cache C`
 * (the same items, sets and port: the fake serves the account the catalog was saved from; C is
 * copied once, and the copy refreshed). OTHER: a checkout whose dist/ is built. Runs alternate
 * between the two builds, each in a fresh Node process: the copy opened as the online mount opens
 * it (a writer with the sidecar sizer, lazy), gc, the peak RSS reset (clear_refs 5), then
 * refreshIfUnchanged, which must answer "unchanged". Printed per build (medians): the peak RSS over
 * the RSS before (VmHWM), the heap used at its highest (sampled every millisecond, so a lower
 * bound) and right after the refresh (no gc) over the heap before, CPU and wall time; and the ratio.
 */
import { cp, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { spawn } from 'node:child_process'
import { REPO } from '../test/support/repo.js'
import { startBenchFake } from './bench-fake.js'
import { benchArgs, median, ownRss, resetPeak } from './measure.js'

const self = fileURLToPath(import.meta.url)
const { args, number, text } = benchArgs()
const MB = 1024 * 1024

interface Sample {
  peakRssDelta: number
  peakHeapDelta: number
  heapAfterDelta: number
  cpuMs: number
  wallMs: number
  rssBefore: number
}

/** The child: one quick refresh with the build in `dist`, as the online mount asks it. */
async function child(dist: string, root: string, origin: string, credentials: Record<string, string>): Promise<void> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T
  type CatalogModule = typeof import('../src/catalog/index.js')
  const { Catalog } = await load<CatalogModule>('catalog/index.js')
  const { FlickrClient } = await load<typeof import('../src/flickr/index.js')>('flickr/index.js')
  const { photoSidecarSizer, PHOTO_METADATA_FORMAT } = await load<typeof import('../src/layout/metadata.js')>('layout/metadata.js')
  const catalog = await Catalog.open(root, { sidecarSizer: photoSidecarSizer, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: 0 } })
  const client = new FlickrClient({ ...(credentials as unknown as ConstructorParameters<typeof FlickrClient>[0]), apiOrigin: origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
  const gc = globalThis.gc as () => void
  gc()
  gc()
  const before = process.memoryUsage()
  resetPeak()
  let peakHeap = before.heapUsed
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
  }, 1)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const quick = await catalog.refreshIfUnchanged(client, { fullListingEveryMs: 7 * 86_400_000 })
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  clearInterval(sampler)
  const heapAfter = process.memoryUsage().heapUsed
  const peakRss = ownRss().hwm
  if (quick?.unchanged === undefined) throw new Error('the refresh did not find "nothing changed" (is the fake the one the cache was seeded from?)')
  await catalog.close()
  const sample: Sample = {
    peakRssDelta: peakRss - before.rss, peakHeapDelta: Math.max(peakHeap, heapAfter) - before.heapUsed, heapAfterDelta: heapAfter - before.heapUsed,
    cpuMs: (cpu.user + cpu.system) / 1000, wallMs, rssBefore: before.rss,
  }
  process.stdout.write(`${JSON.stringify(sample)}\n`)
}

function runChild(dist: string, root: string, origin: string, credentials: unknown): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', dist, root, origin, JSON.stringify(credentials)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out) as Sample) : reject(new Error(`child exited ${code}`))))
  })
}

async function main(): Promise<void> {
  const cache = resolve(text('cache') ?? '')
  const base = resolve(text('base') ?? '')
  const port = text('port')
  if (text('cache') === undefined || text('base') === undefined || port === undefined) throw new Error('--cache C, --port N and --base OTHER are needed')
  const items = text('items') ?? '1000000'
  const sets = text('sets') ?? '20000'
  const runs = number('runs', 6)
  const fake = await startBenchFake(['--import', 'tsx', join(dirname(self), 'memory.ts'), '--serve', '--items', items, '--sets', sets, '--port', port])
  const root = `${cache}-quick-lazy-copy`
  await rm(root, { recursive: true, force: true })
  await cp(cache, root, { recursive: true })
  const builds = [{ name: 'A', dist: join(REPO, 'dist') }, { name: 'B', dist: join(base, 'dist') }]
  const samples: Sample[][] = [[], []]
  try {
    for (let i = 0; i < runs; i++) {
      const b = i % 2
      const s = await runChild((builds[b] as { dist: string }).dist, root, fake.origin, fake.credentials)
      ;(samples[b] as Sample[]).push(s)
      console.error(`run ${i + 1} (${builds[b]?.name}): peak RSS +${(s.peakRssDelta / MB).toFixed(0)} MB, heap peak +${(s.peakHeapDelta / MB).toFixed(0)} MB, after +${(s.heapAfterDelta / MB).toFixed(0)} MB, CPU ${(s.cpuMs / 1000).toFixed(2)} s, wall ${(s.wallMs / 1000).toFixed(2)} s (RSS before ${(s.rssBefore / MB).toFixed(0)} MB)`)
    }
  } finally {
    fake.proc.stdin.end()
    await rm(root, { recursive: true, force: true })
  }
  console.log(`quick-lazy bench: ${items} items, ${sets} sets, ${runs} runs alternating; medians`)
  console.log(`A: ${builds[0]?.dist}\nB: ${builds[1]?.dist}`)
  const keys: Array<[keyof Sample, string]> = [['peakRssDelta', 'peak RSS over before'], ['peakHeapDelta', 'heap peak over before'], ['heapAfterDelta', 'heap after over before'], ['cpuMs', 'CPU'], ['wallMs', 'wall'], ['rssBefore', 'RSS before (the view)']]
  for (const [k, what] of keys) {
    const [a, b] = samples.map((s) => median(s.map((x) => x[k])))
    const show = (v: number | undefined): string => (k.endsWith('Ms') ? `${((v ?? NaN) / 1000).toFixed(2)} s` : `${((v ?? NaN) / MB).toFixed(0)} MB`)
    console.log(`${what.padEnd(24)} A ${show(a).padStart(9)}  B ${show(b).padStart(9)}  A/B ${((a ?? NaN) / (b ?? NaN)).toFixed(2)}`)
  }
}

if (args[0] === '--child') {
  const [, dist, root, origin, credentials] = args
  await child(dist as string, root as string, origin as string, JSON.parse(credentials as string) as Record<string, string>)
} else {
  await main()
}
