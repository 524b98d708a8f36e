/**
 * Bench-only reference: the least JS per op any filesystem on fuse-native 2.2.6 can have. It mirrors
 * a directory (a pinned DEST, its .flickrfs left out) read once at start into a Map: getattr and
 * readlink answer from it, readdir answers names from it, read is one fs.readSync into libfuse's
 * buffer through an fd opened once per file and never closed. open and release are not offered (libfuse
 * answers them itself, as our offline mount does), and the mount options are flickrfs's own
 * (fuseNativeOptions), so what remains is the binding's own cost per op: bench/mount-backup.ts
 * `--sources dest,floor,offline` backs up DEST, this and `flickrfs mount --offline` side by side.
 *   node --import tsx bench/fuse-floor.ts MOUNTPOINT DIR [VARIANT...]
 * VARIANTs, to see which options move the floor:
 *   attr=N         entry_timeout and attr_timeout N seconds (flickrfs: 60)
 *   noauto_cache   without auto_cache (flickrfs has it)
 *   notimeout      without fuse-native's per-op timers (flickrfs turns them off too)
 *   prestat        getattr hands fuse-native a stat array built once at start, not a stat object
 *                  it converts per call (what src/fs/fuse-binding.ts already does for readdir)
 *   lean           fuse-native's per-op wrapper (argument copies, bind, nextTick) replaced, for
 *                  getattr, readlink, readdir and read, by a handler that calls the op and signals
 *                  libfuse's thread at once (implies notimeout)
 *   ra=KB          after mounting, the mount's read_ahead_kb in /sys/class/bdi (root only): the
 *                  kernel's first read-ahead window grows with it (tar's 10 KiB reads: 32 KiB
 *                  at the default 128, 64 KiB at 1024)
 *   anything else  appended as a libfuse -o option (kernel_cache, max_read=65536, max_readahead=N,
 *                  sync_read, ...)
 * libfuse's `-s` (one thread) is not reachable: fuse-native.c runs fuse_loop_mt unconditionally.
 * Prints "READY" once mounted; unmounts on SIGTERM/SIGINT. Never read the mount from this process.
 */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, writeFileSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { loadFuse, type FuseCallback } from '../src/fs/fuse-binding.js'
import { fsnameHack, fuseNativeOptions } from '../src/fs/mount-options.js'
import { mountOrExit, unmountOnSignals } from './fuse-serve.js'

const [mnt, root, ...variants] = process.argv.slice(2)
if (!mnt || !root) throw new Error('usage: fuse-floor.ts MOUNTPOINT DIR [VARIANT...]')

const ENOENT = -2
const EINVAL = -22

interface Entry {
  stat: Record<string, number>
  /** fuse-native's own stat array form, for `prestat`. */
  wire: Uint32Array | undefined
  target: string | undefined
  names: string[] | undefined
  real: string
}

const entries = new Map<string, Entry>()
/** Requests that reached JS, by op: printed on stderr at exit ("ops {...}"). */
const count = { getattr: 0, readlink: 0, readdir: 0, read: 0 }
const fds = new Map<string, number>()

function statObject(s: Stats): Record<string, number> {
  return {
    mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, nlink: s.nlink, ino: s.ino,
    blksize: 128 * 1024, blocks: s.blocks, atime: s.mtimeMs, mtime: s.mtimeMs, ctime: s.mtimeMs,
  }
}

// fuse-native's getStatArray (index.js), so `prestat` hands over exactly what it would build.
function wireOf(st: Record<string, number>): Uint32Array {
  const a = new Uint32Array(18)
  const put = (i: number, n: number): void => {
    a[i] = n % 4294967296
    a[i + 1] = (n - (a[i] ?? 0)) / 4294967296
  }
  a[0] = st.mode ?? 0
  a[1] = st.uid ?? 0
  a[2] = st.gid ?? 0
  put(3, st.size ?? 0)
  a[5] = 0
  a[6] = st.nlink ?? 1
  a[7] = st.ino ?? 0
  a[8] = 0
  a[9] = st.blksize ?? 0
  put(10, st.blocks ?? 0)
  put(12, st.atime ?? 0)
  put(14, st.mtime ?? 0)
  put(16, st.ctime ?? 0)
  return a
}

function walk(path: string, real: string): void {
  const s = lstatSync(real)
  const stat = statObject(s)
  const e: Entry = { stat, wire: undefined, target: undefined, names: undefined, real }
  if (s.isSymbolicLink()) e.target = readlinkSync(real)
  if (s.isDirectory()) {
    e.names = readdirSync(real).filter((n) => !(path === '/' && n === '.flickrfs')).sort()
    for (const n of e.names) walk(path === '/' ? `/${n}` : `${path}/${n}`, join(real, n))
  }
  entries.set(path, e)
}
walk('/', root)

