/** Polling for a condition another process or the kernel will make true. */

/**
 * Calls `check` every `everyMs` until it returns true and resolves with the ms that took; rejects
 * (naming `what`) after `timeoutMs`, or with whatever `check` throws.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<number> {
  const t0 = Date.now()
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return Date.now() - t0
}
