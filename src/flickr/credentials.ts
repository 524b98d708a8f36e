import { chmod, mkdir, readFile, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { errorMessage } from '../util/abort.js'
import { fsyncDir, writeFileAtomic } from '../util/fs.js'

export type Env = Record<string, string | undefined>

/** `$FLICKRFS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/flickrfs`, else `~/.config/flickrfs`. */
export function resolveConfigDir(env: Env): string {
  if (env.FLICKRFS_CONFIG_DIR) return env.FLICKRFS_CONFIG_DIR
  const xdg = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(xdg, 'flickrfs')
}

/** Optional `config.json`: the API key pair for users who would rather not export it. */
export const CONFIG_FILE = 'config.json'
/** Written by `flickrfs login`, deleted by `flickrfs logout`. */
export const TOKEN_FILE = 'token.json'

export interface StoredToken {
  oauthToken: string
  oauthTokenSecret: string
  nsid?: string
  username?: string
  fullname?: string
  /** ISO time of the login that made it. */
  createdAt?: string
}

export interface ApiKeyPair {
  apiKey: string
  apiSecret: string
  /** Where the pair came from, for messages. */
  source: 'env' | 'config'
}

export interface Credentials extends ApiKeyPair {
  oauthToken: string
  oauthTokenSecret: string
  tokenSource: 'env' | 'file'
  /** Who logged in, when the token file says. */
  nsid?: string
  username?: string
}

const KEY_HELP =
  'Get an API key at https://www.flickr.com/services/apps/create/ and set FLICKR_API_KEY and FLICKR_API_SECRET'

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new FlickrfsError('CONFIG', `Cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  }
  try {
    const v: unknown = JSON.parse(text)
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // fall through to the error below
  }
  throw new FlickrfsError('CONFIG', `${path} is not a JSON object. Fix or delete it.`)
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
}

/** The consumer key pair: environment first, then `config.json` (`apiKey`/`apiSecret`). */
export async function loadApiKey(opts: { env: Env; configDir?: string }): Promise<ApiKeyPair> {
  const { env } = opts
  const dir = opts.configDir ?? resolveConfigDir(env)
  const envKey = str(env.FLICKR_API_KEY)
  const envSecret = str(env.FLICKR_API_SECRET)
  if (envKey && envSecret) return { apiKey: envKey, apiSecret: envSecret, source: 'env' }
  const configPath = join(dir, CONFIG_FILE)
  const config = (await readJson(configPath)) ?? {}
  const apiKey = envKey ?? str(config.apiKey ?? config.FLICKR_API_KEY)
  const apiSecret = envSecret ?? str(config.apiSecret ?? config.FLICKR_API_SECRET)
  if (apiKey && apiSecret) return { apiKey, apiSecret, source: envKey || envSecret ? 'env' : 'config' }
  const missing = [apiKey ? undefined : 'FLICKR_API_KEY', apiSecret ? undefined : 'FLICKR_API_SECRET']
    .filter(Boolean).join(' and ')
  throw new FlickrfsError('AUTH_MISSING',
    `No Flickr API key: ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set. ${KEY_HELP} ` +
    `in the environment, or put {"apiKey": "…", "apiSecret": "…"} in ${configPath}.`)
}

/** The stored token, or undefined when nobody has logged in. */
export async function readToken(configDir: string): Promise<StoredToken | undefined> {
  const path = join(configDir, TOKEN_FILE)
  const json = await readJson(path)
  if (!json) return undefined
  const oauthToken = str(json.oauthToken)
  const oauthTokenSecret = str(json.oauthTokenSecret)
  if (!oauthToken || !oauthTokenSecret) {
    throw new FlickrfsError('CONFIG', `${path} has no token in it. Run \`flickrfs login\` again.`)
  }
  return {
    oauthToken, oauthTokenSecret,
    nsid: str(json.nsid), username: str(json.username), fullname: str(json.fullname), createdAt: str(json.createdAt),
  }
}

/**
 * Everything a FlickrClient needs, or AUTH_MISSING naming exactly what to set or run. The token
 * comes from FLICKR_OAUTH_TOKEN / FLICKR_OAUTH_TOKEN_SECRET (cron, CI) when both are set, else from
 * the file `flickrfs login` wrote.
 */
export async function loadCredentials(opts: { env: Env; configDir?: string }): Promise<Credentials> {
  const { env } = opts
  const dir = opts.configDir ?? resolveConfigDir(env)
  const key = await loadApiKey({ env, configDir: dir })
  const envToken = str(env.FLICKR_OAUTH_TOKEN)
  const envTokenSecret = str(env.FLICKR_OAUTH_TOKEN_SECRET)
  if (envToken && envTokenSecret) {
    return { ...key, oauthToken: envToken, oauthTokenSecret: envTokenSecret, tokenSource: 'env' }
  }
  if (envToken || envTokenSecret) {
    throw new FlickrfsError('AUTH_MISSING',
      `Only ${envToken ? 'FLICKR_OAUTH_TOKEN' : 'FLICKR_OAUTH_TOKEN_SECRET'} is set: set both ` +
      'FLICKR_OAUTH_TOKEN and FLICKR_OAUTH_TOKEN_SECRET, or unset both and run `flickrfs login`.')
  }
  const token = await readToken(dir)
  if (!token) {
    throw new FlickrfsError('AUTH_MISSING',
      `Not logged in to Flickr: no token in ${join(dir, TOKEN_FILE)}. Run \`flickrfs login\`, ` +
      'or set FLICKR_OAUTH_TOKEN and FLICKR_OAUTH_TOKEN_SECRET.')
  }
  return {
    ...key, oauthToken: token.oauthToken, oauthTokenSecret: token.oauthTokenSecret, tokenSource: 'file',
    nsid: token.nsid, username: token.username,
  }
}

/** Writes the token atomically (temp + fsync + rename), file 0600 in a 0700 folder. */
export async function saveToken(configDir: string, token: StoredToken): Promise<string> {
  const created = await mkdir(configDir, { recursive: true, mode: 0o700 })
  // Only tighten a folder we made; a folder the user made is theirs to set.
  if (created !== undefined) await chmod(configDir, 0o700)
  const path = join(configDir, TOKEN_FILE)
  await writeFileAtomic(path, JSON.stringify(token, null, 2) + '\n', { mode: 0o600 })
  return path
}

/** Removes the stored token; false when there was none. */
export async function deleteToken(configDir: string): Promise<boolean> {
  try {
    await unlink(join(configDir, TOKEN_FILE))
    await fsyncDir(configDir)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
