/**
 * The fake Flickr on its own, to try the CLI by hand against an account of any size:
 *
 *   node --import tsx scripts/fake-flickr.ts [--photos 50] [--videos 2] [--sets 4] [--seed 1] [--port 0] [--write-env FILE]
 *     [--api-latency MS] [--media-latency MS] [--broken N] [--throttle N] [--video-404]
 *
 * (Not --env-file: Node 20 itself reads a file of that name among a script's arguments, nodejs/node#54232.)
 * Writes FILE (default ./fake-flickr.env, mode 600): FLICKRFS_API_ORIGIN and the fake's key and
 * token, in the format `--env-file` reads; then `flickrfs pin --env-file FILE DEST`, `flickrfs
 * mount --env-file FILE MNT`… talk to it. Serves until Ctrl-C.
 *
 * To see how the CLI takes the real world (src/fake-flickr/faults.ts says what each does):
 *   --api-latency, --media-latency  a delay before each API / media answer (Flickr's is ~100–400 ms)
 *   --broken N       N photos of the photostream broken, one way each, in turn through every hostile
 *                    kind (a 500 every time, an HTML page, a file:// URL, a redirect loop, a body
 *                    cut short, a stall mid-body…); which photo is which is printed
 *   --throttle N     the next N API calls answer 429 Too Many Requests
 *   --video-404      video originals 404 without a web session's cookies, as on Flickr
 * and, while it serves, `kill -USR1 PID` starts a network outage (every connection closed as it
 * arrives: faults.unreachable) and the next one ends it.
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { generateAccount, HOSTILE_KINDS, startFakeFlickr } from '../src/fake-flickr/index.js'
import type { HostileKind } from '../src/fake-flickr/index.js'

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
fake.faults.apiLatencyMs = count('api-latency', 0)
fake.faults.mediaLatencyMs = count('media-latency', 0)
fake.faults.videoOriginal404 = args.includes('--video-404')
if (count('throttle', 0) > 0) fake.faults.inject('throttle429', { count: count('throttle', 0), target: 'api' })
const broken = account.photostream.filter((id) => account.photos.get(id)?.media === 'photo').slice(0, count('broken', 0))
broken.forEach((id, i) => {
  const kind = HOSTILE_KINDS[i % HOSTILE_KINDS.length] as HostileKind
  fake.faults.hostile[id] = kind
  process.stdout.write(`broken: ${id} ${kind}\n`)
})
const file = resolve(value('write-env') ?? 'fake-flickr.env')
const c = fake.credentials
await writeFile(file, [
  `FLICKRFS_API_ORIGIN=${fake.origin}`,
  `FLICKR_API_KEY=${c.apiKey}`, `FLICKR_API_SECRET=${c.apiSecret}`,
  `FLICKR_OAUTH_TOKEN=${c.oauthToken}`, `FLICKR_OAUTH_TOKEN_SECRET=${c.oauthTokenSecret}`, '',
].join('\n'), { mode: 0o600 })
process.stdout.write(`fake Flickr at ${fake.origin}: ${account.photostream.length} items, ${account.sets.length} sets (${account.user.username}).\n` +
  `Try: bin/flickrfs pin --env-file ${file} /tmp/fake-dest   (Ctrl-C stops the fake)\n`)
process.on('SIGUSR1', () => {
  fake.faults.unreachable = !fake.faults.unreachable
  process.stdout.write(`${new Date().toISOString()} ${fake.faults.unreachable ? 'outage: every connection is closed as it arrives' : 'outage over'}\n`)
})
const stop = (): void => void fake.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
