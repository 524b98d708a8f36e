/**
 * The fake Flickr HTTP server: REST (`/services/rest`), OAuth (`/services/oauth/*`), originals and
 * video play URLs, all on one loopback origin that flickrfs substitutes for api/www/up.flickr.com.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import createDebug from '../util/debug.js'
import { redact } from '../util/redact.js'
import type { FakeAccount } from './account.js'
import { generateAccount } from './generate.js'
import { FaultSettings, type HostileKind, type RequestArea } from './faults.js'
import { hostileRest, LONG_FORMAT, mediaItemId, serveHostileFile } from './hostile.js'
import { hasSessionCookies, parseRange, resolveMedia, resolvePlay, streamMedia, type MediaFile } from './media.js'
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
   *  'media:GET', 'media:HEAD', 'media:play' (play URL hits), 'media:bytes' (body bytes sent) and
   *  'media:peak' (the most media GETs open at once since the last reset: whether downloads overlap),
   *  'unreachable' (requests whose connection faults.unreachable closed). */
  counts(): Record<string, number>
  resetCounts(): void
  /**
   * When set to an array, every REST call is added to it: its method, its parameters less OAuth's,
   * and when it arrived and was answered (performance.now() of the fake's process). For benches
   * that replay a run's calls alone (bench/pin.ts).
   */
  restLog?: RestCall[]
  /**
   * Called before each authorized REST method is answered, with its name and parameters: what the
   * account's owner does on Flickr while a refresh is under way (a test changes the account there).
   */
  beforeMethod?: (method: string, params: ReadonlyMap<string, string>) => void
  /** The user clicking "OK, I'll authorize it": returns the verifier ('123-456-789'). */
  approve(requestToken: string): string
  /** Later calls with this token get code 98 (REST) or token_rejected (OAuth). */
  revokeToken(token: string): void
  close(): Promise<void>
}

export interface RestCall {
  method: string
  params: Record<string, string>
  arrivedMs: number
  answeredMs: number
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

/** One OAuth endpoint call: the request, its answer, its path and its parameters. */
interface OAuthCall {
  req: IncomingMessage
  res: ServerResponse
  path: string
  params: ReadonlyMap<string, string>
}

/** One media request after the shared faults: the item's hostile modes are asked through `has`. */
interface MediaCall {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  area: RequestArea
  itemId: string | undefined
  has: (k: HostileKind) => boolean
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html)
}

function notFound(res: ServerResponse): void {
  sendHtml(res, 404, '<html><body><h1>404 Not Found</h1></body></html>\n')
}

