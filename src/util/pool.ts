/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
export async function mapLimit<T, R>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const list = Array.from(items)
  const results = new Array<R>(list.length)
  let next = 0
  let firstError: unknown
  let failed = false
  async function worker(): Promise<void> {
    while (next < list.length) {
      const i = next++
      try {
        results[i] = await fn(list[i] as T)
      } catch (err) {
        if (!failed) {
          failed = true
          firstError = err
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, list.length)) }, () => worker()))
  if (failed) throw firstError
  return results
}
