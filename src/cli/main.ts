import { Command, CommanderError } from 'commander'
import { isFlickrfsError } from '../errors/flickrfs-error.js'
import { redact } from '../util/redact.js'
import createDebug from 'debug'
import { addAuthCommands } from './auth.js'
import type { CliIo } from './context.js'
import { pinCommand } from './pin.js'
import { demoCommand } from './demo.js'
import { statusCommand, verifyCommand } from './status.js'
import { mountCommand, refreshCommand, unmountCommand } from './mount.js'
import { errorMessage } from '../util/abort.js'

const log = createDebug('flickrfs:cli')

export type { CliIo }

/** Builds the program; each command lives in its own module and is added here. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('flickrfs')
    .description('A Flickr account as a folder, and a complete mirror of it')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
  addAuthCommands(program, io)
  program.addCommand(pinCommand(io))
  program.addCommand(mountCommand(io))
  program.addCommand(unmountCommand(io))
  program.addCommand(refreshCommand(io))
  program.addCommand(statusCommand(io))
  program.addCommand(verifyCommand(io))
  program.addCommand(demoCommand(io))
  // addCommand() does not pass these on: without it a subcommand's bad flag makes commander call
  // process.exit itself, past main()'s exit codes.
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
  }
  return program
}

/** Help and version end with 0; every other commander error is a usage error: 2. */
function commanderExit(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : 2
}

/** Runs the CLI and returns the exit code; never lets a stack trace reach the terminal. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err)
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
