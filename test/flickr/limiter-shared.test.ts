import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  FlickrClient, LEASE_MS, SharedTokenBucket, VirtualClock, advance, limiterStatePath, wallClock, worstCaseCalls,
} from '../../src/flickr/index.js'
import { apiBudgetLines } from '../../src/cli/status.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { tempDir } from '../support/repo.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = ['--import', 'tsx', 'test/flickr/fixtures/limiter-child.ts']

let fake: FakeFlickr
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 11, photos: 2, videos: 0, sets: 0 }) })
})
// Every config folder the tests make, removed at the end (one set per test run would pile up in /tmp).
const configDirs: string[] = []
after(async () => {
  await fake.close()
  await Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

async function newConfigDir(prefix: string): Promise<string> {
  const dir = await tempDir(prefix)
  configDirs.push(dir)
  return dir
}

function childEnv(configDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { apiKey, apiSecret, oauthToken, oauthTokenSecret } = fake.credentials
  return {
    ...process.env,
    FLICKRFS_CONFIG_DIR: configDir,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKR_API_KEY: apiKey,
    FLICKR_API_SECRET: apiSecret,
    FLICKR_OAUTH_TOKEN: oauthToken,
    FLICKR_OAUTH_TOKEN_SECRET: oauthTokenSecret,
    ...extra,
  }
}

interface ChildResult {
  code: number | null
  stdout: string
  stderr: string
}

function child(args: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; done: Promise<ChildResult> } {
  const proc = spawn(process.execPath, [...CHILD, ...args], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<ChildResult>((res) =>
    proc.on('exit', (code) => res({ code, stdout, stderr })))
  return { proc, done }
}

/**
 * One `calls` child per env, all calling in the same window of `ms`, which starts once every one
 * has loaded and opened its client (loading takes seconds on a busy machine); their results.
 */
async function callsTogether(envs: NodeJS.ProcessEnv[], ms: number): Promise<ChildResult[]> {
  const children = envs.map((env) => child(['calls'], env))
  await Promise.all(children.map((c) => new Promise<void>((res, rej) => {
    c.proc.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && res())
    void c.done.then((r) => rej(new Error(`the child exited before it was ready: ${r.stderr}`)))
  })))
  const start = Date.now() + 200
  for (const c of children) c.proc.stdin?.end(`${start} ${start + ms}\n`)
  return Promise.all(children.map((c) => c.done))
}

/** A `calls` child's last line: calls made, start of the first, end of the last (epoch ms). */
function callsMade(stdout: string): [number, number, number] {
  return (stdout.trim().split('\n').pop() ?? '').split(' ').map(Number) as [number, number, number]
}

void test('two processes on one key share one bucket: together they make at most burst + rate × window calls', async () => {
  const config = await newConfigDir('limiter-two-')
  const burst = 20
  const rate = 4
  const env = childEnv(config, { FLICKRFS_API_BURST: String(burst), FLICKRFS_API_RATE: String(rate) })
  fake.resetCounts()
  // Both start together, once both have loaded, and call for 2 s. Alone, one makes ~50 calls in that time.
  const [ra, rb] = (await callsTogether([env, env], 2000)) as [ChildResult, ChildResult]
  assert.equal(ra.code, 0, ra.stderr)
  assert.equal(rb.code, 0, rb.stderr)
  const [na, fa, la] = callsMade(ra.stdout)
  const [nb, fb, lb] = callsMade(rb.stdout)
  const seen = fake.counts()['flickr.test.login'] ?? 0
  assert.equal(seen, na + nb, 'the fake saw every call the children made')
  // Every token was taken between the first call's start and the last call's end.
  const windowSec = (Math.max(la, lb) - Math.min(fa, fb)) / 1000
  const bound = worstCaseCalls(burst, rate, windowSec, LEASE_MS)
  process.stderr.write(`# two processes: ${na} + ${nb} = ${seen} calls in ${windowSec} s (shared bound ${bound})\n`)
  assert.ok(seen <= bound, `two processes made ${seen} calls in ${windowSec} s; one shared bucket allows ${bound}`)
  // Each process with its own bucket would have spent its own burst, and refilled on its own: 2 × (20 + 8) = 56.
  assert.ok(seen >= burst, `the burst was spent (${seen} calls)`)
  assert.ok(na > 0 && nb > 0, `both made calls (${na}, ${nb})`)
  const files = await readdir(config)
  assert.deepEqual(files.filter((f) => f.startsWith('ratelimit-')), [limiterStatePath(config, fake.credentials.apiKey).split('/').pop()],
    'one state file, the lock gone')
  const text = await readFile(limiterStatePath(config, fake.credentials.apiKey), 'utf8')
  assert.ok(!text.includes(fake.credentials.apiKey) && !files.some((f) => f.includes(fake.credentials.apiKey)), 'the key is in neither the name nor the file')
})

void test('a process killed (-9) while it holds the lock does not wedge the next one', async () => {
  const config = await newConfigDir('limiter-kill-')
  const holder = child(['lock'], childEnv(config))
  await new Promise<void>((res, rej) => {
    holder.proc.stdout?.on('data', (d: Buffer) => d.toString().includes('locked') && res())
    void holder.done.then((r) => rej(new Error(`the lock holder exited: ${r.stderr}`)))
  })
  const bucket = new SharedTokenBucket({ configDir: config, apiKey: fake.credentials.apiKey, burst: 5, ratePerSec: 1, clock: wallClock })
  let got = false
  const taken = bucket.take().then(() => (got = true))
  await new Promise((r) => setTimeout(r, 400))
  const killedAt = performance.now()
  try {
    assert.equal(got, false, 'the lock is respected while its holder lives')
  } finally {
    holder.proc.kill('SIGKILL')
  }
  await taken
  const waited = performance.now() - killedAt
  assert.ok(waited < 2000, `the next process went on ${Math.round(waited)} ms after the kill`)
  const state = JSON.parse(await readFile(bucket.path, 'utf8')) as { tokens: number }
  assert.ok(state.tokens < 5, 'the lease came out of the shared bucket')
})

void test('a 429 storm halves the refill, for every process of the key, and status says so', async () => {
  const config = await newConfigDir('limiter-429-')
  const slowClock = new VirtualClock()
  const slowed = new SharedTokenBucket({ configDir: config, apiKey: fake.credentials.apiKey, burst: 10, ratePerSec: 2, clock: slowClock, maxLease: 1 })
  const client = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, clock: slowClock, limiter: slowed, random: () => 0.5 })
  fake.faults.inject('throttle429', { count: 3, target: 'flickr.test.login' })
  await client.testLogin()
  const state = JSON.parse(await readFile(slowed.path, 'utf8')) as { slowFactor: number; slowUntilMs: number }
  assert.equal(state.slowFactor, 0.5, 'one storm halves the refill once')
  assert.ok(state.slowUntilMs >= slowClock.now() + 9 * 60_000, 'for about ten minutes')

  // Another bucket on the same file (another process) now refills at 1/s, not 2/s.
  const other = new SharedTokenBucket({ configDir: config, apiKey: fake.credentials.apiKey, burst: 10, ratePerSec: 2, clock: slowClock, maxLease: 1 })
  for (let i = 0; i < 10; i++) await other.take() // whatever is left
  const t0 = slowClock.now()
  for (let i = 0; i < 10; i++) await other.take()
  const slowMs = slowClock.now() - t0
  // The same on a fresh key's file, never slowed.
  const freshDir = await newConfigDir('limiter-429-fresh-')
  const fresh = new SharedTokenBucket({ configDir: freshDir, apiKey: fake.credentials.apiKey, burst: 10, ratePerSec: 2, clock: slowClock, maxLease: 1 })
  for (let i = 0; i < 10; i++) await fresh.take()
  const t1 = slowClock.now()
  for (let i = 0; i < 10; i++) await fresh.take()
  const freshMs = slowClock.now() - t1
  assert.ok(slowMs >= 1.9 * freshMs, `10 calls took ${slowMs} ms slowed, ${freshMs} ms not`)

  // status reads the same file (in wall-clock time, so slow a real-clock bucket of its own key).
  const statusDir = await newConfigDir('limiter-status-')
  const env = { FLICKRFS_CONFIG_DIR: statusDir, FLICKR_API_KEY: 'k-status', FLICKR_API_SECRET: 's', FLICKRFS_API_BURST: '40' }
  const real = new SharedTokenBucket({ configDir: statusDir, apiKey: 'k-status', burst: 40, clock: wallClock, maxLease: 5 })
  await real.take()
  let lines = (await apiBudgetLines(env)).join('\n')
  assert.match(lines, /35 of 40 calls available now; burst 40 \(FLICKRFS_API_BURST\), then 0\.8\/s = 2880\/h \(default\)/)
  assert.doesNotMatch(lines, /slowed/)
  await real.slowDown()
  lines = (await apiBudgetLines(env)).join('\n')
  assert.match(lines, /17 of 40 calls available now/)
  assert.match(lines, /slowed: Flickr said "too many requests"; refill is 0\.4\/s until/)
  assert.doesNotMatch(lines, /warning/)
  assert.match((await apiBudgetLines({ ...env, FLICKRFS_API_BURST: '3000', FLICKRFS_API_RATE: '1' })).join('\n'),
    /warning: these settings allow up to 6602 calls in an hour/)
})

