import { FlickrfsError } from '../errors/flickrfs-error.js'
import { errorMessage } from './abort.js'

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}

export const isEnoent = (err: unknown): boolean => errnoCode(err) === 'ENOENT'

/**
 * Turns a failure to write under a cache root or DEST into the one error the user sees: which
 * path, and what to do. Our own errors pass through unchanged. sqlite's codes count too: the
 * catalog and the store index live in the same folder.
 */
export function destWriteError(err: unknown, path: string): FlickrfsError {
  if (err instanceof FlickrfsError) return err
  const code = errnoCode(err)
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new FlickrfsError('NO_SPACE', `No space left on the device while writing ${path}. Free some space (or choose a destination with more room) and run the same command again; it resumes where it stopped.`, { cause: err })
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN') {
    return new FlickrfsError('DEST', `Cannot write ${path} (${code}). Check that the destination is writable by this user and not on a read-only filesystem.`, { cause: err })
  }
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
    return new FlickrfsError('DEST', `Cannot write ${path} (${code}): something that is not a folder is in the way. Move it aside, or choose another destination.`, { cause: err })
  }
  return new FlickrfsError('DEST', `Cannot write ${path}: ${errorMessage(err)}`, { cause: err })
}
