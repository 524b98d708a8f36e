/**
 * The fake Flickr on its own, to try the CLI by hand against an account of any size:
 *
 *   node --import tsx scripts/fake-flickr.ts [--photos 50] [--videos 2] [--sets 4] [--seed 1] [--port 0] [--write-env FILE]
 *
 * (Not --env-file: Node 20 itself reads a file of that name among a script's arguments, nodejs/node#54232.)
 * Writes FILE (default ./fake-flickr.env, mode 600): FLICKRFS_API_ORIGIN and the fake's key and
 * token, in the format `--env-file` reads; then `flickrfs pin --env-file FILE DEST`, `flickrfs
 * mount --env-file FILE MNT`… talk to it. Serves until Ctrl-C. Its failure modes (src/fake-flickr/
 * faults.ts) are for tests; this serves the account as it is.
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { generateAccount, startFakeFlickr } from '../src/fake-flickr/index.js'

const args = process.argv.slice(2)
const value = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? undefined : args[i + 1]
}
const count = (name: string, fallback: number): number => {
  const v = Number(value(name) ?? fallback)
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} takes a whole number, not ${value(name)}`)
  return v
}
const account = generateAccount({ seed: count('seed', 1), photos: count('photos', 50), videos: count('videos', 2), sets: count('sets', 4), collections: 2, commentedFraction: 0.2 })
const fake = await startFakeFlickr({ account, port: count('port', 0) })
const file = resolve(value('write-env') ?? 'fake-flickr.env')
const c = fake.credentials
await writeFile(file, [
  `FLICKRFS_API_ORIGIN=${fake.origin}`,
  `FLICKR_API_KEY=${c.apiKey}`, `FLICKR_API_SECRET=${c.apiSecret}`,
  `FLICKR_OAUTH_TOKEN=${c.oauthToken}`, `FLICKR_OAUTH_TOKEN_SECRET=${c.oauthTokenSecret}`, '',
].join('\n'), { mode: 0o600 })
process.stdout.write(`fake Flickr at ${fake.origin}: ${account.photostream.length} items, ${account.sets.length} sets (${account.user.username}).\n` +
  `Try: bin/flickrfs pin --env-file ${file} /tmp/fake-dest   (Ctrl-C stops the fake)\n`)
const stop = (): void => void fake.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