void test('a corrupt state file is replaced, with a line in the debug log, not a crash (and no fresh burst)', async () => {
  const config = await newConfigDir('limiter-corrupt-')
  const path = limiterStatePath(config, fake.credentials.apiKey)
  await writeFile(path, '{"v":1,"tokens":')
  fake.resetCounts()
  const [r] = (await callsTogether([childEnv(config, { DEBUG: 'flickrfs:limiter', FLICKRFS_API_BURST: '50', FLICKRFS_API_RATE: '10' })], 600)) as [ChildResult]
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /flickrfs:limiter rate-limit state .*ratelimit-[0-9a-f]{16}\.json was not readable \(16 bytes\); replaced with an empty bucket/)
  const state = JSON.parse(await readFile(path, 'utf8')) as { v: number; tokens: number }
  assert.equal(state.v, 1)
  const made = fake.counts()['flickr.test.login'] ?? 0
  assert.equal(made, callsMade(r.stdout)[0])
  // Started empty, at 10/s for ~0.6 s: a handful of calls, never the burst of 50.
  assert.ok(made >= 1 && made < 25, `${made} calls`)
})

/** A bucket (burst 3, 1/s) whose config folder is a file: its state can never be written. */
async function unwritableBucket(prefix: string): Promise<{ bucket: SharedTokenBucket; clock: VirtualClock; notADir: string }> {
  const notADir = join(await newConfigDir(prefix), 'config')
  await writeFile(notADir, 'a file where the config folder should be')
  const clock = new VirtualClock()
  return { bucket: new SharedTokenBucket({ configDir: notADir, apiKey: 'k', burst: 3, ratePerSec: 1, clock }), clock, notADir }
}

