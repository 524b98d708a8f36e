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