const opts = fuseNativeOptions({ attrTimeoutSec: 60, negativeTimeoutSec: 10, allowOther: false, autoUnmount: true, debug: false, readTimeoutMs: 25_000 })
const extra: string[] = []
let prestat = false
let lean = false
let readAheadKb: string | undefined
for (const v of variants) {
  if (v.startsWith('attr=')) {
    // fuse-native leaves a 0 out (libfuse's default is then 1 s), and its own come after fsname.
    delete opts.attrTimeout
    delete opts.entryTimeout
    extra.push(`entry_timeout=${v.slice(5)}`, `attr_timeout=${v.slice(5)}`)
  } else if (v === 'noauto_cache') opts.autoCache = false
  else if (v === 'notimeout') opts.timeout = false
  else if (v === 'prestat') prestat = true
  else if (v.startsWith('ra=')) readAheadKb = v.slice(3)
  else if (v === 'lean') {
    lean = true
    opts.timeout = false
  }
  else if (v === 'kernel_cache') {
    opts.autoCache = false
    extra.push(v)
  } else extra.push(v)
}
opts.fsname = [fsnameHack(10), ...extra].join(',')
if (prestat || lean) for (const e of entries.values()) e.wire = wireOf(e.stat)

const { Fuse, binding } = loadFuse()
if (prestat) {
  count.getattr = NaN // not counted on this path
  const proto = Fuse.prototype as unknown as { _op_getattr: (signal: FuseCallback, path: string) => void }
  proto._op_getattr = function (signal, path) {
    const e = entries.get(path)
    if (e === undefined) return signal(ENOENT, wireOf({}))
    return signal(0, e.wire)
  }
}
const fuse = new Fuse(mnt, {
  init: (cb: FuseCallback) => cb(0),
  getattr: (path: string, cb: FuseCallback) => {
    count.getattr++
    const e = entries.get(path)
    return e === undefined ? cb(ENOENT) : cb(0, e.stat)
  },
  readdir: (path: string, cb: FuseCallback) => {
    count.readdir++
    const e = entries.get(path)
    return e?.names === undefined ? cb(ENOENT) : cb(0, e.names)
  },
  readlink: (path: string, cb: FuseCallback) => {
    count.readlink++
    const e = entries.get(path)
    return e?.target === undefined ? cb(EINVAL) : cb(0, e.target)
  },
  read: (path: string, _fh: number, buf: Buffer, len: number, pos: number, cb: FuseCallback) => {
    count.read++
    let fd = fds.get(path)
    if (fd === undefined) {
      const e = entries.get(path)
      if (e === undefined) return cb(ENOENT)
      fd = openSync(e.real, 'r')
      fds.set(path, fd)
    }
    return cb(readSync(fd, buf, 0, len, pos))
  },
}, opts)

if (lean) leanHandlers(fuse as unknown as { _handlers: FuseCallback[] }, binding as unknown as Record<string, unknown>)

/**
 * fuse-native's handler per op (index.js makeHandler) copies the arguments twice, binds the
 * signal, and defers it with process.nextTick; these call the op and signal at once, with what
 * fuse-native's own `_op_*` and `signal` would pass. Bench only.
 */
function leanHandlers(f: { _handlers: FuseCallback[] }, b: Record<string, unknown>): void {
  const op = (name: string): number => b[`op_${name}`] as number
  const sig = (name: string): FuseCallback => b[`fuse_native_signal_${name}`] as FuseCallback
  const [getattr, readlink, readdir, read] = [sig('getattr'), sig('readlink'), sig('readdir'), sig('read')]
  const none = wireOf({})
  f._handlers[op('getattr')] = (h: unknown, _op: number, path: string) => {
    count.getattr++
    const e = entries.get(path)
    if (e === undefined) return getattr(h, ENOENT, none)
    return getattr(h, 0, e.wire ?? wireOf(e.stat))
  }
  f._handlers[op('readlink')] = (h: unknown, _op: number, path: string) => {
    count.readlink++
    const e = entries.get(path)
    return e?.target === undefined ? readlink(h, EINVAL, '') : readlink(h, 0, e.target)
  }
  f._handlers[op('readdir')] = (h: unknown, _op: number, path: string) => {
    count.readdir++
    const e = entries.get(path)
    return e?.names === undefined ? readdir(h, ENOENT, [], []) : readdir(h, 0, e.names, [])
  }
  f._handlers[op('read')] = (h: unknown, _op: number, path: string, _fd: number, buf: Buffer, len: number, lo: number, hi: number) => {
    count.read++
    let fd = fds.get(path)
    if (fd === undefined) {
      const e = entries.get(path)
      if (e === undefined) return read(h, ENOENT, 0, buf.buffer)
      fd = openSync(e.real, 'r')
      fds.set(path, fd)
    }
    return read(h, readSync(fd, buf, 0, len, lo + hi * 4294967296), 0, buf.buffer)
  }
}

mountOrExit(fuse, () => {
  if (readAheadKb !== undefined) {
    // The mount's own device names its backing_dev_info; never stat the mount from this process.
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt)
    const dev = line?.split(' ')[2]
    if (dev === undefined) throw new Error(`no mountinfo line for ${mnt}`)
    writeFileSync(`/sys/class/bdi/${dev}/read_ahead_kb`, readAheadKb)
  }
  return `READY ${entries.size} entries, -o ${opts.fsname}`
})
unmountOnSignals(mnt, fuse, binding, () => {
  process.stderr.write(`ops ${JSON.stringify(count)}\n`)
  for (const fd of fds.values()) closeSync(fd)
})
