/**
 * The `debug` package, loaded only when the DEBUG environment variable is set. Every module makes
 * its logger at load time, so importing `debug` itself cost every command ~10 ms of its start-up
 * (the package through Node's CommonJS loader, its tty and colour checks) to print nothing. Without
 * DEBUG a logger is a function that does nothing and says so (`enabled` false); with it, the real
 * package's logger, exactly as before. DEBUG is read once, when this module loads: set it before
 * the process starts (`DEBUG=flickrfs:* flickrfs pin …`).
 */
import { createRequire } from 'node:module'

/** The part of debug's logger flickrfs uses: a printf-like call, and whether it prints at all. */
export interface Logger {
  (formatter: unknown, ...args: unknown[]): void
  readonly enabled: boolean
}

type CreateDebug = (namespace: string) => Logger

const quiet: Logger = Object.assign(() => undefined, { enabled: false as const })

const real: CreateDebug | undefined = process.env.DEBUG ? (createRequire(import.meta.url)('debug') as CreateDebug) : undefined

/** A logger for `namespace` (`flickrfs:pin`, …): debug's own when DEBUG is set, a silent one otherwise. */
export default function createDebug(namespace: string): Logger {
  return real === undefined ? quiet : real(namespace)
}
