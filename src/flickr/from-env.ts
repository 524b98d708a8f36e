import { join } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { FlickrClient, type FlickrClientOptions } from './client.js'
import { scaledWallClock, wallClock, type Clock } from './clock.js'
import { CONFIG_FILE, loadCredentials, readConfigFile, resolveConfigDir, type Credentials, type Env } from './credentials.js'
import { DEFAULT_BURST, DEFAULT_RATE_PER_SEC, SharedTokenBucket } from './limiter.js'
import { MediaClient, type MediaClientOptions } from './media-client.js'
import { OutageWatch } from './outage.js'

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

export interface LimiterSettings {
  burst: number
  ratePerSec: number
  /** Where each came from, for `flickrfs status`. */
  burstFrom: string
  rateFrom: string
}

function positive(raw: unknown, what: string, min: number): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN
  if (!Number.isFinite(n) || n < min || (min === 0 && n <= 0)) {
    throw new FlickrfsError('CONFIG', `${what} must be a number ${min === 0 ? 'above 0' : `of at least ${min}`}, got ${JSON.stringify(raw)}.`)
  }
  return n
}

/**
 * The API key's bucket: the rate from --api-rate, else FLICKRFS_API_RATE, else config.json
 * `apiRate`, else 0.8/s; the burst from FLICKRFS_API_BURST, else config.json `apiBurst`, else 600.
 */
export async function limiterSettings(env: Env, configDir: string, flag?: string | number): Promise<LimiterSettings> {
  const config = await readConfigFile(configDir)
  const path = join(configDir, CONFIG_FILE)
  const rateFlag = apiRateFrom(env, flag)
  let ratePerSec = DEFAULT_RATE_PER_SEC
  let rateFrom = 'default'
  if (rateFlag !== undefined) {
    ratePerSec = rateFlag
    rateFrom = flag !== undefined ? '--api-rate' : 'FLICKRFS_API_RATE'
  } else if (config.apiRate !== undefined) {
    ratePerSec = positive(config.apiRate, `apiRate in ${path} (calls per second)`, 0)
    rateFrom = 'config.json apiRate'
  }
  let burst = DEFAULT_BURST
  let burstFrom = 'default'
  if (env.FLICKRFS_API_BURST) {
    burst = Math.floor(positive(env.FLICKRFS_API_BURST, 'FLICKRFS_API_BURST (calls)', 1))
    burstFrom = 'FLICKRFS_API_BURST'
  } else if (config.apiBurst !== undefined) {
    burst = Math.floor(positive(config.apiBurst, `apiBurst in ${path} (calls)`, 1))
    burstFrom = 'config.json apiBurst'
  }
  return { burst, ratePerSec, burstFrom, rateFrom }
}

/** FLICKRFS_TIME_SCALE (benches): Flickr time runs this many times faster, in the limiter and the retries. */
export function clockFromEnv(env: Env): Clock {
  const raw = env.FLICKRFS_TIME_SCALE
  if (!raw) return wallClock
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new FlickrfsError('CONFIG', `FLICKRFS_TIME_SCALE must be a number above 0, got "${raw}".`)
  return scaledWallClock(n)
}

export interface OpenFlickrOptions {
  env: Env
  configDir?: string
  /** The --api-rate flag, when given. */
  apiRate?: string | number
  client?: Partial<FlickrClientOptions>
  media?: MediaClientOptions
  /** A pin's: both clients wait out a network outage together (outage.ts), and `outage` says when. */
  outagePatience?: boolean
}

/** The one place a command turns environment + config into working clients. */
export async function openFlickr(opts: OpenFlickrOptions): Promise<{
  client: FlickrClient
  media: MediaClient
  credentials: Credentials
  /** With `outagePatience`: the watch both clients share. */
  outage: OutageWatch | undefined
}> {
  const configDir = opts.configDir ?? resolveConfigDir(opts.env)
  const credentials = await loadCredentials({ env: opts.env, configDir })
  const { burst, ratePerSec } = await limiterSettings(opts.env, configDir, opts.apiRate)
  const apiOrigin = apiOriginFromEnv(opts.env)
  const clock = opts.client?.clock ?? clockFromEnv(opts.env)
  // Every process of this key on this machine draws from one bucket (a file in the config dir).
  const limiter = new SharedTokenBucket({ configDir, apiKey: credentials.apiKey, burst, ratePerSec, clock })
  const outage = opts.outagePatience === true ? new OutageWatch(clock) : undefined
  const client = new FlickrClient({
    clock,
    limiter,
    outage,
    ...opts.client,
    apiKey: credentials.apiKey,
    apiSecret: credentials.apiSecret,
    oauthToken: credentials.oauthToken,
    oauthTokenSecret: credentials.oauthTokenSecret,
    apiOrigin,
  })
  // The media client fetches only from Flickr's hosts and from the origin that stands in for them.
  const media = new MediaClient({ clock, outage, ...opts.media, origins: apiOrigin === undefined ? [] : [apiOrigin] })
  return { client, media, credentials, outage }
}
