import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readToken } from '../../src/flickr/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { closedOrigin } from './helpers.js'
import { tempDir } from '../support/repo.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

let fake: FakeFlickr
let tmp: string
before(async () => {
  fake = await startFakeFlickr({
    account: generateAccount({ seed: 21, photos: 5, videos: 1, sets: 2, collections: 1 }),
    apiKey: `key${randomBytes(8).toString('hex')}`,
    apiSecret: `sec${randomBytes(8).toString('hex')}`,
  })
  tmp = await tempDir('flickrfs-flickr-')
})
after(async () => {
  await fake.close()
  await rm(tmp, { recursive: true, force: true })
})

/** Runs a login child: answers the authorize URL with the fake's verifier; resolves with its output. */
function runLogin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; requestToken: string; verifier: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let requestToken = ''
    let verifier = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
      const m = /(http:\/\/\S+\/services\/oauth\/authorize\?\S+)/.exec(stdout)
      if (m && !verifier) {
        requestToken = new URL(m[1] ?? '').searchParams.get('oauth_token') ?? ''
        verifier = fake.approve(requestToken)
        child.stdin.end(`${verifier}\n`)
      }
    })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => child.kill(), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, requestToken, verifier })
    })
  })
}

function assertNoSecrets(text: string, secrets: Record<string, string>, where: string): void {
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value.length >= 6, `${name} is a real value`)
    assert.ok(!text.includes(value), `${name} leaked into ${where}`)
    assert.ok(!text.includes(encodeURIComponent(value)), `${name} (URL-encoded) leaked into ${where}`)
  }
  const sig = /oauth_signature(?:=|%3D)(?!\[redacted\])[^&\s"']+/i.exec(text)
  assert.equal(sig, null, `a signature leaked into ${where}: ${sig?.[0]}`)
}

void test('DEBUG=flickrfs:* output of a login and failing calls carries no token, secret, signature or verifier', async () => {
  const configDir = join(tmp, 'child')
  fake.faults.inject('http500', { count: 2, target: 'flickr.test.login' })
  fake.faults.inject('stat105', { count: 1, target: 'flickr.people.getPhotos' })
  fake.faults.inject('html200', { count: 5, target: 'flickr.photosets.getList' })
  fake.faults.inject('throttle429', { count: 5, target: 'flickr.collections.getTree' })
  const r = await runLogin(['--import', 'tsx', 'test/flickr/fixtures/auth-child.ts'], {
    DEBUG: 'flickrfs:*',
    DEBUG_COLORS: '0',
    FLICKR_API_KEY: fake.credentials.apiKey,
    FLICKR_API_SECRET: fake.credentials.apiSecret,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKRFS_CONFIG_DIR: configDir,
    CLOSED_ORIGIN: await closedOrigin(),
  })
  assert.equal(r.code, 0, r.stderr)
  const token = await readToken(configDir)
  assert.ok(token)
  // The run did what it was meant to: logged in, survived two faults, failed in five clear ways.
  assert.match(r.stdout, /Logged in as/)
  assert.equal(r.stdout.match(/step ok/g)?.length, 2)
  assert.match(r.stderr, /flickrfs:flickr .*retrying/, 'debug output was on')
  for (const re of [/HTML page instead of JSON/, /HTTP 429/, /error 96/, /revoked or expired/, /ECONNREFUSED/]) {
    assert.match(r.stderr, re)
  }
  const secrets = {
    apiKey: fake.credentials.apiKey,
    apiSecret: fake.credentials.apiSecret,
    requestToken: r.requestToken,
    verifier: r.verifier,
    oauthToken: token.oauthToken,
    oauthTokenSecret: token.oauthTokenSecret,
  }
  assertNoSecrets(r.stderr, secrets, 'stderr')
  const { requestToken: _shownToTheUser, ...notOnStdout } = secrets
  assertNoSecrets(r.stdout.replace(/http:\/\/\S+\/services\/oauth\/authorize\?\S+/, ''), notOnStdout, 'stdout')
})

void test('bin/flickrfs login then whoami work end to end as child processes, secrets kept out of DEBUG output', async () => {
  const configDir = join(tmp, 'bin')
  const env = {
    DEBUG: 'flickrfs:*',
    DEBUG_COLORS: '0',
    FLICKR_API_KEY: fake.credentials.apiKey,
    FLICKR_API_SECRET: fake.credentials.apiSecret,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKRFS_CONFIG_DIR: configDir,
  }
  const r = await runLogin(['bin/flickrfs', 'login', '--no-browser'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`Logged in as ${fake.account.user.username}`))
  const token = await readToken(configDir)
  assert.ok(token)
  assertNoSecrets(r.stderr, { apiSecret: fake.credentials.apiSecret, verifier: r.verifier, oauthToken: token.oauthToken,
    oauthTokenSecret: token.oauthTokenSecret, requestToken: r.requestToken }, 'stderr')
  const who = await runLogin(['bin/flickrfs', 'whoami'], env)
  assert.equal(who.code, 0, who.stderr)
  assert.equal(who.stdout, `${fake.account.user.username}\n`)
})
