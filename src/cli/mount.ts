import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { constants, fstat } from 'node:fs'
import { open, rm } from 'node:fs/promises'
import { mkdirLevels } from '../util/fs.js'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { Command, Option } from 'commander'
import { FlickrfsError, isFlickrfsError } from '../errors/flickrfs-error.js'
import { apiOriginFromEnv, clockFromEnv, loadCredentials, MediaClient, mountOutageNote, openFlickr, OutageWatch, throttleNote, type Credentials, type Env } from '../flickr/index.js'
import { checkMountpoint, exitingWithMount, mountAt, runUntilSignal, unmountPath } from '../fs/index.js'
import { startLiveMount, type LiveMount, type LiveMountOptions } from '../service/live-mount.js'
import { notifyReady } from '../service/notify.js'
import { findMount, registerMount } from '../service/registry.js'
import { listenControl, type ControlServer } from '../service/control.js'
import { pinHandler } from './handed-pin.js'
import { failedDownloads, readLastPin } from '../pin/pin-state.js'
import { envOf, readCookies, type CliIo } from './context.js'
import { checkFolder } from './dest-check.js'
import { formatSize, parseDuration, parseSize } from './units.js'
import { FULL_LISTING_FLAGS, FULL_LISTING_HELP, fullListingEveryMs } from './full-listing.js'
import { lazyCatalogFrom } from './lazy-catalog.js'
import { errorMessage, sleep } from '../util/abort.js'
import { unwritableReason } from '../util/read-only.js'
import { confineState } from '../util/confine.js'
import { mountLogPath, STATE_REL, stateDir } from '../util/state-paths.js'
import { MALLOC_RETURNS_LARGE_BLOCKS } from '../util/malloc-env.js'
import { capYoungGeneration } from '../util/young-generation.js'

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
  force?: boolean
  fullListingEvery?: number
  attrTimeout?: number
}

const DEFAULT_REFRESH_MS = 15 * 60_000

/** --attr-timeout: whole seconds, at least 1 (libfuse reads 0 as its own default). Milliseconds. */
function parseAttrTimeout(value: string): number {
  const ms = parseDuration('--attr-timeout')(value)
  if (ms < 1000 || ms % 1000 !== 0) throw new FlickrfsError('USAGE', `--attr-timeout takes whole seconds, at least 1s, got "${value}".`)
  return ms
}

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
    .option('--cache-size <size>', 'bound unpinned originals in the cache, e.g. 20G (binary units: 20G is 20 GiB; least recently used go first)', parseSize('--cache-size'))
    .addOption(
      new Option('--refresh <duration>', 'refresh the catalog this often, e.g. 90s, 15m, 2h (0: only on SIGHUP / flickrfs refresh)')
        .argParser(parseDuration('--refresh'))
        .default(DEFAULT_REFRESH_MS, '15m'),
    )
    .addOption(
      new Option('--attr-timeout <duration>', 'how long the kernel may show a file\'s old size after it changed (a refresh, a growing SHA256SUMS)')
        .argParser(parseAttrTimeout)
        .default(60_000, '60s'),
    )
    .option('--offline', 'never touch the network: serve the cached catalog and originals only')
    .option('--allow-other', 'let other users see the mount')
    .option('--background', 'detach once mounted (logs go to CACHE/.flickrfs/mount.log)')
    .option('--ignore-views', 'leave view counts out of the metadata')
    .option('--force', 'use a non-empty --cache folder that is not a flickrfs folder')
    .option('--api-rate <r>', 'API calls per second once the burst is used (default 0.8; shared by every flickrfs process of the key)')
    .option('--cookies <file>', 'file with Flickr web cookies for video originals')
    .option(FULL_LISTING_FLAGS, FULL_LISTING_HELP, parseDuration('--full-listing-every'))
    .action(async (mountpoint: string, flags: MountFlags) => {
      process.exitCode = await runMount(io, mountpoint, flags)
    })
}

/** A mount lives for days: its young generation stops growing here (util/young-generation.ts). */
const MOUNT_SEMI_SPACE_MB = 8

