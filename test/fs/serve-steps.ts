/**
 * Test-only: serves the layout of test/layout/steps-account.ts built in steps (buildLayoutInSteps),
 * the rest of it held until a stdin line "go". Usage: serve-steps.ts MOUNTPOINT. Prints "READY"
 * once mounted (photostream/ built, the rest not) and "WHOLE" once the rest is built; exits with
 * runUntilSignal's status.
 */
import { createInterface } from 'node:readline'
import { mountFlickrfs } from '../../src/fs/index.js'
import { buildLayoutInSteps } from '../../src/layout/index.js'
import { account } from '../layout/steps-account.js'
import { runServer, serveUntilSignal } from '../support/serve.js'

async function main(): Promise<number> {
  const mountpoint = process.argv[2]
  if (!mountpoint) throw new Error('usage: serve-steps.ts MOUNTPOINT')
  const steps = buildLayoutInSteps(account('nested collection'))
  let go!: () => void
  const gate = new Promise<void>((resolve) => (go = resolve))
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => line === 'go' && go())
  const handle = await mountFlickrfs({
    mountpoint,
    tree: { current: () => steps.layout },
    originals: { read: () => Promise.reject(new Error('no originals in this test')) },
  })
  void steps.finish(() => gate.then(() => new Promise((resolve) => setImmediate(resolve)))).then(
    () => process.stdout.write('WHOLE\n'),
    (err: unknown) => process.stderr.write(`the rest failed: ${String(err)}\n`),
  )
  return serveUntilSignal(handle, rl)
}

runServer(main)
