/**
 * Bench-only reference: the cheapest read path fuse-native allows. Serves one file, /big, of SIZE
 * bytes from a Buffer allocated once, answering every read synchronously (no timer, no promise, no
 * I/O), with flickrfs's own mount options so fuse-native's per-op costs are the same. Prints
 * "READY" once mounted; unmounts on SIGTERM/SIGINT. Never read it from this process.
 *   node --import tsx bench/trivial-read-server.ts MOUNTPOINT SIZE
 */
import { randomFillSync } from 'node:crypto'
import { loadFuse, type FuseCallback } from '../src/fs/fuse-binding.js'
import { fuseNativeOptions } from '../src/fs/mount-options.js'
import { mountOrExit, unmountOnSignals } from './fuse-serve.js'

const [mnt, sizeArg] = process.argv.slice(2)
if (!mnt || !sizeArg) throw new Error('usage: trivial-read-server.ts MOUNTPOINT SIZE')
const data = randomFillSync(Buffer.allocUnsafe(Number(sizeArg)))
const uid = process.getuid?.() ?? 0
const gid = process.getgid?.() ?? 0
const when = new Date(1_700_000_000_000)
const ENOENT = -2
const stat = (mode: number, size: number): Record<string, unknown> => ({
  mtime: when, atime: when, ctime: when, size, blocks: Math.ceil(size / 512), mode, uid, gid, nlink: mode & 0o040000 ? 2 : 1, ino: mode & 0o040000 ? 1 : 2,
})

const { Fuse, binding } = loadFuse()
const fuse = new Fuse(mnt, {
  init: (cb: FuseCallback) => cb(0),
  getattr: (path: string, cb: FuseCallback) => {
    if (path === '/') return cb(0, stat(0o040555, 4096))
    if (path === '/big') return cb(0, stat(0o100444, data.length))
    return cb(ENOENT)
  },
  readdir: (path: string, cb: FuseCallback) => (path === '/' ? cb(0, ['big']) : cb(ENOENT)),
  open: (_path: string, _flags: number, cb: FuseCallback) => cb(0, 1),
  release: (_path: string, _fh: number, cb: FuseCallback) => cb(0),
  read: (_path: string, _fh: number, buf: Buffer, len: number, pos: number, cb: FuseCallback) => {
    if (pos >= data.length) return cb(0)
    return cb(data.copy(buf, 0, pos, Math.min(pos + len, data.length)))
  },
}, fuseNativeOptions({ attrTimeoutSec: 60, negativeTimeoutSec: 10, allowOther: false, autoUnmount: true, debug: false, readTimeoutMs: 60_000 }))

mountOrExit(fuse, () => 'READY')
unmountOnSignals(mnt, fuse, binding)
