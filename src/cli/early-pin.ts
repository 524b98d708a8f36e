/**
 * `flickrfs pin … DEST …`, started as the process starts, before commander and pin's modules are
 * loaded: the tree check of DEST's record (pin/early-check.ts), and for a DEST pinned before, the
 * clients and the refresh's longest chain of calls, the set list's pages (FlickrClient
 * prefetchSetList): a no-change pin of 50,000 items waited ~0.19 s for Node and its modules before
 * its first call, and the calls themselves take ~0.43 s. bin/flickrfs calls startEarlyPin for a
 * `pin` command line; DEST is read from it here the way commander will (the first argument that is
 * neither an option nor an option's value). A wrong guess costs only a check pin does not take
 * (and, for a folder that holds a record, a set list's calls).
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Env, openFlickr } from '../flickr/index.js'
import { startEarlyCheck } from '../pin/early-check.js'
import createDebug from '../util/debug.js'
import { unwritableReason } from '../util/read-only.js'
import { lastPinPath, treeRecordPath } from '../util/state-paths.js'

type Clients = Awaited<ReturnType<typeof openFlickr>>

const log = createDebug('flickrfs:pin')

/**
 * The options of `pin` (and of the program) that take a value as the next argument: their value is
 * not DEST (test/cli/early-pin.test.ts keeps the list complete against pinCommand's options).
 */
export const PIN_VALUE_OPTIONS: ReadonlySet<string> = new Set(['--concurrency', '--api-rate', '--cookies', '--full-listing-every', '--env-file'])

/** DEST in the arguments after `pin`, as commander reads it; undefined when there is none. */
export function destOfPinArgs(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (a === '--') return args[i + 1]
    if (a.startsWith('-') && a !== '-') {
      if (PIN_VALUE_OPTIONS.has(a)) i++
      continue
    }
    return a
  }
  return undefined
}

/**
 * Starts DEST's check, when `args` (after `pin`) name a DEST; and when DEST holds a record of a
 * pin's tree (it was pinned before), the clients from `env` and the set list. Never throws.
 */
export async function startEarlyPin(args: readonly string[], env: Env = process.env): Promise<void> {
  const dest = destOfPinArgs(args)
  if (dest === undefined || dest === '') return
  startEarlyCheck(dest)
  // The clients are made from `env` and config.json alone: these flags would make others.
  if (args.some((a) => a.startsWith('--env-file') || a.startsWith('--api-rate'))) return
  // Pin refuses a DEST it cannot write before any call, in one line and without a byte written
  // (not even the shared limiter's state, which a call updates).
  if (existsSync(treeRecordPath(resolve(dest))) && (await unwritableReason(dest)) === undefined) await startEarlyCalls(env, lastSetCount(dest))
}

/** How many sets the last pin of DEST counted (pin/pin-state.ts `sets`), when it said. */
export function lastSetCount(dest: string): number | undefined {
  try {
    const sets = (JSON.parse(readFileSync(lastPinPath(resolve(dest)), 'utf8')) as { sets?: unknown }).sets
    return typeof sets === 'number' && Number.isSafeInteger(sets) && sets > 0 ? sets : undefined
  } catch {
    // No file, or not JSON: the set list's pages then follow its first, as without a count.
    return undefined
  }
}

let early: { env: Env; clients: Promise<Clients | undefined> } | undefined

/**
 * openFlickr's clients from `env`, the set list asked at once. The calls go out before the rest
 * of pin's modules load (~60 of their ~100 ms of CPU); a pin that does not take them (a usage
 * error, a mount that runs the pin) made up to one set list's pages for nothing.
 */
async function startEarlyCalls(env: Env, expectedSets: number | undefined): Promise<void> {
  const clients = import('../flickr/index.js')
    .then(({ openFlickr }) => openFlickr({ env, outagePatience: true }))
    .then((opened) => {
      opened.client.prefetchSetList(expectedSets)
      log('the set list asked %d ms after the process started', Math.round(performance.now()))
      return opened
    }, () => undefined)
  early = { env, clients }
  await clients
}

/**
 * The clients startEarlyPin made, once, when made from this very `env`: undefined when there are
 * none (none started, or openFlickr failed: pin's own call to it says why).
 */
export async function claimEarlyClients(env: Env): Promise<Clients | undefined> {
  const e = early
  early = undefined
  return e?.env === env ? e.clients : undefined
}