async function runMount(io: CliIo, mountpoint: string, flags: MountFlags): Promise<number> {
  capYoungGeneration(MOUNT_SEMI_SPACE_MB)
  const env = envOf(io)
  const mnt = resolve(mountpoint)
  // A cache is flickrfs's own folder: an empty value or a foreign folder is a typo (dest-check.ts).
  if (flags.cache !== undefined) await checkFolder(flags.cache, { what: '--cache', force: flags.force, writes: flags.offline !== true })
  const { remote, creds, apiCalls, onThrottled, jobOutage } = await connect(env, flags)
  const root = resolve(flags.cache ?? defaultCacheRoot(env, creds))
  // A mountpoint that cannot be used is refused before anything is created (the cache folder).
  await checkMountpoint(mnt)
  if (flags.background) {
    await mkdirLevels(root)
    return detach(io, mnt, root)
  }
  // Created by this run: removed again when the mount does not come up, so a failure leaves nothing.
  const created = await mkdirLevels(root)
  const say = await logger(io)
  // A storm of "too many requests" is waited out (FlickrClient RATE_LIMIT_PATIENCE_MS), and logged.
  // A pin handed to this mount runs on the same client: 'the refresh' covers its calls too.
  onThrottled((on) => say(throttleNote(on, 'the refresh')))
  // And a network outage: the catalog waits for Flickr, the mount serves what it has meanwhile.
  jobOutage?.onChange((on, why) => say(mountOutageNote(on, why)))

  const cookies = await readCookies(flags.cookies, env, (line) => io.stderr.write(line))
  const fullListingEvery = await fullListingEveryMs(env, flags.fullListingEvery)
  let live: LiveMount
  try {
    live = await startLiveMount({
      mountpoint: mnt,
      root,
      remote,
      cacheMaxBytes: flags.cacheSize,
      refreshEveryMs: flags.refresh,
      fullListingEveryMs: fullListingEvery,
      attrTimeoutSec: flags.attrTimeout !== undefined ? flags.attrTimeout / 1000 : undefined,
      allowOther: flags.allowOther,
      cookies,
      // A pin's failed downloads (its record in this root) count as failing for each refresh's plan.
      failedDownloads: async () => failedDownloads(await readLastPin(root).catch(() => undefined)),
      ignoreViews: flags.ignoreViews,
      lazyCatalogFromPhotos: lazyCatalogFrom(env),
      onLine: say,
      // A --background parent waits while this one reports; report well within its patience.
      progressEveryMs: Math.min(15_000, backgroundWaitMs(env) / 4),
    })
  } catch (err) {
    if (created !== undefined) await rm(created, { recursive: true, force: true }).catch(() => undefined)
    throw err
  }
  return serveMount(live, { env, mnt, root, say, flags: { ...flags, fullListingEvery }, online: remote !== undefined, apiCalls, cookies, jobOutage })
}

/** Offline: credentials only if some are saved (they name the default cache). Online: the clients too. */
async function connect(env: Env, flags: MountFlags): Promise<{
  remote?: LiveMountOptions['remote']
  creds?: Credentials
  apiCalls: () => number
  /** FlickrClient.onThrottled of the API client (offline: never called). */
  onThrottled: (listener: (on: boolean) => void) => void
  /** The outage watch of the catalog's calls and of a handed pin's downloads (offline: none). */
  jobOutage?: OutageWatch
}> {
  if (flags.offline) return { creds: await loadCredentials({ env }).catch(() => undefined), apiCalls: () => 0, onThrottled: () => undefined }
  const clock = clockFromEnv(env)
  // One watch for what the mount asks of Flickr in the background: the catalog's calls (its first
  // catalog, its refreshes, a handed pin's) and a handed pin's downloads wait out a network outage.
  // Not the reads of uncached originals: those must fail fast, with few retries and short waits.
  const outage = new OutageWatch(clock)
  const opened = await openFlickr({ env, apiRate: flags.apiRate, client: { outage }, media: { maxRetries: 1, headersTimeoutMs: 10_000 } }).catch((err: unknown) => {
    // No key or token here: a pinned cache can still be served as it is.
    if (isFlickrfsError(err) && err.code === 'AUTH_MISSING') throw new FlickrfsError('AUTH_MISSING', `${err.message} To serve what a pinned --cache holds without Flickr, add --offline.`)
    throw err
  })
  // A pin handed to this mount (cli/handed-pin.ts) downloads as a pin of its own does: with the
  // default retries, and waiting out a network outage.
  const origin = apiOriginFromEnv(env)
  const jobMedia = new MediaClient({ origins: origin === undefined ? [] : [origin], clock, outage })
  return {
    creds: opened.credentials,
    jobOutage: outage,
    remote: { api: opened.client, media: opened.media, jobMedia },
    apiCalls: () => opened.client.stats.apiCalls,
    onThrottled: (listener) => opened.client.onThrottled(listener),
  }
}

