/**
 * `target` with the methods in `replaced` answering instead of its own, every other property read
 * from it (methods bound to it): for a test that watches, counts or fails some calls of a real
 * client, and lets the rest through.
 */
export function withReplaced<T extends object>(target: T, replaced: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(replaced, prop)) return replaced[prop as keyof T]
      const value: unknown = Reflect.get(t, prop, t)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value
    },
  })
}
