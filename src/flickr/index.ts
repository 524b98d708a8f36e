// The only door into src/flickr/: everything else in flickrfs imports from here.
export { mountOutageNote, OUTAGE_PATIENCE_MS, OutageWatch, outageNote } from './outage.js'
export { DEFAULT_API_CONCURRENCY, FlickrClient, RATE_LIMIT_PATIENCE_MS, throttleNote, type FlickrClientOptions, type FlickrStats, type ListingResume } from './client.js'
export { MediaClient, MediaHttpError, isTransientStatus, type MediaClientOptions, type MediaHead, type MediaBody } from './media-client.js'
export { MediaError, MediaUrlPolicy, isFlickrMediaHost, isFlickrWebHost, type MediaFailureReason } from './media-hosts.js'
export { MediaBodyError } from './media-body.js'
export { realClock, wallClock, scaledWallClock, VirtualClock, type Clock } from './clock.js'
export { toInt, toStr, textOf, asArray, asRecord } from './lenient.js'
export { flickrCodeOf } from './failure.js'
export { paginate, ListingIncomplete, type PaginateOptions } from './paginate.js'
export {
  TokenBucket, SharedTokenBucket, readSharedBucket, advance, limiterStatePath, lockFile, worstCaseCalls,
  DEFAULT_BURST, DEFAULT_RATE_PER_SEC, HOURLY_GUIDELINE, LEASE_MS, type RateLimiter, type LimiterState,
} from './limiter.js'
export { Semaphore } from '../util/semaphore.js'
export { rewriteToOrigin } from './origin-transport.js'
export { filenameFromContentDisposition } from './content-disposition.js'
export {
  resolveConfigDir, readConfigFile, loadApiKey, loadCredentials, readToken, saveToken, deleteToken,
  parseEnvFile, readEnvFile, applyEnvFile,
  CONFIG_FILE, TOKEN_FILE, type Env, type Credentials, type ApiKeyPair, type StoredToken,
} from './credentials.js'
export {
  requestAuthorization, exchangeVerifier, type LoginConfig, type PendingAuthorization, type AuthorizedUser,
} from './oauth-login.js'
export { openFlickr, apiOriginFromEnv, apiRateFrom, limiterSettings, clockFromEnv, type OpenFlickrOptions, type LimiterSettings } from './from-env.js'
export type * from './types.js'
