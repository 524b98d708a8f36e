import { FlickrfsError } from '../errors/flickrfs-error.js'
import { FlickrClient, type FlickrClientOptions } from './client.js'
import { loadCredentials, type Credentials, type Env } from './credentials.js'
import { MediaClient, type MediaClientOptions } from './media-client.js'

/** FLICKRFS_API_ORIGIN, checked so a typo fails here rather than as a confusing network error. */
export function apiOriginFromEnv(env: Env): string | undefined {
  const raw = env.FLICKRFS_API_ORIGIN?.trim()
  if (!raw) return undefined
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new FlickrfsError('CONFIG', `FLICKRFS_API_ORIGIN is not a URL: "${raw}". Use e.g. http://127.0.0.1:8080.`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new FlickrfsError('CONFIG', `FLICKRFS_API_ORIGIN must be http:// or https://, got "${raw}".`)
  }
  return raw.replace(/\/+$/, '')
}

/** `--api-rate` wins over FLICKRFS_API_RATE; calls per second, > 0. */
export function apiRateFrom(env: Env, flag?: string | number): number | undefined {
  const raw = flag ?? env.FLICKRFS_API_RATE
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) {
    throw new FlickrfsError('USAGE', `The API rate must be a number of calls per second above 0, got "${raw}" ` +
      `(from ${flag !== undefined ? '--api-rate' : 'FLICKRFS_API_RATE'}).`)
  }
  return n
}

export interface OpenFlickrOptions {
  env: Env
  configDir?: string
  /** The --api-rate flag, when given. */
  apiRate?: string | number
  client?: Partial<FlickrClientOptions>
  media?: MediaClientOptions
}

/** The one place a command turns environment + config into working clients. */
export async function openFlickr(opts: OpenFlickrOptions): Promise<{
  client: FlickrClient
  media: MediaClient
  credentials: Credentials
}> {
  const credentials = await loadCredentials({ env: opts.env, configDir: opts.configDir })
  const ratePerSec = apiRateFrom(opts.env, opts.apiRate)
  const apiOrigin = apiOriginFromEnv(opts.env)
  const client = new FlickrClient({
    ...opts.client,
    apiKey: credentials.apiKey,
    apiSecret: credentials.apiSecret,
    oauthToken: credentials.oauthToken,
    oauthTokenSecret: credentials.oauthTokenSecret,
    apiOrigin,
    ...(ratePerSec !== undefined ? { ratePerSec } : {}),
  })
  // The media client fetches only from Flickr's hosts and from the origin that stands in for them.
  const media = new MediaClient({ ...opts.media, origins: apiOrigin === undefined ? [] : [apiOrigin] })
  return { client, media, credentials }
}
