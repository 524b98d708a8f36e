/**
 * OAuth 1.0a (HMAC-SHA1) as Flickr checks it. The signature base string is rebuilt with the
 * canonical https://…flickr.com URL, because that is what the client signed before its transport
 * rewrote the host to ours. Parameter encoding follows RFC 3986 exactly as flickr-sdk does.
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'

export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export function baseString(method: string, canonicalUrl: string, params: ReadonlyMap<string, string>): string {
  const keys = [...params.keys()].filter((k) => k !== 'oauth_signature').sort()
  const normalized = keys.map((k) => `${encodeRfc3986(k)}=${encodeRfc3986(params.get(k) ?? '')}`).join('&')
  return [method.toUpperCase(), canonicalUrl, normalized].map(encodeRfc3986).join('&')
}

export function sign(method: string, canonicalUrl: string, params: ReadonlyMap<string, string>, consumerSecret: string, tokenSecret: string): string {
  const key = `${encodeRfc3986(consumerSecret)}&${encodeRfc3986(tokenSecret)}`
  return createHmac('sha1', key).update(baseString(method, canonicalUrl, params)).digest('base64')
}

export function signatureMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Canonical Flickr URL for one of our paths (the host the client really signed for). */
export function canonicalUrl(path: string): string {
  if (path.startsWith('/services/oauth/')) return `https://www.flickr.com${path}`
  if (path.startsWith('/services/upload') || path.startsWith('/services/replace')) return `https://up.flickr.com${path}`
  return `https://api.flickr.com${path}`
}

export interface TokenRecord {
  token: string
  secret: string
  kind: 'request' | 'access'
  callback: string
  verifier?: string
  revoked: boolean
}

export class TokenStore {
  private readonly tokens = new Map<string, TokenRecord>()
  private readonly nonces = new Set<string>()

  issue(kind: TokenRecord['kind'], callback = ''): TokenRecord {
    // Flickr's token shape: 17 digits, a dash, 16 hex.
    const digits = `72157${String(randomInt(100000, 999999))}${String(randomInt(100000, 999999))}`
    const rec: TokenRecord = {
      token: `${digits}-${randomBytes(8).toString('hex')}`,
      secret: randomBytes(8).toString('hex'),
      kind,
      callback,
      revoked: false,
    }
    this.tokens.set(rec.token, rec)
    return rec
  }

  get(token: string): TokenRecord | undefined {
    return this.tokens.get(token)
  }

  delete(token: string): void {
    this.tokens.delete(token)
  }

  approve(requestToken: string): string {
    const rec = this.tokens.get(requestToken)
    if (rec === undefined || rec.kind !== 'request') throw new Error('fake-flickr: approve() needs a live request token')
    // Idempotent: the authorize page and a test's approve() must agree on one verifier.
    if (rec.verifier !== undefined) return rec.verifier
    const part = (): string => String(randomInt(0, 1000)).padStart(3, '0')
    rec.verifier = `${part()}-${part()}-${part()}`
    return rec.verifier
  }

  revoke(token: string): void {
    const rec = this.tokens.get(token)
    if (rec !== undefined) rec.revoked = true
  }

  /** False when this nonce was already used with this consumer key (a replay). */
  useNonce(consumerKey: string, nonce: string): boolean {
    const key = `${consumerKey}\u0000${nonce}`
    if (this.nonces.has(key)) return false
    this.nonces.add(key)
    return true
  }
}
