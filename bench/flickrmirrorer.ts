/**
 * The original tool, markdoliner/flickrmirrorer, run unmodified against our fake Flickr through
 * bench/flickrmirrorer-launcher.py (which imports it as a module and points its hosts at the fake).
 * Used by bench/pin.ts for the side-by-side figures, and on its own to make a mirror the way the
 * original tool writes it (for tests of adopting such a mirror):
 *
 *   node --import tsx bench/flickrmirrorer.ts make-mirror DIR [--items 50] [--seed 700]
 *   node --import tsx bench/flickrmirrorer.ts record-fixture FILE [--items 60] [--seed 700]
 *
 * From code: start a fake with `namedVideoPaths: true` and an account from mirrorerAccountOptions(),
 * then `runMirrorer(await locateTool(), fake, dir)`; point flickrfs at the same fake afterwards.
 *
 * Where the tool comes from: $FLICKRMIRRORER_PY (a path to flickrmirrorer.py), else HEAD of the git
 * repository $FLICKRMIRRORER_GIT_DIR (a clone of https://github.com/markdoliner/flickrmirrorer, bare
 * or not: `git clone --bare https://github.com/markdoliner/flickrmirrorer DIR`), extracted byte for
 * byte into a temp dir. With neither, the bench says so and prints the reference figures.
 * It needs Debian's python3-flickrapi (2.1.2), python3-dateutil and python3-requests under
 * /usr/bin/python3. Nothing of the tool is kept in this repository.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateAccount, startFakeFlickr, type FakeAccount, type FakeCredentials, type GenerateOptions } from '../src/fake-flickr/index.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { benchArgs } from './measure.js'
import { recordMirror, writeFixture, type MirrorFixture } from './mirrorer-fixture.js'

export const PYTHON = '/usr/bin/python3'
export const LAUNCHER = fileURLToPath(new URL('./flickrmirrorer-launcher.py', import.meta.url))

export interface Tool {
  path: string
  /** Where it came from, for the report (file path, or repository and commit). */
  origin: string
  cleanup(): Promise<void>
}

function exec(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => res({ ok: err === null, stdout, stderr }))
  })
}

