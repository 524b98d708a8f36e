/**
 * util/debug.ts loads the `debug` package only under DEBUG: without it, loggers are silent and the
 * package is never loaded (a command's start-up is ~10 ms shorter); with it, they print as debug
 * always did. Checked in child processes, where DEBUG is read as a user sets it, by what is in
 * Node's module cache (both `import` and `require` of a CommonJS package land there).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runCli, spawnCli } from '../support/cli.js'
import { REPO, tempDir } from '../support/repo.js'

const SHIM = pathToFileURL(join(REPO, 'src', 'util', 'debug.ts')).href

/** Loads the shim in a fresh process under `env`, logs one line, and tells what it saw. */
async function inChild(env: NodeJS.ProcessEnv): Promise<{ loaded: boolean; enabled: boolean; stderr: string }> {
  const code = [
    "import { createRequire } from 'node:module'",
    `const { default: createDebug } = await import(${JSON.stringify(SHIM)})`,
    "const log = createDebug('flickrfs:shim-test')",
    "log('hello %s', 'there')",
    "const loaded = Object.keys(createRequire(process.cwd() + '/').cache).some((k) => k.includes('/node_modules/debug/'))",
    'process.stdout.write(JSON.stringify({ loaded, enabled: log.enabled }))',
  ].join('\n')
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const status = await new Promise<number | null>((r) => child.on('close', r))
  assert.equal(status, 0, err)
  return { ...(JSON.parse(out) as { loaded: boolean; enabled: boolean }), stderr: err }
}

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME })

void test('without DEBUG a logger prints nothing and the debug package is never loaded', async () => {
  const r = await inChild(baseEnv())
  assert.equal(r.loaded, false)
  assert.equal(r.enabled, false)
  assert.equal(r.stderr, '')
})

void test('with DEBUG the debug package logs as before', async () => {
  const r = await inChild({ ...baseEnv(), DEBUG: 'flickrfs:*', DEBUG_COLORS: '0' })
  assert.equal(r.loaded, true)
  assert.equal(r.enabled, true)
  assert.match(r.stderr, /flickrfs:shim-test hello there/)
  // A namespace DEBUG does not name stays silent, as with debug itself.
  const other = await inChild({ ...baseEnv(), DEBUG: 'flickrfs:pin', DEBUG_COLORS: '0' })
  assert.equal(other.enabled, false)
  assert.equal(other.stderr, '')
})

void test('a command that makes loggers (whoami --help: the Flickr client and catalog) loads no debug package without DEBUG', async () => {
  const dir = await tempDir('flickrfs-debug-')
  try {
    const list = join(dir, 'cache.json')
    const preload = join(dir, 'preload.cjs')
    await writeFile(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))))\n`)
    const env = { PATH: process.env.PATH, HOME: dir }
    const run = async (extra: NodeJS.ProcessEnv): Promise<string[]> => {
      const r = await runCli(['whoami', '--help'], { ...env, ...extra }, spawnCli(['whoami', '--help'], { ...env, ...extra }, { nodeArgs: ['--require', preload] }))
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(await readFile(list, 'utf8')) as string[]
    }
    const quiet = await run({})
    assert.ok(quiet.some((k) => k.includes('/node_modules/')), `the cache was recorded: ${quiet.length} modules`)
    assert.ok(!quiet.some((k) => k.includes('/node_modules/debug/')), 'debug was loaded without DEBUG')
    const logged = await run({ DEBUG: 'flickrfs:*' })
    assert.ok(logged.some((k) => k.includes('/node_modules/debug/')), 'debug was not loaded with DEBUG set')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
