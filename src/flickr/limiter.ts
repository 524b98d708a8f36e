import type { Clock } from './clock.js'

/**
 * Flickr allows about 3600 calls an hour per key across all its users, so the budget is a bucket:
 * a full mirror may spend a burst up front, then one call a second keeps a long-running mount
 * inside the hourly guideline. Waiters are served in order so no caller starves.
 */
export class TokenBucket {
  private tokens: number
  private last: number
  private queue: Promise<void> = Promise.resolve()

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be > 0, got ${ratePerSec}`)
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`)
    this.tokens = burst
    this.last = clock.now()
  }

  /** Resolves when one call may be made, and takes its token. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow())
    this.queue = turn.catch(() => undefined)
    return turn
  }

  private refill(): void {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec)
    this.last = now
  }

  private async takeNow(): Promise<void> {
    this.refill()
    while (this.tokens < 1) {
      await this.clock.sleep(((1 - this.tokens) / this.ratePerSec) * 1000)
      this.refill()
    }
    this.tokens -= 1
  }
}
