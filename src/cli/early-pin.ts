/**
 * `flickrfs pin … DEST …`: the tree check of DEST's record started as the process starts
 * (pin/early-check.ts), before commander and pin's modules are loaded. bin/flickrfs calls it for a
 * `pin` command line; DEST is read from it here the way commander will (the first argument that is
 * neither an option nor an option's value). A wrong guess costs only a check pin does not take.
 */
import { startEarlyCheck } from '../pin/early-check.js'

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

/** Starts DEST's check, when `args` (after `pin`) name a DEST; never throws. */
export function startEarlyPinCheck(args: readonly string[]): void {
  const dest = destOfPinArgs(args)
  if (dest !== undefined && dest !== '') startEarlyCheck(dest)
}
