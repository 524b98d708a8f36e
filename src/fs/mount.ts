import createDebug from '../util/debug.js'
import { resolve } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { answerAtOnce, loadFuse, type FuseInstance } from './fuse-binding.js'
import { fuseNativeOptions } from './mount-options.js'
import { checkMountpoint, clearStaleMount, describeHolders, findHolders, fusermountMountMessage, mountAt, unmountPath, type Holder } from './mountpoint.js'
import { FsOps, type FsOpsStats } from './ops.js'
import type { FsTree, OriginalReader, TreeSource, WaitFor } from './types.js'
import { errorMessage, resolvesWithin } from '../util/abort.js'

const log = createDebug('flickrfs:fs')

export interface MountOptions {
  mountpoint: string
  /** A fixed tree, or a source asked on every op (a catalog refresh swaps what it returns). */
  tree: TreeSource | FsTree
  originals: OriginalReader
  /** Let other users see the mount (needs user_allow_other in /etc/fuse.conf for non-root). */
  allowOther?: boolean
  /** libfuse's own request log on stderr. */
  debug?: boolean
  /** The kernel unmounts by itself when this process dies, even by kill -9 (default true). */
  autoUnmount?: boolean
  /**
   * How long the kernel trusts sizes, mtimes and names (default 60 s). It is also the longest a
   * changed file can show its old size after a refresh: libfuse 2.9 cannot invalidate the kernel's
   * cache, so a refresh becomes visible when these expire.
   */
  attrTimeoutSec?: number
  /** How long a missing name stays missing in the kernel's cache (default 10 s). */
  negativeTimeoutSec?: number
  /** Deadline for one read of an original, answered with ETIMEDOUT (default 25 s: a reader hears of a stalled server within 30 s). */
  readTimeoutMs?: number
  /**
   * False: the tree does not change while mounted (an offline mount), so nothing is kept per open
   * file; libfuse answers open and release itself, and reads are served by path (ops.ts). Default true.
   */
  fileHandles?: boolean
  /**
   * True: originals on local disk are read synchronously, straight into libfuse's buffer (ops.ts);
   * the serving thread then waits for the disk, and such a read has no deadline. For an offline
   * mount of a local DEST. Default false.
   */
  syncLocalReads?: boolean
  /** Paths whose attributes come later: their ops wait (types.ts WaitFor). */
  waitFor?: WaitFor
  /** Owner shown for every entry (default: the mounting user). */
  uid?: number
  gid?: number
}

export interface MountHandle {
  readonly mountpoint: string
  /** Serve this tree from now on (replaces the TreeSource given at mount). */
  setTree(tree: FsTree): void
  /**
   * Plain unmount; when busy it fails with a MOUNTPOINT error naming the holders and stays
   * mounted. `lazy` detaches anyway, and stops serving even if the detach fails. `signal` gives
   * up on the unmount: its fusermount is killed.
   */
  unmount(opts?: { lazy?: boolean; signal?: AbortSignal }): Promise<void>
  /** Settles when the mount is gone, whoever unmounted it. */
  readonly unmounted: Promise<void>
  stats(): FsOpsStats
}

export const DEFAULTS = {
  attrTimeoutSec: 60,
  negativeTimeoutSec: 10,
  readTimeoutMs: 25_000,
  autoUnmount: true,
}

function isTreeSource(t: TreeSource | FsTree): t is TreeSource {
  return typeof (t as TreeSource).current === 'function'
}