interface ServeMountOptions {
  env: Env
  mnt: string
  root: string
  say: (line: string) => void
  flags: MountFlags
  online: boolean
  apiCalls: () => number
  cookies: string | undefined
  jobOutage: OutageWatch | undefined
}

/** Serves until a signal or an outside unmount; SIGHUP refreshes. Resolves with the exit code. */
async function serveMount(live: LiveMount, o: ServeMountOptions): Promise<number> {
  const { env, mnt, root, say, flags } = o
  const unregister = await registerMount(env, { pid: process.pid, mountpoint: mnt, root, startedAtMs: Date.now(), ...(o.online ? {} : { offline: true }) })
  const control = await listenForPins(live, o)
  const onHup = (): void => {
    say('refresh asked (SIGHUP)')
    void live.refresh().then((r) => {
      // A refresh that changed something says so itself.
      if (r && !r.changed) say(`refreshed: ${r.photos.total} items, nothing changed`)
    })
  }
  process.on('SIGHUP', onHup)
  const bound = flags.cacheSize !== undefined ? `, unpinned originals bounded to ${formatSize(flags.cacheSize)}` : ''
  const every = o.online && flags.refresh > 0 ? `; refreshes every ${formatEvery(flags.refresh)} (only changes are logged)` : ''
  const what = live.filling() ? 'the first catalog as it comes in' : `${live.layout().stats.photos} items`
  let code = 1
  const stop = new StopDeadline(say, () => code)
  try {
    // Signals are handled before the mount says it is up and before systemd hears READY=1: a stop
    // right after either still unmounts. Said first, a SIGTERM sent on reading the line could come
    // before any handler and end the process by its default action (a test saw exit by SIGTERM).
    const stopped = runUntilSignal(live.handle, { report: (m) => m.split('\n').forEach((l) => say(l.replace(/^flickrfs: /, ''))) })
    say(`mounted ${what} at ${mnt} (cache ${root}${bound})${every}; Ctrl-C or \`flickrfs unmount ${mnt}\` unmounts`)
    void notifyReady(env, live.filling() ? `Serving ${mnt}; the first catalog is coming in` : `Serving ${live.layout().stats.photos} items at ${mnt}`, say)
    code = await stopped
    say(`unmounted ${mnt}`)
    return code
  } finally {
    process.off('SIGHUP', onHup)
    // New pins are refused from here; one running keeps its connection until it ends or the process does.
    stop.at('closing the control socket')
    await control?.close()
    stop.at('unregistering the mount')
    await unregister()
    stop.at('closing the store and the catalog')
    const { abandoned } = await live.close()
    stop.done()
    // A refresh against an unreachable Flickr keeps retrying (timers, sockets) for minutes after
    // the mount is gone; the serving process must still end promptly (systemd, Ctrl-C).
    if (abandoned) setTimeout(() => process.exit(code), 200).unref()
  }
}

/** From the first SIGINT or SIGTERM the whole stop gets this long: a bound over whatever a step of its own does not bound. */
export const STOP_DEADLINE_MS = 15_000

/**
 * One signal always ends the mount, in bounded time: past STOP_DEADLINE_MS the process says which
 * step it was in and exits. Exiting loses nothing (writes are atomic, a pin resumes, the catalog
 * is saved whole or not at all), and the kernel drops a mount whose server is gone (auto_unmount).
 * Stuck while unmounting, it exits 1: the mount may have outlived this process.
 */
