import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createDebug from '../util/debug.js'
import { errorMessage } from '../util/abort.js'
import type { Clock } from './clock.js'
import { pidAlive } from '../util/process.js'
import { mkdirLevels } from '../util/fs.js'

const log = createDebug('flickrfs:limiter')

/**
 * The budget flickrfs keeps for one API key. Flickr's guideline is about 3,600 calls an hour per
 * key, across every program that uses it.
 *
 * A token bucket of `burst` B tokens refilled at R tokens a second allows at most B + R·T calls in
 * any window of T seconds: the bucket can be full at the window's start, and nothing else gets in.
 * For "never more than 3,600 in any hour" that needs B + 3600·R ≤ 3600, so the old defaults (burst
 * 3,000, then 1/s) allowed 6,600 in the first hour of a fresh key — more with every new process,
 * since each started with a full bucket. The shared bucket below also hands tokens out in short
 * leases that lapse after `leaseMs`, which widens the window by that much: B + R·(3600 + lease).
 * The defaults, burst 600 then 0.8/s (2,880 an hour), give 600 + 0.8·3602 = 3,481 ≤ 3,600, with
 * room for the clocks of two processes to disagree a little. A first sync of 30,000 calls then
 * takes about 10.4 h instead of the 7.6 h the old, too generous, defaults promised.
 */
export const DEFAULT_BURST = 600
export const DEFAULT_RATE_PER_SEC = 0.8
/** How long a process may hold tokens it took from the shared bucket before they lapse. */
export const LEASE_MS = 2000
/** Flickr's guideline, calls per hour per key. */
export const HOURLY_GUIDELINE = 3600

/**
 * After Flickr says "too many requests", the tokens left and the refill are halved (again on each
 * storm, down to 1/8 of the refill) until this long after the last such answer.
 */
export const SLOW_FOR_MS = 10 * 60_000
const MIN_SLOW_FACTOR = 1 / 8
/** Several 429s of one storm (calls in flight together) halve the refill once, not once each. */
const SLOW_DEBOUNCE_MS = 5_000

export interface RateLimiter {
  /** Resolves when one call may be made, and takes its token. */
  take(): Promise<void>
  /**
   * Flickr answered 429 or "too many requests": halve what is left in the bucket and the refill,
   * for SLOW_FOR_MS after the last such answer. The retry's own backoff still applies.
   */
  slowDown(): Promise<void>
  /**
   * The calls are about to start: make the first take() answer at once if it can (the shared
   * bucket takes its lease from the file now, beside whatever the caller does before its calls).
   * Takes no token for itself; resolves once ready, never rejects.
   */
  prepare?(): Promise<void>
}

/** Most calls B + R·(T + lease) the limiter lets through in any window of T seconds. */
export function worstCaseCalls(burst: number, ratePerSec: number, windowSec: number, leaseMs = 0): number {
  return Math.floor(burst + ratePerSec * (windowSec + leaseMs / 1000))
}

/**
 * One process's bucket, in memory (tests, benches, and clients built without a config dir).
 * Waiters are served in order so no caller starves.
 */
export class TokenBucket implements RateLimiter {
  private tokens: number
  private last: number
  private queue: Promise<void> = Promise.resolve()
  private slowFactor = 1
  private slowUntil = 0
  private slowedAt = 0

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    checkParams(ratePerSec, burst)
    this.tokens = burst
    this.last = clock.now()
  }

  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow())
    this.queue = turn.catch(() => undefined)
    return turn
  }

  slowDown(): Promise<void> {
    this.refill()
    const now = this.clock.now()
    if (now - this.slowedAt >= SLOW_DEBOUNCE_MS || this.slowFactor === 1) {
      this.tokens /= 2
      this.slowFactor = Math.max(MIN_SLOW_FACTOR, this.slowFactor / 2)
      this.slowedAt = now
    }
    this.slowUntil = now + SLOW_FOR_MS
    return Promise.resolve()
  }

  private rate(): number {
    if (this.clock.now() >= this.slowUntil) this.slowFactor = 1
    return this.ratePerSec * this.slowFactor
  }

  private refill(): void {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate())
    this.last = now
  }

  private async takeNow(): Promise<void> {
    this.refill()
    while (this.tokens < 1) {
      // At least 1 ms, as the shared bucket: a wait of 1e-12 ms (a token short by a rounding error)
      // does not move a clock reading of ~2e5 ms, and the loop would never end (seen on VirtualClock).
      await this.clock.sleep(Math.max(1, ((1 - this.tokens) / this.rate()) * 1000))
      this.refill()
    }
    this.tokens -= 1
  }
}

