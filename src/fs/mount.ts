import createDebug from 'debug'
import { resolve } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { loadFuse, passHandleToFgetattr } from './fuse-binding.js'
import { fuseNativeOptions } from './mount-options.js'
import { checkMountpoint, clearStaleMount, describeHolders, findHolders, mountAt, unmountPath, type Holder } from './mountpoint.js'
import { FsOps, type FsOpsStats } from './ops.js'
import type { FsTree, OriginalReader, TreeSource } from './types.js'
import { errorMessage } from '../util/abort.js'

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
  /** Deadline for one read of an original, answered with ETIMEDOUT (default 60 s). */
  readTimeoutMs?: number
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
   * mounted. `lazy` detaches anyway, and stops serving even if the detach fails.
   */
  unmount(opts?: { lazy?: boolean }): Promise<void>
  /** Settles when the mount is gone, whoever unmounted it. */
  readonly unmounted: Promise<void>
  stats(): FsOpsStats
}

export const DEFAULTS = {
  attrTimeoutSec: 60,
  negativeTimeoutSec: 10,
  readTimeoutMs: 60_000,
  autoUnmount: true,
}

function isTreeSource(t: TreeSource | FsTree): t is TreeSource {
  return typeof (t as TreeSource).current === 'function'
}

export async function mountFlickrfs(opts: MountOptions): Promise<MountHandle> {
  const { Fuse, binding } = loadFuse()
  const mnt = resolve(opts.mountpoint)

  if ((await checkMountpoint(mnt)) === 'stale') {
    await clearStaleMount(mnt)
    if ((await checkMountpoint(mnt)) !== 'ready') {
      throw new FlickrfsError('MOUNTPOINT', `mountpoint ${mnt} is still stale after clearing it: run fusermount -uz ${mnt}`)
    }
  }

  let source: TreeSource = isTreeSource(opts.tree) ? opts.tree : { current: () => opts.tree as FsTree }
  const closing = new AbortController()
  const ops = new FsOps({
    tree: () => source.current(),
    originals: opts.originals,
    owner: { uid: opts.uid ?? process.getuid?.() ?? 0, gid: opts.gid ?? process.getgid?.() ?? 0 },
    readTimeoutMs: opts.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
    closing: closing.signal,
    attrTimeoutMs: (opts.attrTimeoutSec ?? DEFAULTS.attrTimeoutSec) * 1000,
  })
  const fuseOpts = fuseNativeOptions({
    attrTimeoutSec: opts.attrTimeoutSec ?? DEFAULTS.attrTimeoutSec,
    negativeTimeoutSec: opts.negativeTimeoutSec ?? DEFAULTS.negativeTimeoutSec,
    allowOther: opts.allowOther ?? false,
    autoUnmount: opts.autoUnmount ?? DEFAULTS.autoUnmount,
    debug: opts.debug ?? false,
    readTimeoutMs: opts.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
  })
  const fuse = new Fuse(mnt, ops, fuseOpts)
  passHandleToFgetattr(fuse, (path, fh, cb) => ops.fgetattr(path, fh, cb))

  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new FlickrfsError('FUSE', `mounting at ${mnt} did not finish within 30 s`)), 30_000)
    fuse.mount((err) => {
      clearTimeout(timer)
      if (!err) return res()
      rej(
        new FlickrfsError(
          'FUSE',
          `could not mount flickrfs at ${mnt}: ${err.message}. Check that /dev/fuse exists and is usable (modprobe fuse), that fusermount is installed (fuse3), and libfuse's message above`,
          { cause: err },
        ),
      )
    })
  })
  log('mounted at %s with %o', mnt, fuseOpts)

  let gone = false
  let markUnmounted!: () => void
  const unmounted = new Promise<void>((r) => (markUnmounted = r))
  const release = (): void => {
    if (gone) return
    gone = true
    clearInterval(watch)
    closing.abort()
    // Lets the event loop end: fuse-native keeps a handle referenced until this is called.
    try {
      if (fuse._thread) binding.fuse_native_unmount(mnt, fuse._thread)
    } catch (err) {
      log('native unmount: %O', err)
    }
    log('unmounted %s', mnt)
    markUnmounted()
  }
  // Notices an unmount done from outside (flickrfs unmount, fusermount -u).
  const watch = setInterval(() => {
    mountAt(mnt).then(
      (m) => {
        if (!m) release()
      },
      () => undefined,
    )
  }, 1000)
  watch.unref()

  return {
    mountpoint: mnt,
    setTree(tree: FsTree) {
      source = { current: () => tree }
    },
    async unmount(u: { lazy?: boolean } = {}) {
      if (gone) return
      try {
        if (await mountAt(mnt)) await unmountPath(mnt, u)
      } finally {
        // A lazy unmount means "stop serving this mount" even when fusermount failed: the process
        // can then end, and auto_unmount (or the next mount here) clears what is left.
        if (u.lazy) release()
      }
      release()
    },
    unmounted,
    stats: () => ops.stats(),
  }
}

