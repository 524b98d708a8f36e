/**
 * Where a mount's first sync and its full refresh spend memory (issue 11 item 4): the live mount
 * (src/service/live-mount.ts) run in this process against the fake Flickr (in its own process),
 * sampling `process.memoryUsage()` every 20 ms, so the peak RSS is split into heap and the rest,
 * and told by the first catalog's phase.
 *
 *   npm run build && node --expose-gc --import tsx bench/sync-trace.ts [--items 100000] [--sets 2000] [--refresh] [--gc-at-phase] [--snapshot-late-details]
 *
 * `--refresh`: after the first sync, a new mount of the synced cache and one full refresh (what
 * SIGHUP asks), traced the same way. `--cache DIR` keeps the cache in DIR; given a DIR synced
 * before, only its refresh is traced (in a process that never held a first sync). V8's old generation grows by 10% and its young generation stops at 8 MB semi-spaces, as `flickrfs mount` sets them. Nothing
 * here reads the mount (the process serving it must not).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import type { FakeCredentials } from '../src/fake-flickr/index.js'
import { startLiveMount, type LiveMount } from '../src/service/live-mount.js'
import { growOldGenerationBy } from '../src/util/old-generation.js'
import { capYoungGeneration } from '../src/util/young-generation.js'
import { benchArgs } from './measure.js'

// As `flickrfs mount` does (src/cli/mount.ts).
growOldGenerationBy(10)
capYoungGeneration(8)
const { has, number, text } = benchArgs()
const MB = 1024 * 1024
const snapshotLate = has('snapshot-late-details')
let snapshotTaken = false
const mb = (n: number): string => (n / MB).toFixed(0)

interface Sample { rss: number; heapUsed: number; heapTotal: number; external: number; phase: string; atMs: number; spaces?: string }

/** The largest RSS sampled, overall and by phase, with the heap at that moment. */
class Tracer {
  phase = 'start'
  top: Sample = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, phase: '', atMs: 0 }
  readonly byPhase = new Map<string, Sample>()
  readonly #t0 = performance.now()
  readonly #timer = setInterval(() => this.sample(), 20)

  sample(): void {
    const u = process.memoryUsage()
    const s: Sample = { rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, phase: this.phase, atMs: performance.now() - this.#t0 }
    if (s.rss > this.top.rss) {
      // The heap's spaces (size committed) at the peak: old, large objects, young...
      s.spaces = getHeapSpaceStatistics().filter((x) => x.space_size > MB).map((x) => `${x.space_name.replace('_space', '')} ${mb(x.space_size)}`).join(', ')
      this.top = s
    }
    if (s.rss > (this.byPhase.get(this.phase)?.rss ?? 0)) this.byPhase.set(this.phase, s)
  }

  report(what: string): void {
    clearInterval(this.#timer)
    const line = (s: Sample): string => `RSS ${mb(s.rss)} (heap used ${mb(s.heapUsed)} of ${mb(s.heapTotal)}, external ${mb(s.external)}) at ${(s.atMs / 1000).toFixed(1)} s`
    console.log(`${what}: peak ${line(this.top)} in '${this.top.phase}' (spaces: ${this.top.spaces ?? '?'})`)
    for (const [phase, s] of this.byPhase) console.log(`  ${phase.padEnd(22)} ${line(s)}`)
  }
}

/** RSS by kind (anonymous: heap and malloc; file: code and mapped files), from /proc. */
async function rssParts(): Promise<string> {
  const status = await readFile('/proc/self/status', 'utf8')
  return ['VmHWM', 'RssAnon', 'RssFile', 'RssShmem'].map((k) => `${k} ${new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? '?'} kB`).join(', ')
}

async function mountOnce(root: string, mnt: string, origin: string, credentials: FakeCredentials, tracer: Tracer, until: RegExp): Promise<LiveMount> {
  const api = new FlickrClient({ ...credentials, apiOrigin: origin, ratePerSec: 100_000, burst: 100_000 })
  const media = new MediaClient({ origins: [origin] })
  let done!: () => void
  const reached = new Promise<void>((res) => (done = res))
  const live = await startLiveMount({
    mountpoint: mnt, root, remote: { api, media }, fullListingEveryMs: 0, progressEveryMs: snapshotLate ? 500 : 3_600_000,
    // --partial-every MS: how often the first catalog is shown anew as it comes in (the mount's default: 1 s, comments only 5 s).
    ...(has('partial-every') ? { partialEveryMs: number('partial-every', 1000), partialCommentsEveryMs: number('partial-every', 5000) } : {}),
    onLine: (line) => {
      // --snapshot-late-details: a heap snapshot (after a full GC) once 95% of the comments are in,
      // near the end of 'details', where the first sync peaks.
      const comments = /^first catalog: details;.* comments (\d+)\/(\d+)/.exec(line)
      if (snapshotLate && !snapshotTaken && comments !== null && Number(comments[1]) >= 0.95 * Number(comments[2]) && Number(comments[2]) > 0) {
        snapshotTaken = true
        globalThis.gc?.()
        console.log(`  live heap late in 'details' (${comments[1]}/${comments[2]} comments): ${mb(process.memoryUsage().heapUsed)} MB; snapshot ${writeHeapSnapshot()}`)
      }
      const phase = /^first catalog: (\w+)/.exec(line)?.[1]
      if (phase !== undefined && phase !== tracer.phase) {
        // --gc-at-phase: what is alive as each phase begins (a full GC there, so it changes the peak).
        if (has('gc-at-phase')) {
          globalThis.gc?.()
          console.log(`  live heap as '${phase}' begins: ${mb(process.memoryUsage().heapUsed)} MB`)
        }
        tracer.phase = phase
      }
      if (/^first catalog complete/.test(line)) console.log(`  ${line}`)
      if (until.test(line)) done()
    },
  })
  if (until.source !== 'never') await reached
  return live
}

async function main(): Promise<void> {
  const items = number('items', 100_000)
  const sets = number('sets', 2000)
  const memoryBench = join(fileURLToPath(new URL('.', import.meta.url)), 'memory.ts')
  const fake = spawn(process.execPath, ['--import', 'tsx', memoryBench, '--serve', '--items', String(items), '--sets', String(sets)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((res) => createInterface({ input: fake.stdout }).once('line', res))
  const { origin, credentials } = JSON.parse(line) as { origin: string; credentials: FakeCredentials }
  const dir = await mkdtemp(join(tmpdir(), 'flickrfs-bench-sync-trace-'))
  // --cache DIR: the cache is DIR, kept; when it holds a catalog already, only the refresh is traced.
  const root = has('cache') ? resolve(text('cache') as string) : join(dir, 'cache')
  const synced = has('cache') && (await stat(join(root, '.flickrfs', 'catalog.sqlite')).catch(() => undefined)) !== undefined
  const mnt = await mkdtemp(join(dir, 'mnt-'))
  try {
    if (!synced) await firstSync(root, mnt, origin, credentials, items, sets)
    if (!has('refresh')) return
    globalThis.gc?.()
    const again = new Tracer()
    again.phase = 'load'
    const live = await mountOnce(root, mnt, origin, credentials, again, /never/)
    globalThis.gc?.()
    console.log(`loaded mount: heap ${mb(process.memoryUsage().heapUsed)} MB, RSS ${mb(process.memoryUsage().rss)} MB`)
    again.phase = 'refresh'
    again.top = { ...again.top, rss: 0 }
    await live.refresh()
    again.phase = 'after'
    await new Promise((r) => setTimeout(r, 1000))
    again.report('full refresh of the loaded mount')
    globalThis.gc?.()
    console.log(`  heap after gc ${mb(process.memoryUsage().heapUsed)} MB; ${await rssParts()}`)
    await live.handle.unmount({ lazy: true })
    await live.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
    fake.stdin.end()
  }
}

async function firstSync(root: string, mnt: string, origin: string, credentials: FakeCredentials, items: number, sets: number): Promise<void> {
  const first = new Tracer()
  const live = await mountOnce(root, mnt, origin, credentials, first, /^first catalog complete/)
  // The complete catalog's tree is built as the catalog changes, before that line: a moment more for what follows it.
  first.phase = 'after'
  await new Promise((r) => setTimeout(r, 1000))
  first.report(`first sync, ${items} items, ${sets} sets`)
  globalThis.gc?.()
  console.log(`  heap after gc ${mb(process.memoryUsage().heapUsed)} MB, RSS ${mb(process.memoryUsage().rss)} MB; ${await rssParts()}`)
  await live.handle.unmount({ lazy: true })
  await live.close()
}

await main()
