import { FetchTransport } from 'flickr-sdk'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import createDebug from 'debug'
import { redact } from '../util/redact.js'

const log = createDebug('flickrfs:flickr:http')

/** The hosts flickr-sdk hard-codes; FLICKRFS_API_ORIGIN replaces all three. */
const FLICKR_HOSTS = new Set(['api.flickr.com', 'www.flickr.com', 'up.flickr.com'])

/**
 * Sends a request meant for api/www/up.flickr.com to `origin` (same path and query); any other URL
 * is left alone. Signatures were computed on the canonical URL before this, as Flickr expects.
 */
export function rewriteToOrigin(url: string, origin: string | undefined): string {
  if (!origin) return url
  const u = new URL(url)
  if (!FLICKR_HOSTS.has(u.hostname)) return url
  const o = new URL(origin)
  u.protocol = o.protocol
  u.host = o.host
  // An origin given with a path prefix (http://host/flickr) keeps it in front of Flickr's path.
  const prefix = o.pathname.replace(/\/+$/, '')
  if (prefix) u.pathname = prefix + u.pathname
  return u.href
}

export interface OriginTransportOptions {
  apiOrigin?: string
  /** Whole request, headers and body: the signal stays attached while flickr-sdk reads the body. */
  timeoutMs: number
}

/**
 * flickr-sdk's seam: every API and OAuth request passes through `fetch(url, init)`. Overriding
 * `fetch` rather than `get` matters: `get` would drop every parameter of a base URL that already
 * has a query string. The timeout is per request here, not in the shared constructor `init`.
 */
export class OriginTransport extends FetchTransport {
  private readonly apiOrigin: string | undefined
  private readonly timeoutMs: number

  constructor(opts: OriginTransportOptions) {
    super()
    this.apiOrigin = opts.apiOrigin
    this.timeoutMs = opts.timeoutMs
  }

  override async fetch(url: string, init: RequestInit): Promise<Response> {
    const target = rewriteToOrigin(url, this.apiOrigin)
    const started = performance.now()
    try {
      const signal = AbortSignal.timeout(this.timeoutMs)
      const res = (init.method ?? 'GET') === 'GET' && init.body == null && init.headers === undefined
        ? ((await plainGet(target, signal)) ?? (await super.fetch(target, { ...init, signal })))
        : await super.fetch(target, { ...init, signal })
      log('%s %s → %d (%d ms)', init.method ?? 'GET', redact(target), res.status, Math.round(performance.now() - started))
      return res
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined
      const status = cause instanceof Response ? cause.status : undefined
      log('%s %s failed: %s (%d ms)', init.method ?? 'GET', redact(target),
        status ?? redact(err instanceof Error ? err.name : String(err)), Math.round(performance.now() - started))
      throw err
    }
  }
}

/** Sockets kept open between calls, as fetch keeps them (idle ones never hold the process open). */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) }

/**
 * A plain GET through node:http, answered as fetch answers it where flickr-sdk and failure.ts look:
 * a 2xx body for `json()` / `text()`; any other status thrown as fetch's FetchTransport throws it,
 * with a real Response as the cause; no connection as TypeError('fetch failed') with the system
 * error as cause; the timeout as the signal's own reason (TimeoutError). Why not fetch itself: its
 * first call loads undici and compiles its WebAssembly parser, about 0.1 s of CPU, which was a
 * fifth of a whole no-change pin of 700 items. Undefined (then fetch does it) for an answer this
 * does not handle the way fetch would: a redirect or an encoded body.
 */
function plainGet(url: string, signal: AbortSignal): Promise<Response | undefined> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const https = u.protocol === 'https:'
    const fail = (err: unknown): void => reject(signal.aborted ? (signal.reason as Error) : new TypeError('fetch failed', { cause: err }))
    const req = (https ? httpsRequest : httpRequest)(u, { method: 'GET', agent: https ? agents.https : agents.http, signal }, (res) => {
      const status = res.statusCode ?? 0
      const encoding = res.headers['content-encoding']
      if ((status >= 300 && status < 400) || (encoding !== undefined && encoding !== 'identity')) {
        res.resume()
        return resolve(undefined)
      }
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', fail)
      res.on('aborted', () => fail(new Error('aborted')))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        if (status >= 200 && status < 300) return resolve(plainResponse(res, status, body))
        // Only now is fetch's Response needed (failure.ts reads its status and Retry-After).
        const response = new Response(NULL_BODY_STATUS.has(status) ? null : body, { status, statusText: res.statusMessage ?? '', headers: headersOf(res) })
        reject(new Error(res.statusMessage ?? String(status), { cause: response }))
      })
    })
    req.on('error', fail)
    req.end()
  })
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304])

function headersOf(res: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string])
  return out
}

/** What flickr-sdk's parsers and our logging read of a 2xx answer. */
function plainResponse(res: IncomingMessage, status: number, body: Buffer): Response {
  const text = (): string => body.toString('utf8')
  const plain = {
    ok: true,
    status,
    statusText: res.statusMessage ?? '',
    headers: { get: (name: string): string | null => { const v = res.headers[name.toLowerCase()]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v } },
    text: () => Promise.resolve(text()),
    // A body that is not JSON rejects with a SyntaxError, as fetch's does.
    json: (): Promise<unknown> => Promise.resolve().then(() => JSON.parse(text()) as unknown),
  }
  return plain as unknown as Response
}