export async function mountFlickrfs(opts: MountOptions): Promise<MountHandle> {
  const { Fuse, binding } = loadFuse()
  const mnt = resolve(opts.mountpoint)
  await clearIfStale(mnt)
  const mount = new FuseMount(mnt, opts)
  const fuseOpts = fuseNativeOptions({
    attrTimeoutSec: opts.attrTimeoutSec ?? DEFAULTS.attrTimeoutSec,
    negativeTimeoutSec: opts.negativeTimeoutSec ?? DEFAULTS.negativeTimeoutSec,
    allowOther: opts.allowOther ?? false,
    autoUnmount: opts.autoUnmount ?? DEFAULTS.autoUnmount,
    debug: opts.debug ?? false,
    readTimeoutMs: opts.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
    // Every op answers before it returns (ops.ts: the tree, open files and bytes content are in
    // memory), except a read of an original, which arms its own deadline (ETIMEDOUT, also on
    // unmount) before it waits on disk or network: no op is left for fuse-native's timers to
    // catch, and they cost a setTimeout and a clearTimeout per op. Online and offline alike.
    opTimeouts: false,
  })
  const fuseOps = mount.ops.fuseOps()
  const fuse = new Fuse(mnt, fuseOps, fuseOpts)
  // Without op timers, fuse-native's per-op wrapper does nothing we need (fuse-binding.ts).
  answerAtOnce(fuse, fuseOps)
  await mountOrThrow(fuse, mnt, fusermountOptions({ allowOther: opts.allowOther ?? false, autoUnmount: opts.autoUnmount ?? DEFAULTS.autoUnmount }))
  log('mounted at %s with %o', mnt, fuseOpts)
  // Lets the event loop end: fuse-native keeps a handle referenced until this is called.
  mount.serve(() => {
    if (fuse._thread) binding.fuse_native_unmount(mnt, fuse._thread)
  })
  return mount
}

async function clearIfStale(mnt: string): Promise<void> {
  if ((await checkMountpoint(mnt)) !== 'stale') return
  await clearStaleMount(mnt)
  if ((await checkMountpoint(mnt)) !== 'ready') {
    throw new FlickrfsError('MOUNTPOINT', `mountpoint ${mnt} is still stale after clearing it: run fusermount -uz ${mnt}`)
  }
}

/**
 * The options libfuse 2.9 hands fusermount for the mount fuseNativeOptions describes (seen with
 * strace): the kernel's share of them. fsnameHack's other options (use_ino, ...) stay in libfuse.
 */
export function fusermountOptions(o: { allowOther: boolean; autoUnmount: boolean }): string {
  return ['ro', 'nosuid', 'nodev', ...(o.allowOther ? ['allow_other'] : []), 'default_permissions', ...(o.autoUnmount ? ['auto_unmount'] : []), 'fsname=flickrfs', 'subtype=flickrfs'].join(',')
}

function mountOrThrow(fuse: FuseInstance, mnt: string, fusermountOpts: string): Promise<void> {
  return new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new FlickrfsError('FUSE', `mounting at ${mnt} did not finish within 30 s`)), 30_000)
    fuse.mount((err) => {
      clearTimeout(timer)
      if (!err) return res()
      // libfuse's fusermount child cannot write to our stderr (see fusermountMountMessage): ask again.
      void fusermountMountMessage(mnt, fusermountOpts).then((said) => {
        const why = said ? `${err.message}: ${said}` : `${err.message} (fusermount gave no reason; libfuse's own message, if any, is above)`
        rej(
          new FlickrfsError(
            'FUSE',
            `could not mount flickrfs at ${mnt}: ${why}. Check that /dev/fuse exists and this user can open it (modprobe fuse), that fusermount is installed (fuse3), and for --allow-other that /etc/fuse.conf has user_allow_other`,
            { cause: err },
          ),
        )
      })
    })
  })
}

/** One mount's ops and lifetime: serves until unmounted from here or from outside, then stops once. */
class FuseMount implements MountHandle {
  readonly mountpoint: string
  readonly unmounted: Promise<void>
  readonly ops: FsOps
  #source: TreeSource
  readonly #closing = new AbortController()
  #markUnmounted!: () => void
  #gone = false
  #watch: NodeJS.Timeout | undefined
  #detachNative: () => void = () => undefined