void test('a config folder that cannot be written does not stop the calls: the process keeps its own bucket', async () => {
  const { bucket, clock, notADir } = await unwritableBucket('limiter-unwritable-')
  const client = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, clock, limiter: bucket, random: () => 0.5 })
  fake.faults.inject('throttle429', { count: 1, target: 'flickr.test.login' })
  for (let i = 0; i < 5; i++) await client.testLogin()
  // Burst 3, then refills at 1/s halved by the 429: the in-memory bucket still paces the calls.
  assert.ok(clock.now() >= 2000, `the calls were paced (${clock.now()} ms)`)
  assert.equal(await readFile(notADir, 'utf8'), 'a file where the config folder should be')
})

void test('prepare() leases from the file ahead of the calls: the first ones then take their tokens without touching it', async () => {
  const config = await newConfigDir('limiter-prepare-')
  const clock = new VirtualClock()
  const bucket = new SharedTokenBucket({ configDir: config, apiKey: 'k', burst: 40, ratePerSec: 1, clock, maxLease: 16 })
  await bucket.prepare()
  // The lease is taken and written before any call: 16 of the 40 tokens are this process's.
  const state = JSON.parse(await readFile(bucket.path, 'utf8')) as { tokens: number }
  assert.equal(state.tokens, 24)
  assert.equal(bucket.fileTouches, 1)
  for (let i = 0; i < 16; i++) await bucket.take()
  assert.equal(bucket.fileTouches, 1, 'the leased calls did not touch the file')
  await bucket.take()
  assert.equal(bucket.fileTouches, 2, 'the 17th call leases again')
  // A lease still held is not taken again, and takes nothing from the file.
  await bucket.prepare()
  assert.equal(bucket.fileTouches, 2)
  assert.equal((JSON.parse(await readFile(bucket.path, 'utf8')) as { tokens: number }).tokens, 8)
})

void test('prepare() on a config folder that cannot be written neither fails nor stops the calls', async () => {
  const { bucket, clock } = await unwritableBucket('limiter-prepare-unwritable-')
  await bucket.prepare()
  for (let i = 0; i < 3; i++) await bucket.take()
  assert.equal(clock.now(), 0, 'the burst was there at once')
})

void test('a slow-down written by a clock far ahead (set back since, or a bench scaled) lasts at most its ten minutes from now', () => {
  const now = Date.UTC(2026, 11, 6)
  // As a FLICKRFS_TIME_SCALE=1000 run left the file on this machine: times ~30,000 years ahead, 1/8 of the rate.
  const written = { v: 1 as const, tokens: 0, updatedAtMs: now * 17, slowFactor: 0.125, slowUntilMs: now * 17 + 600_000, slowedAtMs: now * 17, burst: 600, ratePerSec: 0.8 }
  const at = advance(written, now, 600, 0.8)
  assert.ok(at.slowUntilMs <= now + 10 * 60_000, `slowed until ${at.slowUntilMs - now} ms from now`)
  assert.ok(at.slowedAtMs <= now)
  // Ten minutes on, the key has its whole rate again: 0.8/s, not 0.1/s.
  const later = advance(at, now + 10 * 60_000 + 1000, 600, 0.8)
  assert.equal(later.slowFactor, 1)
  const perSecond = advance(later, now + 10 * 60_000 + 11_000, 600, 0.8).tokens - later.tokens
  assert.ok(Math.abs(perSecond - 8) < 1e-6, `${perSecond} tokens in 10 s`)
})
