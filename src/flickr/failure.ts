import { FlickrfsError } from '../errors/flickrfs-error.js'
import { toInt } from './lenient.js'

/**
 * What went wrong with one request, read from the shapes flickr-sdk and fetch throw:
 * `stat: "fail"` → Error whose cause is the JSON; non-2xx → Error whose cause is the Response;
 * HTML where JSON was due → SyntaxError; no connection → TypeError('fetch failed');
 * AbortSignal.timeout → DOMException 'TimeoutError'.
 */
export type Failure =
  | { kind: 'stat'; code: number; message: string }
  | { kind: 'http'; status: number; statusText: string; response: Response }
  | { kind: 'syntax'; message: string }
  | { kind: 'network'; message: string }
  | { kind: 'timeout' }
  | { kind: 'other'; message: string }

const NETWORK_MESSAGES = new Set(['fetch failed', 'terminated', 'other side closed'])

export function classify(err: unknown): Failure {
  const e = err as { name?: unknown; message?: unknown; cause?: unknown; code?: unknown } | null
  const name = typeof e?.name === 'string' ? e.name : ''
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (name === 'TimeoutError') return { kind: 'timeout' }
  const cause = e?.cause
  if (cause instanceof Response) {
    return { kind: 'http', status: cause.status, statusText: cause.statusText || message, response: cause }
  }
  if (cause !== null && typeof cause === 'object' && (cause as { stat?: unknown }).stat === 'fail') {
    const c = cause as { code?: unknown; message?: unknown }
    return { kind: 'stat', code: toInt(c.code, -1), message: typeof c.message === 'string' ? c.message : message }
  }
  if (err instanceof SyntaxError) return { kind: 'syntax', message }
  if (err instanceof TypeError && (NETWORK_MESSAGES.has(message) || hasErrno(cause))) {
    return { kind: 'network', message: errnoOf(cause) ?? message }
  }
  if (hasErrno(err)) return { kind: 'network', message: errnoOf(err) ?? message }
  return { kind: 'other', message }
}

/**
 * Flickr's error code (`stat: "fail"`) of a call that failed, or undefined for any other failure:
 * read from the error itself or, for what FlickrClient.call throws (a FlickrfsError), its cause.
 */
export function flickrCodeOf(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const f = classify(e)
    if (f.kind === 'stat') return f.code
  }
  return undefined
}

/**
 * An errno-like code: ECONNRESET, getaddrinfo's EAI_AGAIN (no DNS server for a moment), undici's
 * UND_ERR_…; not Node's own ERR_… (an invalid URL, a certificate that does not match), which no
 * retry fixes.
 */
function hasErrno(v: unknown): boolean {
  return v !== null && typeof v === 'object' && typeof (v as { code?: unknown }).code === 'string' &&
    /^E[A-Z]+$|^EAI_[A-Z]+$|^UND_ERR/.test((v as { code: string }).code)
}

function errnoOf(v: unknown): string | undefined {
  if (!hasErrno(v)) {
    const inner = (v as { cause?: unknown } | null)?.cause
    return inner && hasErrno(inner) ? (inner as { code: string }).code : undefined
  }
  return (v as { code: string }).code
}

/** Failures worth another try: the service or the path to it may be better in a moment. */
export function isTransient(f: Failure): boolean {
  switch (f.kind) {
    case 'http':
      // 408 (the server gave up waiting for us) and 429 go through later; other 4xx never will.
      return f.status === 408 || f.status === 429 || f.status >= 500
    case 'stat':
      return f.code === 105
    case 'syntax':
    case 'network':
    case 'timeout':
      return true
    default:
      return false
  }
}

/** Frees the socket of a failed response whose body nobody will read. */
export async function discardBody(f: Failure): Promise<void> {
  if (f.kind === 'http' && !f.response.bodyUsed) await f.response.body?.cancel().catch(() => undefined)
}

export interface MapContext {
  /** The API method (or a short name of the request) for messages. */
  what: string
  attempts: number
  timeoutMs: number
  apiOrigin?: string
}

function describe(f: Failure): string {
  switch (f.kind) {
    case 'http':
      return `HTTP ${f.status}${f.statusText ? ` ${f.statusText}` : ''}`
    case 'stat':
      return `error ${f.code}: ${f.message}`
    case 'syntax':
      return 'an HTML page instead of JSON'
    case 'network':
      return f.message
    case 'timeout':
      return 'no answer in time'
    case 'other':
      return f.message
  }
}

