import { constants } from 'node:os'
import { isFlickrfsError } from '../errors/flickrfs-error.js'

const E = constants.errno

/** An error that already knows which errno the kernel should see. */
export class FsErrno extends Error {
  /** Negative, as FUSE wants it. */
  readonly errno: number
  constructor(name: keyof typeof E, message?: string) {
    super(message ?? name)
    this.name = 'FsErrno'
    this.errno = -E[name]
  }
}

export const ENOENT = -E.ENOENT
export const EROFS = -E.EROFS
export const EIO = -E.EIO
export const ETIMEDOUT = -E.ETIMEDOUT

/**
 * The one place where our errors become errno. Anything unexpected is EIO: a reader must see an
 * error, never a short or made-up file, and never a hang.
 */
export function toNegErrno(err: unknown): number {
  if (err instanceof FsErrno) return err.errno
  if (isFlickrfsError(err)) {
    switch (err.code) {
      case 'TIMEOUT':
        return ETIMEDOUT
      case 'NO_SPACE':
        return -E.ENOSPC
      default:
        return EIO
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return ETIMEDOUT
  return EIO
}
