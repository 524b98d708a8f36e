/**
 * bin/flickrfs starts a pin's tree check before commander has read the command line
 * (src/cli/early-pin.ts): DEST is the first argument that is neither an option nor the value of
 * one. The options that take a value must all be known there, or their value would be taken for
 * DEST (a check of the wrong folder, which pin does not take: slower, never wrong).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildProgram } from '../../src/cli/main.js'
import { destOfPinArgs, PIN_VALUE_OPTIONS } from '../../src/cli/early-pin.js'

const io = { stdout: process.stdout, stderr: process.stderr }

void test('every option of pin that takes a value is known to the early DEST', async () => {
  const program = await buildProgram(io, ['pin'])
  const pin = program.commands.find((c) => c.name() === 'pin')
  assert.ok(pin !== undefined)
  const taking = [...program.options, ...pin.options].filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined)
  assert.ok(taking.includes('--concurrency') && taking.includes('--env-file'), `options with a value: ${taking.join(' ')}`)
  for (const flag of taking) assert.ok(PIN_VALUE_OPTIONS.has(flag), `${flag} takes a value`)
})

void test('DEST is the first argument that is neither an option nor an option\'s value', () => {
  assert.equal(destOfPinArgs(['/srv/m']), '/srv/m')
  assert.equal(destOfPinArgs(['-q', '--concurrency', '4', 'dest', 'extra']), 'dest')
  assert.equal(destOfPinArgs(['--concurrency=4', '--cookies', 'c.txt', '-qs', 'dest']), 'dest')
  assert.equal(destOfPinArgs(['--env-file', 'f', '--full-listing-every', '7d', '--api-rate', '2', 'd']), 'd')
  assert.equal(destOfPinArgs(['--', '-odd-name']), '-odd-name')
  assert.equal(destOfPinArgs(['--help']), undefined)
  assert.equal(destOfPinArgs([]), undefined)
})
