import createDebug from 'debug'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { redact } from '../util/redact.js'
import { realClock, type Clock } from './clock.js'
import { filenameFromContentDisposition } from './content-disposition.js'
import { classify, type Failure } from './failure.js'
import { backoffMs, DEFAULT_RETRY, retryAfterMs } from './retry.js'

const log = createDebug('flickrfs:flickr:media')

export interface MediaClientOptions {
  /** Until the response headers arrive; the body then streams as long as it takes (default 30000). */
  headersTimeoutMs?: number
  /** Retries after the first attempt on 429, 5xx, network errors and header timeouts (default 5). */
  maxRetries?: number
  retryBaseDelayMs?: number
  retryMaxDelayMs?: number
  clock?: Clock
  random?: () => number
  /** The fetch to use (default the global one): a seam for a different dispatcher, not for mocking. */
  fetch?: typeof fetch
}

export interface MediaHead {
  /** Full size in bytes (-1 when the server does not say). */
  size: number
  /** After redirects. */
  finalUrl: string
  /** From Content-Disposition, a bare file name, if any. */
  filename: string | null
}

export interface MediaBody extends MediaHead {
  /** 206: the body starts at `start`; 200: the whole file from byte 0 (start over). */
  status: 200 | 206
  start: number
  body: ReadableStream<Uint8Array>
}

/** A media request the server answered with a status that retrying will not fix (404, 403, 416…). */
export class MediaHttpError extends FlickrfsError {
  readonly status: number
  readonly url: string

  constructor(status: number, statusText: string, url: string) {
    super('MEDIA', `Download of ${redact(url)} failed: HTTP ${status}${statusText ? ` ${statusText}` : ''}.`)
    this.name = 'MediaHttpError'
    this.status = status
    this.url = url
  }
}

class RetryableStatus extends Error {
  constructor(readonly status: number, readonly statusText: string, readonly retryAfterMs: number | undefined) {
    super(`HTTP ${status}`)
  }
}

/**
 * Downloads originals from the URLs the API gives (photos from the CDN, videos through the play
 * URL's redirect). No API rate limit applies here, but Flickr's CDN also answers 429, so the same
 * retry policy does. No signature is needed: the secret in the URL is the capability.
 */
export class MediaClient {
  private readonly headersTimeoutMs: number
  private readonly maxRetries: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly clock: Clock
  private readonly random: () => number
  private readonly fetchImpl: typeof fetch
  readonly stats = { requests: 0, retries: 0 }

  constructor(opts: MediaClientOptions = {}) {
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 30_000
    this.maxRetries = opts.maxRetries ?? DEFAULT_RETRY.maxRetries
    this.baseDelayMs = opts.retryBaseDelayMs ?? DEFAULT_RETRY.baseDelayMs
    this.maxDelayMs = opts.retryMaxDelayMs ?? DEFAULT_RETRY.maxDelayMs
    this.clock = opts.clock ?? realClock
    this.random = opts.random ?? Math.random
    this.fetchImpl = opts.fetch ?? fetch
  }

  /** Size, final URL and file name, without the body. */
  async head(url: string, opts: { cookies?: string; signal?: AbortSignal } = {}): Promise<MediaHead> {
    let res = await this.request(url, 'HEAD', { cookies: opts.cookies, signal: opts.signal, start: 0 }, true)
    if (res.status === 405 || res.status === 501) {
      // Some hosts refuse HEAD: ask for one byte and read the size from Content-Range instead.
      await res.body?.cancel().catch(() => undefined)
      res = await this.request(url, 'GET', { cookies: opts.cookies, signal: opts.signal, start: 0, probe: true }, false)
    } else if (!res.ok) {
      throw new MediaHttpError(res.status, res.statusText, url)
    }
    const info = describeResponse(res)
    await res.body?.cancel().catch(() => undefined)
    return { size: info.total, finalUrl: res.url || url, filename: info.filename }
  }

  /** The body from byte `start` on (Range: bytes=start-); check `status` to know where it begins. */
  async get(url: string, opts: { start?: number; signal?: AbortSignal; cookies?: string } = {}): Promise<MediaBody> {
    const start = Math.max(0, Math.floor(opts.start ?? 0))
    const res = await this.request(url, 'GET', { cookies: opts.cookies, signal: opts.signal, start }, false)
    if (!res.body) throw new MediaHttpError(res.status, 'response has no body', url)
    const info = describeResponse(res)
    if (res.status === 206) {
      return { status: 206, size: info.total, start: info.rangeStart ?? start, body: res.body,
        finalUrl: res.url || url, filename: info.filename }
    }
    return { status: 200, size: info.total, start: 0, body: res.body, finalUrl: res.url || url, filename: info.filename }
  }

