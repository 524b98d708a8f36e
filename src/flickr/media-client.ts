import type { OutgoingHttpHeaders } from 'node:http'
import createDebug from '../util/debug.js'
import { redact } from '../util/redact.js'
import { realClock, type Clock } from './clock.js'
import { filenameFromContentDisposition } from './content-disposition.js'
import { classify, type Failure } from './failure.js'
import { chunksAsStream, guardedChunks, type BodyChunks, type BodyLimits } from './media-body.js'
import { MediaError, MediaUrlPolicy } from './media-hosts.js'
import { send, sharedMediaAgents, type Exchange, type MediaAgents, type MediaAnswer } from './media-http.js'
import { backoffMs, DEFAULT_RETRY, retryAfterMs } from './retry.js'
import { RequestTries, unreachableWhy, type OutageWatch } from './outage.js'

const log = createDebug('flickrfs:flickr:media')

export interface MediaClientOptions {
  /** Until the response headers arrive, redirects included (default 30000). */
  headersTimeoutMs?: number
  /** A body that sends nothing for this long fails (default 15000). */
  bodyIdleTimeoutMs?: number
  /** A body slower than this many bytes per second over `rateWindowMs` fails (default 1024; 0: none). */
  minBytesPerSec?: number
  /** The window of the minimum rate (default 30000). */
  rateWindowMs?: number
  /** Redirects followed per request, all within the allowed hosts (default 5). */
  maxRedirects?: number
  /**
   * Origins fetched besides Flickr's own hosts: FLICKRFS_API_ORIGIN, when set. Every other host,
   * and every scheme but http: and https:, is refused, also as a redirect target.
   */
  origins?: readonly string[]
  /** Retries after the first attempt on 408, 429, 5xx, HTML pages, network errors and header timeouts (default 5). */
  maxRetries?: number
  retryBaseDelayMs?: number
  retryMaxDelayMs?: number
  clock?: Clock
  random?: () => number
  /** A pin's: a request that cannot reach Flickr while nothing else can goes on trying past its retries (outage.ts). */
  outage?: OutageWatch
  /** The keep-alive agents (default: one pair shared by every client in the process, media-http.ts). */
  agents?: MediaAgents
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
  /**
   * Fails with a MediaBodyError when the server stalls, trickles, or sends more or fewer bytes
   * than it announced; a broken connection fails it with its errno error (ECONNRESET). Cancel it
   * (or read it to the end) to let go of its connection.
   */
  body: ReadableStream<Uint8Array>
  /**
   * The same bytes, checked the same way, without a web stream (made only when `body` is first
   * asked for): read one or the other, never both.
   */
  chunks: BodyChunks
}

/** A media request the server answered with a status that retrying will not fix (404, 403, 416…), or that retries did not fix. */
export class MediaHttpError extends MediaError {
  readonly status: number

  constructor(status: number, statusText: string, url: string) {
    super('http', !isTransientStatus(status), url,
      `Download of ${redact(url)} failed: HTTP ${status}${statusText ? ` ${statusText}` : ''}.`)
    this.name = 'MediaHttpError'
    this.status = status
  }
}

