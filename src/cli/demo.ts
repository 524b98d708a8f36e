/**
 * `flickrfs demo`: the whole product on a built-in sample account, with no API key. Starts the
 * fake Flickr that the tests use, then mounts it; where FUSE cannot be used, pins it instead.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../fake-flickr/index.js'
import { openFlickr, type Env, type FlickrClient, type MediaClient } from '../flickr/index.js'
import { fuseUsable, runUntilSignal } from '../fs/index.js'
import { pin } from '../pin/pin.js'
import { startLiveMount, type LiveMountOptions } from '../service/live-mount.js'
import { envOf, type CliIo } from './context.js'
import { formatBytes } from './progress.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { mkdirLevels } from '../util/fs.js'
import { STATE_DIR_NAME } from '../util/state-paths.js'

export const DEMO_ACCOUNT = { seed: 2026, photos: 120, videos: 6, sets: 9, collections: 3, commentedFraction: 0.15, oddTitles: true }

export function demoCommand(io: CliIo): Command {
  return new Command('demo')
    .description('Mount a built-in sample account (no Flickr account or API key needed)')
    .argument('[mountpoint]', 'where to show it', 'flickrfs-demo')
    .option('--pin', 'pin the sample account into the folder instead of mounting it')
    .action(async (mountpoint: string, flags: { pin?: boolean }) => {
      process.exitCode = await runDemo(io, resolve(mountpoint), flags.pin === true)
    })
}

async function runDemo(io: CliIo, target: string, forcePin: boolean): Promise<number> {
  const say = (line: string): boolean => io.stdout.write(line + '\n')
  const fake = await startFakeFlickr({ account: generateAccount(DEMO_ACCOUNT) })
  const cache = await mkdtemp(join(tmpdir(), 'flickrfs-demo-cache-'))
  // Its own config folder: the fake is not Flickr, so the demo neither draws on nor writes the API
  // budget kept in the user's (a bucket another run left low, or slowed, made the demo crawl).
  const config = await mkdtemp(join(tmpdir(), 'flickrfs-demo-config-'))
  try {
    const { client, media } = await openFlickr({ env: fakeEnv(io, fake, config) })
    say(`flickrfs demo: a sample account of ${DEMO_ACCOUNT.photos + DEMO_ACCOUNT.videos} items served by the built-in fake Flickr at ${fake.origin}`)
    const usable = forcePin ? { ok: false as const, reason: '--pin was given' } : await fuseUsable()
    if (!usable.ok) {
      say(`FUSE cannot be used here: ${usable.reason}.`)
      return await pinDemo(target, client, media, say)
    }
    return await mountDemo(io, { target, cache, remote: { api: client, media }, say })
  } finally {
    await fake.close()
    await rm(cache, { recursive: true, force: true })
    await rm(config, { recursive: true, force: true })
  }
}

/** The user's environment, pointed at the fake with its own keys and token, and a config folder of its own. */
function fakeEnv(io: CliIo, fake: FakeFlickr, configDir: string): Env {
  const c = fake.credentials
  return {
    ...envOf(io),
    FLICKRFS_CONFIG_DIR: configDir,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKR_API_KEY: c.apiKey,
    FLICKR_API_SECRET: c.apiSecret,
    FLICKR_OAUTH_TOKEN: c.oauthToken,
    FLICKR_OAUTH_TOKEN_SECRET: c.oauthTokenSecret,
  }
}

async function pinDemo(target: string, client: FlickrClient, media: MediaClient, say: (line: string) => void): Promise<number> {
  // The sample account goes only where it cannot mix with anything of the user's: an empty or new
  // folder, or one a demo pinned before (pin's own guard has --force, which the demo has not).
  const names = await readdir(target).catch(() => [] as string[])
  if (names.length > 0 && !names.includes(STATE_DIR_NAME)) {
    const shown = names.slice(0, 3).map((n) => JSON.stringify(n)).join(', ') + (names.length > 3 ? ', …' : '')
    throw new FlickrfsError('DEST', `${target} is not empty (${shown}): the demo pins its sample account only into an empty or new folder. Choose another one.`)
  }
  say(`Pinning the sample account into ${target} instead (the same tree the mount would show).`)
  const report = await pin({ dest: target, api: client, media })
  say(`Done: ${report.refresh.photos.total} items, ${report.downloaded} originals downloaded (${formatBytes(report.downloadedBytes)}), ${client.stats.apiCalls} API calls.`)
  say(`Look around: ls "${target}"  and  cat "${join(target, 'photostream', 'metadata')}"`)
  return report.failures.length > 0 ? 1 : 0
}

interface MountDemoOptions {
  target: string
  cache: string
  remote: NonNullable<LiveMountOptions['remote']>
  say: (line: string) => void
}

async function mountDemo(io: CliIo, { target, cache, remote, say }: MountDemoOptions): Promise<number> {
  await mkdirLevels(target)
  const live = await startLiveMount({ mountpoint: target, root: cache, remote, refreshEveryMs: 60_000, onLine: (line) => say(line) })
  // The sample account is local and small: its whole first catalog is in within a second.
  if (live.filling()) await live.refresh()
  try {
    say(`Mounted at ${target}. Try, in another terminal:`)
    say(`  ls "${target}"`)
    say(`  ls -l "${join(target, 'photostream')}" | head`)
    say(`  cat "${join(target, 'photostream', 'metadata')}"`)
    say(`  rsync -a "${target}/" /tmp/flickr-backup/`)
    say('Originals download on first read. Press Ctrl-C to unmount and stop.')
    return await runUntilSignal(live.handle, { report: (m) => io.stderr.write(m + '\n') })
  } finally {
    await live.close()
  }
}