  constructor(mnt: string, opts: MountOptions) {
    this.mountpoint = mnt
    const tree = opts.tree
    this.#source = isTreeSource(tree) ? tree : { current: () => tree }
    this.unmounted = new Promise<void>((r) => (this.#markUnmounted = r))
    this.ops = new FsOps({
      tree: () => this.#source.current(),
      originals: opts.originals,
      owner: { uid: opts.uid ?? process.getuid?.() ?? 0, gid: opts.gid ?? process.getgid?.() ?? 0 },
      readTimeoutMs: opts.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
      closing: this.#closing.signal,
      attrTimeoutMs: (opts.attrTimeoutSec ?? DEFAULTS.attrTimeoutSec) * 1000,
      ...(opts.fileHandles !== undefined ? { fileHandles: opts.fileHandles } : {}),
      ...(opts.syncLocalReads !== undefined ? { syncLocalReads: opts.syncLocalReads } : {}),
      ...(opts.waitFor !== undefined ? { waitFor: opts.waitFor } : {}),
      // As documented above: without file handles the tree does not change while mounted.
      staticTree: opts.fileHandles === false,
    })
  }

  /** Called once mounted: watches for an unmount done from outside (flickrfs unmount, fusermount -u). */
  serve(detachNative: () => void): void {
    this.#detachNative = detachNative
    this.#watch = setInterval(() => {
      let mounted = true
      try {
        mounted = mountAt(this.mountpoint) !== undefined
      } catch (err) {
        log('reading the mount table: %O', err)
      }
      if (!mounted) this.#release()
    }, 1000)
    this.#watch.unref()
  }

  setTree(tree: FsTree): void {
    this.#source = { current: () => tree }
  }

