/**
 * A value passed on to one taker, which then holds it alone: `take()` answers it once, and the
 * handover forgets it.
 *
 * For what is big and needed by one later step only. A pin's quick refresh hands its recorded
 * answers to the refresh that merges them: after a bulk edit of 92,000 of 100,000 photos they
 * were ~150 MB (each reported record as listed, and its row as the catalog held it). Passed as a
 * plain field, they stayed reachable from every object and suspended async function that had
 * carried them, through the whole tree write after the merge (bench/RESULTS.md, "Session 45").
 */
export class Handover<T> {
  #value: T | undefined

  constructor(value: T) {
    this.#value = value
  }

  /** The value the first time; undefined after. */
  take(): T | undefined {
    const value = this.#value
    this.#value = undefined
    return value
  }
}
