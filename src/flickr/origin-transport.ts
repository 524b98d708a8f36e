import type { IncomingHttpHeaders } from 'node:http'
import { FetchTransport } from 'flickr-sdk'
import createDebug from '../util/debug.js'
import { redact } from '../util/redact.js'
import { mediaAgents, send, type Exchange, type MediaAgents } from './media-http.js'

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

/** Node's header object as fetch's Headers, without the ones that described the encoded body. */
function headersOf(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'content-encoding' || name === 'content-length' || value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  return headers
}

/**
 * A 2xx answer to a GET, its whole body in memory, with the part of Response flickr-sdk and this
 * file use (ok, status, statusText, headers, json(), text()). A Response costs an undici body
 * stream per call and loads undici itself into a pin that otherwise never needs it.
 */
class BufferedAnswer {
  #headers: Headers | undefined
  readonly #body: Buffer
  readonly #makeHeaders: () => Headers
  bodyUsed = false

  constructor(readonly status: number, readonly statusText: string, body: Buffer, makeHeaders: () => Headers) {
    this.#body = body
    this.#makeHeaders = makeHeaders
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  get headers(): Headers {
    return (this.#headers ??= this.#makeHeaders())
  }

  text(): Promise<string> {
    this.bodyUsed = true
    return Promise.resolve(this.#body.toString('utf8'))
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown
  }
}

/** The API's own keep-alive agents (one pair per process; the media hosts have theirs). */
let apiAgents: MediaAgents | undefined

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const NO_BODY = new Set([204, 205, 304])

/**
 * flickr-sdk's seam: every API and OAuth request passes through `fetch(url, init)`. Overriding
 * `fetch` rather than `get` matters: `get` would drop every parameter of a base URL that already
 * has a query string. The timeout is per request here, not in the shared constructor `init`.
 *
 * A GET (every call flickrfs makes) goes over node:http/https with keep-alive, not fetch: ~0.3 ms
 * of CPU less per call and no wasm parser to compile per process. A failure's answer is a real
 * Response, as failure.ts expects; a success is a BufferedAnswer, what flickr-sdk reads of one.
 * Redirects are followed (as fetch does), compressed answers decoded. Anything with a body goes
 * through fetch as before.
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
      const plainGet = (init.method ?? 'GET') === 'GET' && init.body == null && init.headers === undefined
      const res = plainGet ? await this.getOverHttp(target) : await super.fetch(target, { ...init, signal: AbortSignal.timeout(this.timeoutMs) })
      if (!res.ok) throw new Error(res.statusText, { cause: res })
      if (log.enabled) log('%s %s → %d (%d ms)', init.method ?? 'GET', redact(target), res.status, Math.round(performance.now() - started))
      return res
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined
      const status = cause instanceof Response ? cause.status : undefined
      log('%s %s failed: %s (%d ms)', init.method ?? 'GET', redact(target),
        status ?? redact(err instanceof Error ? err.name : String(err)), Math.round(performance.now() - started))
      throw err
    }
  }

  /** One GET, its redirects followed, its whole body read, all within the timeout. */
  private async getOverHttp(url: string): Promise<Response> {
    let current: Exchange | undefined
    let stopped: { reason: unknown } | undefined
    const timer = setTimeout(() => {
      stopped = { reason: new DOMException('The operation was aborted due to timeout', 'TimeoutError') }
      current?.abort(stopped.reason)
    }, this.timeoutMs)
    try {
      let u = new URL(url)
      for (let hop = 0; ; hop++) {
        apiAgents ??= mediaAgents()
        current = send(u, 'GET', { 'Accept-Encoding': 'gzip, deflate, br', 'User-Agent': 'flickrfs' }, apiAgents)
        if (stopped !== undefined) current.abort(stopped.reason)
        const answer = await current.answer
        const location = answer.headers.get('location')
        if (REDIRECTS.has(answer.status) && location !== null && hop < 5) {
          answer.discard()
          u = new URL(location, u)
          continue
        }
        const { stream, cancel } = answer.body()
        const chunks: Buffer[] = []
        try {
          for await (const chunk of stream) chunks.push(chunk as Buffer)
        } catch (err) {
          cancel()
          throw stopped !== undefined ? stopped.reason : err
        }
        const body = NO_BODY.has(answer.status) ? null : Buffer.concat(chunks)
        const headers = (): Headers => headersOf(answer.message.headers)
        // A failure's cause is a real Response (failure.ts reads it); a success is read once by
        // flickr-sdk (json(), or text() for OAuth's forms) and needs no web body around its bytes.
        if (!answer.ok) return new Response(body, { status: answer.status, statusText: answer.statusText, headers: headers() })
        return new BufferedAnswer(answer.status, answer.statusText, body ?? Buffer.alloc(0), headers) as unknown as Response
      }
    } finally {
      clearTimeout(timer)
    }
  }
}
