import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { Command } from 'commander'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import {
  apiOriginFromEnv, deleteToken, exchangeVerifier, loadApiKey, openFlickr,
  requestAuthorization, resolveConfigDir, saveToken, TOKEN_FILE, type Env,
} from '../flickr/index.js'

export interface AuthIo {
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: Env
  /** Opens the authorize page; default xdg-open / open, and only when there is a display. */
  openUrl?: (url: string) => void
  platform?: NodeJS.Platform
}

/** Adds `login`, `logout` and `whoami` to the program. */
export function addAuthCommands(program: Command, io: Partial<AuthIo> & Pick<AuthIo, 'stdout' | 'stderr'>): Command {
  const full: AuthIo = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env ?? process.env,
    openUrl: io.openUrl,
    platform: io.platform ?? process.platform,
  }
  program.addCommand(loginCommand(full))
  program.addCommand(logoutCommand(full))
  program.addCommand(whoamiCommand(full))
  return program
}

export function loginCommand(io: AuthIo): Command {
  return new Command('login')
    .description('Authorize flickrfs to read your Flickr account (OAuth, read-only)')
    .option('--no-browser', 'print the authorization URL without opening a browser')
    .action(async (opts: { browser: boolean }) => {
      await login(io, { openBrowser: opts.browser })
    })
}

export function logoutCommand(io: AuthIo): Command {
  return new Command('logout')
    .description('Forget the stored Flickr token')
    .action(async () => {
      const dir = resolveConfigDir(io.env)
      const removed = await deleteToken(dir)
      io.stdout.write(removed ? `Logged out (removed ${join(dir, TOKEN_FILE)}).\n` : `Not logged in (no ${join(dir, TOKEN_FILE)}).\n`)
      if (io.env.FLICKR_OAUTH_TOKEN) {
        io.stderr.write('Note: FLICKR_OAUTH_TOKEN is set in the environment and is still used; unset it too.\n')
      }
    })
}

export function whoamiCommand(io: AuthIo): Command {
  return new Command('whoami')
    .description('Show which Flickr account the stored token belongs to')
    .action(async () => {
      // A question asked at a prompt: a 429 fails it at once with the reason, not minutes later.
      const { client } = await openFlickr({ env: io.env, client: { maxRetries: 2, rateLimitPatienceMs: 0 } })
      const user = await client.testLogin()
      io.stdout.write(`${user.username}\n`)
    })
}

/** The OAuth 1.0a out-of-band flow: request token → user approves → verifier on stdin → access token. */
export async function login(io: AuthIo, opts: { openBrowser: boolean }): Promise<void> {
  const dir = resolveConfigDir(io.env)
  const key = await loadApiKey({ env: io.env, configDir: dir })
  const cfg = { apiKey: key.apiKey, apiSecret: key.apiSecret, apiOrigin: apiOriginFromEnv(io.env) }
  const pending = await requestAuthorization(cfg, 'oob')
  io.stdout.write(
    'Open this page, sign in to Flickr and allow flickrfs read access:\n\n' +
    `  ${pending.authorizeUrl}\n\n`,
  )
  if (opts.openBrowser && hasDisplay(io)) openInBrowser(io, pending.authorizeUrl)
  io.stdout.write('Then type the code Flickr shows (like 123-456-789) and press Enter: ')
  const verifier = await readLine(io.stdin)
  if (!verifier) {
    throw new FlickrfsError('AUTH_FAILED', 'No code was entered, so nothing was stored. Run `flickrfs login` again.')
  }
  const user = await exchangeVerifier(cfg, pending, verifier)
  const path = await saveToken(dir, {
    oauthToken: user.oauthToken,
    oauthTokenSecret: user.oauthTokenSecret,
    nsid: user.nsid,
    username: user.username,
    fullname: user.fullname,
    createdAt: new Date().toISOString(),
  })
  io.stdout.write(`\nLogged in as ${user.username || user.nsid}\n`)
  io.stderr.write(`Token stored in ${path}\n`)
}

function hasDisplay(io: AuthIo): boolean {
  if (io.platform === 'darwin' || io.platform === 'win32') return true
  return Boolean(io.env.DISPLAY || io.env.WAYLAND_DISPLAY)
}

function openInBrowser(io: AuthIo, url: string): void {
  if (io.openUrl) {
    io.openUrl(url)
    return
  }
  const cmd = io.platform === 'darwin' ? 'open' : io.platform === 'win32' ? 'explorer' : 'xdg-open'
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true })
    // A missing opener is fine: the URL is already on screen.
    child.on('error', () => undefined)
    child.unref()
  } catch {
    // same: the user can copy the URL
  }
}

/** One line from stdin, or '' at end of input. */
async function readLine(input: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input, terminal: false })
  try {
    for await (const line of rl) return line.trim()
    return ''
  } finally {
    rl.close()
  }
}