class StopDeadline {
  #step = 'unmounting'
  readonly #onSignal = (sig: NodeJS.Signals): void => {
    this.#off()
    const timer = setTimeout(() => {
      this.#say(`still stopping ${STOP_DEADLINE_MS / 1000} s after ${sig}, while ${this.#step}; exiting now (nothing is lost: the next run resumes)`)
      exitingWithMount()
      process.exit(this.#step === 'unmounting' ? 1 : this.#code())
    }, STOP_DEADLINE_MS)
    // The deadline never keeps the process alive: a stop that ends sooner exits as it would have.
    timer.unref()
  }

  readonly #say: (line: string) => void
  readonly #code: () => number

  constructor(say: (line: string) => void, code: () => number) {
    this.#say = say
    this.#code = code
    process.once('SIGINT', this.#onSignal)
    process.once('SIGTERM', this.#onSignal)
  }

  /** The step the stop is in, named if the deadline passes. */
  at(step: string): void {
    this.#step = step
  }

  /** The stop is over: a signal from now on arms nothing. */
  done(): void {
    this.#off()
  }

  #off(): void {
    process.off('SIGINT', this.#onSignal)
    process.off('SIGTERM', this.#onSignal)
  }
}

/**
 * The control socket on which `flickrfs pin CACHE` hands this mount its pin (cli/pin-handoff.ts; the mount's side is cli/handed-pin.ts).
 * None on a cache this process cannot write: it holds no lock there, and a pin could not run.
 */
async function listenForPins(live: LiveMount, o: ServeMountOptions): Promise<ControlServer | undefined> {
  if ((await unwritableReason(stateDir(o.root))) !== undefined) return undefined
  try {
    return await listenControl(o.root, pinHandler(live, { mountpoint: o.mnt, say: o.say, apiCalls: o.apiCalls, cookies: o.cookies, fullListingEveryMs: o.flags.fullListingEvery, outage: o.jobOutage }))
  } catch (err) {
    o.say(`No control socket (${errorMessage(err)}): \`flickrfs pin ${o.root}\` will fail while this mount runs.`)
    return undefined
  }
}

/**
 * Lines about the mount on stderr. Where stderr is a regular file (mount.log of --background, a
 * `2>>file` redirect) each line starts with its time; a terminal, a pipe or systemd's journal
 * shows its own or needs none.
 */
async function logger(io: CliIo): Promise<(line: string) => void> {
  const fd = (io.stderr as { fd?: unknown }).fd
  const stamp = typeof fd === 'number' && (await promisify(fstat)(fd).then((st) => st.isFile(), () => false))
  return (line) => void io.stderr.write(`${stamp ? `${new Date().toISOString()} ` : ''}flickrfs: ${line}\n`)
}

/** 900000 → `15m`, 5400000 → `90m`, 90000 → `90s`. */
function formatEvery(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** FLICKRFS_BACKGROUND_WAIT_MS: how long `mount --background` waits for a word from its child (default 60 s). */
export function backgroundWaitMs(env: Env): number {
  const raw = env.FLICKRFS_BACKGROUND_WAIT_MS
  if (!raw) return 60_000
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 100) {
    throw new FlickrfsError('CONFIG', `FLICKRFS_BACKGROUND_WAIT_MS must be a number of milliseconds of at least 100, got "${raw}".`)
  }
  return n
}

/** Exit code of `mount --background` when the child is alive but silent: not failed, not up yet (EX_TEMPFAIL). */
export const STILL_STARTING = 75

/** The lines appended to a file since `offset`, a whole line at a time. */
class LogTail {
  private rest = ''
  constructor(private readonly path: string, private offset: number) {}

  async read(): Promise<string[]> {
    const fh = await open(this.path, 'r').catch(() => undefined)
    if (!fh) return []
    try {
      const size = (await fh.stat()).size
      if (size <= this.offset) return []
      const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20))
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset)
      this.offset += bytesRead
      const lines = (this.rest + buf.subarray(0, bytesRead).toString('utf8')).split('\n')
      this.rest = lines.pop() ?? ''
      return lines.filter((l) => l.trim() !== '')
    } finally {
      await fh.close()
    }
  }
}