function checkParams(ratePerSec: number, burst: number): void {
  if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be > 0, got ${ratePerSec}`)
  if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`)
}

/** What the shared file holds. Times are the limiter clock's (wall-clock ms for the real one). */
export interface LimiterState {
  v: 1
  tokens: number
  updatedAtMs: number
  /** 1, or 1/2, 1/4, 1/8 while Flickr's "too many requests" is being honoured. */
  slowFactor: number
  slowUntilMs: number
  slowedAtMs: number
  /** The settings of the last process that wrote the file, for `flickrfs status`. */
  burst: number
  ratePerSec: number
}

/** `ratelimit-<first 16 hex of sha256(key)>.json`: one file per key, and the key never in it. */
export function limiterStatePath(configDir: string, apiKey: string): string {
  const id = createHash('sha256').update(`flickrfs-ratelimit:${apiKey}`).digest('hex').slice(0, 16)
  return join(configDir, `ratelimit-${id}.json`)
}

function parseState(text: string): LimiterState | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (v === null || typeof v !== 'object') return undefined
  const s = v as Record<string, unknown>
  const nums = ['tokens', 'updatedAtMs', 'slowFactor', 'slowUntilMs', 'slowedAtMs', 'burst', 'ratePerSec'] as const
  if (s.v !== 1 || !nums.every((k) => typeof s[k] === 'number' && Number.isFinite(s[k]))) return undefined
  if ((s.slowFactor as number) <= 0 || (s.slowFactor as number) > 1) return undefined
  return s as unknown as LimiterState
}

/** The state brought forward to `now`: refilled at the (possibly slowed) rate, capped at `burst`. */
export function advance(s: LimiterState, now: number, burst: number, ratePerSec: number): LimiterState {
  const out = { ...s, burst, ratePerSec }
  // A clock that went back refills nothing (and never owes tokens), and leaves no slow-down longer
  // than one set now would be: a slowUntilMs years ahead (a clock set back, a bench's scaled clock
  // writing the same file) would otherwise hold the key at 1/8 of its rate for those years.
  out.slowUntilMs = Math.min(s.slowUntilMs, now + SLOW_FOR_MS)
  out.slowedAtMs = Math.min(s.slowedAtMs, now)
  const from = Math.min(s.updatedAtMs, now)
  let t = from
  let tokens = s.tokens
  if (out.slowFactor < 1 && t < out.slowUntilMs) {
    const end = Math.min(now, out.slowUntilMs)
    tokens += ((end - t) / 1000) * ratePerSec * out.slowFactor
    t = end
  }
  if (now >= out.slowUntilMs) out.slowFactor = 1
  tokens += ((now - t) / 1000) * ratePerSec
  out.tokens = Math.min(burst, tokens)
  out.updatedAtMs = now
  return out
}

export interface SharedBucketOptions {
  configDir: string
  apiKey: string
  burst?: number
  ratePerSec?: number
  /** Its now() must be wall-clock ms shared by every process (Date.now, or a scaled version of it). */
  clock: Clock
  /** Most tokens one process takes at once (default 16): the file is touched once per lease. */
  maxLease?: number
  /** A lease's unused tokens lapse after this long (default LEASE_MS of the limiter clock). */
  leaseMs?: number
  /** A lock older than this is stale whoever holds it (default 10 s, real time; it is held for ~1 ms). */
  staleLockMs?: number
}

/**
 * The bucket of one API key, shared by every flickrfs process on this machine through a small file
 * in the config dir, read and written under an exclusive lock file. Each process takes tokens in
 * small leases so the file is touched about once per 16 calls while the burst lasts, and once per
 * call when the refill is what limits (then a call a second or so, so the cost does not matter).
 */
