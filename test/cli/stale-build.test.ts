/**
 * bin/flickrfs runs the compiled dist/. In a checkout (src/ next to it) it refuses a dist/ that is
 * missing or older than any source, with one line saying to build; an installed package has no src/
 * and runs dist/ as it is. Exercised on a copy of bin/flickrfs in a temp folder whose dist/ is a link
 * to this checkout's build and whose src/ is made up, so the checkout's own files are never touched.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFile, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, REPO, tempDir } from '../support/repo.js'
import { runCli } from '../support/cli.js'

void test('bin/flickrfs refuses a missing or stale dist/ in a checkout and runs it when current or installed', async () => {
  const root = await tempDir('flickrfs-stale-')
  try {
    const bin = join(root, 'bin', 'flickrfs')
    await mkdir(join(root, 'bin'))
    await copyFile(BIN, bin)
    const source = join(root, 'src', 'cli', 'some.ts')
    await mkdir(join(root, 'src', 'cli'), { recursive: true })
    await writeFile(source, 'export {}\n')
    const env = { PATH: process.env.PATH, HOME: root }
    const version = (): ReturnType<typeof runCli> =>
      runCli(['--version'], env, spawn(process.execPath, [bin, '--version'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }))

    const missing = await version()
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr, `flickrfs: dist/ (the compiled CLI) is missing; run \`npm run build\` in ${root}/\n`)

    await symlink(join(REPO, 'dist'), join(root, 'dist'))
    const future = new Date(Date.now() + 3600_000)
    await utimes(source, future, future)
    const stale = await version()
    assert.equal(stale.code, 1)
    assert.equal(stale.stderr, `flickrfs: dist/ is older than src/cli/some.ts; run \`npm run build\` in ${root}/\n`)
    assert.equal(stale.stdout, '')

    const past = new Date('2000-01-01T00:00:00Z')
    await utimes(source, past, past)
    const current = await version()
    assert.equal(current.code, 0, current.stderr)
    assert.match(current.stdout, /^\d+\.\d+\.\d+\n$/)

    // An installed package: bin/ and dist/ only.
    await rm(join(root, 'src'), { recursive: true })
    const installed = await version()
    assert.equal(installed.code, 0, installed.stderr)
    assert.equal(installed.stdout, current.stdout)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})
