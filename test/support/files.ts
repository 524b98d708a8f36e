/** Small questions about files and bytes that many suites ask. */
import { createHash } from 'node:crypto'
import { access } from 'node:fs/promises'

/** Whether `p` exists (following symlinks: a dangling link does not). */
export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  )
}

/** Hex sha256 of `b`. */
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
