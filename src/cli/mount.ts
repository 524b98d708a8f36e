import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, open } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Command } from 'commander'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { loadCredentials, openFlickr, type Credentials, type Env } from '../flickr/index.js'
import { mountAt, runUntilSignal, unmountPath } from '../fs/index.js'
import { startLiveMount } from '../service/live-mount.js'
import { findMount, registerMount } from '../service/registry.js'
import { envOf, readCookies, type CliIo } from './context.js'
import { parseDuration, parseSize } from './units.js'

interface MountFlags {
  cache?: string
  cacheSize?: number
  refresh: number
  offline?: boolean
  allowOther?: boolean
  background?: boolean
  apiRate?: string
  cookies?: string
  ignoreViews?: boolean
}

const DEFAULT_REFRESH_MS = 15 * 60_000

/** The cache folder of one account: per account, so two logins never mix their files. */
export function defaultCacheRoot(env: Env, creds: Pick<Credentials, 'nsid' | 'oauthToken'> | undefined): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache')
  const account = creds?.nsid ?? (creds ? `token-${createHash('sha256').update(creds.oauthToken).digest('hex').slice(0, 12)}` : 'default')
  return join(base, 'flickrfs', account.replace(/[^A-Za-z0-9@_-]/g, '_'))
}

export function mountCommand(io: CliIo): Command {
  return new Command('mount')
    .description('Show the account as a folder (FUSE), in the foreground until Ctrl-C or `flickrfs unmount`')
    .argument('<mountpoint>', 'an empty directory')
    .option('--cache <dir>', 'where originals and the catalog are kept (a pinned DEST works)')
    .option('--cache-size <size>', 'bound unpinned originals in the cache, e.g. 20G (least recently used go first)', parseSize('--cache-size'))
    .option('--refresh <duration>', 'refresh the catalog this often (0: only on SIGHUP / flickrfs refresh)', parseDuration('--refresh'), DEFAULT_REFRESH_MS)
    .option('--offline', 'never touch the network: serve the cached catalog and originals only')
    .option('--allow-other', 'let other users see the mount')
    .option('--background', 'detach once mounted (logs go to CACHE/.flickrfs/mount.log)')
    .option('--ignore-views', 'leave view counts out of the metadata')
    .option('--api-rate <r>', 'API calls per second once the burst is used (default 1)')
    .option('--cookies <file>', 'file with Flickr web cookies for video originals')
    .action(async (mountpoint: string, flags: MountFlags) => {
      process.exitCode = await runMount(io, mountpoint, flags)
    })
}

async function runMount(io: CliIo, mountpoint: string, flags: MountFlags): Promise<number> {
  const env = envOf(io)
  const mnt = resolve(mountpoint)
  let remote
  let creds: Credentials | undefined
  if (flags.offline) {
    creds = await loadCredentials({ env }).catch(() => undefined)
  } else {
    // Reads of uncached originals must fail fast when Flickr is unreachable: few retries, short waits.
    const opened = await openFlickr({ env, apiRate: flags.apiRate, media: { maxRetries: 1, headersTimeoutMs: 10_000 } })
    creds = opened.credentials
    remote = { api: opened.client, media: opened.media }
  }
  const root = resolve(flags.cache ?? defaultCacheRoot(env, creds))
  await mkdir(root, { recursive: true })
  if (flags.background) return detach(io, mnt, root)

  const cookies = await readCookies(flags.cookies, env, (line) => io.stderr.write(line))
  const live = await startLiveMount({
    mountpoint: mnt,
    root,
    remote,
    cacheMaxBytes: flags.cacheSize,
    refreshEveryMs: flags.refresh,
    allowOther: flags.allowOther,
    cookies,
    ignoreViews: flags.ignoreViews,
    onLine: (line) => io.stderr.write(`flickrfs: ${line}\n`),
  })
  const unregister = await registerMount(env, { pid: process.pid, mountpoint: mnt, root, startedAtMs: Date.now() })
  const onHup = (): void => void live.refresh()
  process.on('SIGHUP', onHup)
  io.stderr.write(`flickrfs: mounted ${live.layout().stats.photos} items at ${mnt} (cache ${root}); Ctrl-C unmounts\n`)
  let code = 1
  try {
    code = await runUntilSignal(live.handle, { report: (m) => io.stderr.write(m + '\n') })
    return code
  } finally {
    process.off('SIGHUP', onHup)
    await unregister()
    const { abandoned } = await live.close()
    // A refresh against an unreachable Flickr keeps retrying (timers, sockets) for minutes after
    // the mount is gone; the serving process must still end promptly (systemd, Ctrl-C).
    if (abandoned) setTimeout(() => process.exit(code), 200).unref()
  }
}

/** Starts the same mount in a detached child and returns once the mount is up (or says why not). */
async function detach(io: CliIo, mnt: string, root: string): Promise<number> {
  const logPath = join(root, '.flickrfs', 'mount.log')
  await mkdir(join(root, '.flickrfs'), { recursive: true })
  const logFile = await open(logPath, 'a')
  const args = process.argv.slice(1).filter((a) => a !== '--background')
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    detached: true,
    stdio: ['ignore', logFile.fd, logFile.fd],
    env: { ...process.env, ...(io.env ?? {}) },
  })
  child.unref()
  let exited: number | null = null
  child.on('exit', (code) => (exited = code ?? 1))
  await logFile.close()
  for (let waited = 0; waited < 60_000; waited += 200) {
    if (await mountAt(mnt)) {
      io.stdout.write(`flickrfs: mounted at ${mnt} (pid ${child.pid}); logs in ${logPath}\n`)
      return 0
    }
    if (exited !== null) break
    await sleep(200)
  }
  throw new FlickrfsError('FUSE', `the background mount did not come up; see ${logPath}`)
}

export function unmountCommand(io: CliIo): Command {
  return new Command('unmount')
    .alias('umount')
    .description('Unmount a flickrfs mount (the serving process then exits 0)')
    .argument('<mountpoint>')
    .option('--lazy', 'detach even when busy (programs holding it get errors)')
    .action(async (mountpoint: string, flags: { lazy?: boolean }) => {
      const mnt = resolve(mountpoint)
      if (!(await mountAt(mnt))) throw new FlickrfsError('MOUNTPOINT', `${mnt} is not mounted.`)
      await unmountPath(mnt, { lazy: flags.lazy })
      io.stdout.write(`flickrfs: unmounted ${mnt}\n`)
    })
}

export function refreshCommand(io: CliIo): Command {
  return new Command('refresh')
    .description('Ask a running mount to refresh its catalog now')
    .argument('<mountpoint>')
    .action(async (mountpoint: string) => {
      const mnt = resolve(mountpoint)
      const rec = await findMount(envOf(io), mnt)
      if (!rec) throw new FlickrfsError('MOUNTPOINT', `No flickrfs mount of this user is serving ${mnt}.`)
      process.kill(rec.pid, 'SIGHUP')
      io.stdout.write(`flickrfs: asked the mount at ${mnt} (pid ${rec.pid}) to refresh\n`)
    })
}
