/**
 * scripts/fake-flickr.ts, the fake Flickr on its own for trying the CLI by hand (CONTRIBUTING.md):
 * the env file it writes is one `flickrfs pin --env-file` takes, mode 600, and Ctrl-C stops it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli } from '../support/cli.js'
import { REPO, tempDir } from '../support/repo.js'
import { removeDir } from '../pin/helpers.js'

void test('scripts/fake-flickr.ts serves an account that flickrfs pin --env-file pins, and stops on SIGINT', async (t) => {
  const work = await tempDir()
  t.after(() => removeDir(work))
  const envFile = join(work, 'fake.env')
  const fake = spawn(process.execPath, ['--import', 'tsx', 'scripts/fake-flickr.ts', '--photos', '7', '--videos', '1', '--write-env', envFile], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  fake.stdout.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((resolve) => fake.once('exit', (code) => resolve(code)))
  t.after(() => fake.kill('SIGKILL'))
  for (let i = 0; i < 300 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50))
  assert.match(out, /^fake Flickr at http:\/\/127\.0\.0\.1:\d+: 8 items, 4 sets \(fakeuser\)\.$/m)
  assert.equal((await stat(envFile)).mode & 0o777, 0o600)
  const dest = join(work, 'dest')
  const r = await runCli(['pin', '-q', '--env-file', envFile, dest], { PATH: process.env.PATH, HOME: work, FLICKRFS_CONFIG_DIR: join(work, 'config') })
  assert.equal(r.code, 0, r.stderr)
  assert.equal((await readdir(join(dest, 'photostream'))).filter((n) => !n.endsWith('.metadata') && n !== 'metadata' && n !== 'SHA256SUMS').length, 8)
  fake.kill('SIGINT')
  assert.equal(await exited, 0)
})