  private async request(
    url: string,
    method: 'GET' | 'HEAD',
    o: { cookies?: string; signal?: AbortSignal; start: number; probe?: boolean },
    passThroughClientErrors: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = {}
    if (o.probe) headers.Range = 'bytes=0-0'
    else if (o.start > 0 && method === 'GET') headers.Range = `bytes=${o.start}-`
    if (o.cookies) headers.Cookie = o.cookies
    for (let attempt = 0; ; attempt++) {
      o.signal?.throwIfAborted()
      this.stats.requests++
      if (attempt > 0) this.stats.retries++
      const headersTimeout = new AbortController()
      const timer = setTimeout(() => headersTimeout.abort(new DOMException('headers timeout', 'TimeoutError')),
        this.headersTimeoutMs)
      const signal = o.signal ? AbortSignal.any([o.signal, headersTimeout.signal]) : headersTimeout.signal
      let err: unknown
      try {
        const res = await this.fetchImpl(url, { method, headers, redirect: 'follow', signal })
        log('%s %s → %d%s', method, redact(url), res.status, res.redirected ? ` via ${redact(res.url)}` : '')
        if (res.status === 429 || res.status >= 500) {
          await res.body?.cancel().catch(() => undefined)
          throw new RetryableStatus(res.status, res.statusText, retryAfterMs(res, this.maxDelayMs))
        }
        if (res.ok || passThroughClientErrors) return res
        await res.body?.cancel().catch(() => undefined)
        throw new MediaHttpError(res.status, res.statusText, url)
      } catch (e) {
        err = e
      } finally {
        clearTimeout(timer)
      }
      if (err instanceof MediaHttpError) throw err
      if (o.signal?.aborted) throw o.signal.reason
      const failure: Failure | { kind: 'status'; status: number; statusText: string } =
        err instanceof RetryableStatus ? { kind: 'status', status: err.status, statusText: err.statusText } : classify(err)
      const transient = failure.kind === 'status' || failure.kind === 'network' || failure.kind === 'timeout'
      if (!transient || attempt >= this.maxRetries) throw this.finalError(failure, url, attempt + 1, err)
      const jittered = backoffMs(attempt, { baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs, random: this.random })
      const delay = Math.max(jittered, err instanceof RetryableStatus ? err.retryAfterMs ?? 0 : 0)
      log('%s %s attempt %d failed (%s); retrying in %d ms', method, redact(url), attempt + 1,
        failure.kind === 'status' ? failure.status : failure.kind, delay)
      await this.clock.sleep(delay, o.signal)
    }
  }

  private finalError(
    f: Failure | { kind: 'status'; status: number; statusText: string },
    url: string,
    attempts: number,
    cause: unknown,
  ): FlickrfsError {
    const shown = redact(url)
    const tries = attempts === 1 ? '' : ` (${attempts} attempts)`
    if (f.kind === 'status') {
      const e = new MediaHttpError(f.status, f.statusText, url)
      if (f.status === 429) {
        return new FlickrfsError('MEDIA', `Flickr is rate-limiting downloads: ${shown} got HTTP 429${tries}. ` +
          'Wait a while and run again; finished files are kept.', { cause: e })
      }
      return new FlickrfsError('MEDIA', `Download of ${shown} failed: HTTP ${f.status} ${f.statusText}${tries}. ` +
        'Try again later; finished files are kept.', { cause: e })
    }
    if (f.kind === 'network') {
      return new FlickrfsError('NETWORK', `Could not download ${shown}: ${f.message}${tries}. Check the network connection.`,
        { cause })
    }
    if (f.kind === 'timeout') {
      return new FlickrfsError('TIMEOUT', `No answer from ${shown} within ${this.headersTimeoutMs / 1000} s${tries}.`,
        { cause })
    }
    return new FlickrfsError('MEDIA', `Download of ${shown} failed: ${'message' in f ? f.message : f.kind}.`, { cause })
  }
}

/** Full size and start offset from Content-Range (206) or Content-Length (200). */
function describeResponse(res: Response): { total: number; rangeStart: number | null; filename: string | null } {
  const filename = filenameFromContentDisposition(res.headers.get('content-disposition'))
  const range = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(res.headers.get('content-range')?.trim() ?? '')
  if (res.status === 206 && range) {
    const total = range[3] === '*' ? -1 : Number(range[3])
    return { total, rangeStart: Number(range[1]), filename }
  }
  const length = res.headers.get('content-length')
  const total = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : -1
  return { total, rangeStart: null, filename }
}
