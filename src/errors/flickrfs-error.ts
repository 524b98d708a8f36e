/**
 * The one base of every error flickrfs raises on purpose. `code` is stable (tests and the CLI
 * switch on it), `message` names the thing that failed and says what to do, `cause` keeps the
 * underlying error for `DEBUG=flickrfs:*` without ever reaching the user's terminal as a stack.
 */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG'
  | 'AUTH_MISSING'
  | 'AUTH_REVOKED'
  | 'AUTH_BAD_KEY'
  | 'AUTH_FAILED'
  | 'FLICKR_API'
  | 'FLICKR_UNAVAILABLE'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'MEDIA'
  | 'CATALOG'
  | 'LOCKED'
  | 'DEST'
  | 'NO_SPACE'
  | 'FUSE'
  | 'MOUNTPOINT'
  | 'PARTIAL'
  | 'INTERNAL'

export class FlickrfsError extends Error {
  readonly code: ErrorCode
  /** Process exit status the CLI uses when this error ends a command. */
  readonly exitCode: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FlickrfsError'
    this.code = code
    this.exitCode = options?.exitCode ?? (code === 'USAGE' ? 2 : 1)
  }
}

export function isFlickrfsError(err: unknown): err is FlickrfsError {
  return err instanceof FlickrfsError
}