function sendJson(res: ServerResponse, params: ReadonlyMap<string, string>, body: Record<string, unknown>): void {
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

function fail(code: number, message: string): Record<string, unknown> {
  return { stat: 'fail', code, message }
}

function oauthFail(res: ServerResponse, problem: string): void {
  res.writeHead(401, { 'content-type': 'text/plain;charset=UTF-8' }).end(`oauth_problem=${problem}`)
}

function sendForm(res: ServerResponse, fields: Record<string, string>): void {
  const body = Object.entries(fields).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
  res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' }).end(body)
}

/**
 * The server behind `startFakeFlickr`. Routes: REST (`handleRest`), OAuth (`handleOAuth` and one
 * method per endpoint), media (`handleMedia`, then a play redirect or a file); `bump` keeps the
 * counters and `answerFault` the count-down faults every route shares. The public methods are
 * arrow properties, as they were on the plain object this replaced, so they work unbound and spread.
 */
class FakeFlickrServer implements FakeFlickr {
  origin = ''
  account: FakeAccount
  readonly faults = new FaultSettings()
  readonly credentials: FakeCredentials
  private readonly apiKey: string
  private readonly apiSecret: string
  private readonly namedVideoPaths: boolean
  private readonly tokens = new TokenStore()
  private readonly countsByName = new Map<string, number>()
  /** Media GETs received and not yet closed (for 'media:peak'; not cleared by resetCounts). */
  private mediaGetsOpen = 0
  /** The REST pages already shortened once by the shortPages fault. */
  private readonly shortened = new Set<string>()
  private readonly server: Server

  constructor(opts: StartOptions) {
    this.apiKey = opts.apiKey ?? 'fake-api-key'
    this.apiSecret = opts.apiSecret ?? 'fake-api-secret'
    this.namedVideoPaths = opts.namedVideoPaths === true
    const preauth = this.tokens.issue('access')
    this.account = opts.account ?? generateAccount({})
    this.credentials = { apiKey: this.apiKey, apiSecret: this.apiSecret, oauthToken: preauth.token, oauthTokenSecret: preauth.secret }
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        log('handler failed: %s', err instanceof Error ? err.message : String(err))
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('fake-flickr internal error')
        else res.destroy()
      })
    })
  }

  restLog: RestCall[] | undefined
  beforeMethod: ((method: string, params: ReadonlyMap<string, string>) => void) | undefined
  counts = (): Record<string, number> => Object.fromEntries(this.countsByName)
  resetCounts = (): void => this.countsByName.clear()
  approve = (requestToken: string): string => this.tokens.approve(requestToken)
  revokeToken = (token: string): void => this.tokens.revoke(token)
  /** Stops serving; again once stopped, nothing (a test's hook and its `after` may both close it). */
  close = async (): Promise<void> => {
    if (!this.server.listening) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err === undefined ? resolve() : reject(err))))
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', () => resolve())
    })
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    log('%s %s', req.method, redact(url.pathname + url.search))
    if (this.faults.unreachable) {
      this.bump('unreachable')
      req.socket.destroy()
      return
    }
    const path = url.pathname
    if (path === '/services/rest' || path === '/services/rest/') return this.handleRest(req, res, url)
    if (path.startsWith('/services/oauth/')) return this.handleOAuth(req, res, url)
    if ((req.method === 'GET' || req.method === 'HEAD') && (path.startsWith('/media/') || path.startsWith('/photos/'))) {
      return this.handleMedia(req, res, url)
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  }

  // --- counters and faults shared by every route

  private bump(name: string, by = 1): void {
    this.countsByName.set(name, (this.countsByName.get(name) ?? 0) + by)
  }

  /** The count-down faults shared by every endpoint; true when one answered the request. */
  private answerFault(res: ServerResponse, area: RequestArea): boolean {
    if (this.faults.take('throttle429', area)) {
      sendHtml(res, 429, HTML_429)
      return true
    }
    if (this.faults.take('http500', area)) {
      sendHtml(res, 500, HTML_500)
      return true
    }
    if (this.faults.take('html200', area)) {
      sendHtml(res, 200, HTML_200)
      return true
    }
    return false
  }

  // --- REST

  private async handleRest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const params = await requestParams(req, url)
    const log = this.restLog
    if (log === undefined) return this.answerRest(req, res, url, params)
    const call: RestCall = { method: params.get('method') ?? '', params: {}, arrivedMs: performance.now(), answeredMs: Number.NaN }
    for (const [k, v] of params) if (!k.startsWith('oauth_') && k !== 'method' && k !== 'format' && k !== 'nojsoncallback') call.params[k] = v
    log.push(call)
    try {
      await this.answerRest(req, res, url, params)
    } finally {
      call.answeredMs = performance.now()
    }
  }

  private async answerRest(req: IncomingMessage, res: ServerResponse, url: URL, params: Map<string, string>): Promise<void> {
    const method = params.get('method') ?? ''
    this.bump(method === '' ? 'rest:no-method' : method)
    if (this.faults.apiLatencyMs > 0) await delay(this.faults.apiLatencyMs)
    const area: RequestArea = { area: 'rest', name: method }
    if (this.answerFault(res, area)) return
    if (this.faults.take('stat105', area)) return sendJson(res, params, fail(105, 'Service currently unavailable'))
    const format = params.get('format') ?? 'rest'
    if (format !== 'json' && format !== 'rest') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' })
      res.end('<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="111" msg="Format not supported by the fake: use format=json or format=rest" />\n</rsp>\n')
      return
    }
    const denied = this.restAuth({ req, res, path: url.pathname, params }, method)
    if (denied !== undefined) return sendJson(res, params, denied)
    this.answerMethod(res, params, method)
  }

  /** OAuth check for REST: 100 bad key, 99 no token, 98 bad token, 96 bad signature or replay. */
  private restAuth(call: OAuthCall, method: string): Record<string, unknown> | undefined {
    const { req, path, params } = call
    const key = params.get('oauth_consumer_key') ?? params.get('api_key')
    if (key !== this.apiKey) return fail(100, 'Invalid API Key (Key has invalid format)')
    if (method === 'flickr.test.echo' && !params.has('oauth_signature')) return undefined
    const token = params.get('oauth_token')
    if (token === undefined) return fail(99, 'Insufficient permissions. Method requires read privileges; none granted.')
    const rec = this.tokens.get(token)
    if (rec === undefined || rec.revoked || rec.kind !== 'access') return fail(98, 'Invalid auth token')
    if (params.get('oauth_signature_method') !== 'HMAC-SHA1' || !timestampFresh(params)) return fail(96, 'Invalid signature')
    const expected = sign(req.method ?? 'GET', canonicalUrl(path), params, this.apiSecret, rec.secret)
    if (!signatureMatches(expected, params.get('oauth_signature') ?? '')) return fail(96, 'Invalid signature')
    if (!this.tokens.useNonce(key, params.get('oauth_nonce') ?? '')) return fail(96, 'Invalid signature (nonce used)')
    return undefined
  }

  /** Runs an authorized REST method; hostile modes may rewrite its answer. */
  private answerMethod(res: ServerResponse, params: ReadonlyMap<string, string>, method: string): void {
    const handler = METHODS[method]
    if (handler === undefined) return sendJson(res, params, fail(112, `Method "${method}" not found`))
    this.beforeMethod?.(method, params)
    const { origin, shortened } = this
    try {
      const body = handler({ account: this.account, params, origin, shortPages: this.faults.shortPages, shortened })
      const again = (page: number): Record<string, unknown> => handler({
        account: this.account, params: new Map([...params, ['page', String(page)]]), origin, shortPages: false, shortened,
      })
      sendJson(res, params, { ...hostileRest(body, { method, params, faults: this.faults, again }), stat: 'ok' })
    } catch (err) {
      if (err instanceof ApiFailure) return sendJson(res, params, fail(err.code, err.message))
      throw err
    }
  }

  // --- OAuth

  private async handleOAuth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const endpoint = url.pathname.slice('/services/oauth/'.length).replace(/\/$/, '')
    const params = await requestParams(req, url)
    this.bump(`oauth:${endpoint}`)
    if (this.faults.apiLatencyMs > 0) await delay(this.faults.apiLatencyMs)
    if (this.answerFault(res, { area: 'oauth', name: `oauth:${endpoint}` })) return
    const call: OAuthCall = { req, res, path: url.pathname, params }
    if (endpoint === 'request_token') return this.requestToken(call)
    if (endpoint === 'access_token') return this.accessToken(call)
    if (endpoint === 'authorize') return this.authorize(call)
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  }

  /** Checks key, signature and nonce of an OAuth endpoint call; answers and returns false on failure. */
  private oauthVerify(call: OAuthCall, rec: TokenRecord | undefined): boolean {
    const { req, res, path, params } = call
    const key = params.get('oauth_consumer_key')
    if (key !== this.apiKey) {
      oauthFail(res, 'consumer_key_unknown')
      return false
    }
    const expected = sign(req.method ?? 'GET', canonicalUrl(path), params, this.apiSecret, rec?.secret ?? '')
    if (params.get('oauth_signature_method') !== 'HMAC-SHA1' || !signatureMatches(expected, params.get('oauth_signature') ?? '')) {
      oauthFail(res, 'signature_invalid')
      return false
    }
    if (!timestampFresh(params)) {
      oauthFail(res, 'timestamp_refused')
      return false
    }
    if (!this.tokens.useNonce(key, params.get('oauth_nonce') ?? '')) {
      oauthFail(res, 'nonce_used')
      return false
    }
    return true
  }

  private requestToken(call: OAuthCall): void {
    const { res, params } = call
    if (!this.oauthVerify(call, undefined)) return
    const callback = params.get('oauth_callback')
    if (callback === undefined || callback === '') return oauthFail(res, 'parameter_absent&oauth_parameters_absent=oauth_callback')
    if (callback !== 'oob' && !URL.canParse(callback)) return oauthFail(res, 'parameter_rejected&oauth_parameters_rejected=oauth_callback')
    const rec = this.tokens.issue('request', callback)
    sendForm(res, { oauth_callback_confirmed: 'true', oauth_token: rec.token, oauth_token_secret: rec.secret })
  }

  private accessToken(call: OAuthCall): void {
    const { res, params } = call
    const rec = this.tokens.get(params.get('oauth_token') ?? '')
    if (rec === undefined || rec.kind !== 'request' || rec.revoked) return oauthFail(res, 'token_rejected')
    if (!this.oauthVerify(call, rec)) return
    if (rec.verifier === undefined || params.get('oauth_verifier') !== rec.verifier) return oauthFail(res, 'verifier_invalid')
    this.tokens.delete(rec.token)
    const access = this.tokens.issue('access')
    const u = this.account.user
    sendForm(res, { fullname: u.fullname, oauth_token: access.token, oauth_token_secret: access.secret, user_nsid: u.id, username: u.username })
  }

  /** The page the user approves on; this fake's user always clicks "OK, I'll authorize it". */
  private authorize(call: OAuthCall): void {
    const { res, params } = call
    const rec = this.tokens.get(params.get('oauth_token') ?? '')
    res.setHeader('content-type', 'text/html; charset=utf-8')
    if (rec === undefined || rec.kind !== 'request') {
      res.writeHead(400).end('<html><body><h1>Oops!</h1><p>This authorization request is not valid or has expired.</p></body></html>\n')
      return
    }
    const verifier = rec.verifier ?? this.tokens.approve(rec.token)
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
  }

  // --- media: originals, sizes and video play URLs

  private async handleMedia(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const isPlay = url.pathname.startsWith('/photos/')
    const name = isPlay ? 'media:play' : req.method === 'HEAD' ? 'media:HEAD' : 'media:GET'
    this.bump(name)
    if (name === 'media:GET') this.holdOpen(res)
    if (this.faults.mediaLatencyMs > 0) await delay(this.faults.mediaLatencyMs)
    const area: RequestArea = { area: 'media', name }
    if (this.answerFault(res, area)) return
    const itemId = mediaItemId(url.pathname)
    const has = (k: HostileKind): boolean => itemId !== undefined && this.faults.isHostile(itemId, k)
    const call: MediaCall = { req, res, url, area, itemId, has }
    if (this.answerHostileStatus(call)) return
    if (isPlay) return this.redirectPlay(call)
    return this.serveFile(call)
  }

  /** Counts a media GET as open until its response closes, and keeps the highest count as 'media:peak'. */
  private holdOpen(res: ServerResponse): void {
    this.mediaGetsOpen++
    if (this.mediaGetsOpen > (this.countsByName.get('media:peak') ?? 0)) this.countsByName.set('media:peak', this.mediaGetsOpen)
    res.once('close', () => this.mediaGetsOpen--)
  }

  /** Hostile items that never reach their bytes: a 500, an HTML 200, or a redirect loop. */
  private answerHostileStatus({ res, url, has }: MediaCall): boolean {
    if (has('http500')) {
      sendHtml(res, 500, HTML_500)
      return true
    }
    if (has('html200')) {
      sendHtml(res, 200, HTML_200)
      return true
    }
    if (has('redirectLoop')) {
      const hop = Number(url.searchParams.get('hop') ?? '0') + 1
      res.writeHead(302, { location: `${this.origin}${url.pathname}?hop=${hop}` }).end()
      return true
    }
    return false
  }

  /** A video play URL: Flickr redirects to a signed CDN URL; the query imitates that signature. */
  private redirectPlay({ req, res, url, has }: MediaCall): void {
    const play = resolvePlay(this.account, url.pathname)
    if (play === undefined) return notFound(res)
    if (play.kind === 'orig' && this.faults.videoOriginal404 && (this.faults.expiredCookies || !hasSessionCookies(req))) return notFound(res)
    const to = has('otherHost') ? this.origin.replace('//127.0.0.1', '//localhost') : this.origin
    const target = this.namedVideoPaths ? (play.named ?? play.target) : play.target
    res.writeHead(302, { location: `${to}${target}?s=${Date.now().toString(36)}` }).end()
  }

  private async serveFile(call: MediaCall): Promise<void> {
    const { req, res, url, itemId, has } = call
    let path = url.pathname
    const real = itemId === undefined ? undefined : this.account.photos.get(itemId)
    if (has('longExt') && real !== undefined && path.endsWith(`.${LONG_FORMAT}`)) {
      path = path.slice(0, -LONG_FORMAT.length) + real.originalformat
    }
    const file = resolveMedia(this.account, path)
    if (file === undefined) return notFound(res)
    if (has('longExt') && file.filename !== undefined) file.filename = file.filename.replace(/\.[a-z0-9]+$/, `.${LONG_FORMAT}`)
    const headers: Record<string, string> = {
      'content-type': file.contentType,
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=315360000',
    }
    if (file.filename !== undefined) headers['content-disposition'] = `attachment; filename="${file.filename}"`
    const hostileSent = await serveHostileFile({ req, res, file, headers, has })
    if (hostileSent !== undefined) {
      this.bump('media:bytes', hostileSent)
      return
    }
    return this.sendRange(call, file, headers)
  }

  /** The file's bytes, whole or the asked range; the truncateMedia fault sends half and hangs up. */
  private async sendRange({ req, res, area }: MediaCall, file: MediaFile, headers: Record<string, string>): Promise<void> {
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
    const truncate = this.faults.take('truncateMedia', area)
    const sent = await streamMedia(res, file, start, end, truncate ? Math.floor((end - start) / 2) : undefined)
    this.bump('media:bytes', sent)
  }
}

export async function startFakeFlickr(opts: StartOptions = {}): Promise<FakeFlickr> {
  const fake = new FakeFlickrServer(opts)
  await fake.listen(opts.port ?? 0)
  return fake
}
