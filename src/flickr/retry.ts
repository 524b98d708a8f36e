import type { Clock } from './clock.js'

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number
  /** Backoff cap of the first retry; doubles each time up to `maxDelayMs`. */
  baseDelayMs: number
  maxDelayMs: number
  clock: Clock
  /** [0, 1); injected so tests can pin the jitter. */
  random: () => number
}

export const DEFAULT_RETRY = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 60_000 }

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(max, base·2^n)). Full jitter
 * spreads the retries of concurrent calls that failed together, so they do not hit Flickr in step.
 */
export function backoffMs(retry: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry)
  return Math.floor(policy.random() * cap)
}

/**
 * A Retry-After header (seconds or an HTTP date) as milliseconds, capped; undefined when absent.
 * Flickr has not been seen sending one, but if it does, waiting less would only earn another 429.
 */
export function retryAfterMs(res: { headers: { get(name: string): string | null } } | undefined, capMs: number, nowMs = Date.now()): number | undefined {
  const raw = res?.headers.get('retry-after')?.trim()
  if (!raw) return undefined
  const ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw) - nowMs
  return Number.isFinite(ms) ? Math.min(capMs, Math.max(0, ms)) : undefined
}
