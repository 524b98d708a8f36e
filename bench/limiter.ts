/**
 * Rate-limit benchmark: calls in any hour on one API key, from a pin killed (-9) and rerun, a
 * mount, and a cron pin every 15 minutes, all at once, against the fake Flickr.
 *
 *   node --import tsx bench/limiter.ts [--scale 60] [--hours 1.5]
 *
 * Flickr time runs `scale` times faster (FLICKRFS_TIME_SCALE; an hour is 3600/scale real seconds)
 * in every process: the limiter, its shared file and the workers' schedule use the same scaled
 * wall clock. Each worker is a real process making real HTTP calls (flickr.test.login) as fast as
 * its limiter lets it:
 *   t=0        "pin"       a first sync: wants 30,000 calls; kill -9 at 5 min
 *   t=5 min    "pin again" the rerun: wants 30,000 calls
 *   t=10 min   "mount"     refreshes and comments: wants calls all the time
 *   t=15, 30, 45, 60, 75 min  "cron pin"  a no-change pin: 411 calls, then exits
 * The fake's call count is sampled every 20 ms; the figure is the most calls in any window of one
 * Flickr hour. Two runs, same schedule:
 *   shared     this tree: one bucket per key in the config dir (burst 600, then 0.8/s)
 *   baseline   the old limiter: a bucket of each process's own (burst 3000, then 1/s)
 * Also measured: the cost of one take() of the shared bucket against the in-memory one, with the
 * rate out of the way (burst and rate 1e9), 20,000 takes each.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../src/fake-flickr/index.js'
import {
  FlickrClient, SharedTokenBucket, TokenBucket, openFlickr, realClock, scaledWallClock, wallClock,
} from '../src/flickr/index.js'
import { benchArgs } from './measure.js'

const self = fileURLToPath(import.meta.url)
const { args, number } = benchArgs()
const MIN = 60_000

if (args[0] === 'worker') {
  // worker <shared|baseline> <calls wanted>
  const [, mode, wanted] = args
  const env = process.env
  const clock = scaledWallClock(Number(env.FLICKRFS_TIME_SCALE))
  const client = mode === 'shared'
    ? (await openFlickr({ env })).client
    : new FlickrClient({
      apiKey: env.FLICKR_API_KEY ?? '', apiSecret: env.FLICKR_API_SECRET ?? '',
      oauthToken: env.FLICKR_OAUTH_TOKEN ?? '', oauthTokenSecret: env.FLICKR_OAUTH_TOKEN_SECRET ?? '',
      apiOrigin: env.FLICKRFS_API_ORIGIN, ratePerSec: 1, burst: 3000, clock,
    })
  let left = Number(wanted)
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (left-- > 0) await client.call('flickr.test.login')
  }))
} else {
  await main()
}

interface Run { label: string; total: number; maxHour: number; firstHour: number }

async function scenario(fake: FakeFlickr, mode: 'shared' | 'baseline', scale: number, hours: number): Promise<Run> {
  const config = await mkdtemp(join(tmpdir(), 'flickrfs-bench-limiter-'))
  const env = {
    ...process.env,
    FLICKRFS_CONFIG_DIR: config,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKR_API_KEY: fake.credentials.apiKey,
    FLICKR_API_SECRET: fake.credentials.apiSecret,
    FLICKR_OAUTH_TOKEN: fake.credentials.oauthToken,
    FLICKR_OAUTH_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
    FLICKRFS_TIME_SCALE: String(scale),
  }
  const flickr = scaledWallClock(scale)
  const t0 = flickr.now()
  const at = (flickrMs: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, (t0 + flickrMs - flickr.now()) / scale)))
  const children = new Set<ChildProcess>()
  const start = (wanted: number): ChildProcess => {
    const c = spawn(process.execPath, ['--import', 'tsx', self, 'worker', mode, String(wanted)], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    children.add(c)
    c.on('exit', () => children.delete(c))
    return c
  }
  fake.resetCounts()
  const samples: Array<[number, number]> = []
  const sampler = setInterval(() => samples.push([flickr.now() - t0, fake.counts()['flickr.test.login'] ?? 0]), 20)
  const schedule = (async () => {
    const pin = start(30_000)
    await at(5 * MIN)
    pin.kill('SIGKILL')
    start(30_000)
    await at(10 * MIN)
    start(Number.MAX_SAFE_INTEGER)
    for (let m = 15; m < hours * 60; m += 15) {
      await at(m * MIN)
      start(411)
    }
  })()
  await at(hours * 60 * MIN)
  await schedule
  clearInterval(sampler)
  for (const c of children) c.kill('SIGKILL')
  samples.push([flickr.now() - t0, fake.counts()['flickr.test.login'] ?? 0])
  await rm(config, { recursive: true, force: true })
  // The most calls between any two samples one Flickr hour (or less) apart.
  let maxHour = 0
  let j = 0
  for (let i = 0; i < samples.length; i++) {
    const [ti, ci] = samples[i] as [number, number]
    while (j < i && ti - (samples[j] as [number, number])[0] > 60 * MIN) j++
    maxHour = Math.max(maxHour, ci - (samples[j] as [number, number])[1])
  }
  const firstHour = samples.filter(([t]) => t <= 60 * MIN).pop()?.[1] ?? 0
  const total = samples[samples.length - 1]?.[1] ?? 0
  return { label: mode, total, maxHour, firstHour }
}

async function perTake(): Promise<{ memoryUs: number; sharedUs: number; touches: number }> {
  const n = 20_000
  const mem = new TokenBucket(1e9, 1e9, realClock)
  let t = performance.now()
  for (let i = 0; i < n; i++) await mem.take()
  const memoryUs = ((performance.now() - t) * 1000) / n
  const dir = await mkdtemp(join(tmpdir(), 'flickrfs-bench-take-'))
  const shared = new SharedTokenBucket({ configDir: dir, apiKey: 'bench', burst: 1e9, ratePerSec: 1e9, clock: wallClock })
  t = performance.now()
  for (let i = 0; i < n; i++) await shared.take()
  const sharedUs = ((performance.now() - t) * 1000) / n
  await rm(dir, { recursive: true, force: true })
  return { memoryUs, sharedUs, touches: shared.fileTouches }
}

async function main(): Promise<void> {
  const scale = number('scale', 60)
  const hours = number('hours', 1.5)
  const fake = await startFakeFlickr({ account: generateAccount({ seed: 5, photos: 2, videos: 0, sets: 0 }) })
  try {
    const take = await perTake()
    console.log(`take(): in-memory bucket ${take.memoryUs.toFixed(2)} µs, shared bucket ${take.sharedUs.toFixed(2)} µs ` +
      `(${take.touches} file updates for 20,000 takes)`)
    console.log(`scale ${scale} (one Flickr hour = ${3600 / scale} s), ${hours} Flickr hours per run`)
    for (const mode of ['shared', 'baseline'] as const) {
      const r = await scenario(fake, mode, scale, hours)
      console.log(`${mode.padEnd(8)}  most calls in any hour ${r.maxHour}  first hour ${r.firstHour}  total ${r.total} in ${hours} h`)
    }
  } finally {
    await fake.close()
  }
}
