import { FlickrfsError } from '../errors/flickrfs-error.js'

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}

export const isEnoent = (err: unknown): boolean => errnoCode(err) === 'ENOENT'

/** Turns a filesystem failure while writing under `root` into the one clear error the user sees. */
export function destWriteError(err: unknown, path: string): FlickrfsError {
  const code = errnoCode(err)
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FlickrfsError('NO_SPACE', `No space left while writing ${path}. Free some space and run the same command again; it resumes where it stopped.`, { cause: err })
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new FlickrfsError('DEST', `Cannot write ${path} (${code}). Check that the destination is writable by this user and not on a read-only filesystem.`, { cause: err })
  }
  return new FlickrfsError('DEST', `Cannot write ${path}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