/**
 * Starts the same mount in a detached child and waits for it honestly: every line the child logs
 * is passed on, and the wait goes on as long as the child keeps saying something (the first
 * catalog reports its progress at least every quarter of the wait). It ends when the mount is up
 * (0), when the child exits (its exit code, after its last lines), or when the child has been
 * silent for FLICKRFS_BACKGROUND_WAIT_MS: then it says the child is still starting (75), never
 * that it failed.
 */
async function detach(io: CliIo, mnt: string, root: string): Promise<number> {
  const env = envOf(io)
  const quietMs = backgroundWaitMs(env)
  const logPath = mountLogPath(root)
  const confined = await confineState(root)
  const logFile = await confined.openForWrite(STATE_REL.mountLog, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND)
  const tail = new LogTail(logPath, (await logFile.stat()).size)
  const args = process.argv.slice(1).filter((a) => a !== '--background')
  const child = spawn(process.execPath, [...process.execArgv, '--', ...args], {
    detached: true,
    stdio: ['ignore', logFile.fd, logFile.fd],
    // glibc's malloc setting (util/malloc-env.ts); a variable of the user's own wins.
    env: { ...MALLOC_RETURNS_LARGE_BLOCKS, ...process.env, ...(io.env ?? {}) },
  })
  child.unref()
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  child.on('exit', (code, signal) => (exited = { code, signal }))
  await logFile.close()
  let lastNews = Date.now()
  const relay = async (): Promise<void> => {
    const lines = await tail.read()
    if (lines.length > 0) lastNews = Date.now()
    for (const l of lines) {
      // mount.log lines are "<time> flickrfs: <text>"; the terminal has its own sense of time.
      io.stderr.write(`flickrfs: [background] ${l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '').replace(/^flickrfs: /, '')}\n`)
    }
  }
  for (;;) {
    await relay()
    if (mountAt(mnt)) {
      // Lines the child wrote just before its mount appeared.
      await relay()
      io.stdout.write(`flickrfs: mounted at ${mnt} (pid ${child.pid}); logs in ${logPath}\n`)
      return 0
    }
    if (exited) {
      await relay()
      const how = exited.signal ? `was killed by ${exited.signal}` : `exited with code ${exited.code}`
      throw new FlickrfsError('FUSE', `the background mount ${how} before it mounted (its last lines are above); see ${logPath}`)
    }
    if (Date.now() - lastNews > quietMs) {
      io.stderr.write(`flickrfs: the background mount (pid ${child.pid}) is still starting but has said nothing for ` +
        `${+(quietMs / 1000).toFixed(1)} s; it goes on by itself. Follow ${logPath}; \`mountpoint ${mnt}\` tells when it is up.\n`)
      return STILL_STARTING
    }
    await sleep(200)
  }
}

export function unmountCommand(io: CliIo): Command {
  return new Command('unmount')
    .alias('umount')
    .description('Unmount a flickrfs mount (the serving process then exits 0)')
    .argument('<mountpoint>')
    .option('--lazy', 'detach even when busy (programs holding it get errors)')
    .action(async (mountpoint: string, flags: { lazy?: boolean }) => {
      const mnt = resolve(mountpoint)
      if (!mountAt(mnt)) throw new FlickrfsError('MOUNTPOINT', `${mnt} is not mounted.`)
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
      if (rec.offline === true) {
        throw new FlickrfsError('USAGE', `The mount at ${mnt} (pid ${rec.pid}) serves ${rec.root} --offline: it has nothing to refresh from. ` +
          'Mount it without --offline to follow Flickr, or run `flickrfs pin` on its cache once it is unmounted.')
      }
      process.kill(rec.pid, 'SIGHUP')
      io.stdout.write(`flickrfs: asked the mount at ${mnt} (pid ${rec.pid}) to refresh\n`)
    })
}
