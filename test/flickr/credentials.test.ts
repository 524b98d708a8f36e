import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  deleteToken, loadCredentials, readToken, resolveConfigDir, saveToken, TOKEN_FILE,
} from '../../src/flickr/index.js'
import { rejectsWith } from './helpers.js'
import { tempDir } from '../support/repo.js'

let tmp: string
before(async () => {
  tmp = await tempDir('flickrfs-flickr-')
})
after(async () => {
  await rm(tmp, { recursive: true, force: true })
})

void test('the config folder: FLICKRFS_CONFIG_DIR, else XDG_CONFIG_HOME/flickrfs, else ~/.config/flickrfs', () => {
  assert.equal(resolveConfigDir({ FLICKRFS_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b', HOME: '/h' }), '/a')
  assert.equal(resolveConfigDir({ XDG_CONFIG_HOME: '/b', HOME: '/h' }), '/b/flickrfs')
  assert.equal(resolveConfigDir({ HOME: '/h' }), '/h/.config/flickrfs')
})

void test('missing key or token says exactly what to set or run', async () => {
  const dir = join(tmp, 'empty')
  const noKey = await rejectsWith(loadCredentials({ env: {}, configDir: dir }), 'AUTH_MISSING')
  assert.match(noKey.message, /FLICKR_API_KEY and FLICKR_API_SECRET are not set/)
  assert.match(noKey.message, /config\.json/)
  const noSecret = await rejectsWith(loadCredentials({ env: { FLICKR_API_KEY: 'k' }, configDir: dir }), 'AUTH_MISSING')
  assert.match(noSecret.message, /FLICKR_API_SECRET is not set/)
  const noToken = await rejectsWith(loadCredentials({ env: { FLICKR_API_KEY: 'k', FLICKR_API_SECRET: 's' }, configDir: dir }), 'AUTH_MISSING')
  assert.match(noToken.message, /Run `flickrfs login`, or set FLICKR_OAUTH_TOKEN and FLICKR_OAUTH_TOKEN_SECRET/)
  const half = await rejectsWith(loadCredentials({ env: { FLICKR_API_KEY: 'k', FLICKR_API_SECRET: 's', FLICKR_OAUTH_TOKEN: 't' }, configDir: dir }), 'AUTH_MISSING')
  assert.match(half.message, /Only FLICKR_OAUTH_TOKEN is set/)
})

void test('key from config.json, token from env or file; env wins', async () => {
  const dir = join(tmp, 'cfg')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'config.json'), JSON.stringify({ apiKey: 'ck', apiSecret: 'cs' }))
  const fromEnv = await loadCredentials({ env: { FLICKR_OAUTH_TOKEN: 'et', FLICKR_OAUTH_TOKEN_SECRET: 'es' }, configDir: dir })
  assert.deepEqual([fromEnv.apiKey, fromEnv.apiSecret, fromEnv.oauthToken, fromEnv.oauthTokenSecret, fromEnv.source, fromEnv.tokenSource],
    ['ck', 'cs', 'et', 'es', 'config', 'env'])
  await saveToken(dir, { oauthToken: 'ft', oauthTokenSecret: 'fs', username: 'alice', nsid: '1@N01' })
  const fromFile = await loadCredentials({ env: { FLICKR_API_KEY: 'ek', FLICKR_API_SECRET: 'es2' }, configDir: dir })
  assert.deepEqual([fromFile.apiKey, fromFile.oauthToken, fromFile.username, fromFile.tokenSource], ['ek', 'ft', 'alice', 'file'])
})

void test('the token file is written 0600 in a 0700 folder, atomically, and logout removes it', async () => {
  const dir = join(tmp, 'new', 'flickrfs')
  const path = await saveToken(dir, { oauthToken: 't1', oauthTokenSecret: 's1' })
  assert.equal(path, join(dir, TOKEN_FILE))
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  assert.equal((await stat(dir)).mode & 0o777, 0o700)
  await saveToken(dir, { oauthToken: 't2', oauthTokenSecret: 's2' })
  assert.equal((await readToken(dir))?.oauthToken, 't2')
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { oauthToken: 't2', oauthTokenSecret: 's2' })
  assert.equal(await deleteToken(dir), true)
  assert.equal(await deleteToken(dir), false)
  assert.equal(await readToken(dir), undefined)
})

void test('a damaged token file is a CONFIG error, not a crash', async () => {
  const dir = join(tmp, 'bad')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, TOKEN_FILE), '{not json')
  const err = await rejectsWith(loadCredentials({ env: { FLICKR_API_KEY: 'k', FLICKR_API_SECRET: 's' }, configDir: dir }), 'CONFIG')
  assert.match(err.message, /not a JSON object/)
})

void test('a token file others can read (a copy, a restore) is refused with the chmod that fixes it; 0600 is read', async () => {
  const dir = join(tmp, 'loose')
  const path = await saveToken(dir, { oauthToken: 'tok3nXYZ', oauthTokenSecret: 'sEcr3tQ' })
  await chmod(path, 0o644)
  const err = await rejectsWith(loadCredentials({ env: { FLICKR_API_KEY: 'k', FLICKR_API_SECRET: 's' }, configDir: dir }), 'CONFIG')
  assert.equal(err.message, `${path} can be read by other users (mode 0644) and it holds your Flickr token: run chmod 600 ${path}.`)
  assert.doesNotMatch(err.message, /tok3nXYZ|sEcr3tQ/, 'not the token itself')
  await chmod(path, 0o600)
  assert.equal((await loadCredentials({ env: { FLICKR_API_KEY: 'k', FLICKR_API_SECRET: 's' }, configDir: dir })).oauthToken, 'tok3nXYZ')
})

void test('FLICKRFS_API_ORIGIN and the API rate are checked where they are read', async () => {
  const { apiOriginFromEnv, apiRateFrom } = await import('../../src/flickr/index.js')
  assert.equal(apiOriginFromEnv({}), undefined)
  assert.equal(apiOriginFromEnv({ FLICKRFS_API_ORIGIN: 'http://127.0.0.1:8080/' }), 'http://127.0.0.1:8080')
  assert.throws(() => apiOriginFromEnv({ FLICKRFS_API_ORIGIN: 'localhost:8080' }), /must be http:\/\/ or https:\/\//)
  assert.throws(() => apiOriginFromEnv({ FLICKRFS_API_ORIGIN: 'not a url' }), /not a URL/)
  assert.equal(apiRateFrom({}), undefined)
  assert.equal(apiRateFrom({ FLICKRFS_API_RATE: '0.5' }), 0.5)
  assert.equal(apiRateFrom({ FLICKRFS_API_RATE: '0.5' }, '3'), 3)
  assert.throws(() => apiRateFrom({ FLICKRFS_API_RATE: '0' }), /FLICKRFS_API_RATE/)
  assert.throws(() => apiRateFrom({}, 'fast'), /--api-rate/)
})
