import type { Semaphore } from './semaphore.js'

/**
 * Runs `fn` over `items` with at most `limit` in flight. After the first failure no new item starts
 * (a refresh that is going to be thrown away should stop spending API calls), and the first error
 * is thrown once the running ones settle.
 */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  async function worker(): Promise<void> {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T
      try {
        await fn(item)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  const workers = Math.max(1, Math.min(limit, items.length))
  await Promise.all(Array.from({ length: workers }, () => worker()))
  if (failure !== undefined) throw failure.err
}

/**
 * Runs `fn` over `items`, each holding a slot of `slots` (shared with other callers) while it runs:
 * eachLimit's rules (after the first failure no new item starts; the first error is thrown once the
 * running ones settle), but one suspended call waiting for the next slot instead of a pool of
 * workers all waiting on the same slots (a refresh's listing pages each resolve their originals
 * at once: at 90% of a 300,000-item first pin, 12,000 such workers: bench/RESULTS.md "Session 41").
 */
export async function eachWithSlots<T>(items: readonly T[], slots: Semaphore, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>()
  let failure: { err: unknown } | undefined
  for (const item of items) {
    const release = await slots.acquire()
    if (failure !== undefined) {
      release()
      break
    }
    const one: Promise<void> = fn(item)
      .catch((err: unknown) => {
        failure ??= { err }
      })
      .finally(() => {
        release()
        running.delete(one)
      })
    running.add(one)
  }
  await Promise.all(running)
  if (failure !== undefined) throw failure.err
}
