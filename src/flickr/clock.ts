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
