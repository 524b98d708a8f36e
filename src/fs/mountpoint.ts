import createDebug from '../util/debug.js'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { readFile, readdir, readlink, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { errnoCode } from '../util/fs-errors.js'
import { errorMessage } from '../util/abort.js'

const log = createDebug('flickrfs:fs')

export type MountpointState = 'ready' | 'stale'

interface MountEntry {
  mountpoint: string
  fstype: string
  source: string
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

/**
 * Read synchronously: /proc is never the mount, the read never waits on a disk, and the stop of a
 * mount asks it, which must not queue behind libuv's pool (sqlite, downloads' writes) when that is busy.
 */
export function listMounts(): MountEntry[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8')
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const mp = left.split(' ')[4]
    const [fstype, source] = right.split(' ')
    if (mp && fstype) out.push({ mountpoint: unescapeMountinfo(mp), fstype, source: unescapeMountinfo(source ?? '') })
  }
  return out
}

export function mountAt(mnt: string): MountEntry | undefined {
  const abs = resolve(mnt)
  // The last entry wins when mounts are stacked.
  return listMounts().filter((m) => m.mountpoint === abs).pop()
}


/**
 * Says why a mountpoint cannot be used, in words the user can act on. A stale FUSE mount left by
 * a killed flickrfs ("Transport endpoint is not connected") is reported as 'stale', for the caller
 * to clear; everything else that is wrong is a MOUNTPOINT error.
 */
export async function checkMountpoint(mnt: string): Promise<MountpointState> {
  const abs = resolve(mnt)
  let st
  try {
    st = await stat(abs)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOTCONN') return 'stale'
    if (code === 'ENOENT') throw new FlickrfsError('MOUNTPOINT', `mountpoint ${abs} does not exist: create it first (mkdir -p ${abs})`, { cause: err })
    if (code === 'EACCES') throw new FlickrfsError('MOUNTPOINT', `mountpoint ${abs} is not accessible: check its permissions`, { cause: err })
    throw new FlickrfsError('MOUNTPOINT', `cannot use mountpoint ${abs}: ${errorMessage(err)}`, { cause: err })
  }
  if (!st.isDirectory()) throw new FlickrfsError('MOUNTPOINT', `mountpoint ${abs} is not a directory: give an empty directory`)
  const existing = mountAt(abs)
  if (existing) {
    throw new FlickrfsError(
      'MOUNTPOINT',
      `mountpoint ${abs} is already a mount point (${existing.fstype} from ${existing.source}): unmount it first (flickrfs unmount ${abs}) or choose another directory`,
    )
  }
  const entries = await readdir(abs)
  if (entries.length > 0) {
    throw new FlickrfsError('MOUNTPOINT', `mountpoint ${abs} is not empty (${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}): give an empty directory`)
  }
  return 'ready'
}

/** The fusermount children still running (killFusermounts). */
const fusermounts = new Set<ChildProcess>()

function fusermount(args: string[], signal?: AbortSignal): Promise<{ ok: true } | { ok: false; message: string }> {
  return new Promise((res) => {
    const child = execFile('fusermount', args, { timeout: 30_000, ...(signal ? { signal } : {}) }, (err, _stdout, stderr) => {
      fusermounts.delete(child)
      if (!err) return res({ ok: true })
      const message = (stderr || err.message).trim()
      res({ ok: false, message })
    })
    fusermounts.add(child)
  })
}

/**
 * Kills every fusermount this process started that has not ended, before the process gives up on
 * a stop and exits. A child inherits the mount's /dev/fuse descriptor (libfuse 2.9 does not mark it
 * close-on-exec), so a hung fusermount would keep the mount alive after us, and the kernel's
 * auto_unmount would not drop it until that child ended.
 */
export function killFusermounts(): void {
  for (const child of fusermounts) child.kill('SIGKILL')
}

/**
 * What a process about to exit with its mount still up does so that fusermount's auto_unmount
 * watcher drops the mount: it kills the fusermounts (killFusermounts) and leaves a child (node)
 * holding libfuse's socket to the watcher, but not /dev/fuse, until this process and those fusermounts
 * have ended (at most ~10 s).
 *
 * Why: the watcher wakes when the last copy of that socket closes, and unmounts only if opening
 * the mountpoint then fails with ENOTCONN (fusermount3 3.14, and upstream still). At exit the kernel
 * releases a process's files highest fd first, and libfuse 2.9 receives /dev/fuse on the fd it
 * closed just below the socket's, so the socket goes first. A watcher woken by it can preempt the
 * exiting process and open the mountpoint while the connection still lives; when /dev/fuse goes a
 * moment later that open fails with ECONNABORTED instead, the watcher exits, and the mount stays,
 * stale, for good. Seen in ftrace (comm EOF, then the watcher's GETATTR ended -103 by the exiting
 * process 1 ms later) and in 105 of 600 `kill -9`s of a mount on 2 busy cores. The child exits
 * after every copy of /dev/fuse is closed, so the watcher finds the connection aborted.
 */
export function exitingWithMount(): void {
  const pids = [process.pid, ...[...fusermounts].map((c) => c.pid).filter((p): p is number => p !== undefined)]
  killFusermounts()
  let fuseFds: string[]
  try {
    fuseFds = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === '/dev/fuse'
      } catch {
        return false
      }
    })
  } catch {
    return
  }
  if (fuseFds.length === 0) return
  // argv[1]: the /dev/fuse fds to close; argv[2]: the pids to outlive. A process has closed its
  // files once every thread is gone or a zombie: the leader turns zombie first, while the last
  // thread to exit (the one that closes the files) may still run, so each thread is looked at.
  // Node, not sh: dash cannot close an fd above 9.
  const guard = [
    "const fs = require('node:fs')",
    "for (const fd of process.argv[1].split(' ').filter(Boolean)) { try { if (fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/fuse') fs.closeSync(Number(fd)) } catch {} }",
    "const state = (f) => { try { const s = fs.readFileSync(f, 'utf8'); return s[s.lastIndexOf(')') + 2] } catch { return 'X' } }",
    "const alive = (pid) => { try { return fs.readdirSync(`/proc/${pid}/task`).some((t) => !'ZX'.includes(state(`/proc/${pid}/task/${t}/stat`))) } catch { return false } }",
    "const pids = process.argv[2].split(' ').filter(Boolean), end = Date.now() + 10000",
    "const tick = () => { if (Date.now() < end && pids.some(alive)) setTimeout(tick, 20) }",
    'tick()',
  ].join('\n')
  try {
    spawn(process.execPath, ['-e', guard, fuseFds.join(' '), pids.join(' ')], { stdio: 'ignore', detached: true, env: {} }).unref()
  } catch (err) {
    log('could not start the process that outlives this one: %s', errorMessage(err))
  }
}