/** The unmodified flickrmirrorer.py and a Python that can run it, or why not. */
export async function locateTool(env: NodeJS.ProcessEnv = process.env): Promise<Tool | { unavailable: string }> {
  const py = await exec(PYTHON, ['-c', 'import flickrapi, dateutil, requests; print(flickrapi.__version__)'])
  if (!py.ok) {
    return { unavailable: `${PYTHON} cannot import flickrapi, dateutil and requests (apt-get install python3-flickrapi python3-dateutil python3-requests)` }
  }
  const given = env.FLICKRMIRRORER_PY?.trim()
  if (given) {
    const path = resolve(given)
    const check = await exec(PYTHON, ['-c', 'import sys, os; sys.exit(0 if os.path.isfile(sys.argv[1]) else 1)', path])
    if (!check.ok) return { unavailable: `FLICKRMIRRORER_PY=${given} is not a file` }
    return { path, origin: `${path} (FLICKRMIRRORER_PY), flickrapi ${py.stdout.trim()}`, cleanup: async () => {} }
  }
  const gitDir = env.FLICKRMIRRORER_GIT_DIR?.trim()
  if (!gitDir) {
    return { unavailable: 'neither FLICKRMIRRORER_PY nor FLICKRMIRRORER_GIT_DIR is set (a clone of https://github.com/markdoliner/flickrmirrorer)' }
  }
  const head = await exec('git', [`--git-dir=${gitDir}`, 'rev-parse', 'HEAD'])
  const source = head.ok ? await exec('git', [`--git-dir=${gitDir}`, 'show', 'HEAD:flickrmirrorer.py']) : head
  if (!head.ok || !source.ok) {
    return {
      unavailable: `no flickrmirrorer.py: FLICKRMIRRORER_PY is not set and ${gitDir} is not a clone of ` +
        'https://github.com/markdoliner/flickrmirrorer (set FLICKRMIRRORER_PY or FLICKRMIRRORER_GIT_DIR)',
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'flickrmirrorer-'))
  const path = join(dir, 'flickrmirrorer.py')
  await writeFile(path, source.stdout)
  return {
    path,
    origin: `markdoliner/flickrmirrorer at ${head.stdout.trim().slice(0, 7)}, unmodified; flickrapi ${py.stdout.trim()}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

/**
 * The account bench/pin.ts measures, scaled to `items`: at 700 that is 694 photos + 6 videos,
 * about 51 MB, 24 sets, 5 collections, about 100 commented items. Plain titles and real dates: the
 * original tool crashes on the fake's hostile titles (file names over 255 bytes) and on the
 * `0000-00-00 00:00:00` date taken. `tiny` makes 1–4 KB originals (the 50,000-item setting).
 */
export function mirrorerAccountOptions(items: number, opts: { tiny?: boolean; seed?: number } = {}): GenerateOptions {
  const videos = Math.max(1, Math.round((items * 6) / 700))
  return {
    seed: opts.seed ?? 700,
    photos: items - videos,
    videos,
    sets: Math.max(1, Math.round((items * 24) / 700)),
    collections: 5,
    commentedFraction: 0.14,
    meanPhotoBytes: opts.tiny ? 2_000 : 72_000,
    meanVideoBytes: opts.tiny ? 2_500 : 250_000,
  }
}

/** What the launcher needs to know about a running fake. */
export interface FakeEndpoint {
  origin: string
  credentials: FakeCredentials
  user: { id: string; username: string; fullname: string }
}

export function endpointOf(fake: { origin: string; credentials: FakeCredentials; account: FakeAccount }): FakeEndpoint {
  const u = fake.account.user
  return { origin: fake.origin, credentials: fake.credentials, user: { id: u.id, username: u.username, fullname: u.fullname } }
}

/**
 * One run of the original tool into `dest` (created by the tool when missing), under GNU time.
 * flickrapi's token cache lives in a fresh private HOME for each run; `args` are the tool's own
 * options (default none: `flickrmirrorer.py DEST`). The fake should run with `namedVideoPaths`,
 * or the tool names every video `orig.<fmt>`.
 */
export async function runMirrorer(tool: Tool, fake: FakeEndpoint, dest: string, args: string[] = []): Promise<ChildUsage> {
  const home = await mkdtemp(join(tmpdir(), 'flickrmirrorer-home-'))
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      LANG: 'C.UTF-8',
      FAKE_FLICKR_ORIGIN: fake.origin,
      FAKE_FLICKR_API_KEY: fake.credentials.apiKey,
      FAKE_FLICKR_API_SECRET: fake.credentials.apiSecret,
      FAKE_FLICKR_TOKEN: fake.credentials.oauthToken,
      FAKE_FLICKR_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
      FAKE_FLICKR_NSID: fake.user.id,
      FAKE_FLICKR_USERNAME: fake.user.username,
      FAKE_FLICKR_FULLNAME: fake.user.fullname,
    }
    return await runMeasured(PYTHON, [LAUNCHER, tool.path, dest, ...args], { env })
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

/** The first and last lines of a failed run's stderr (the tool prints a traceback). */
export function failureText(u: ChildUsage): string {
  const lines = u.stderr.trim().split('\n')
  const shown = lines.length > 8 ? [...lines.slice(0, 2), '…', ...lines.slice(-5)] : lines
  return `exit ${u.code ?? u.signal}: ${shown.join('\n  ')}`
}

/** A bad --items or --seed: the command line prints its message alone, with no stack. */
class BadFlag extends Error {}

function positiveFlag(argv: string[], name: string, fallback: number): number {
  const { has, number } = benchArgs(argv)
  // NaN for a --name with nothing after it: an error here, as it always was.
  const v = has(name) ? number(name, NaN) : fallback
  if (!Number.isInteger(v) || v < 1) throw new BadFlag(`--${name} needs a positive whole number`)
  return v
}

async function makeMirrorCli(argv: string[]): Promise<number> {
  const dir = argv[0]
  const flag = (name: string, fallback: number): number => positiveFlag(argv, name, fallback)
  if (dir === undefined || dir.startsWith('--')) {
    process.stderr.write(`usage: ${USAGE}\n`)
    return 2
  }
  // Both flags read before the tool is copied out: a bad one then leaves no temp copy behind.
  const items = flag('items', 50)
  const seed = flag('seed', 700)
  const tool = await locateTool()
  if ('unavailable' in tool) {
    process.stderr.write(`make-mirror: cannot run the original tool: ${tool.unavailable}\n`)
    return 1
  }
  const fake = await startFakeFlickr({ account: generateAccount(mirrorerAccountOptions(items, { seed })), namedVideoPaths: true })
  try {
    await mkdir(dir, { recursive: true })
    const u = await runMirrorer(tool, endpointOf(fake), dir)
    if (u.code !== 0) {
      process.stderr.write(`make-mirror: the original tool failed, ${failureText(u)}\n`)
      return 1
    }
    const photostream = await readdir(join(dir, 'photostream'))
    process.stdout.write(
      `${dir}: mirror written by ${tool.origin} in ${(u.wallMs / 1000).toFixed(1)} s: ` +
        `${photostream.filter((n) => !n.endsWith('.metadata')).length} originals, ` +
        `${(await readdir(join(dir, 'Albums')).catch(() => [])).length} albums, ` +
        `${(await readdir(join(dir, 'Collections')).catch(() => [])).length} collections.\n`,
    )
    return 0
  } finally {
    await fake.close()
    await tool.cleanup()
  }
}

/** The account a recorded mirror is of: `tiny`, since a record keeps no original's bytes anyway. */
export function fixtureAccountOptions(items: number, seed = 700): GenerateOptions {
  return mirrorerAccountOptions(items, { tiny: true, seed })
}

/** Runs the tool on a fresh fake of `account` and records what it wrote (bench/mirrorer-fixture.ts). */
export async function recordWithTool(tool: Tool, account: GenerateOptions): Promise<MirrorFixture> {
  const fake = await startFakeFlickr({ account: generateAccount(account), namedVideoPaths: true })
  const dir = await mkdtemp(join(tmpdir(), 'flickrmirrorer-record-'))
  try {
    const u = await runMirrorer(tool, endpointOf(fake), join(dir, 'mirror'))
    if (u.code !== 0) throw new Error(`the original tool failed, ${failureText(u)}`)
    return await recordMirror(join(dir, 'mirror'), fake.account, fake.origin, { writtenBy: tool.origin, account })
  } finally {
    await fake.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function recordFixtureCli(argv: string[]): Promise<number> {
  const file = argv[0]
  if (file === undefined || file.startsWith('--')) {
    process.stderr.write(`usage: ${USAGE}\n`)
    return 2
  }
  const tool = await locateTool()
  if ('unavailable' in tool) {
    process.stderr.write(`record-fixture: cannot run the original tool: ${tool.unavailable}\n`)
    return 1
  }
  try {
    const fixture = await recordWithTool(tool, fixtureAccountOptions(positiveFlag(argv, 'items', 60), positiveFlag(argv, 'seed', 700)))
    await writeFixture(file, fixture)
    process.stdout.write(`${file}: ${fixture.entries.length} entries written by ${tool.origin}.\n`)
    return 0
  } finally {
    await tool.cleanup()
  }
}

const USAGE =
  'node --import tsx bench/flickrmirrorer.ts make-mirror DIR [--items 50] [--seed 700]\n' +
  '       node --import tsx bench/flickrmirrorer.ts record-fixture FILE [--items 60] [--seed 700]'

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2)
  try {
    if (cmd === 'make-mirror') process.exitCode = await makeMirrorCli(rest)
    else if (cmd === 'record-fixture') process.exitCode = await recordFixtureCli(rest)
    else {
      process.stderr.write(`usage: ${USAGE}\n`)
      process.exitCode = 2
    }
  } catch (e) {
    if (!(e instanceof BadFlag)) throw e
    process.stderr.write(`${e.message}\n`)
    process.exitCode = 1
  }
}
