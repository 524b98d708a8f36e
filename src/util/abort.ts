/**
 * The one owner of waiting and of turning thrown values into Errors: sleeps and waits that an
 * AbortSignal cuts short, and `asError` / `errorMessage` for `catch (err: unknown)`.
 */

/** `err` itself when it is an Error, else an Error whose message is `String(err)`. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/** The message of whatever was thrown, for a log line or a user-facing sentence. */
export function errorMessage(err: unknown): string {
  return asError(err).message
}

/** Waits `ms`; rejects at once (with the signal's reason) when `signal` aborts, or has already. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(asError(signal.reason))
      return
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, Math.max(0, ms))
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(asError(signal?.reason))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Waits for `p` unless `signal` aborts first (then rejects with its reason); `p` itself goes on. */
export async function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p
  if (signal.aborted) throw asError(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(asError(signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v) },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(asError(err)) },
    )
  })
}


/**
 * True once `p` resolves, false when `ms` pass first (`p` goes on; a later rejection of it is let
 * go, not left unhandled); rejects as `p` does when it rejects in time.
 */
export async function resolvesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    // The race handles `p` whatever it does later: a rejection after the time is up is not unhandled.
    return await Promise.race([p.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)))])
  } finally {
    clearTimeout(timer)
  }
}
