/** A callback for FUSE ops tests. */

/** Records every call of a callback, so "exactly once" can be asserted after things settle. */
export function recorder(): { cb: (...args: unknown[]) => void; calls: unknown[][]; once: Promise<unknown[]> } {
  const calls: unknown[][] = []
  let first!: (a: unknown[]) => void
  const once = new Promise<unknown[]>((r) => (first = r))
  return {
    calls,
    once,
    cb: (...args: unknown[]) => {
      calls.push(args)
      if (calls.length === 1) first(args)
    },
  }
}