export class SharedTokenBucket implements RateLimiter {
  readonly path: string
  readonly lockPath: string
  readonly burst: number
  readonly ratePerSec: number
  readonly leaseMs: number
  private readonly maxLease: number
  private readonly staleLockMs: number
  private readonly clock: Clock
  private readonly configDir: string
  private queue: Promise<void> = Promise.resolve()
  private lease = 0
  private leaseUntil = 0
  private ready: Promise<void> | undefined
  private fallback: TokenBucket | undefined
  /** Lease requests that touched the file (for the bench). */
  fileTouches = 0

  constructor(opts: SharedBucketOptions) {
    this.burst = opts.burst ?? DEFAULT_BURST
    this.ratePerSec = opts.ratePerSec ?? DEFAULT_RATE_PER_SEC
    checkParams(this.ratePerSec, this.burst)
    this.configDir = opts.configDir
    this.path = limiterStatePath(opts.configDir, opts.apiKey)
    this.lockPath = this.path.replace(/\.json$/, '.lock')
    this.clock = opts.clock
    this.maxLease = Math.max(1, Math.floor(opts.maxLease ?? 16))
    this.leaseMs = opts.leaseMs ?? LEASE_MS
    this.staleLockMs = opts.staleLockMs ?? 10_000
  }

  take(): Promise<void> {
    const turn = this.queue.then(() => this.fallback ? this.fallback.take() : this.takeNow().catch((err: unknown) => this.fallBack(err)))
    this.queue = turn.catch(() => undefined)
    return turn
  }

  /**
   * A config dir that cannot be written (read-only home, full disk) must not stop every call: this
   * process then keeps a bucket of its own, as before the budget was shared.
   */
  private fallBack(err: unknown): Promise<void> {
    log('cannot use the shared rate-limit state %s (%s); this process keeps its own bucket', this.path, errorMessage(err))
    this.fallback ??= new TokenBucket(this.ratePerSec, this.burst, this.clock)
    return this.fallback.take()
  }

  async slowDown(): Promise<void> {
    this.lease = 0
    if (this.fallback) return this.fallback.slowDown()
    await this.slowShared().catch(async (err: unknown) => {
      log('cannot use the shared rate-limit state %s (%s); this process keeps its own bucket', this.path, errorMessage(err))
      this.fallback ??= new TokenBucket(this.ratePerSec, this.burst, this.clock)
      await this.fallback.slowDown()
    })
  }

  private async slowShared(): Promise<void> {
    await this.update((s, now) => {
      if (now - s.slowedAtMs >= SLOW_DEBOUNCE_MS || s.slowFactor === 1) {
        s.tokens /= 2
        s.slowFactor = Math.max(MIN_SLOW_FACTOR, s.slowFactor / 2)
        s.slowedAtMs = now
        log('Flickr said too many requests: refill slowed to %d/s for %d s', this.ratePerSec * s.slowFactor, SLOW_FOR_MS / 1000)
      }
      s.slowUntilMs = now + SLOW_FOR_MS
      return undefined
    })
  }

  /**
   * The lease taken from the file now, in the queue's order, when none is held: the first calls of a
   * run then take their tokens without waiting on the file's lock and writes, during which the
   * caller's other reads would be answered first and hold this thread (a pin's first calls went out
   * only after the catalog's lists were parsed). Nothing is taken when the bucket is empty (the
   * first take() waits, as before), or when the file cannot be used (take() falls back, as before).
   */
  prepare(): Promise<void> {
    const turn = this.queue.then(async () => {
      if (this.fallback !== undefined || this.leased()) return
      await this.takeLease()
    })
    this.queue = turn.catch((err: unknown) => log('cannot lease from the shared rate-limit state %s ahead (%s)', this.path, errorMessage(err)))
    return this.queue
  }

  private leased(): boolean {
    return this.lease > 0 && this.clock.now() < this.leaseUntil
  }

  private async takeNow(): Promise<void> {
    for (;;) {
      if (this.leased()) {
        this.lease--
        return
      }
      const waitMs = await this.takeLease()
      if (waitMs !== undefined) await this.clock.sleep(Math.max(1, waitMs))
    }
  }