/**
 * Runs the mount libfuse just failed to do, as fusermount with the same options, and returns what
 * fusermount said (undefined if it said nothing, or mounted this time: then it is unmounted again).
 *
 * Why a second run: Node marks fds 0-2 close-on-exec, and libfuse 2.9 starts fusermount by
 * fork+exec without clearing that, so fusermount (setuid, so glibc reopens its missing fds on
 * /dev/null) writes its reason nowhere. Node has no fcntl to undo the flag around the native call;
 * a re-run after a failure costs nothing on the success path and gives fusermount's own words.
 * _FUSE_COMMFD is the socket fusermount hands the /dev/fuse fd over (spawn's pipes are sockets).
 */
export function fusermountMountMessage(mnt: string, options: string, timeoutMs = 10_000): Promise<string | undefined> {
  const abs = resolve(mnt)
  return new Promise((res) => {
    let child: ChildProcess
    try {
      child = spawn('fusermount', ['-o', options, '--', abs], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        env: { ...process.env, _FUSE_COMMFD: '3' },
        timeout: timeoutMs,
      })
    } catch (err) {
      return res(`fusermount could not be run: ${errorMessage(err)}`)
    }
    let stderr = ''
    let mounted = false
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    // fusermount sends the /dev/fuse fd over the socket only once it has mounted. With auto_unmount
    // it then waits for our end to close before it unmounts and exits, so close it at once.
    child.stdio[3]?.on('data', () => {
      mounted = true
      child.stdio[3]?.destroy()
    })
    child.on('error', (err) => res(`fusermount could not be run: ${err.message}`))
    child.on('close', () => {
      child.stdio[3]?.destroy()
      if (!mounted) {
        const said = stderr.trim().split('\n').map((l) => l.trim()).filter(Boolean).join('; ')
        return res(said || undefined)
      }
      log('fusermount mounted %s on the re-run; unmounting it', abs)
      void Promise.resolve()
        .then(() => (mountAt(abs) ? fusermount(['-u', '-z', abs]) : undefined))
        .then(
          () => res(undefined),
          () => res(undefined),
        )
    })
  })
}

