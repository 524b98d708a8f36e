/**
 * Pin benchmark: a first `pin` of a 700-item account (~50 MB, ~100 commented items, sets and
 * collections) from the fake Flickr with Flickr-like latency (50 ms per API call, 20 ms per media
 * request), against a sequential pin of the same account in the same run.
 *
 *   node --import tsx bench/pin.ts [--items 700] [--runs 3] [--api-latency 50] [--media-latency 20]
 *
 * The fake runs in its own process, so generating media bytes does not eat pin's CPU.
 *
 * "sequential" is pin() with every queue one wide (FlickrClient concurrency 1, refresh
 * apiConcurrency 1, headConcurrency 1, download concurrency 1) AND one HTTP request at a time
 * overall: for that run the global fetch (used by flickr-sdk and by MediaClient) is wrapped so a
 * request waits until the previous one's response body is fully read or cancelled. That is what a
 * plain sequential mirror does (flickrmirrorer: one call or one download at a time); the disk work
 * (fsync, sqlite, sidecars) is the same code in both runs.
 * "parallel" is pin() with its defaults (what `flickrfs pin DEST` does).
 * Both use an API rate above the call count (ratePerSec 1000): the default 1 call/s after a
 * 3000-call burst never binds for an account this size either.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateAccount, startFakeFlickr, type FakeCredentials } from '../src/fake-flickr/index.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { pin, type PinReport } from '../src/pin/pin.js'
import { median } from './measure.js'

const self = fileURLToPath(import.meta.url)
const args = process.argv.slice(2)
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(args[i + 1])
}


interface Shape {
  origin: string
  credentials: FakeCredentials
  items: number
  bytes: number
  /** ⌈N/500⌉ + ⌈S/500⌉ + Σ⌈nₛ/500⌉ + 1 + C + V + 3 */
  budget: number
  commented: number
  sets: number
  videos: number
}

async function serve(items: number, apiLatencyMs: number, mediaLatencyMs: number): Promise<void> {
  const videos = Math.round(items * 0.03)
  const account = generateAccount({
    seed: 700, photos: items - videos, videos, sets: 30, collections: 5, commentedFraction: 0.14,
    meanPhotoBytes: 68_000, meanVideoBytes: 250_000,
  })
  const fake = await startFakeFlickr({ account })
  fake.faults.apiLatencyMs = apiLatencyMs
  fake.faults.mediaLatencyMs = mediaLatencyMs
  const N = account.photostream.length
  const S = account.sets.length
  const C = account.commented().length
  const V = account.photostream.filter((id) => account.requirePhoto(id).media === 'video').length
  const budget = Math.ceil(N / 500) + Math.ceil(S / 500) + account.sets.reduce((n, s) => n + Math.ceil(s.photoIds.length / 500), 0) + 1 + C + V + 3
  const bytes = account.photostream.reduce((n, id) => n + account.requirePhoto(id).bytes, 0)
  const shape: Shape = { origin: fake.origin, credentials: fake.credentials, items: N, bytes, budget, commented: C, sets: S, videos: V }
  process.stdout.write(`${JSON.stringify(shape)}\n`)
  // One command per line on stdin: "reset" or "counts"; the end of stdin stops the server.
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (cmd) => {
    if (cmd === 'reset') fake.resetCounts()
    process.stdout.write(`${JSON.stringify(fake.counts())}\n`)
  })
  await new Promise<void>((resolve) => rl.on('close', resolve))
  await fake.close()
}

class FakeProcess {
  private readonly lines: Interface
  private readonly waiting: Array<(line: string) => void> = []

  constructor(readonly proc: ChildProcessByStdio<Writable, Readable, null>) {
    this.lines = createInterface({ input: proc.stdout })
    this.lines.on('line', (l) => this.waiting.shift()?.(l))
  }

  next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  async ask(cmd: 'reset' | 'counts'): Promise<Record<string, number>> {
    const reply = this.next()
    this.proc.stdin.write(`${cmd}\n`)
    return JSON.parse(await reply) as Record<string, number>
  }

  async close(): Promise<void> {
    this.proc.stdin.end()
    await new Promise((r) => this.proc.on('exit', r))
  }
}

/**
 * A fetch that lets one request run at a time, from its start to the last byte of its response:
 * each body is read whole before the next request may start (every body here is small, < 1 MB).
 */
function oneAtATime(inner: typeof fetch): typeof fetch {
  let tail: Promise<void> = Promise.resolve()
  return async (input, init) => {
    let release!: () => void
    const turn = tail
    tail = new Promise<void>((r) => (release = r))
    await turn
    try {
      const res = await inner(input, init)
      const body = init?.method === 'HEAD' || res.body === null ? null : await res.arrayBuffer()
      const copy = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
      Object.defineProperty(copy, 'url', { value: res.url })
      return copy
    } finally {
      release()
    }
  }
}

