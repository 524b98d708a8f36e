/**
 * Time as the client sees it: retries sleep, the rate limiter waits. Tests pass a VirtualClock so
 * backoff and limiter logic run without real waiting; everything else gets the real clock.
 */
import { sleep } from '../util/abort.js'

export interface Clock {
  /** Milliseconds, monotonic enough for measuring waits. */
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep,
}

/**
 * A clock whose sleeps return at once and move time forward instead. Overlapping sleeps overlap
 * (time only moves to the latest wake-up), so concurrent waits are not double-counted.
 * `sleeps` records every requested wait, for asserting backoff schedules.
 */
export class VirtualClock implements Clock {
  private t = 0
  readonly sleeps: number[] = []

  now(): number {
    return this.t
  }

  async sleep(ms: number): Promise<void> {
    const wake = this.t + Math.max(0, ms)
    this.sleeps.push(ms)
    await new Promise((resolve) => setImmediate(resolve))
    this.t = Math.max(this.t, wake)
  }
}

/** Wall-clock time (epoch ms): what processes sharing a rate-limit file agree on. */
export const wallClock: Clock = {
  now: () => Date.now(),
  sleep,
}

const SCALE_EPOCH = Date.UTC(2026, 0, 1)

/**
 * Wall-clock time running `factor` times faster (FLICKRFS_TIME_SCALE, for benches): an hour of
 * Flickr time passes in 3600/factor real seconds. Every process with the same factor agrees on it.
 */
export function scaledWallClock(factor: number): Clock {
  if (!(factor > 0)) throw new RangeError(`time scale must be > 0, got ${factor}`)
  return {
    now: () => SCALE_EPOCH + (Date.now() - SCALE_EPOCH) * factor,
    sleep: (ms, signal) => sleep(ms / factor, signal),
  }
}