export interface Holder {
  pid: number
  command: string
  /** What it holds: 'cwd', 'root', 'mmap', or 'open <path>'. */
  what: string
}

/** Processes using something under `mnt`, found with readlink in /proc only (never touching the mount). */
export async function findHolders(mnt: string): Promise<Holder[]> {
  const abs = resolve(mnt)
  const inside = (p: string): boolean => p === abs || p.startsWith(abs + '/')
  const out: Holder[] = []
  let pids: string[]
  try {
    pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n))
  } catch {
    return out
  }
  for (const pid of pids) {
    const held: string[] = []
    const base = `/proc/${pid}`
    for (const link of ['cwd', 'root']) {
      const target = await readlink(`${base}/${link}`).catch(() => '')
      if (inside(target)) held.push(link)
    }
    const fds = await readdir(`${base}/fd`).catch(() => [] as string[])
    for (const fd of fds) {
      const target = await readlink(`${base}/fd/${fd}`).catch(() => '')
      if (inside(target)) held.push(`open ${target}`)
    }
    const maps = await readFile(`${base}/maps`, 'utf8').catch(() => '')
    const mapped = maps.split('\n').some((l) => {
      const at = l.indexOf('/')
      return at >= 0 && inside(l.slice(at).trim())
    })
    if (mapped) held.push('mmap')
    if (held.length === 0) continue
    const command = (await readFile(`${base}/comm`, 'utf8').catch(() => '?')).trim()
    for (const what of held) out.push({ pid: Number(pid), command, what })
  }
  return out
}

export function describeHolders(holders: Holder[]): string {
  const byPid = new Map<number, Holder[]>()
  for (const h of holders) byPid.set(h.pid, [...(byPid.get(h.pid) ?? []), h])
  return [...byPid.values()]
    .slice(0, 10)
    .map((hs) => `pid ${hs[0]?.pid} (${hs[0]?.command}: ${hs.map((h) => h.what).slice(0, 3).join(', ')})`)
    .join('; ')
}

/**
 * Unmounts `mnt`, never lazily by surprise: a busy mount stays mounted and the error names the
 * processes holding it. `lazy` detaches even when busy (those processes then see ENOTCONN).
 * `signal` kills the fusermount when its answer is no longer awaited.
 */
export async function unmountPath(mnt: string, opts: { lazy?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  const abs = resolve(mnt)
  if (!mountAt(abs)) throw new FlickrfsError('MOUNTPOINT', `${abs} is not mounted`)
  const res = await fusermount(opts.lazy ? ['-u', '-z', abs] : ['-u', abs], opts.signal)
  if (res.ok) return
  if (/busy/i.test(res.message)) {
    const holders = await findHolders(abs)
    const who = holders.length > 0 ? `in use by ${describeHolders(holders)}` : 'in use (no holder found in /proc)'
    throw new FlickrfsError(
      'MOUNTPOINT',
      `cannot unmount ${abs}: it is ${who}. Close them (or cd out) and retry, or detach it anyway with flickrfs unmount --lazy ${abs}`,
    )
  }
  throw new FlickrfsError('FUSE', `cannot unmount ${abs}: ${res.message}`)
}

/** Clears a FUSE mount whose server is gone, so the next mount can use the directory. */
export async function clearStaleMount(mnt: string): Promise<void> {
  const abs = resolve(mnt)
  log('clearing stale mount at %s', abs)
  // Nobody can use a dead mount any more, so a lazy detach loses nothing when the plain one is busy.
  const plain = await fusermount(['-u', abs])
  if (!plain.ok) {
    const lazy = await fusermount(['-u', '-z', abs])
    if (!lazy.ok) {
      throw new FlickrfsError(
        'MOUNTPOINT',
        `mountpoint ${abs} holds a stale mount ("Transport endpoint is not connected") that could not be cleared: ${lazy.message}. Run fusermount -uz ${abs}`,
      )
    }
  }
}
