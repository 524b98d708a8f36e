import { createFlickr } from 'flickr-sdk'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { classify, toFlickrfsError } from './failure.js'
import { OriginTransport, rewriteToOrigin } from './origin-transport.js'

const log = createDebug('flickrfs:flickr:login')

export interface LoginConfig {
  apiKey: string
  apiSecret: string
  apiOrigin?: string
  timeoutMs?: number
}

export interface PendingAuthorization {
  requestToken: string
  requestTokenSecret: string
  /** Where the user approves access (on FLICKRFS_API_ORIGIN when set). */
  authorizeUrl: string
}

export interface AuthorizedUser {
  nsid: string
  username: string
  fullname: string
  oauthToken: string
  oauthTokenSecret: string
}

// flickr-sdk 7.1.0 does not export its OAuthConfig type.
interface OAuthConfig {
  consumerKey: string
  consumerSecret: string
  oauthToken: string | false
  oauthTokenSecret: string | false
}

function oauthService(cfg: LoginConfig, token: string | false, tokenSecret: string | false) {
  const config: OAuthConfig = {
    consumerKey: cfg.apiKey, consumerSecret: cfg.apiSecret, oauthToken: token, oauthTokenSecret: tokenSecret,
  }
  const transport = new OriginTransport({ apiOrigin: cfg.apiOrigin || undefined, timeoutMs: cfg.timeoutMs ?? 30_000 })
  return createFlickr(config, transport).oauth
}

/** Step 1 of OAuth 1.0a (perms=read): a request token and the page where the user approves it. */
export async function requestAuthorization(cfg: LoginConfig, callback = 'oob'): Promise<PendingAuthorization> {
  const oauth = oauthService(cfg, false, false)
  let res: { requestToken: string; requestTokenSecret: string }
  try {
    res = await oauth.request(callback)
  } catch (err) {
    throw await oauthError(err, 'the request for a login token', cfg)
  }
  if (!res.requestToken || !res.requestTokenSecret) {
    throw new FlickrfsError('AUTH_FAILED', 'Flickr answered the login request without a request token. Try again later.')
  }
  log('got a request token')
  // flickr-sdk always builds this on www.flickr.com; a test or demo server must get the user instead.
  const authorizeUrl = rewriteToOrigin(oauth.authorizeUrl(res.requestToken, 'read'), cfg.apiOrigin || undefined)
  return { ...res, authorizeUrl }
}

/** Step 2: trade the verifier the user was shown for an access token. */
export async function exchangeVerifier(
  cfg: LoginConfig,
  pending: Pick<PendingAuthorization, 'requestToken' | 'requestTokenSecret'>,
  verifier: string,
): Promise<AuthorizedUser> {
  const oauth = oauthService(cfg, pending.requestToken, pending.requestTokenSecret)
  let res: Awaited<ReturnType<typeof oauth.verify>>
  try {
    res = await oauth.verify(verifier.trim())
  } catch (err) {
    throw await oauthError(err, 'the verification code', cfg)
  }
  if (!res.oauthToken || !res.oauthTokenSecret) {
    throw new FlickrfsError('AUTH_FAILED', 'Flickr accepted the code but sent no access token. Run `flickrfs login` again.')
  }
  log('got an access token for %s', res.nsid)
  return {
    nsid: res.nsid ?? '', username: res.username ?? '', fullname: res.fullname ?? '',
    oauthToken: res.oauthToken, oauthTokenSecret: res.oauthTokenSecret,
  }
}

/** OAuth endpoints fail with HTTP 401 and a form body `oauth_problem=…`; name the problem. */
async function oauthError(err: unknown, what: string, cfg: LoginConfig): Promise<FlickrfsError> {
  const f = classify(err)
  if (f.kind === 'http' && f.status >= 400 && f.status < 500 && f.status !== 429) {
    let problem = ''
    try {
      problem = new URLSearchParams((await f.response.text()).trim()).get('oauth_problem') ?? ''
    } catch {
      // the status alone will have to do
    }
    log('oauth endpoint refused %s: HTTP %d %s', what, f.status, problem)
    const opts = { cause: err }
    switch (problem) {
      case 'consumer_key_unknown':
      case 'consumer_key_rejected':
      case 'consumer_key_refused':
        return new FlickrfsError('AUTH_BAD_KEY',
          `Flickr does not know this API key (${problem}). Check FLICKR_API_KEY, or get a key at ` +
          'https://www.flickr.com/services/apps/create/.', opts)
      case 'signature_invalid':
        return new FlickrfsError('AUTH_FAILED',
          `Flickr rejected the signature of ${what} (signature_invalid): FLICKR_API_SECRET probably does not ` +
          'belong to FLICKR_API_KEY. Check both.', opts)
      case 'timestamp_refused':
        return new FlickrfsError('AUTH_FAILED',
          `Flickr refused ${what} (timestamp_refused): this computer's clock is probably wrong. Fix it and run \`flickrfs login\` again.`, opts)
      default:
        return new FlickrfsError('AUTH_FAILED',
          `Flickr refused ${what} (HTTP ${f.status}${problem ? `, ${problem}` : ''}). The code may be mistyped or ` +
          'expired: run `flickrfs login` again and paste the code Flickr shows.', opts)
    }
  }
  await (f.kind === 'http' ? f.response.body?.cancel().catch(() => undefined) : undefined)
  return toFlickrfsError(f, { what: `login (${what})`, attempts: 1, timeoutMs: cfg.timeoutMs ?? 30_000, apiOrigin: cfg.apiOrigin }, err)
}
