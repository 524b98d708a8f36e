/**
 * Failure injection, read live by the server on every request.
 *
 * Plain fields:
 *   apiLatencyMs, mediaLatencyMs   delay before each API (REST and OAuth) / media response
 *   shortPages                     some non-last pages come back shorter than per_page the first
 *                                  time they are asked; asking the same page again gives it whole
 *   videoOriginal404               play URLs of video originals 404 unless the request carries a
 *                                  Cookie with both cookie_accid and cookie_epass
 *   expiredCookies                 with videoOriginal404: those cookies are refused too (a web
 *                                  session that has expired), so the originals 404 whatever is sent
 *   unreachable                    a network outage: every request's connection is closed as it
 *                                  arrives, before any answer (the client sees a reset)
 *   http500, stat105, html200, throttle429, truncateMedia
 *                                  count-downs: each hits the next n requests it applies to, any target
 *
 * Targeted count-downs: `faults.inject('http500', { count: 2, target: 'flickr.people.getPhotos' })`.
 * target is 'api' (REST + OAuth endpoints), 'media' (media and play URLs), 'oauth', or an API method
 * name ('flickr.photos.getSizes', 'oauth:access_token'). Targeted injections are used before plain counts.
 *
 * Where each kind applies: http500 (api, media), stat105 (REST only: HTTP 200, stat fail, code 105),
 * html200 (api, media: HTTP 200 text/html), throttle429 (api, media: 429 with a short HTML body),
 * truncateMedia (media GET only: full Content-Length, then the socket is closed early).
 *
 * Listing count-downs (REST photo and set lists only; target them at a method, count Infinity for "always"):
 *   dropList       the page comes without its item array (`photo`/`photoset`) while `total` stays
 *   endlessPages   `pages: 1000000000`, and every page number answers with page 1's items
 *
 * Hostile items, per photo id, every time (not a count-down): `faults.hostile[id] = 'http500'` or
 * a list of behaviours (`['ignoreRange', 'truncate']`). See HostileKind for each one. A hostile item
 * is what a broken or malicious server (or a proxy in front of Flickr) could do to one file.
 */
export type FaultKind = 'http500' | 'stat105' | 'html200' | 'throttle429' | 'truncateMedia' | 'dropList' | 'endlessPages'

/**
 * One item's hostile behaviour:
 *   http500                every media request for it (HEAD, GET, play URL) answers HTTP 500
 *   html200                every media request answers 200 text/html with a Flickr-style HTML page
 *   badScheme              the API names its original with an `ftp:` URL (url_o, the sizes' source)
 *   fileScheme             the API names its original as `file:///etc/passwd`
 *   otherHost              the API names its original on `localhost` (same port: it would answer);
 *                          a video's play URL stays, and redirects to `localhost`
 *   redirectLoop           every media request redirects to the same URL again, forever
 *   longExt                the format (originalformat, url_o; a video's Content-Disposition) is 17 characters long
 *   ignoreRange            Range is ignored: every GET is a 200 with the whole file
 *   truncate               every GET body stops after half of what it announced (socket closed)
 *   contentLengthTooBig    sizes (Content-Length, Content-Range, HEAD) say 1000 bytes more than the
 *                          file; the body sends the real bytes, then holds the connection open
 *   contentLengthTooSmall  HEAD and a 200 say Content-Length 1000 bytes less than the file, and the
 *                          whole file is sent anyway; a 206's Content-Range still states the true size
 *   stallMidBody           GET bodies send up to the middle of the file, then nothing, connection open
 *   trickle                GET bodies send 64 bytes every 250 ms (alive, but far below any useful rate)
 */
export type HostileKind =
  | 'http500' | 'html200' | 'badScheme' | 'fileScheme' | 'otherHost' | 'redirectLoop' | 'longExt' | 'ignoreRange'
  | 'truncate' | 'contentLengthTooBig' | 'contentLengthTooSmall' | 'stallMidBody' | 'trickle'

