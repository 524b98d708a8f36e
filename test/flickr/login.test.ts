import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { Command } from 'commander'
import { addAuthCommands } from '../../src/cli/auth.js'
import { readToken, TOKEN_FILE } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { rejectsWith } from './helpers.js'
import { tempDir } from '../support/repo.js'

class Capture extends Writable {
  text = ''
  private waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = []
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString()
    this.waiters = this.waiters.filter((w) => {
      const m = this.text.match(w.re)
      if (m) w.resolve(m)
      return !m
    })
    cb()
  }
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.text.match(re)
    if (m) return Promise.resolve(m)
    return new Promise((resolve) => this.waiters.push({ re, resolve }))
  }
}

let fake: FakeFlickr
let tmp: string
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 11, photos: 3, videos: 0, sets: 0 }) })
  tmp = await tempDir('flickrfs-flickr-')
})
after(async () => {
  await fake.close()
  await rm(tmp, { recursive: true, force: true })
})

function run(args: string[], env: Record<string, string>, stdin = new PassThrough()) {
  const stdout = new Capture()
  const stderr = new Capture()
  const opened: string[] = []
  const program = new Command('flickrfs').exitOverride()
  addAuthCommands(program, { stdin, stdout, stderr, env, openUrl: (u) => opened.push(u) })
  const done = program.parseAsync(args, { from: 'user' })
  return { done, stdin, stdout, stderr, opened }
}

function envFor(configDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FLICKR_API_KEY: fake.credentials.apiKey,
    FLICKR_API_SECRET: fake.credentials.apiSecret,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKRFS_CONFIG_DIR: configDir,
    ...extra,
  }
}

async function loginAs(configDir: string, extra: Record<string, string> = {}, args = ['login', '--no-browser']) {
  const r = run(args, envFor(configDir, extra))
  const m = await r.stdout.waitFor(/(http:\/\/\S+\/services\/oauth\/authorize\?\S+)/)
  const url = new URL(m[1] ?? '')
  const verifier = fake.approve(url.searchParams.get('oauth_token') ?? '')
  r.stdin.end(`${verifier}\n`)
  await r.done
  return { ...r, url, verifier }
}

void test('login: request token → approve → verify → token file 0600 → whoami', async () => {
  const dir = join(tmp, 'login1')
  const r = await loginAs(dir)
  assert.equal(r.url.origin, fake.origin, 'the authorize URL is on FLICKRFS_API_ORIGIN')
  assert.equal(r.url.searchParams.get('perms'), 'read')
  assert.match(r.stdout.text, new RegExp(`Logged in as ${fake.account.user.username}\\n`))
  assert.deepEqual(r.opened, [], '--no-browser opens nothing')
  const file = join(dir, TOKEN_FILE)
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  const token = await readToken(dir)
  assert.equal(token?.nsid, fake.account.user.id)
  assert.notEqual(token?.oauthToken, fake.credentials.oauthToken, 'a fresh access token was issued')

  const who = run(['whoami'], envFor(dir))
  await who.done
  assert.equal(who.stdout.text, `${fake.account.user.username}\n`)
})

void test('login opens a browser only when there is a display', async () => {
  const withDisplay = await loginAs(join(tmp, 'login-display'), { DISPLAY: ':0' }, ['login'])
  assert.equal(withDisplay.opened.length, 1)
  assert.equal(withDisplay.opened[0], withDisplay.url.href)
  const headless = await loginAs(join(tmp, 'login-headless'), {}, ['login'])
  assert.deepEqual(headless.opened, [])
})

void test('a wrong code or no code stores nothing and says to log in again', async () => {
  const dir = join(tmp, 'login-wrong')
  const r = run(['login', '--no-browser'], envFor(dir))
  const m = await r.stdout.waitFor(/(http:\/\/\S+\/services\/oauth\/authorize\?\S+)/)
  fake.approve(new URL(m[1] ?? '').searchParams.get('oauth_token') ?? '')
  r.stdin.end('000-000-000\n')
  const err = await rejectsWith(r.done, 'AUTH_FAILED')
  assert.match(err.message, /verifier_invalid.*run `flickrfs login` again/)
  assert.equal(await readToken(dir), undefined)

  const empty = run(['login', '--no-browser'], envFor(dir))
  await empty.stdout.waitFor(/authorize/)
  empty.stdin.end()
  const e2 = await rejectsWith(empty.done, 'AUTH_FAILED')
  assert.match(e2.message, /No code was entered/)
})

void test('login without an API key says what to set', async () => {
  const r = run(['login'], { FLICKRFS_CONFIG_DIR: join(tmp, 'nokey') })
  const err = await rejectsWith(r.done, 'AUTH_MISSING')
  assert.match(err.message, /FLICKR_API_KEY and FLICKR_API_SECRET/)
})

void test('a transient failure never deletes the stored token; a revoked one gives one clear line', async () => {
  const dir = join(tmp, 'login-transient')
  await loginAs(dir)
  fake.faults.inject('http500', { count: 3, target: 'flickr.test.login' })
  // whoami allows 2 retries: 3 failures exhaust it.
  const failing = run(['whoami'], envFor(dir))
  const err = await rejectsWith(failing.done, 'FLICKR_UNAVAILABLE')
  assert.match(err.message, /flickr\.test\.login failed \(3 attempts\) with HTTP 500/)
  assert.ok(await readToken(dir), 'the token survived')
  const again = run(['whoami'], envFor(dir))
  await again.done
  assert.equal(again.stdout.text, `${fake.account.user.username}\n`)

  const token = await readToken(dir)
  fake.revokeToken(token?.oauthToken ?? '')
  const revoked = run(['whoami'], envFor(dir))
  const e98 = await rejectsWith(revoked.done, 'AUTH_REVOKED')
  assert.equal(e98.message, 'Your Flickr authorization was revoked or expired. Run `flickrfs login` again; where the token comes from FLICKR_OAUTH_TOKEN (the environment, an --env-file), put the new one from token.json there, since it wins over token.json.')
})

void test('logout removes the token file, and says so when there was none', async () => {
  const dir = join(tmp, 'logout')
  await loginAs(dir)
  const out = run(['logout'], envFor(dir))
  await out.done
  assert.match(out.stdout.text, /Logged out/)
  assert.equal(await readToken(dir), undefined)
  const again = run(['logout'], envFor(dir))
  await again.done
  assert.match(again.stdout.text, /Not logged in/)
  const who = run(['whoami'], envFor(dir))
  const err = await rejectsWith(who.done, 'AUTH_MISSING')
  assert.match(err.message, /Run `flickrfs login`/)
})

void test('whoami works from FLICKR_OAUTH_TOKEN / FLICKR_OAUTH_TOKEN_SECRET alone (cron, CI)', async () => {
  const dir = join(tmp, 'env-only')
  const who = run(['whoami'], envFor(dir, {
    FLICKR_OAUTH_TOKEN: fake.credentials.oauthToken,
    FLICKR_OAUTH_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
  }))
  await who.done
  assert.equal(who.stdout.text, `${fake.account.user.username}\n`)
  assert.equal(await readToken(dir), undefined, 'nothing was written')
})
