/**
 * Bad input on any command: one clear line on stderr, exit 2, never a stack trace and never
 * commander exiting the process behind main()'s back.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCli, type CliResult } from '../support/cli.js'

const run = (args: string[]): Promise<CliResult> => runCli(args, { PATH: process.env.PATH, HOME: '/nonexistent' })

const CASES: Array<[string[], RegExp]> = [
  [['nosuch'], /unknown command 'nosuch'/],
  [['whoami', '--bogus'], /unknown option '--bogus'/],
  [['login', '--bogus'], /unknown option '--bogus'/],
  [['pin'], /missing required argument 'dest'/],
  [['pin', '--concurrency', '0', '/tmp/x'], /--concurrency takes a whole number of at least 1, got "0"/],
  [['mount'], /missing required argument 'mountpoint'/],
  [['mount', '/tmp/x', '--refresh', 'soon'], /--refresh takes a duration like 90s, 15m or 2h, got "soon"/],
  [['mount', '/tmp/x', '--cache-size', 'big'], /--cache-size takes a size like 500M or 20G, got "big"/],
  [['status'], /missing required argument 'dest'/],
  [['verify', '--bogus', '/tmp/x'], /unknown option '--bogus'/],
  [['demo', '--bogus'], /unknown option '--bogus'/],
]

void test('usage errors exit 2 with one clear line and no stack trace', async () => {
  for (const [args, message] of CASES) {
    const r = await run(args)
    assert.equal(r.code, 2, `flickrfs ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`)
    assert.match(r.stderr, message, `flickrfs ${args.join(' ')}`)
    assert.doesNotMatch(r.stderr, /\n\s+at /, `flickrfs ${args.join(' ')} printed a stack trace`)
  }
})

void test('help and version exit 0 and list every command', async () => {
  const help = await run(['--help'])
  assert.equal(help.code, 0)
  for (const cmd of ['login', 'logout', 'whoami', 'pin', 'mount', 'unmount', 'refresh', 'status', 'verify', 'demo']) {
    assert.match(help.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `help lists ${cmd}`)
  }
  const version = await run(['--version'])
  assert.equal(version.code, 0)
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
})
