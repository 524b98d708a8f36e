/**
 * main.ts loads a command's module only when that command runs, so `flickrfs --version` starts in
 * about the time of Node itself (bench/startup.ts). Checked two ways: COMMAND_GROUP names every
 * command and alias of the full program, and a real `bin/flickrfs` child loads only what it needs
 * (its module resolutions are recorded by a resolve hook).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildProgram, COMMAND_GROUP, groupsFor } from '../../src/cli/main.js'
import { runCli, spawnCli } from '../support/cli.js'
import { REPO, tempDir } from '../support/repo.js'

const io = { stdout: process.stdout, stderr: process.stderr }

void test('every command and alias is mapped to the group that defines it', async () => {
  const full = await buildProgram(io)
  const names = full.commands.flatMap((c) => [c.name(), ...c.aliases()])
  assert.ok(names.length >= 10, `the full program has ${names.join(' ')}`)
  for (const name of names) {
    assert.ok(COMMAND_GROUP[name], `COMMAND_GROUP maps ${name}`)
    const lazy = await buildProgram(io, groupsFor(['node', 'flickrfs', name, '--help']))
    const cmds = lazy.commands.map((c) => c.name())
    assert.ok(lazy.commands.some((c) => c.name() === name || c.aliases().includes(name)), `flickrfs ${name} defines ${name}; got ${cmds.join(' ')}`)
    assert.ok(cmds.length < full.commands.length, `flickrfs ${name} loads only its own group, not ${cmds.join(' ')}`)
  }
  assert.deepEqual(groupsFor(['node', 'flickrfs', '--version']), [])
  for (const argv of [[], ['--help'], ['help', 'pin'], ['nosuch']]) {
    const program = await buildProgram(io, groupsFor(['node', 'flickrfs', ...argv]))
    assert.equal(program.commands.length, full.commands.length, `flickrfs ${argv.join(' ')} loads every command`)
  }
})

const HEAVY = ['flickr-sdk', '@keyv/sqlite', 'keyv', 'sqlite3', 'fuse-native', 'debug']

/** The module URLs a `bin/flickrfs args…` child resolves, in order. */
async function resolvedBy(args: string[]): Promise<string[]> {
  const dir = await tempDir('flickrfs-lazy-')
  try {
    const log = join(dir, 'resolved.log')
    const hook = join(dir, 'hook.mjs')
    await writeFile(hook, [
      "import { appendFileSync } from 'node:fs'",
      'export async function resolve(specifier, context, next) {',
      '  const r = await next(specifier, context)',
      `  appendFileSync(${JSON.stringify(log)}, r.url + '\\n')`,
      '  return r',
      '}',
    ].join('\n'))
    const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(pathToFileURL(hook).href)})`
    const env = { PATH: process.env.PATH, HOME: dir }
    const r = await runCli(args, env)
    assert.equal(r.code, 0, r.stderr)
    const traced = await runCli(args, env, spawnCli(args, env, { nodeArgs: ['--import', register] }))
    assert.equal(traced.code, 0, traced.stderr)
    assert.equal(traced.stdout, r.stdout, 'the hook does not change what the command prints')
    return (await readFile(log, 'utf8')).split('\n').filter(Boolean)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const loads = (urls: string[], pkg: string): boolean => urls.some((u) => u.includes(`/node_modules/${pkg}/`))
const cliModules = (urls: string[]): string[] =>
  urls.filter((u) => u.startsWith(pathToFileURL(join(REPO, 'dist', 'cli')).href)).map((u) => u.slice(u.lastIndexOf('/') + 1)).sort()

void test('--version loads no command module and none of the heavy dependencies', async () => {
  const urls = await resolvedBy(['--version'])
  assert.ok(urls.some((u) => u.endsWith('/dist/cli/main.js')), `the compiled CLI ran: ${urls.join(' ')}`)
  for (const pkg of HEAVY) assert.ok(!loads(urls, pkg), `--version loaded ${pkg}`)
  assert.deepEqual(cliModules(urls), ['main.js'])
})

void test('a command loads its own module, not the others', async () => {
  const urls = await resolvedBy(['whoami', '--help'])
  const cli = cliModules(urls)
  assert.ok(cli.includes('auth.js'), `whoami loads auth.js: ${cli.join(' ')}`)
  for (const other of ['pin.js', 'mount.js', 'status.js', 'demo.js']) assert.ok(!cli.includes(other), `whoami loaded ${other}`)
  assert.ok(!loads(urls, 'fuse-native'), 'whoami loaded fuse-native')
})

void test("each command's help lists the global --env-file (cron lines put it after the command)", async () => {
  for (const name of ['pin', 'mount', 'status', 'verify']) {
    let out = ''
    const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: () => true }, env: {} } as unknown as Parameters<typeof buildProgram>[0]
    const program = await buildProgram(io, groupsFor(['node', 'flickrfs', name, '--help']))
    await program.parseAsync(['node', 'flickrfs', name, '--help']).catch(() => undefined)
    assert.match(out, /^Global Options:$/m, `${name} --help: ${out}`)
    assert.match(out, /--env-file <file> +read FLICKR_API_KEY/, `${name} --help`)
  }
})
