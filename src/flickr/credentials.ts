import { chmod, open, readFile, stat, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { errorMessage } from '../util/abort.js'
import { fsyncDir, mkdirLevels, writeFileAtomic } from '../util/fs.js'

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

/** `config.json` as an object ({} when there is none); a file that is not a JSON object fails with CONFIG. */
export async function readConfigFile(configDir: string): Promise<Record<string, unknown>> {
  return (await readJson(join(configDir, CONFIG_FILE))) ?? {}
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

/**
 * The stored token, or undefined when nobody has logged in. `flickrfs login` writes it mode 600; a
 * copy others can read (a `cp` without -p, a restore) is refused as an --env-file is, with the chmod.
 */
export async function readToken(configDir: string): Promise<StoredToken | undefined> {
  const path = join(configDir, TOKEN_FILE)
  const json = await readJson(path)
  if (!json) return undefined
  const oauthToken = str(json.oauthToken)
  const oauthTokenSecret = str(json.oauthTokenSecret)
  if (!oauthToken || !oauthTokenSecret) {
    throw new FlickrfsError('CONFIG', `${path} has no token in it. Run \`flickrfs login\` again.`)
  }
  const mode = (await stat(path)).mode
  if ((mode & 0o044) !== 0) {
    throw new FlickrfsError('CONFIG',
      `${path} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) and it holds your Flickr token: ` +
      `run chmod 600 ${path}.`)
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
  const created = await mkdirLevels(configDir, 0o700)
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

/**
 * One `--env-file` line: `KEY=VALUE`, `export KEY=VALUE`, the value bare, 'single' or "double"
 * quoted, `#` comments on their own line or after a bare or quoted value. Nothing is expanded
 * (`$HOME` stays `$HOME`): the file is data, never run.
 */
const ENV_LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/

/**
 * The variables of an env file in the shape a shell, systemd's EnvironmentFile= and docker's
 * --env-file all accept. A line that is not one of them fails with its number only: the line may
 * hold a secret, so its text never reaches a message.
 */
export function parseEnvFile(text: string, path: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim()
    if (line === '' || line.startsWith('#')) return
    const bad = (why: string): FlickrfsError =>
      new FlickrfsError('CONFIG', `${path} line ${i + 1} ${why}: write KEY=VALUE (optionally after "export", the value in quotes).`)
    const m = ENV_LINE.exec(line)
    if (!m) throw bad('is not KEY=VALUE')
    const key = m[1] as string
    const rest = (m[2] as string).trimStart()
    const spaced = rest.length < (m[2] as string).length
    let value: string
    let after: string
    const quote = rest[0]
    if (quote === "'" || quote === '"') {
      let end = 1
      value = ''
      for (; end < rest.length && rest[end] !== quote; end++) {
        // Inside double quotes a shell drops the backslash before " \ $ and `; so do we.
        if (quote === '"' && rest[end] === '\\' && end + 1 < rest.length && '"\\$`'.includes(rest[end + 1] as string)) end++
        value += rest[end]
      }
      if (end >= rest.length) throw bad(`has no closing ${quote}`)
      after = rest.slice(end + 1).trim()
    } else {
      const hash = rest.search(/\s#/)
      value = (hash >= 0 ? rest.slice(0, hash) : rest).trim()
      after = ''
      // `KEY= # note` is empty, as in a shell; `KEY=#x` is "#x".
      if (spaced && value.startsWith('#')) value = ''
    }
    if (after !== '' && !after.startsWith('#')) throw bad('has text after the closing quote')
    out[key] = value
  })
  return out
}

/**
 * Reads `--env-file FILE`. The file holds secrets, so one that group or others can read is refused
 * (like ssh refuses a private key): the message says the chmod that fixes it.
 */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  let text: string
  try {
    const fh = await open(path, 'r')
    try {
      const st = await fh.stat()
      if (!st.isFile()) throw new FlickrfsError('CONFIG', `The env file ${path} is not a regular file.`)
      if ((st.mode & 0o044) !== 0) {
        throw new FlickrfsError('CONFIG',
          `The env file ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}) and it holds ` +
          `your Flickr secrets: run chmod 600 ${path} (and make it owned by the user who runs flickrfs).`)
      }
      text = await fh.readFile('utf8')
    } finally {
      await fh.close()
    }
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : errorMessage(err)
    throw new FlickrfsError('CONFIG', `Cannot read the env file ${path}: ${why}.`, { cause: err })
  }
  return parseEnvFile(text, path)
}

/**
 * Adds an env file's variables to `env` (in place, so every holder of that object sees them). A
 * variable already set in the environment wins over the file, as with `node --env-file`. Returns
 * the names taken from the file.
 */
export function applyEnvFile(env: Env, vars: Record<string, string>): string[] {
  const taken: string[] = []
  for (const [k, v] of Object.entries(vars)) {
    if (env[k] !== undefined && env[k] !== '') continue
    env[k] = v
    taken.push(k)
  }
  return taken
}