export const HOSTILE_KINDS: readonly HostileKind[] = [
  'http500', 'html200', 'badScheme', 'fileScheme', 'otherHost', 'redirectLoop', 'longExt', 'ignoreRange',
  'truncate', 'contentLengthTooBig', 'contentLengthTooSmall', 'stallMidBody', 'trickle',
]
export type FaultTarget = 'api' | 'media' | 'oauth' | (string & {})

export interface FaultInjection {
  kind: FaultKind
  remaining: number
  target: FaultTarget | undefined
}

/** What a request is, for matching faults against it. */
export interface RequestArea {
  area: 'rest' | 'oauth' | 'media'
  /** REST method name, 'oauth:request_token' etc., or 'media:GET' / 'media:HEAD' / 'media:play'. */
  name: string
}

const APPLIES: Record<FaultKind, ReadonlyArray<RequestArea['area']>> = {
  http500: ['rest', 'oauth', 'media'],
  stat105: ['rest'],
  html200: ['rest', 'oauth', 'media'],
  throttle429: ['rest', 'oauth', 'media'],
  truncateMedia: ['media'],
  dropList: ['rest'],
  endlessPages: ['rest'],
}

export const FAULT_KINDS: readonly FaultKind[] = ['throttle429', 'http500', 'html200', 'stat105', 'truncateMedia', 'dropList', 'endlessPages']

export class FaultSettings {
  apiLatencyMs = 0
  mediaLatencyMs = 0
  shortPages = false
  videoOriginal404 = false
  expiredCookies = false
  unreachable = false
  http500 = 0
  stat105 = 0
  html200 = 0
  throttle429 = 0
  truncateMedia = 0
  dropList = 0
  endlessPages = 0
  readonly injections: FaultInjection[] = []
  /** Per photo id: what its media (and the URLs the API gives for it) do, every time. */
  hostile: Record<string, HostileKind | readonly HostileKind[]> = {}

  /** Whether item `id` has hostile behaviour `kind`. */
  isHostile(id: string, kind: HostileKind): boolean {
    const h = Object.hasOwn(this.hostile, id) ? this.hostile[id] : undefined
    if (h === undefined) return false
    return typeof h === 'string' ? h === kind : h.includes(kind)
  }

  inject(kind: FaultKind, opts: { count?: number; target?: FaultTarget } = {}): void {
    this.injections.push({ kind, remaining: opts.count ?? 1, target: opts.target })
  }

  /** Back to no faults at all. */
  clear(): void {
    this.apiLatencyMs = 0
    this.mediaLatencyMs = 0
    this.shortPages = false
    this.videoOriginal404 = false
    this.expiredCookies = false
    this.unreachable = false
    for (const k of FAULT_KINDS) this[k] = 0
    this.injections.length = 0
    this.hostile = {}
  }

  /** Count-downs still armed (targeted and plain). */
  pending(): number {
    return this.injections.reduce((n, f) => n + f.remaining, 0) + FAULT_KINDS.reduce((n, k) => n + this[k], 0)
  }

  /** Consumes one hit of `kind` if one applies to this request. */
  take(kind: FaultKind, req: RequestArea): boolean {
    if (!APPLIES[kind].includes(req.area)) return false
    const i = this.injections.findIndex((f) => f.kind === kind && f.remaining > 0 && matches(f.target, req))
    if (i >= 0) {
      const f = this.injections[i] as FaultInjection
      f.remaining--
      if (f.remaining <= 0) this.injections.splice(i, 1)
      return true
    }
    if (this[kind] > 0) {
      this[kind]--
      return true
    }
    return false
  }
}

function matches(target: FaultTarget | undefined, req: RequestArea): boolean {
  if (target === undefined) return true
  if (target === 'api') return req.area === 'rest' || req.area === 'oauth'
  if (target === 'media') return req.area === 'media'
  if (target === 'oauth') return req.area === 'oauth'
  return target === req.name
}
