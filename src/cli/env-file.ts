/**
 * The global `--env-file FILE`, on every command whichever of them is loaded (src/cli/main.ts loads
 * command modules lazily, and this one is light: it imports no flickr-sdk).
 */
import type { Command } from 'commander'
import { applyEnvFile, readEnvFile, type Env } from '../flickr/credentials.js'

/**
 * `flickrfs --env-file FILE CMD` (or `flickrfs CMD --env-file FILE`): KEY=VALUE lines read before
 * the command runs, so cron and service managers need no shell to export them. The environment
 * wins over the file; the file must be readable by its owner only. (Node 20 itself looks for a
 * script argument named --env-file and, when that file cannot be read, exits 9 with "node: FILE: not
 * found" before flickrfs runs, nodejs/node#54232: bin/flickrfs's `#!/usr/bin/env -S node --`, and
 * the CLI's own children (pin-relaunch.ts, mount --background), put a `--` before the script, which
 * ends that search.)
 */
export function addEnvFileOption(program: Command, env: Env): void {
  program
    .option('--env-file <file>', 'read FLICKR_API_KEY, FLICKR_OAUTH_TOKEN, … from KEY=VALUE lines in this file (mode 600)')
    .hook('preAction', async (cmd) => {
      const file = cmd.opts<{ envFile?: string }>().envFile
      if (file) applyEnvFile(env, await readEnvFile(file))
    })
}

