/**
 * flickrfs installed like a tool: `npm pack` of this checkout, `npm install -g` of the tarball into a
 * temp prefix with no dev dependencies, then the installed command run from another folder under
 * cron's minimal environment (`env -i PATH=/usr/bin:/bin`), both by its path and through PATH.
 *
 * npm resolves the dependencies from its cache where it can (--prefer-offline) and from the registry
 * otherwise. sqlite3's install script (prebuild-install, then node-gyp) would compile SQLite from
 * source, about 75 s of both cores and several minutes on a loaded machine; so the test hands
 * prebuild-install the addon this checkout's own `npm ci` compiled, as a local prebuild, the way
 * sqlite3 documents. FLICKRFS_TEST_INSTALL_FROM_SOURCE=1 compiles it instead, as a user's install does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { arch, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { DEMO_ACCOUNT } from '../../src/cli/demo.js'
import { REPO, tempDir } from '../support/repo.js'
import { run, type RunResult } from '../support/run.js'

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string }

/** cron's PATH, plus node's own folder when node lives elsewhere (the README says to add it there too). */
const nodeDir = dirname(process.execPath)
const CRON_PATH = ['/usr/bin', '/bin'].includes(nodeDir) ? '/usr/bin:/bin' : `${nodeDir}:/usr/bin:/bin`

/** A folder holding sqlite3's prebuilt addon under the name prebuild-install looks for, or undefined. */
async function sqlitePrebuilds(work: string): Promise<string | undefined> {
  if (process.env.FLICKRFS_TEST_INSTALL_FROM_SOURCE === '1') return undefined
  const sqlite = join(REPO, 'node_modules', 'sqlite3')
  const addon = join(sqlite, 'build', 'Release', 'node_sqlite3.node')
  if (!existsSync(addon)) return undefined
  const { version } = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string }
  const dir = join(work, 'prebuilds')
  await mkdir(dir)
  // sqlite3 builds for N-API 6 on every Node that flickrfs supports; glibc adds no libc suffix.
  const tarball = join(dir, `sqlite3-v${version}-napi-v6-${platform()}-${arch()}.tar.gz`)
  const r = await run('tar', ['czf', tarball, '-C', sqlite, 'build/Release/node_sqlite3.node'])
  assert.equal(r.code, 0, r.stderr)
  return dir
}

/** Runs `args` under `env -i` with only PATH and HOME, in `cwd`. */
function cron(cwd: string, home: string, path: string, args: string[]): Promise<RunResult> {
  return run('/usr/bin/env', ['-i', `PATH=${path}`, `HOME=${home}`, ...args], { cwd, timeoutMs: 120_000 })
}

void test('npm pack installs with --omit=dev and runs from any folder under cron\'s minimal environment', { timeout: 15 * 60_000 }, async () => {
  const work = await tempDir('flickrfs-install-')
  try {
    // Pack as a user would: npm runs `prepare`, which builds dist/.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO, timeoutMs: 300_000 })
    assert.equal(packed.code, 0, packed.stderr)
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
    assert.ok(info, packed.stdout)
    const files = info.files.map((f) => f.path)
    for (const needed of ['package.json', 'bin/flickrfs', 'dist/cli/main.js', 'dist/fake-flickr/index.js', 'native-notes.md', 'README.md']) {
      assert.ok(files.includes(needed), `the package holds ${needed}; it has ${files.join(' ')}`)
    }
    for (const f of files) assert.match(f, /^(bin|dist)\/|^[^/]+$/, `the package ships only bin/, dist/ and top-level files, not ${f}`)
    assert.ok(!files.some((f) => f.startsWith('dist/.')), 'the build bookkeeping (dist/.tsbuildinfo, dist/.built) is not shipped')

    const prefix = join(work, 'prefix')
    const prebuilds = await sqlitePrebuilds(work)
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], {
      cwd: work,
      timeoutMs: 14 * 60_000,
      env: { ...process.env, JOBS: 'max', ...(prebuilds ? { npm_config_sqlite3_local_prebuilds: prebuilds } : {}) },
    })
    assert.equal(installed.code, 0, `npm install -g failed:\n${installed.stderr}`)

    const lib = join(prefix, 'lib', 'node_modules', pkg.name)
    for (const dev of ['typescript', 'tsx', 'eslint', '@types/node']) {
      assert.ok(!existsSync(join(lib, 'node_modules', dev)), `dev dependency ${dev} was not installed`)
    }
    assert.ok(!existsSync(join(lib, 'src')), 'no TypeScript sources are installed')

    // From another folder, with nothing but cron's PATH and a HOME of its own.
    const elsewhere = join(work, 'elsewhere')
    const home = join(work, 'home')
    await mkdir(elsewhere)
    await mkdir(home)
    const bin = join(prefix, 'bin', 'flickrfs')

    const version = await cron(elsewhere, home, CRON_PATH, [bin, '--version'])
    assert.equal(version.code, 0, version.stderr)
    assert.equal(version.stdout, `${pkg.version}\n`)

    const help = await cron(elsewhere, home, CRON_PATH, [bin, 'demo', '--help'])
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /^Usage: flickrfs demo /)

    // Through PATH, as a crontab line names it; the demo pin loads flickr-sdk, the fake and sqlite3.
    const onPath = `${join(prefix, 'bin')}:${CRON_PATH}`
    const demo = await cron(elsewhere, home, onPath, ['sh', '-c', 'flickrfs demo --pin sample && flickrfs status sample'])
    assert.equal(demo.code, 0, `demo --pin then status: ${demo.stdout}\n${demo.stderr}`)
    const items = DEMO_ACCOUNT.photos + DEMO_ACCOUNT.videos
    assert.match(demo.stdout, new RegExp(`Done: ${items} items, ${items} originals downloaded`))
    assert.match(demo.stdout, /^Complete: yes$/m, 'status finds the pinned sample complete')
    assert.ok(existsSync(join(elsewhere, 'sample', 'photostream')), 'the demo pinned into ./sample of the folder it ran in')
    assert.doesNotMatch(demo.stderr, /\n\s+at /)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})
