import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { isFlickrfsError } from '../errors/flickrfs-error.js'
import { redact } from '../util/redact.js'
import type { CliIo } from './context.js'
import { errorMessage } from '../util/abort.js'

export type { CliIo }

/**
 * Each command module, loaded only when it is needed: they pull in flickr-sdk, keyv/sqlite3 and the
 * FUSE layer, which cost several times Node's own start-up. `flickrfs --version` loads none of them,
 * `flickrfs pin …` loads only pin's; help, `help CMD`, an unknown command, or anything not listed in
 * COMMAND_GROUP loads every one, so a command missing from COMMAND_GROUP still works, only slower.
 */
const GROUPS = {
  auth: async (program: Command, io: CliIo) => (await import('./auth.js')).addAuthCommands(program, io),
  pin: async (program: Command, io: CliIo) => program.addCommand((await import('./pin.js')).pinCommand(io)),
  mount: async (program: Command, io: CliIo) => {
    const m = await import('./mount.js')
    program.addCommand(m.mountCommand(io))
    program.addCommand(m.unmountCommand(io))
    program.addCommand(m.refreshCommand(io))
  },
  status: async (program: Command, io: CliIo) => {
    const m = await import('./status.js')
    program.addCommand(m.statusCommand(io))
    program.addCommand(m.verifyCommand(io))
  },
  demo: async (program: Command, io: CliIo) => program.addCommand((await import('./demo.js')).demoCommand(io)),
} satisfies Record<string, (program: Command, io: CliIo) => Promise<unknown>>
type Group = keyof typeof GROUPS

/** Which group defines each command name and alias (test/cli/lazy-commands.test.ts keeps it complete). */
export const COMMAND_GROUP: Readonly<Record<string, Group>> = {
  login: 'auth', logout: 'auth', whoami: 'auth',
  pin: 'pin',
  mount: 'mount', unmount: 'mount', umount: 'mount', refresh: 'mount',
  status: 'status', verify: 'status',
  demo: 'demo',
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/**
 * The groups `argv` needs: none for a top-level --version (commander answers it before any
 * subcommand), one for a known command, all of them otherwise.
 */
export function groupsFor(argv: string[]): Group[] {
  const first = argv[2]
  if (first === '--version' || first === '-V') return []
  const group = first === undefined ? undefined : COMMAND_GROUP[first]
  return group ? [group] : (Object.keys(GROUPS) as Group[])
}

/** Builds the program with the commands of `groups` (all of them by default). */
export async function buildProgram(io: CliIo, groups: Group[] = Object.keys(GROUPS) as Group[]): Promise<Command> {
  const program = new Command('flickrfs')
    .description('A Flickr account as a folder, and a complete mirror of it')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
  // Every command takes --env-file; a bare --version loads nothing for it.
  if (groups.length > 0) (await import('./env-file.js')).addEnvFileOption(program, io.env ?? process.env)
  for (const g of groups) await GROUPS[g](program, io)
  // addCommand() does not pass these on: without it a subcommand's bad flag makes commander call
  // process.exit itself, past main()'s exit codes. Its help lists --env-file too (README's cron
  // line puts it after the command).
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    }).configureHelp({ showGlobalOptions: true })
  }
  return program
}

/** Help and version end with 0; every other commander error is a usage error: 2. */
function commanderExit(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : 2
}

/** Runs the CLI and returns the exit code; never lets a stack trace reach the terminal. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    const program = await buildProgram(io, groupsFor(argv))
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err)
    // The logger is loaded here, not at start-up: only this path logs (and only under DEBUG).
    const log = (await import('../util/debug.js')).default('flickrfs:cli')
    if (isFlickrfsError(err)) {
      log('%s: %s', err.code, redact(String((err.cause instanceof Error ? err.cause.stack : undefined) ?? '')))
      io.stderr.write(`flickrfs: ${redact(err.message)}\n`)
      return err.exitCode
    }
    log('unexpected: %s', redact(String((err instanceof Error ? err.stack : undefined) ?? err)))
    io.stderr.write(`flickrfs: unexpected error: ${redact(errorMessage(err))}\n` +
      'Run again with DEBUG=flickrfs:* for details, and report it if it persists.\n')
    return 1
  }
}