type StatFailure = Extract<Failure, { kind: 'stat' }>
type HttpFailure = Extract<Failure, { kind: 'http' }>

/** Turns a final failure into the one error the user sees; messages never carry secrets. */
export function toFlickrfsError(f: Failure, ctx: MapContext, cause: unknown): FlickrfsError {
  const opts = { cause }
  const tries = triesOf(ctx)
  switch (f.kind) {
    case 'stat':
      return fromStat(f, ctx, cause)
    case 'http':
      return fromHttp(f, ctx, cause)
    case 'syntax':
      return new FlickrfsError('FLICKR_UNAVAILABLE',
        `Flickr is unavailable: ${ctx.what} answered${tries} with ${describe(f)}. Try again later.`, opts)
    case 'network': {
      const where = ctx.apiOrigin ? `${ctx.apiOrigin} (FLICKRFS_API_ORIGIN)` : 'Flickr'
      return new FlickrfsError('NETWORK',
        `Could not reach ${where} for ${ctx.what}: ${f.message}${tries}. Check the network connection and try again.`, opts)
    }
    case 'timeout':
      return new FlickrfsError('TIMEOUT',
        `Flickr did not answer ${ctx.what} within ${Math.round(ctx.timeoutMs / 100) / 10} s${tries}. ` +
        'Try again later, or check the network connection.', opts)
    case 'other':
      return new FlickrfsError('FLICKR_API', `Flickr call ${ctx.what} failed: ${f.message}`, opts)
  }
}

/** Flickr's own error codes (`stat: "fail"`). */
function fromStat(f: StatFailure, ctx: MapContext, cause: unknown): FlickrfsError {
  const opts = { cause }
  switch (f.code) {
    case 98:
      return new FlickrfsError('AUTH_REVOKED',
        'Your Flickr authorization was revoked or expired. Run `flickrfs login` again; where the token comes from ' +
        'FLICKR_OAUTH_TOKEN (the environment, an --env-file), put the new one from token.json there, since it wins over token.json.', opts)
    case 100:
      return new FlickrfsError('AUTH_BAD_KEY',
        `Flickr rejected the API key (${f.message}). Check FLICKR_API_KEY and FLICKR_API_SECRET, ` +
        'or get a new key at https://www.flickr.com/services/apps/create/.', opts)
    case 96:
      return new FlickrfsError('AUTH_FAILED',
        `Flickr rejected the request signature for ${ctx.what} (error 96: ${f.message}). Check that FLICKR_API_SECRET ` +
        'belongs to FLICKR_API_KEY and that the token was made with this key; then run `flickrfs login` again.', opts)
    case 99:
      return new FlickrfsError('AUTH_FAILED',
        `Flickr refused ${ctx.what}: the stored authorization lacks permission (error 99: ${f.message}). ` +
        'Run `flickrfs login` again.', opts)
    case 105:
      return unavailable(f, ctx, cause)
    default:
      return new FlickrfsError('FLICKR_API', `Flickr call ${ctx.what} failed with ${describe(f)}.`, opts)
  }
}

/** A non-2xx answer. */
function fromHttp(f: HttpFailure, ctx: MapContext, cause: unknown): FlickrfsError {
  const opts = { cause }
  if (f.status === 429) {
    const tries = triesOf(ctx)
    return new FlickrfsError('FLICKR_UNAVAILABLE',
      `Flickr is rate-limiting this API key: ${ctx.what} got HTTP 429${tries}. Wait a while (Flickr allows ` +
      'about 3600 calls an hour per key), or lower the rate with --api-rate / FLICKRFS_API_RATE.', opts)
  }
  if (f.status >= 500) return unavailable(f, ctx, cause)
  if (f.status === 401 || f.status === 403) {
    return new FlickrfsError('AUTH_FAILED',
      `Flickr refused ${ctx.what} with ${describe(f)}. Run \`flickrfs login\` again.`, opts)
  }
  return new FlickrfsError('FLICKR_API', `Flickr call ${ctx.what} failed with ${describe(f)}.`, opts)
}

/** ` (3 attempts)` after a message, or nothing for a single try. */
function triesOf(ctx: MapContext): string {
  return ctx.attempts === 1 ? '' : ` (${ctx.attempts} attempts)`
}

function unavailable(f: Failure, ctx: MapContext, cause: unknown): FlickrfsError {
  const tries = triesOf(ctx)
  return new FlickrfsError('FLICKR_UNAVAILABLE',
    `Flickr is unavailable: ${ctx.what} failed${tries} with ${describe(f)}. Try again later.`, { cause })
}