  /** Leases up to maxLease tokens from the file: undefined when it did, else how long until one is there. */
  private takeLease(): Promise<number | undefined> {
    this.lease = 0
    return this.update((s, now) => {
      if (s.tokens >= 1) {
        const n = Math.min(this.maxLease, Math.floor(s.tokens))
        s.tokens -= n
        this.lease = n
        this.leaseUntil = now + this.leaseMs
        return undefined
      }
      return ((1 - s.tokens) / (this.ratePerSec * s.slowFactor)) * 1000
    })
  }

  /** Reads, changes and writes the state under the lock; `change` edits `s` in place. */
  private async update<T>(change: (s: LimiterState, now: number) => T): Promise<T> {
    this.ready ??= mkdirLevels(this.configDir, 0o700).then(() => undefined)
    await this.ready
    const unlock = await lockFile(this.lockPath, this.staleLockMs)
    try {
      this.fileTouches++
      const now = this.clock.now()
      const s = advance(await this.read(now), now, this.burst, this.ratePerSec)
      const out = change(s, now)
      const tmp = `${this.path}.${process.pid}.tmp`
      await writeFile(tmp, JSON.stringify(s) + '\n', { mode: 0o600 })
      await rename(tmp, this.path)
      return out
    } finally {
      await unlock()
    }
  }

  private async read(now: number): Promise<LimiterState> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log('cannot read %s (%s); starting from an empty bucket', this.path, errorMessage(err))
        return emptyState(0, now, this)
      }
      // The key's first use on this machine: its burst is there to spend.
      return emptyState(this.burst, now, this)
    }
    const s = parseState(text)
    if (s) return s
    // Not the full burst: a damaged file must not hand out a fresh one.
    log('rate-limit state %s was not readable (%d bytes); replaced with an empty bucket', this.path, text.length)
    return emptyState(0, now, this)
  }
}

function emptyState(tokens: number, now: number, b: { burst: number; ratePerSec: number }): LimiterState {
  return { v: 1, tokens, updatedAtMs: now, slowFactor: 1, slowUntilMs: 0, slowedAtMs: 0, burst: b.burst, ratePerSec: b.ratePerSec }
}

/**
 * The shared state as the last process wrote it (its settings and its time), without taking anything;
 * undefined when none or unreadable. `advance` brings it to now (for `flickrfs status`).
 */
export async function readSharedBucket(configDir: string, apiKey: string): Promise<LimiterState | undefined> {
  try {
    return parseState(await readFile(limiterStatePath(configDir, apiKey), 'utf8'))
  } catch {
    return undefined
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * An exclusive lock file (O_CREAT|O_EXCL) holding "pid nonce". A lock whose pid is gone (kill -9
 * while holding it), or that is older than `staleMs`, is removed: re-read just before the unlink,
 * so only that very lock goes. Resolves to the function that releases it.
 */
export async function lockFile(path: string, staleMs: number): Promise<() => Promise<void>> {
  const mine = `${process.pid} ${randomBytes(6).toString('hex')}`
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600)
      try {
        await fh.writeFile(mine)
      } finally {
        await fh.close()
      }
      return async () => {
        // Only our own lock: a stale-lock breaker may have removed it and another holder taken it.
        if ((await readFile(path, 'utf8').catch(() => '')) === mine) await unlink(path).catch(() => undefined)
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const held = await readFile(path, 'utf8').catch(() => undefined)
    if (held === undefined) continue
    const age = await stat(path).then((st) => Date.now() - st.mtimeMs, () => 0)
    const pid = Number(held.split(' ')[0])
    const dead = held === '' ? age > 1000 : !(Number.isInteger(pid) && pid > 0 && pidAlive(pid))
    if (dead || age > staleMs) {
      if ((await readFile(path, 'utf8').catch(() => undefined)) === held) {
        log('removing a stale rate-limit lock %s (%s)', path, dead ? `pid ${pid} is gone` : `${Math.round(age)} ms old`)
        await unlink(path).catch(() => undefined)
      }
      continue
    }
    await pause(Math.min(20, 1 + attempt))
  }
}