  async unmount(u: { lazy?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    if (this.#gone) return
    try {
      if (mountAt(this.mountpoint)) await unmountPath(this.mountpoint, u)
    } finally {
      // A lazy unmount means "stop serving this mount" even when fusermount failed: the process
      // can then end, and auto_unmount (or the next mount here) clears what is left.
      if (u.lazy) this.#release()
    }
    this.#release()
  }

  stats(): FsOpsStats {
    return this.ops.stats()
  }

  #release(): void {
    if (this.#gone) return
    this.#gone = true
    clearInterval(this.#watch)
    this.#closing.abort()
    try {
      this.#detachNative()
    } catch (err) {
      log('native unmount: %O', err)
    }
    log('unmounted %s', this.mountpoint)
    this.#markUnmounted()
  }
}

export interface RunUntilSignalOptions {
  signals?: NodeJS.Signals[]
  /** Where to say why the mount could not simply be unmounted, and who held it (default stderr). */
  report?: (message: string) => void
  /**
   * How long a busy mount gets, after the first signal, for its holders to let go before it is
   * detached lazily (default 3 s); also how long a plain unmount may take to answer before the
   * mount is detached lazily at once. A second signal detaches at once.
   */
  busyGraceMs?: number
}

/** Short enough that stopping ends well inside a service manager's 10 s, long enough for a `cd ..`. */
export const BUSY_GRACE_MS = 3_000

/**
 * Serves until SIGINT/SIGTERM (or an unmount from outside), then unmounts and resolves with the
 * exit status: one signal always ends the mount. A busy mount (a shell's cwd in it, an open file)
 * is reported with the processes that hold it, gets `busyGraceMs` to be let go, and is then
 * detached lazily (`fusermount -uz`): those processes see "Transport endpoint is not connected"
 * once this process exits, and the report names them again. A plain unmount that does not answer
 * within `busyGraceMs` is detached lazily at once: a stop never waits on fusermount.
 * 0 unless even the lazy detach failed.
 */
export function runUntilSignal(handle: MountHandle, opts: RunUntilSignalOptions = {}): Promise<number> {
  return new SignalStop(handle, opts).run()
}

/** The first signal unmounts (or, when busy, detaches lazily after a grace); a second skips the grace. */
class SignalStop {
  readonly #handle: MountHandle
  readonly #mnt: string
  readonly #signals: NodeJS.Signals[]
  readonly #report: (message: string) => void
  readonly #graceMs: number
  #stopping: Promise<void> | undefined
  #ended = false
  #failed = false
  #endGrace: (() => void) | undefined
  #graceTimer: NodeJS.Timeout | undefined

  constructor(handle: MountHandle, opts: RunUntilSignalOptions) {
    this.#handle = handle
    this.#mnt = handle.mountpoint
    this.#signals = opts.signals ?? ['SIGINT', 'SIGTERM']
    this.#report = opts.report ?? ((m: string) => process.stderr.write(m + '\n'))
    this.#graceMs = opts.busyGraceMs ?? BUSY_GRACE_MS
  }

  async run(): Promise<number> {
    for (const s of this.#signals) process.on(s, this.#onSignal)
    await this.#handle.unmounted
    // Unmounted from outside during the grace period: nothing left to wait for.
    this.#ended = true
    clearTimeout(this.#graceTimer)
    this.#endGrace?.()
    await this.#stopping
    for (const s of this.#signals) process.off(s, this.#onSignal)
    return this.#failed ? 1 : 0
  }

  readonly #onSignal = (sig: NodeJS.Signals): void => {
    if (this.#stopping) {
      log('%s again: detaching %s now', sig, this.#mnt)
      this.#endGrace?.()
      return
    }
    log('%s: unmounting %s', sig, this.#mnt)
    this.#stopping = this.#stop(sig)
  }

  /** Never rejects: every failure is reported, and ends in a lazy detach. */
  async #stop(sig: NodeJS.Signals): Promise<void> {
    let why: string
    try {
      const giveUp = new AbortController()
      const answered = await resolvesWithin(this.#handle.unmount({ signal: giveUp.signal }), this.#graceMs)
      if (answered) return
      giveUp.abort()
      // A plain unmount that hangs (fusermount stuck, libuv's pool busy) must not hold the stop:
      // waiting longer or asking again would hang the same way, so detach at once.
      if (this.#ended) return
      this.#report(`flickrfs: ${sig}: unmounting ${this.#mnt} did not finish within ${Math.round(this.#graceMs / 1000)} s; detaching it lazily`)
      await this.#detachLazily()
      return
    } catch (err) {
      why = errorMessage(err)
    }
    if (this.#ended) return
    await this.#reportBusy(sig, why)
    if (this.#ended) return
    await new Promise<void>((res) => {
      this.#endGrace = res
      this.#graceTimer = setTimeout(res, this.#graceMs)
    })
    this.#endGrace = undefined
    // The holders may have let go in the meantime: then a plain unmount leaves nothing behind.
    if (await this.#handle.unmount().then(() => true, () => false)) return
    await this.#detachLazily()
  }

  async #reportBusy(sig: NodeJS.Signals, why: string): Promise<void> {
    const holders = await findHolders(this.#mnt).catch((): Holder[] => [])
    this.#report(`flickrfs: ${sig}: ` +
      (holders.length > 0 ? `${this.#mnt} is in use by ${describeHolders(holders)}` : `cannot unmount: ${why}`) +
      `; detaching it lazily in ${Math.round(this.#graceMs / 1000)} s unless it is let go first (send ${sig} again to detach now)`)
  }

  async #detachLazily(): Promise<void> {
    const holders = await findHolders(this.#mnt).catch((): Holder[] => [])
    try {
      await this.#handle.unmount({ lazy: true })
      this.#report(`flickrfs: detached ${this.#mnt} lazily` +
        (holders.length > 0 ? `; still in use by ${describeHolders(holders)}, which lose it when flickrfs exits` : ''))
    } catch (err) {
      this.#failed = true
      this.#report(`flickrfs: could not detach ${this.#mnt} lazily either: ${errorMessage(err)}`)
    }
  }
}
