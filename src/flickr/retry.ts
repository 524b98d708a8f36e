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
