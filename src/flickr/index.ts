// The only door into src/flickr/: everything else in flickrfs imports from here.
export { FlickrClient, type FlickrClientOptions, type FlickrStats } from './client.js'
export { MediaClient, MediaHttpError, type MediaClientOptions, type MediaHead, type MediaBody } from './media-client.js'
export { realClock, VirtualClock, type Clock } from './clock.js'
export { toInt, toStr, textOf, asArray, asRecord } from './lenient.js'
export { paginate, type PaginateOptions } from './paginate.js'
export { TokenBucket } from './limiter.js'
export { Semaphore } from '../util/semaphore.js'
export { rewriteToOrigin } from './origin-transport.js'
export { filenameFromContentDisposition } from './content-disposition.js'
export {
  resolveConfigDir, loadApiKey, loadCredentials, readToken, saveToken, deleteToken,
  parseEnvFile, readEnvFile, applyEnvFile,
  CONFIG_FILE, TOKEN_FILE, type Env, type Credentials, type ApiKeyPair, type StoredToken,
} from './credentials.js'
export {
  requestAuthorization, exchangeVerifier, type LoginConfig, type PendingAuthorization, type AuthorizedUser,
} from './oauth-login.js'
export { openFlickr, apiOriginFromEnv, apiRateFrom, type OpenFlickrOptions } from './from-env.js'
export type * from './types.js'