/** 408, 429 and 5xx may go through later; every other 4xx will not. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

class RetryableStatus extends Error {
  constructor(readonly status: number, readonly statusText: string, readonly retryAfterMs: number | undefined) {
    super(`HTTP ${status}`)
  }
}

/** A 2xx with an HTML page where a media file was due (a CDN error page, a captive portal). */
class HtmlAnswer extends Error {
  constructor() {
    super('an HTML page instead of a media file')
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** How long a host has to answer the HEAD that asks whether it answers at all (MediaClient.hostAnswers). */
const PROBE_TIMEOUT_MS = 10_000

type Failed = Failure | { kind: 'status'; status: number; statusText: string } | { kind: 'html' }

interface RequestOptions {
  method: 'GET' | 'HEAD'
  cookies?: string
  signal?: AbortSignal
  /** The byte to start from (a Range for a GET beyond 0). */
  start: number
  /** Send the Range even from 0: a 206 then states the whole size in Content-Range. */
  ranged?: boolean
  /** Ask for the first byte only (a HEAD that the host refuses). */
  probe?: boolean
  /** Hand a 4xx back to the caller instead of failing with MediaHttpError. */
  passThroughClientErrors?: boolean
  /** MediaTry.retries. */
  retries?: number
}

/**
 * Per request: `retries`, at most this many retries of an answer about the URL (an HTML page, a
 * 5xx or 408) instead of the client's maxRetries. For an item that failed last time, which every
 * run tries again anyway (catalog/resolve-media.ts FAILED_BEFORE_RETRIES). Network errors, header
 * timeouts and 429 are about the host, not the item: they keep maxRetries, and do not count
 * against `retries`.
 */
export interface MediaTry {
  retries?: number
}

/**
 * Downloads originals from the URLs the API gives (photos from the CDN, videos through the play
 * URL's redirect). No API rate limit applies here, but Flickr's CDN also answers 429, so the same
 * retry policy does. No signature is needed: the secret in the URL is the capability.
 *
 * Only Flickr's hosts (and FLICKRFS_API_ORIGIN) are contacted; redirects are followed one by one
 * within them, and the session cookies go only to Flickr's web hosts. Errors are MediaError (or
 * MediaBodyError from a body), with `permanent` set when another try cannot help.
 */
export class MediaClient {
  private readonly headersTimeoutMs: number
  private readonly limits: BodyLimits
  private readonly maxRedirects: number
  private readonly policy: MediaUrlPolicy
  private readonly maxRetries: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly clock: Clock
  private readonly random: () => number
  private readonly agents: MediaAgents
  private readonly outage: OutageWatch | undefined
  readonly stats = { requests: 0, retries: 0 }

  constructor(opts: MediaClientOptions = {}) {
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 30_000
    this.limits = {
      idleMs: opts.bodyIdleTimeoutMs ?? 15_000,
      minBytesPerSec: opts.minBytesPerSec ?? 1024,
      windowMs: opts.rateWindowMs ?? 30_000,
    }
    this.maxRedirects = opts.maxRedirects ?? 5
    this.policy = new MediaUrlPolicy(opts.origins ?? [])
    this.maxRetries = opts.maxRetries ?? DEFAULT_RETRY.maxRetries
    this.baseDelayMs = opts.retryBaseDelayMs ?? DEFAULT_RETRY.baseDelayMs
    this.maxDelayMs = opts.retryMaxDelayMs ?? DEFAULT_RETRY.maxDelayMs
    this.clock = opts.clock ?? realClock
    this.random = opts.random ?? Math.random
    this.agents = opts.agents ?? sharedMediaAgents()
    this.outage = opts.outage
  }

  /** Size, final URL and file name, without the body. */
  async head(url: string, opts: { cookies?: string; signal?: AbortSignal } & MediaTry = {}): Promise<MediaHead> {
    const tries = opts.retries !== undefined ? { retries: opts.retries } : {}
    let { res, finalUrl } = await this.request(url, { method: 'HEAD', cookies: opts.cookies, signal: opts.signal, start: 0, passThroughClientErrors: true, ...tries })
    if (res.status === 405 || res.status === 501) {
      // Some hosts refuse HEAD: ask for one byte and read the size from Content-Range instead.
      res.discard()
      ;({ res, finalUrl } = await this.request(url, { method: 'GET', cookies: opts.cookies, signal: opts.signal, start: 0, probe: true, ...tries }))
    } else if (!res.ok) {
      res.discard()
      throw new MediaHttpError(res.status, res.statusText, url)
    }
    const info = describeResponse(res)
    res.discard()
    return { size: info.total, finalUrl, filename: info.filename }
  }

  /**
   * The body from byte `start` on (Range: bytes=start-, sent whenever `start` is given, also 0: a 206
   * then states the whole file's size in Content-Range, a check on Content-Length at no cost); check
   * `status` to know where it begins.
   */
  async get(url: string, opts: { start?: number; signal?: AbortSignal; cookies?: string } & MediaTry = {}): Promise<MediaBody> {
    const start = Math.max(0, Math.floor(opts.start ?? 0))
    const ranged = opts.start !== undefined
    const { res, finalUrl } = await this.request(url, { method: 'GET', cookies: opts.cookies, signal: opts.signal, start, ranged, ...(opts.retries !== undefined ? { retries: opts.retries } : {}) })
    const info = describeResponse(res)
    const source = res.body()
    const chunks = guardedChunks(source.stream, source.cancel, { expected: source.encoded ? -1 : info.length, url: finalUrl, limits: this.limits })
    // The web stream only when asked for (the store reads `chunks`).
    let stream: ReadableStream<Uint8Array> | undefined
    // Written out, not spread: a spread would read the `body` getter, making the stream.
    const partial = res.status === 206
    return {
      status: partial ? 206 : 200,
      start: partial ? (info.rangeStart ?? start) : 0,
      size: info.total,
      finalUrl,
      filename: info.filename,
      chunks,
      get body() {
        return (stream ??= chunksAsStream(chunks))
      },
    }
  }

  /**
   * Asks for the bytes past `size` (Range: bytes=size-) to confirm there are none: a server whose
   * Content-Length is short of the real file (HEAD and GET alike) passes every other check, and the
   * connection silently drops the surplus. 416 (or a 200 whose length is `size`) confirms; a 206, or a
   * stated total above `size`, fails with a permanent MediaError (reason 'length'). One small request.
   */
  async confirmSize(url: string, size: number, opts: { cookies?: string; signal?: AbortSignal } = {}): Promise<void> {
    if (size <= 0) return
    const { res } = await this.request(url, { method: 'GET', cookies: opts.cookies, signal: opts.signal, start: size, passThroughClientErrors: true })
    res.discard()
    const info = describeResponse(res)
    let stated: number
    if (res.status === 416) stated = Number(/^bytes\s+\*\/(\d+)$/i.exec(res.headers.get('content-range')?.trim() ?? '')?.[1] ?? size)
    else if (res.status === 206) stated = info.total > size ? info.total : size + 1
    else if (res.status === 200) stated = info.total
    else throw new MediaHttpError(res.status, res.statusText, url)
    if (stated > size) {
      throw new MediaError('length', true, url, `The media server announced ${size} bytes for ${redact(url)}, but the file is ` +
        `longer (${res.status === 206 && info.total <= size ? 'it has bytes past that' : `${stated} bytes`}).`)
    }
  }

  /**
   * One request, its redirects followed by hand: each hop's host checked, cookies only where they
   * belong. `onHop` gets each hop's exchange as it goes out (to abort it).
   */
  private async follow(
    url: URL,
    shown: string,
    method: 'GET' | 'HEAD',
    headers: OutgoingHttpHeaders,
    cookies: string | undefined,
    onHop: (e: Exchange) => void,
  ): Promise<{ res: MediaAnswer; finalUrl: string }> {
    let u = url
    for (let hop = 0; ; hop++) {
      let h = headers
      if (cookies && this.policy.cookiesAllowed(u)) h = { ...headers, Cookie: cookies }
      const exchange = send(u, method, h, this.agents)
      onHop(exchange)
      const res = await exchange.answer
      if (log.enabled) log('%s %s → %d', method, redact(u.href), res.status)
      if (!REDIRECTS.has(res.status)) return { res, finalUrl: u.href }
      res.discard()
      const location = res.headers.get('location')
      if (location === null || location === '') {
        throw new MediaError('redirects', true, shown, `Download of ${redact(shown)} failed: HTTP ${res.status} without a Location.`)
      }
      if (hop >= this.maxRedirects) {
        throw new MediaError('redirects', true, shown,
          `Download of ${redact(shown)} refused: more than ${this.maxRedirects} redirects (a redirect loop?).`)
      }
      u = this.policy.check(new URL(location, u).href, 'Redirect')
    }
  }

  private async request(url: string, o: RequestOptions): Promise<{ res: MediaAnswer; finalUrl: string }> {
    // Checked before anything goes out, and never retried.
    const u = this.policy.check(url)
    const headers: OutgoingHttpHeaders = { 'Accept-Encoding': 'identity', 'User-Agent': 'flickrfs' }
    if (o.probe) headers.Range = 'bytes=0-0'
    else if ((o.start > 0 || o.ranged === true) && o.method === 'GET') headers.Range = `bytes=${o.start}-`
    // Answers about the URL are counted apart for `retries`: 429s or a lost connection before a
    // broken item's HTML page do not use up its retries.
    const urlFailures = { count: 0 }
    const tries = new RequestTries(this.outage, this.clock)
    for (let attempt = 0; ; attempt++) {
      o.signal?.throwIfAborted()
      this.stats.requests++
      if (attempt > 0) this.stats.retries++
      tries.begin()
      try {
        const answer = await this.attempt(u, url, headers, o)
        tries.answered()
        return answer
      } catch (err) {
        const retry = await this.retryDelay(err, u, url, o, attempt, urlFailures, tries)
        // Past an outage the request tries again as soon as anything reaches Flickr.
        await tries.backoff(retry.ms, retry.unreachable, o.signal)
      }
    }
  }

  /**
   * One try, every hop under one headers timeout, the caller's abort passed to the hop in flight; a
   * retryable answer is thrown as RetryableStatus or HtmlAnswer. Once the answer is here, neither
   * applies any more: the body has its own deadlines (media-body.ts) and is stopped by cancelling it.
   */
  private async attempt(url: URL, shown: string, headers: OutgoingHttpHeaders, o: RequestOptions): Promise<{ res: MediaAnswer; finalUrl: string }> {
    let current: Exchange | undefined
    let stopped: { reason: unknown } | undefined
    const stop = (reason: unknown): void => {
      stopped ??= { reason }
      current?.abort(stopped.reason)
    }
    const onHop = (e: Exchange): void => {
      current = e
      if (stopped !== undefined) e.abort(stopped.reason)
    }
    const timer = setTimeout(() => stop(new DOMException('headers timeout', 'TimeoutError')), this.headersTimeoutMs)
    const outer = o.signal
    const passOn = (): void => stop(outer?.reason)
    if (outer?.aborted === true) passOn()
    else outer?.addEventListener('abort', passOn, { once: true })
    try {
      const answer = await this.follow(url, shown, o.method, headers, o.cookies, onHop)
      const res = answer.res
      if (isTransientStatus(res.status)) {
        res.discard()
        throw new RetryableStatus(res.status, res.statusText, retryAfterMs(res, this.maxDelayMs))
      }
      if (res.ok && /^\s*text\/html\b/i.test(res.headers.get('content-type') ?? '')) {
        res.discard()
        throw new HtmlAnswer()
      }
      if (res.ok || o.passThroughClientErrors) return answer
      res.discard()
      throw new MediaHttpError(res.status, res.statusText, shown)
    } finally {
      clearTimeout(timer)
      outer?.removeEventListener('abort', passOn)
    }
  }

  /**
   * How long to wait before the next try after `err`, and whether the try did not reach Flickr;
   * throws the final error when there is none. `requestTries`: the request's, as the outage watch sees them.
   */
  private async retryDelay(err: unknown, u: URL, url: string, o: RequestOptions, attempt: number, urlFailures: { count: number }, requestTries: RequestTries): Promise<{ ms: number; unreachable: boolean }> {
    const failure: Failed =
      err instanceof RetryableStatus ? { kind: 'status', status: err.status, statusText: err.statusText }
        : err instanceof HtmlAnswer ? { kind: 'html' } : classify(err)
    const unreachable = unreachableWhy(failure)
    // Any other failure of a try is an answer: Flickr was reached (a 404, an HTML page, a redirect loop).
    const tries = requestTries.failed(attempt, unreachable === undefined && o.signal?.aborted !== true)
    if (err instanceof MediaError && err.permanent) throw err
    if (o.signal?.aborted) throw o.signal.reason
    const transient = failure.kind === 'status' || failure.kind === 'html' || failure.kind === 'network' || failure.kind === 'timeout'
    const aboutUrl = failure.kind === 'html' || (failure.kind === 'status' && failure.status !== 429)
    const urlRetriesSpent = aboutUrl && o.retries !== undefined && urlFailures.count++ >= o.retries
    let outage = false
    if (unreachable !== undefined && tries >= this.maxRetries && requestTries.holds()) {
      // No answer at all, past the retries, and nothing else asked of Flickr answered meanwhile: Flickr
      // away, or only this URL hanging while it is the last request in flight? Its host says, for a
      // HEAD of its root (no API call, no token): if it answers, the trouble is this URL's.
      if (failure.kind === 'timeout' && await this.hostAnswers(u, o.signal)) this.outage?.reached()
      else outage = requestTries.keepTrying(unreachable)
    }
    if (!transient || (tries >= this.maxRetries && !outage) || urlRetriesSpent) throw this.finalError(failure, url, attempt + 1, err)
    const jittered = backoffMs(tries, { baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs, random: this.random })
    const delay = Math.max(jittered, err instanceof RetryableStatus ? err.retryAfterMs ?? 0 : 0)
    log('%s %s attempt %d failed (%s); retrying in %d ms', o.method, redact(url), attempt + 1,
      failure.kind === 'status' ? failure.status : failure.kind, delay)
    return { ms: delay, unreachable: unreachable !== undefined }
  }

  /**
   * Whether the host of `u` answers at all: one HEAD of its root, no redirect followed, no cookie,
   * within the headers timeout (at most PROBE_TIMEOUT_MS). Any HTTP answer is one.
   */
  private async hostAnswers(u: URL, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted === true) return false
    const exchange = send(new URL('/', u), 'HEAD', { 'User-Agent': 'flickrfs' }, this.agents)
    const timer = setTimeout(() => exchange.abort(new DOMException('probe timeout', 'TimeoutError')), Math.min(this.headersTimeoutMs, PROBE_TIMEOUT_MS))
    const passOn = (): void => exchange.abort(signal?.reason)
    signal?.addEventListener('abort', passOn, { once: true })
    try {
      ;(await exchange.answer).discard()
      log('%s: no answer for the file, but its host answers', redact(u.href))
      return true
    } catch {
      return false
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', passOn)
    }
  }

  private finalError(f: Failed, url: string, attempts: number, cause: unknown): MediaError {
    const shown = redact(url)
    const tries = attempts === 1 ? '' : ` (${attempts} attempts)`
    if (f.kind === 'status') {
      const e = new MediaHttpError(f.status, f.statusText, url)
      if (f.status === 429) {
        return new MediaError('http', false, url, `Flickr is rate-limiting downloads: ${shown} got HTTP 429${tries}. ` +
          'Wait a while and run again; finished files are kept.', { cause: e })
      }
      return new MediaError('http', false, url, `Download of ${shown} failed: HTTP ${f.status} ${f.statusText}${tries}. ` +
        'Try again later; finished files are kept.', { cause: e })
    }
    if (f.kind === 'html') {
      return new MediaError('html', false, url, `Download of ${shown} failed: the server answered with an HTML page instead ` +
        `of the file${tries}. Try again later; finished files are kept.`, { cause })
    }
    if (f.kind === 'network') {
      return new MediaError('network', false, url, `Could not download ${shown}: ${f.message}${tries}. Check the network connection.`,
        { cause })
    }
    if (f.kind === 'timeout') {
      return new MediaError('timeout', false, url, `No answer from ${shown} within ${this.headersTimeoutMs / 1000} s${tries}.`,
        { cause })
    }
    return new MediaError('network', false, url, `Download of ${shown} failed: ${'message' in f ? f.message : f.kind}.`, { cause })
  }
}

/**
 * Full size and start offset from Content-Range (206) or Content-Length (200); `length` is what
 * this response's body announces (-1 unknown).
 */
function describeResponse(res: MediaAnswer): { total: number; rangeStart: number | null; filename: string | null; length: number } {
  const filename = filenameFromContentDisposition(res.headers.get('content-disposition'))
  const header = res.headers.get('content-length')
  const length = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : -1
  const range = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(res.headers.get('content-range')?.trim() ?? '')
  if (res.status === 206 && range) {
    const total = range[3] === '*' ? -1 : Number(range[3])
    const spans = Number(range[2]) - Number(range[1]) + 1
    return { total, rangeStart: Number(range[1]), filename, length: length >= 0 ? length : spans }
  }
  return { total: length, rangeStart: null, filename, length }
}
