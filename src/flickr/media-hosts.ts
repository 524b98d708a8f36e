/**
 * Which URLs the media client may fetch, and where the web session cookies may go. The API names
 * the URLs of originals, and a server answering as Flickr (or anything in between) could name any
 * URL at all: `file:`, an intranet host, a loop of redirects. Only Flickr's own media and web hosts
 * (and the FLICKRFS_API_ORIGIN that stands in for them) are ever contacted.
 */
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { redact } from '../util/redact.js'

/** Why a media request failed; `permanent` reasons are not worth another try on this run. */
export type MediaFailureReason =
  | 'http' // a status retrying will not fix (4xx but 408 and 429), or that retries did not fix
  | 'badUrl' // not a URL, or a scheme other than http: / https:
  | 'otherHost' // a host that is not Flickr's (nor FLICKRFS_API_ORIGIN)
  | 'redirects' // too many redirects (a loop), or a redirect without a usable Location
  | 'html' // an HTML page where a media file was due
  | 'length' // a body longer or shorter than the size the server announced
  | 'stalled' // no byte for too long, or too few bytes per second
  | 'network' // no connection, or it broke
  | 'timeout' // no answer (headers) in time

/**
 * A media request that failed. `permanent` says retrying (now or on a resume) cannot help: a bad URL,
 * a refused host, a redirect loop, a 4xx. Anything else may go through on a later try.
 */
export class MediaError extends FlickrfsError {
  readonly reason: MediaFailureReason
  readonly permanent: boolean
  readonly url: string

  constructor(reason: MediaFailureReason, permanent: boolean, url: string, message: string, options?: { cause?: unknown }) {
    super(reason === 'timeout' || reason === 'stalled' ? 'TIMEOUT' : reason === 'network' ? 'NETWORK' : 'MEDIA', message, options)
    this.name = 'MediaError'
    this.reason = reason
    this.permanent = permanent
    this.url = url
  }
}

/** Flickr's web hosts: flickr.com and its subdomains (www, api, up; play URLs live on www). */
export function isFlickrWebHost(hostname: string): boolean {
  const h = hostname.toLowerCase()
  return h === 'flickr.com' || h.endsWith('.flickr.com')
}

/** Flickr's media hosts: live.staticflickr.com, farmN.staticflickr.com, cN.staticflickr.com… */
export function isFlickrMediaHost(hostname: string): boolean {
  const h = hostname.toLowerCase()
  return h === 'staticflickr.com' || h.endsWith('.staticflickr.com')
}

export class MediaUrlPolicy {
  private readonly origins: ReadonlySet<string>

  /** `origins`: origins allowed besides Flickr's hosts (FLICKRFS_API_ORIGIN, exactly: scheme, host and port). */
  constructor(origins: readonly string[] = []) {
    const set = new Set<string>()
    for (const o of origins) {
      try {
        set.add(new URL(o).origin)
      } catch {
        throw new FlickrfsError('CONFIG', `Not an origin: "${redact(o)}". Use e.g. http://127.0.0.1:8080.`)
      }
    }
    this.origins = set
  }

  /** The parsed URL if it may be fetched; a permanent MediaError otherwise. */
  check(url: string, what = 'Download'): URL {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      throw new MediaError('badUrl', true, url, `${what} refused: "${redact(url).slice(0, 200)}" is not a URL.`)
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new MediaError('badUrl', true, url, `${what} of ${redact(url)} refused: only http: and https: URLs are fetched, not ${u.protocol}`)
    }
    if (u.username !== '' || u.password !== '') {
      throw new MediaError('badUrl', true, url, `${what} of ${redact(u.origin + u.pathname)} refused: the URL carries a user name or password.`)
    }
    if (this.origins.has(u.origin) || isFlickrWebHost(u.hostname) || isFlickrMediaHost(u.hostname)) return u
    throw new MediaError('otherHost', true, url, `${what} of ${redact(url)} refused: ${u.host} is not a Flickr host` +
      (this.origins.size > 0 ? ' nor FLICKRFS_API_ORIGIN.' : '.'))
  }

  /** Whether the session cookies may be sent to `u`: Flickr's own web hosts over https, or FLICKRFS_API_ORIGIN. */
  cookiesAllowed(u: URL): boolean {
    return this.origins.has(u.origin) || (u.protocol === 'https:' && isFlickrWebHost(u.hostname))
  }
}