interface Measured {
  ms: number
  /** CPU time of this (the pin) process during the run, user + system. */
  cpuMs: number
  apiCalls: number
  mediaRequests: number
  downloaded: number
  failures: number
}

async function pinOnce(fake: FakeProcess, shape: Shape, mode: 'parallel' | 'sequential'): Promise<Measured> {
  const dest = await mkdtemp(join(tmpdir(), `flickrfs-bench-pin-${mode}-`))
  try {
    const seq = mode === 'sequential'
    const realFetch = globalThis.fetch
    if (seq) globalThis.fetch = oneAtATime(realFetch)
    const api = new FlickrClient({ ...shape.credentials, apiOrigin: shape.origin, ratePerSec: 1000, ...(seq ? { concurrency: 1 } : {}) })
    const media = new MediaClient()
    await fake.ask('reset')
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const phases: string[] = []
    let phase = ''
    const report: PinReport = await pin({
      dest, api, media,
      ...(seq ? { concurrency: 1, apiConcurrency: 1, headConcurrency: 1 } : {}),
      ...(!seq && args.includes('--concurrency') ? { concurrency: arg('concurrency', 6) } : {}),
      onProgress: (p) => {
        if (p.phase !== phase) {
          phase = p.phase
          phases.push(`${p.phase}@${((performance.now() - t0) / 1000).toFixed(1)}s(${p.done}/${p.queued})`)
        }
      },
    })
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    globalThis.fetch = realFetch
    const counts = await fake.ask('counts')
    const apiCalls = Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0)
    const mediaRequests = Object.entries(counts).filter(([k]) => k.startsWith('media:') && k !== 'media:bytes').reduce((n, [, v]) => n + v, 0)
    if (args.includes('--phases')) console.log(`  ${mode}: ${phases.join(' ')}`)
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, apiCalls, mediaRequests, downloaded: report.downloaded, failures: report.failures.length }
  } finally {
    await rm(dest, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const items = arg('items', 700)
  const apiLatency = arg('api-latency', 50)
  const mediaLatency = arg('media-latency', 20)
  if (args[0] === '--serve') return serve(items, apiLatency, mediaLatency)
  const runs = arg('runs', 3)
  const proc = spawn(process.execPath, ['--import', 'tsx', self, '--serve', '--items', String(items), '--api-latency', String(apiLatency), '--media-latency', String(mediaLatency)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const fake = new FakeProcess(proc)
  const shape = JSON.parse(await fake.next()) as Shape
  console.log(`account: ${shape.items} items (${shape.videos} videos), ${(shape.bytes / 1e6).toFixed(1)} MB, ${shape.sets} sets, ${shape.commented} commented; API budget ${shape.budget}; latency API ${apiLatency} ms, media ${mediaLatency} ms`)
  const par: Measured[] = []
  const seq: Measured[] = []
  try {
    for (let r = 0; r < runs; r++) {
      // Alternate the order so neither mode always runs on a warmer machine.
      let order: Array<'parallel' | 'sequential'> = r % 2 === 0 ? ['sequential', 'parallel'] : ['parallel', 'sequential']
      if (args.includes('--parallel-only')) order = ['parallel']
      for (const mode of order) {
        const m = await pinOnce(fake, shape, mode)
        if (m.failures > 0 || m.downloaded !== shape.items) throw new Error(`${mode}: ${m.failures} failures, ${m.downloaded}/${shape.items} downloaded`)
        ;(mode === 'parallel' ? par : seq).push(m)
        console.log(`run ${r + 1} ${mode.padEnd(10)} ${(m.ms / 1000).toFixed(2)} s (CPU ${(m.cpuMs / 1000).toFixed(1)} s), ${m.apiCalls} API calls, ${m.mediaRequests} media requests`)
      }
    }
  } finally {
    await fake.close()
  }
  if (seq.length === 0) return
  const pMs = median(par.map((m) => m.ms))
  const sMs = median(seq.map((m) => m.ms))
  const pCalls = median(par.map((m) => m.apiCalls))
  console.log(`median parallel   ${(pMs / 1000).toFixed(2)} s, ${pCalls} API calls (budget ${shape.budget}: ${pCalls <= shape.budget ? 'within' : 'OVER'})`)
  console.log(`median sequential ${(sMs / 1000).toFixed(2)} s, ${median(seq.map((m) => m.apiCalls))} API calls`)
  console.log(`ratio ${(sMs / pMs).toFixed(1)}x faster`)
}

await main()