export interface RunUntilSignalOptions {
  signals?: NodeJS.Signals[]
  /** Where to say why the mount could not simply be unmounted, and who held it (default stderr). */
  report?: (message: string) => void
  /**
   * How long a busy mount gets, after the first signal, for its holders to let go before it is
   * detached lazily (default 3 s). A second signal detaches at once.
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
 * once this process exits, and the report names them again. 0 unless even the lazy detach failed.
 */
export function runUntilSignal(handle: MountHandle, opts: RunUntilSignalOptions = {}): Promise<number> {
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM']
  const report = opts.report ?? ((m: string) => process.stderr.write(m + '\n'))
  const graceMs = opts.busyGraceMs ?? BUSY_GRACE_MS
  const mnt = handle.mountpoint
  let stopping: Promise<void> | undefined
  let ended = false
  let failed = false
  let endGrace: (() => void) | undefined
  let graceTimer: NodeJS.Timeout | undefined

  const detachLazily = async (): Promise<void> => {
    const holders = await findHolders(mnt).catch((): Holder[] => [])
    try {
      await handle.unmount({ lazy: true })
      report(`flickrfs: detached ${mnt} lazily` +
        (holders.length > 0 ? `; still in use by ${describeHolders(holders)}, which lose it when flickrfs exits` : ''))
    } catch (err) {
      failed = true
      report(`flickrfs: could not detach ${mnt} lazily either: ${errorMessage(err)}`)
    }
  }

  /** Never rejects: every failure is reported, and ends in a lazy detach. */
  const stop = async (sig: NodeJS.Signals): Promise<void> => {
    let why: string
    try {
      await handle.unmount()
      return
    } catch (err) {
      why = errorMessage(err)
    }
    if (ended) return
    const holders = await findHolders(mnt).catch((): Holder[] => [])
    report(`flickrfs: ${sig}: ` +
      (holders.length > 0 ? `${mnt} is in use by ${describeHolders(holders)}` : `cannot unmount: ${why}`) +
      `; detaching it lazily in ${Math.round(graceMs / 1000)} s unless it is let go first (send ${sig} again to detach now)`)
    if (ended) return
    await new Promise<void>((res) => {
      endGrace = res
      graceTimer = setTimeout(res, graceMs)
    })
    endGrace = undefined
    // The holders may have let go in the meantime: then a plain unmount leaves nothing behind.
    if (await handle.unmount().then(() => true, () => false)) return
    await detachLazily()
  }

  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log('%s again: detaching %s now', sig, mnt)
      endGrace?.()
      return
    }
    log('%s: unmounting %s', sig, mnt)
    stopping = stop(sig)
  }
  for (const s of signals) process.on(s, onSignal)
  return handle.unmounted.then(async () => {
    // Unmounted from outside during the grace period: nothing left to wait for.
    ended = true
    clearTimeout(graceTimer)
    endGrace?.()
    await stopping
    for (const s of signals) process.off(s, onSignal)
    return failed ? 1 : 0
  })
}
