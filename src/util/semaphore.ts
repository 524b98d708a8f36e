/** At most `limit` holders at once; the rest wait in order. */
export class Semaphore {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(private limit: number) {
    if (!(limit >= 1)) throw new RangeError(`concurrency must be >= 1, got ${limit}`)
  }

  /** Lets up to `limit` holders in from now on, waiters first; a lower limit than the one it has changes nothing. */
  raiseTo(limit: number): void {
    if (!(limit > this.limit)) return
    this.limit = limit
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++
      this.waiting.shift()?.()
    }
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.active++
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      // Hand the slot straight to the next waiter so the count never dips and lets a newcomer jump the queue.
      if (next) next()
      else this.active--
    }
  }
}
