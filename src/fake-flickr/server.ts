/**
 * The fake Flickr HTTP server: REST (`/services/rest`), OAuth (`/services/oauth/*`), originals and
 * video play URLs, all on one loopback origin that flickrfs substitutes for api/www/up.flickr.com.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import createDebug from 'debug'
import { redact } from '../util/redact.js'
import type { FakeAccount } from './account.js'
import { generateAccount } from './generate.js'
import { FaultSettings, type HostileKind, type RequestArea } from './faults.js'
import { hostileRest, LONG_FORMAT, mediaItemId, serveHostileFile } from './hostile.js'
import { hasSessionCookies, parseRange, resolveMedia, resolvePlay, streamMedia } from './media.js'
import { canonicalUrl, sign, signatureMatches, TokenStore, type TokenRecord } from './oauth.js'
import { requestParams } from './request-params.js'
import { ApiFailure, METHODS } from './rest-methods.js'
import { restXml } from './rest-xml.js'

const log = createDebug('flickrfs:fake-flickr')

export interface StartOptions {
  account?: FakeAccount
  apiKey?: string
  apiSecret?: string
  /** Default 0: any free port. */
  port?: number
  /**
   * Video play URLs redirect to a CDN path that ends in the original's own name
   * (`/media/video/<id>/<secret>/<id>_<secret>.<fmt>`), the form old scripts name their videos by:
   * the original flickrmirrorer takes the file name from the redirected URL's path (its mirrors
   * from 2016 hold files like `26955584262_31e455cec8.mp4`). Default: the path ends in
   * `orig.<fmt>` and only Content-Disposition names the file.
   */
  namedVideoPaths?: boolean
}

export interface FakeCredentials {
  apiKey: string
  apiSecret: string
  oauthToken: string
  oauthTokenSecret: string
}

export interface FakeFlickr {
  origin: string
  account: FakeAccount
  faults: FaultSettings
  /** A pre-authorized read token for tests. */
  credentials: FakeCredentials
  /** Requests per REST method name, 'oauth:request_token' / 'oauth:authorize' / 'oauth:access_token',
   *  'media:GET', 'media:HEAD', 'media:play' (play URL hits) and 'media:bytes' (body bytes sent). */
  counts(): Record<string, number>
  resetCounts(): void
  /** The user clicking "OK, I'll authorize it": returns the verifier ('123-456-789'). */
  approve(requestToken: string): string
  /** Later calls with this token get code 98 (REST) or token_rejected (OAuth). */
  revokeToken(token: string): void
  close(): Promise<void>
}

const HTML_429 = '<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>\n'
const HTML_500 = '<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>\n'
const HTML_200 = '<!DOCTYPE html><html><head><title>Flickr: Site temporarily unavailable</title></head><body><p>Flickr is having a massage. Please check back shortly.</p></body></html>\n'

/** OAuth timestamps more than this far from our clock are refused (a replay window, as on Flickr). */
const TIMESTAMP_WINDOW_SEC = 3600

