/**
 * Failure injection, read live by the server on every request.
 *
 * Plain fields:
 *   apiLatencyMs, mediaLatencyMs   delay before each API (REST and OAuth) / media response
 *   shortPages                     some non-last pages come back shorter than per_page the first
 *                                  time they are asked; asking the same page again gives it whole
 *   videoOriginal404               play URLs of video originals 404 unless the request carries a
 *                                  Cookie with both cookie_accid and cookie_epass
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
 */
export type FaultKind = 'http500' | 'stat105' | 'html200' | 'throttle429' | 'truncateMedia'
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
}

export const FAULT_KINDS: readonly FaultKind[] = ['throttle429', 'http500', 'html200', 'stat105', 'truncateMedia']

export class FaultSettings {
  apiLatencyMs = 0
  mediaLatencyMs = 0
  shortPages = false
  videoOriginal404 = false
  http500 = 0
  stat105 = 0
  html200 = 0
  throttle429 = 0
  truncateMedia = 0
  readonly injections: FaultInjection[] = []

  inject(kind: FaultKind, opts: { count?: number; target?: FaultTarget } = {}): void {
    this.injections.push({ kind, remaining: opts.count ?? 1, target: opts.target })
  }

  /** Back to no faults at all. */
  clear(): void {
    this.apiLatencyMs = 0
    this.mediaLatencyMs = 0
    this.shortPages = false
    this.videoOriginal404 = false
    for (const k of FAULT_KINDS) this[k] = 0
    this.injections.length = 0
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
