import { FetchTransport } from 'flickr-sdk'
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
      const res = await super.fetch(target, { ...init, signal: AbortSignal.timeout(this.timeoutMs) })
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