function timestampFresh(params: ReadonlyMap<string, string>): boolean {
  const ts = Number(params.get('oauth_timestamp'))
  return Number.isFinite(ts) && Math.abs(ts - Date.now() / 1000) <= TIMESTAMP_WINDOW_SEC
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export async function startFakeFlickr(opts: StartOptions = {}): Promise<FakeFlickr> {
  const apiKey = opts.apiKey ?? 'fake-api-key'
  const apiSecret = opts.apiSecret ?? 'fake-api-secret'
  const faults = new FaultSettings()
  const tokens = new TokenStore()
  const counts = new Map<string, number>()
  const shortened = new Set<string>()
  const preauth = tokens.issue('access')
  let origin = ''

  const fake: FakeFlickr = {
    origin: '',
    account: opts.account ?? generateAccount({}),
    faults,
    credentials: { apiKey, apiSecret, oauthToken: preauth.token, oauthTokenSecret: preauth.secret },
    counts: () => Object.fromEntries(counts),
    resetCounts: () => counts.clear(),
    approve: (requestToken) => tokens.approve(requestToken),
    revokeToken: (token) => tokens.revoke(token),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) => server.close((err) => (err === undefined ? resolve() : reject(err))))
    },
  }

  const bump = (key: string, by = 1): void => {
    counts.set(key, (counts.get(key) ?? 0) + by)
  }

  /** The count-down faults shared by every endpoint; true when one answered the request. */
  const answerFault = (res: ServerResponse, req: RequestArea): boolean => {
    if (faults.take('throttle429', req)) {
      res.writeHead(429, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_429)
      return true
    }
    if (faults.take('http500', req)) {
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_500)
      return true
    }
    if (faults.take('html200', req)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_200)
      return true
    }
    return false
  }

  const sendJson = (res: ServerResponse, params: ReadonlyMap<string, string>, body: Record<string, unknown>): void => {
    if ((params.get('format') ?? 'rest') === 'rest') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(restXml(body))
      return
    }
    const json = JSON.stringify(body)
    if (params.get('nojsoncallback') === '1') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(json)
    } else {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(`jsonFlickrApi(${json})`)
    }
  }

  const fail = (code: number, message: string): Record<string, unknown> => ({ stat: 'fail', code, message })

  /** OAuth check for REST: 100 bad key, 99 no token, 98 bad token, 96 bad signature or replay. */
  const restAuth = (req: IncomingMessage, path: string, params: ReadonlyMap<string, string>, method: string): Record<string, unknown> | undefined => {
    const key = params.get('oauth_consumer_key') ?? params.get('api_key')
    if (key !== apiKey) return fail(100, 'Invalid API Key (Key has invalid format)')
    if (method === 'flickr.test.echo' && !params.has('oauth_signature')) return undefined
    const token = params.get('oauth_token')
    if (token === undefined) return fail(99, 'Insufficient permissions. Method requires read privileges; none granted.')
    const rec = tokens.get(token)
    if (rec === undefined || rec.revoked || rec.kind !== 'access') return fail(98, 'Invalid auth token')
    if (params.get('oauth_signature_method') !== 'HMAC-SHA1' || !timestampFresh(params)) return fail(96, 'Invalid signature')
    const expected = sign(req.method ?? 'GET', canonicalUrl(path), params, apiSecret, rec.secret)
    if (!signatureMatches(expected, params.get('oauth_signature') ?? '')) return fail(96, 'Invalid signature')
    if (!tokens.useNonce(key, params.get('oauth_nonce') ?? '')) return fail(96, 'Invalid signature (nonce used)')
    return undefined
  }

  const handleRest = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const params = await requestParams(req, url)
    const method = params.get('method') ?? ''
    bump(method === '' ? 'rest:no-method' : method)
    if (faults.apiLatencyMs > 0) await delay(faults.apiLatencyMs)
    const area: RequestArea = { area: 'rest', name: method }
    if (answerFault(res, area)) return
    if (faults.take('stat105', area)) return sendJson(res, params, fail(105, 'Service currently unavailable'))
    const format = params.get('format') ?? 'rest'
    if (format !== 'json' && format !== 'rest') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' })
      res.end('<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="111" msg="Format not supported by the fake: use format=json or format=rest" />\n</rsp>\n')
      return
    }
    const denied = restAuth(req, url.pathname, params, method)
    if (denied !== undefined) return sendJson(res, params, denied)
    const handler = METHODS[method]
    if (handler === undefined) return sendJson(res, params, fail(112, `Method "${method}" not found`))
    try {
      const body = handler({ account: fake.account, params, origin, shortPages: faults.shortPages, shortened })
      const again = (page: number): Record<string, unknown> => handler({
        account: fake.account, params: new Map([...params, ['page', String(page)]]), origin, shortPages: false, shortened,
      })
      sendJson(res, params, { ...hostileRest(body, method, params, faults, again), stat: 'ok' })
    } catch (err) {
      if (err instanceof ApiFailure) return sendJson(res, params, fail(err.code, err.message))
      throw err
    }
  }

  const oauthFail = (res: ServerResponse, problem: string): void => {
    res.writeHead(401, { 'content-type': 'text/plain;charset=UTF-8' }).end(`oauth_problem=${problem}`)
  }

  /** Checks key, signature and nonce of an OAuth endpoint call; answers and returns false on failure. */
  const oauthVerify = (req: IncomingMessage, res: ServerResponse, path: string, params: ReadonlyMap<string, string>, rec: TokenRecord | undefined): boolean => {
    const key = params.get('oauth_consumer_key')
    if (key !== apiKey) {
      oauthFail(res, 'consumer_key_unknown')
      return false
    }
    const expected = sign(req.method ?? 'GET', canonicalUrl(path), params, apiSecret, rec?.secret ?? '')
    if (params.get('oauth_signature_method') !== 'HMAC-SHA1' || !signatureMatches(expected, params.get('oauth_signature') ?? '')) {
      oauthFail(res, 'signature_invalid')
      return false
    }
    if (!timestampFresh(params)) {
      oauthFail(res, 'timestamp_refused')
      return false
    }
    if (!tokens.useNonce(key, params.get('oauth_nonce') ?? '')) {
      oauthFail(res, 'nonce_used')
      return false
    }
    return true
  }

  const handleOAuth = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const endpoint = url.pathname.slice('/services/oauth/'.length).replace(/\/$/, '')
    const params = await requestParams(req, url)
    bump(`oauth:${endpoint}`)
    if (faults.apiLatencyMs > 0) await delay(faults.apiLatencyMs)
    if (answerFault(res, { area: 'oauth', name: `oauth:${endpoint}` })) return
    const form = (fields: Record<string, string>): void => {
      const body = Object.entries(fields).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
      res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' }).end(body)
    }
    if (endpoint === 'request_token') {
      if (!oauthVerify(req, res, url.pathname, params, undefined)) return
      const callback = params.get('oauth_callback')
      if (callback === undefined || callback === '') return oauthFail(res, 'parameter_absent&oauth_parameters_absent=oauth_callback')
      if (callback !== 'oob' && !URL.canParse(callback)) return oauthFail(res, 'parameter_rejected&oauth_parameters_rejected=oauth_callback')
      const rec = tokens.issue('request', callback)
      return form({ oauth_callback_confirmed: 'true', oauth_token: rec.token, oauth_token_secret: rec.secret })
    }
    if (endpoint === 'access_token') {
      const rec = tokens.get(params.get('oauth_token') ?? '')
      if (rec === undefined || rec.kind !== 'request' || rec.revoked) return oauthFail(res, 'token_rejected')
      if (!oauthVerify(req, res, url.pathname, params, rec)) return
      if (rec.verifier === undefined || params.get('oauth_verifier') !== rec.verifier) return oauthFail(res, 'verifier_invalid')
      tokens.delete(rec.token)
      const access = tokens.issue('access')
      const u = fake.account.user
      return form({ fullname: u.fullname, oauth_token: access.token, oauth_token_secret: access.secret, user_nsid: u.id, username: u.username })
    }
    if (endpoint === 'authorize') {
      const rec = tokens.get(params.get('oauth_token') ?? '')
      res.setHeader('content-type', 'text/html; charset=utf-8')
      if (rec === undefined || rec.kind !== 'request') {
        res.writeHead(400).end('<html><body><h1>Oops!</h1><p>This authorization request is not valid or has expired.</p></body></html>\n')
        return
      }
      // This fake's user always clicks "OK, I'll authorize it".
      const verifier = rec.verifier ?? tokens.approve(rec.token)
      if (rec.callback === 'oob') {
        res.writeHead(200).end(
          `<html><head><title>Flickr: authorized</title></head><body><p>You have successfully authorized the application.</p>` +
            `<p>Your verification code is</p><span id="Main">${escapeHtml(verifier)}</span></body></html>\n`,
        )
        return
      }
      const to = new URL(rec.callback)
      to.searchParams.set('oauth_token', rec.token)
      to.searchParams.set('oauth_verifier', verifier)
      res.writeHead(302, { location: to.href }).end()
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  }

  const handleMedia = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const isPlay = url.pathname.startsWith('/photos/')
    const name = isPlay ? 'media:play' : req.method === 'HEAD' ? 'media:HEAD' : 'media:GET'
    bump(name)
    if (faults.mediaLatencyMs > 0) await delay(faults.mediaLatencyMs)
    const area: RequestArea = { area: 'media', name }
    if (answerFault(res, area)) return
    const notFound = (): void => {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body><h1>404 Not Found</h1></body></html>\n')
    }
    const itemId = mediaItemId(url.pathname)
    const has = (k: HostileKind): boolean => itemId !== undefined && faults.isHostile(itemId, k)
    if (has('http500')) {
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_500)
      return
    }
    if (has('html200')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_200)
      return
    }
    if (has('redirectLoop')) {
      const hop = Number(url.searchParams.get('hop') ?? '0') + 1
      res.writeHead(302, { location: `${origin}${url.pathname}?hop=${hop}` }).end()
      return
    }
    let path = url.pathname
    const real = itemId === undefined ? undefined : fake.account.photos.get(itemId)
    if (has('longExt') && real !== undefined && path.endsWith(`.${LONG_FORMAT}`)) {
      path = path.slice(0, -LONG_FORMAT.length) + real.originalformat
    }
    if (isPlay) {
      const play = resolvePlay(fake.account, url.pathname)
      if (play === undefined) return notFound()
      if (play.kind === 'orig' && faults.videoOriginal404 && !hasSessionCookies(req)) return notFound()
      // Flickr redirects to a signed CDN URL; the query imitates that signature.
      const to = has('otherHost') ? origin.replace('//127.0.0.1', '//localhost') : origin
      const target = opts.namedVideoPaths === true ? (play.named ?? play.target) : play.target
      res.writeHead(302, { location: `${to}${target}?s=${Date.now().toString(36)}` }).end()
      return
    }
    const file = resolveMedia(fake.account, path)
    if (file === undefined) return notFound()
    if (has('longExt') && file.filename !== undefined) file.filename = file.filename.replace(/\.[a-z0-9]+$/, `.${LONG_FORMAT}`)
    const headers: Record<string, string> = {
      'content-type': file.contentType,
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=315360000',
    }
    if (file.filename !== undefined) headers['content-disposition'] = `attachment; filename="${file.filename}"`
    const hostileSent = await serveHostileFile(req, res, file, headers, has)
    if (hostileSent !== undefined) {
      bump('media:bytes', hostileSent)
      return
    }
    const range = parseRange(req.headers.range, file.size)
    if (range === 'invalid') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${file.size}` }).end()
      return
    }
    const start = range?.start ?? 0
    const end = range?.end ?? file.size
    headers['content-length'] = String(end - start)
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`
    res.writeHead(range === undefined ? 200 : 206, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    const truncate = faults.take('truncateMedia', area)
    const sent = await streamMedia(res, file, start, end, truncate ? Math.floor((end - start) / 2) : undefined)
    bump('media:bytes', sent)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    log('%s %s', req.method, redact(url.pathname + url.search))
    const path = url.pathname
    if (path === '/services/rest' || path === '/services/rest/') return handleRest(req, res, url)
    if (path.startsWith('/services/oauth/')) return handleOAuth(req, res, url)
    if ((req.method === 'GET' || req.method === 'HEAD') && (path.startsWith('/media/') || path.startsWith('/photos/'))) {
      return handleMedia(req, res, url)
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log('handler failed: %s', err instanceof Error ? err.message : String(err))
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('fake-flickr internal error')
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.origin = origin
  return fake
}
