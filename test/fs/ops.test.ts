/** The FUSE ops adapter called directly (no mount): every callback exactly once, right errno, buffers safe. */
import assert from 'node:assert/strict'
import { constants as fsConstants } from 'node:fs'
import { constants } from 'node:os'
import { describe, test } from 'node:test'
import type { MediaEntry } from '../../src/catalog/types.js'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { toNegErrno, FsErrno } from '../../src/fs/errno.js'
import { fsnameHack, fuseNativeOptions } from '../../src/fs/mount-options.js'
import { FsOps, type FsOpsStats } from '../../src/fs/ops.js'
import type { FuseOps } from '../../src/fs/fuse-binding.js'
import type { FsDir, FsFile, FsNode, FsTree, OriginalReader } from '../../src/fs/types.js'
import { buildTree } from './fixture.js'
import { recorder } from './recorder.js'

const E = constants.errno

async function tree(): Promise<FsTree> {
  return buildTree(
    {
      a: { dir: { 'f.txt': { text: 'hello' }, 'o.jpg': { original: 'o', ext: 'jpg', size: 10 }, l: { link: '../a/f.txt' } } },
      d: { many: { count: 3, text: 'x' } },
    },
    '/nonexistent',
  )
}

async function makeOps(originals: OriginalReader, readTimeoutMs = 200): Promise<FuseOps> {
  const t = await tree()
  return new FsOps({
    tree: () => t,
    originals,
    owner: { uid: 1234, gid: 5678 },
    readTimeoutMs,
    closing: new AbortController().signal,
    attrTimeoutMs: 60_000,
  })
}

/** Opens `path` read-only through the ops and returns the file handle it answered. */
async function openFh(ops: FuseOps, path: string): Promise<number> {
  const o = recorder()
  ops.open!(path, 0, o.cb)
  const [err, fh] = (await o.once) as [number, number]
  assert.equal(err, 0, `open ${path}`)
  return fh
}

const noReader: OriginalReader = { read: () => Promise.reject(new Error('unused')) }
const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms))

void describe('fs ops adapter', () => {
  void test('getattr: stat of each kind, ENOENT once for a missing path', async () => {
    const ops = await makeOps(noReader)
    const r = recorder()
    ops.getattr!('/a/f.txt', r.cb)
    const [err, st] = (await r.once) as [number, Record<string, number>]
    assert.equal(err, 0)
    assert.equal(st.size, 5)
    assert.equal(st.blocks, 1)
    assert.equal(st.mode, 0o100644)
    assert.equal(st.uid, 1234)
    assert.equal(st.gid, 5678)
    const m = recorder()
    ops.getattr!('/a/nope', m.cb)
    await settle()
    assert.deepEqual(m.calls, [[-E.ENOENT]])
    const l = recorder()
    ops.getattr!('/a/l', l.cb)
    assert.equal(((await l.once)[1] as { mode: number; size: number }).mode, 0o120777)
    const d = recorder()
    ops.getattr!('/', d.cb)
    assert.equal(((await d.once)[1] as { nlink: number }).nlink, 4)
  })

  void test('readdir lists . and .. first, then names in tree order, with d_type modes', async () => {
    const ops = await makeOps(noReader)
    const r = recorder()
    ops.readdir!('/d', r.cb)
    const [err, names, stats] = (await r.once) as [number, string[], { mode: number; ino: number }[]]
    assert.equal(err, 0)
    assert.deepEqual(names, ['.', '..', '0.txt', '1.txt', '2.txt'])
    assert.equal(stats.length, names.length)
    assert.equal(stats[2]?.mode, 0o100644)
    const f = recorder()
    ops.readdir!('/a/f.txt', f.cb)
    await settle()
    assert.deepEqual(f.calls, [[-E.ENOTDIR]])
  })

  void test('open for writing is EROFS; every mutating op answers EROFS once', async () => {
    const ops = await makeOps(noReader)
    for (const flags of [fsConstants.O_WRONLY, fsConstants.O_RDWR, fsConstants.O_RDONLY | fsConstants.O_TRUNC]) {
      const r = recorder()
      ops.open!('/a/f.txt', flags, r.cb)
      await settle(5)
      assert.deepEqual(r.calls, [[-E.EROFS]], `flags ${flags}`)
    }
    const calls: [string, unknown[]][] = [
      ['unlink', ['/a/f.txt']],
      ['mkdir', ['/x', 0o755]],
      ['rename', ['/a/f.txt', '/a/g']],
      ['chmod', ['/a/f.txt', 0o777]],
      ['truncate', ['/a/f.txt', 0]],
      ['create', ['/n', 0o644]],
      ['symlink', ['/a', '/b']],
      ['setxattr', ['/a', 'user.x', Buffer.from('1'), 0, 0]],
    ]
    for (const [name, args] of calls) {
      const r = recorder()
      ;(ops as unknown as Record<string, ((...a: unknown[]) => void) | undefined>)[name]!(...args, r.cb)
      assert.deepEqual(r.calls, [[-E.EROFS]], name)
    }
  })

  void test('read answers cb(bytes) for bytes content and cb(0) at EOF', async () => {
    const ops = await makeOps(noReader)
    const fh = await openFh(ops, '/a/f.txt')
    const buf = Buffer.alloc(3)
    const r = recorder()
    ops.read!('/a/f.txt', fh, buf, 3, 2, r.cb)
    assert.deepEqual(await r.once, [3])
    assert.equal(buf.toString(), 'llo')
    const e = recorder()
    ops.read!('/a/f.txt', fh, buf, 3, 5, e.cb)
    assert.deepEqual(await e.once, [0])
  })

  void test('originals: short reads are completed, errors become EIO, a late answer never touches the buffer', async () => {
    const data = Buffer.from('0123456789')
    let late: ((b: Buffer) => void) | undefined
    const reader: OriginalReader = {
      read(m: MediaEntry, pos: number, len: number, signal?: AbortSignal) {
        assert.equal(m.id, 'o')
        if (pos === 8 && len === 2) return new Promise((res) => (late = res))
        if (pos === 6) return Promise.reject(new FlickrfsError('NETWORK', 'down'))
        if (pos === 4) throw new Error('sync throw')
        assert.ok(signal instanceof AbortSignal)
        return Promise.resolve(data.subarray(pos, pos + Math.min(len, 2))) // always short
      },
    }
    const ops = await makeOps(reader, 100)
    const fh = await openFh(ops, '/a/o.jpg')

    const full = Buffer.alloc(4)
    const r1 = recorder()
    ops.read!('/a/o.jpg', fh, full, 4, 0, r1.cb)
    assert.deepEqual(await r1.once, [4])
    assert.equal(full.toString(), '0123')

    const r2 = recorder()
    ops.read!('/a/o.jpg', fh, Buffer.alloc(2), 2, 6, r2.cb)
    assert.deepEqual(await r2.once, [-E.EIO])
    const r3 = recorder()
    ops.read!('/a/o.jpg', fh, Buffer.alloc(2), 2, 4, r3.cb)
    assert.deepEqual(await r3.once, [-E.EIO])

    const fuseBuf = Buffer.alloc(2, 0xee)
    const r4 = recorder()
    ops.read!('/a/o.jpg', fh, fuseBuf, 100, 8, r4.cb)
    assert.deepEqual(await r4.once, [-E.ETIMEDOUT])
    late?.(Buffer.from('89'))
    await settle()
    assert.deepEqual(fuseBuf, Buffer.alloc(2, 0xee), 'buffer written after the op settled')
    for (const r of [r1, r2, r3, r4]) assert.equal(r.calls.length, 1)

    const eof = recorder()
    ops.read!('/a/o.jpg', fh, Buffer.alloc(2), 2, 10, eof.cb)
    assert.deepEqual(await eof.once, [0])
    const rel = recorder()
    ops.release!('/a/o.jpg', fh, rel.cb)
    assert.deepEqual(await rel.once, [0])
  })

  void test('originals on local disk: answered by readLocal exactly once, the buffer safe after a timeout or an unmount', async () => {
    const data = Buffer.from('0123456789')
    const closing = new AbortController()
    let late: ((err: Error | null, b: Buffer | undefined) => void) | undefined
    const promiseReads: number[] = []
    const reader: OriginalReader = {
      read(_m: MediaEntry, pos: number, len: number) {
        promiseReads.push(pos)
        return Promise.resolve(data.subarray(pos, pos + len))
      },
      readLocal(_m: MediaEntry, pos: number, len: number, done: (err: Error | null, b: Buffer | undefined) => void) {
        if (pos === 9) return false
        if (pos === 8) {
          late = done
          return true
        }
        setImmediate(() => {
          if (pos === 6) done(Object.assign(new Error('disk'), { code: 'EIO' }), undefined)
          else if (pos === 4) done(null, data.subarray(pos, pos + 1)) // short: the file ended early?
          else done(null, data.subarray(pos, pos + len))
        })
        return true
      },
    }
    const t = await tree()
    const fsOps = new FsOps({ tree: () => t, originals: reader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 100, closing: closing.signal, attrTimeoutMs: 60_000 })
    const ops: FuseOps = fsOps
    const stats = (): FsOpsStats => fsOps.stats()
    const fh = await openFh(ops, '/a/o.jpg')
    const readAt = async (pos: number, len: number, buf = Buffer.alloc(len)): Promise<{ r: ReturnType<typeof recorder>; buf: Buffer }> => {
      const r = recorder()
      ops.read!('/a/o.jpg', fh, buf, len, pos, r.cb)
      await r.once
      return { r, buf }
    }

    const local = await readAt(2, 2)
    assert.deepEqual(local.r.calls, [[2]])
    assert.equal(local.buf.toString(), '23')
    assert.deepEqual(promiseReads, [], 'not through read()')
    // Short from readLocal: read() is asked for the whole range instead.
    const short = await readAt(4, 2)
    assert.deepEqual(short.r.calls, [[2]])
    assert.equal(short.buf.toString(), '45')
    assert.deepEqual(promiseReads, [4])
    assert.deepEqual((await readAt(6, 2)).r.calls, [[-E.EIO]])
    const declined = await readAt(9, 1)
    assert.deepEqual(declined.r.calls, [[1]])
    assert.equal(declined.buf.toString(), '9')

    // Stalled: the deadline answers, and the late bytes never reach the FUSE buffer.
    const stalled = await readAt(8, 1, Buffer.alloc(1, 0xee))
    assert.deepEqual(stalled.r.calls, [[-E.ETIMEDOUT]])
    late?.(null, Buffer.from('8'))
    await settle()
    assert.deepEqual(stalled.buf, Buffer.alloc(1, 0xee))
    assert.deepEqual(stalled.r.calls, [[-E.ETIMEDOUT]])

    // Unmount: a local read in flight is answered at once, and only once.
    const r = recorder()
    const fuseBuf = Buffer.alloc(1, 0xee)
    ops.read!('/a/o.jpg', fh, fuseBuf, 1, 8, r.cb)
    assert.equal(stats().readsInFlight, 1)
    const t0 = performance.now()
    closing.abort()
    assert.deepEqual(await r.once, [-E.ETIMEDOUT])
    assert.ok(performance.now() - t0 < 50)
    late?.(null, Buffer.from('8'))
    await settle(150)
    assert.deepEqual(r.calls, [[-E.ETIMEDOUT]])
    assert.deepEqual(fuseBuf, Buffer.alloc(1, 0xee))
    assert.equal(stats().readsInFlight, 0)
  })

  void test('offers fuse-native exactly the ops it serves (fuse-native registers every op name it finds)', async () => {
    // fuse-native 2.2.6's op names (index.js, OpcodesAndDefaults).
    const all = ['init', 'error', 'access', 'statfs', 'fgetattr', 'getattr', 'flush', 'fsync', 'fsyncdir', 'readdir', 'truncate',
      'ftruncate', 'utimens', 'readlink', 'chown', 'chmod', 'mknod', 'setxattr', 'getxattr', 'listxattr', 'removexattr', 'open',
      'opendir', 'read', 'write', 'release', 'releasedir', 'create', 'unlink', 'rename', 'link', 'symlink', 'mkdir', 'rmdir']
    const ops = (await makeOps(noReader)) as unknown as Record<string, unknown>
    const offered = all.filter((name) => typeof ops[name] === 'function')
    // Not fgetattr: libfuse answers it with getattr of the path.
    assert.deepEqual(offered, ['init', 'statfs', 'getattr', 'readdir', 'truncate', 'ftruncate', 'utimens', 'readlink', 'chown',
      'chmod', 'mknod', 'setxattr', 'removexattr', 'open', 'read', 'write', 'release', 'create', 'unlink', 'rename', 'link', 'symlink',
      'mkdir', 'rmdir'])
  })

  void test('without file handles: open and release are left to libfuse, reads by path serve what stat told, a sidecar is built once', async () => {
    const builds: string[] = []
    const sidecar = (name: string, text: string, ino: number): FsFile => ({
      kind: 'file', name, mtimeMs: 0, ino, size: Buffer.byteLength(text),
      content: { type: 'bytes', get data() { builds.push(text); return Buffer.from(text) } },
    })
    const media = { id: 'o', size: 10 } as MediaEntry
    const treeOf = (s: FsFile): FsTree => {
      const children = new Map<string, FsNode>([
        [s.name, s],
        ['o.jpg', { kind: 'file', name: 'o.jpg', mtimeMs: 0, ino: 9, size: 10, content: { type: 'original', media } }],
      ])
      const root: FsDir = { kind: 'dir', name: '', mtimeMs: 0, ino: 1, children }
      return { root, lookup: (p) => (p === '/' ? root : children.get(p.slice(1))) }
    }
    let current = treeOf(sidecar('s.json', 'version one', 5))
    const reads: number[] = []
    const ops = new FsOps({
      tree: () => current,
      originals: { read: (_m, pos, len) => (reads.push(pos), Promise.resolve(Buffer.from('0123456789').subarray(pos, pos + len))) },
      owner: { uid: 1, gid: 1 },
      readTimeoutMs: 1000,
      closing: new AbortController().signal,
      attrTimeoutMs: 60_000,
      fileHandles: false,
    })
    const fuse = ops.fuseOps() as unknown as Record<string, unknown>
    assert.equal(fuse.open, undefined)
    assert.equal(fuse.release, undefined)
    for (const name of ['getattr', 'readdir', 'read', 'readlink', 'statfs']) assert.equal(typeof fuse[name], 'function', name)
    const f = fuse as FuseOps
    const read = async (path: string, pos: number, len: number): Promise<string> => {
      const buf = Buffer.alloc(len)
      const r = recorder()
      f.read!(path, 0, buf, len, pos, r.cb)
      const [n] = (await r.once) as [number]
      await settle(5)
      assert.equal(r.calls.length, 1)
      return buf.subarray(0, n).toString()
    }
    const st = recorder()
    f.getattr!('/s.json', st.cb)
    assert.equal(((await st.once) as [number, { size: number }])[1].size, 11)
    assert.equal(await read('/s.json', 0, 4), 'vers')
    assert.equal(await read('/s.json', 4, 100), 'ion one')
    assert.equal(await read('/s.json', 11, 100), '')
    assert.deepEqual(builds, ['version one'], 'the bytes were built more than once for one version')
    assert.equal(await read('/o.jpg', 2, 5), '23456')
    assert.deepEqual(reads, [2])
    // A new tree: the kernel still believes the size it was told, so the old version is served whole…
    current = treeOf(sidecar('s.json', 'version two, longer', 5))
    assert.equal(await read('/s.json', 0, 100), 'version one')
    // …until it asks again.
    const st2 = recorder()
    f.getattr!('/s.json', st2.cb)
    assert.equal(((await st2.once) as [number, { size: number }])[1].size, 19)
    assert.equal(await read('/s.json', 0, 100), 'version two, longer')
    assert.deepEqual(builds, ['version one', 'version two, longer'])
    const missing = recorder()
    f.read!('/nope', 0, Buffer.alloc(1), 1, 0, missing.cb)
    assert.deepEqual(await missing.once, [-E.ENOENT])
    assert.equal(ops.stats().openFiles, 0)
  })

  void test('syncLocalReads: an original on local disk is answered at once into the buffer, else by the async paths', async () => {
    const data = Buffer.from('0123456789')
    const asyncReads: number[] = []
    const reader: OriginalReader = {
      read(_m: MediaEntry, pos: number, len: number) {
        asyncReads.push(pos)
        return Promise.resolve(data.subarray(pos, pos + len))
      },
      readLocalSync(_m: MediaEntry, pos: number, len: number, into: Buffer) {
        if (pos === 5) return undefined // not on disk
        if (pos === 7) return data.copy(into, 0, pos, pos + 1) // short: the async path reads again
        return data.copy(into, 0, pos, pos + len)
      },
    }
    const t = await tree()
    const ops = new FsOps({ tree: () => t, originals: reader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 1000, closing: new AbortController().signal, attrTimeoutMs: 60_000, syncLocalReads: true })
    const fh = await openFh(ops, '/a/o.jpg')
    const buf = Buffer.alloc(4)
    const r = recorder()
    ops.read('/a/o.jpg', fh, buf, 4, 0, r.cb)
    assert.deepEqual(r.calls, [[4]], 'not answered before read() returned')
    assert.equal(buf.toString(), '0123')
    for (const pos of [5, 7]) {
      const b = Buffer.alloc(3)
      const a = recorder()
      ops.read('/a/o.jpg', fh, b, 3, pos, a.cb)
      assert.deepEqual(await a.once, [3])
      assert.equal(b.toString(), data.subarray(pos, pos + 3).toString())
    }
    await settle()
    assert.deepEqual(asyncReads, [5, 7])
    assert.equal(ops.stats().readsInFlight, 0)
  })

  void test('static tree: a sidecar whose size comes from its bytes is built once for its getattr and its reads', async () => {
    const builds: number[] = []
    const text = '{"title": "a sidecar"}\n'
    // As the layout's JSON files do: the size is measured by building the bytes, and remembered.
    let size = -1
    const content = { type: 'bytes' as const, get data() { builds.push(1); size = Buffer.byteLength(text); return Buffer.from(text) } }
    const sidecar: FsFile = { kind: 'file', name: 's.json', mtimeMs: 0, ino: 2, content, get size() { return size < 0 ? content.data.length : size } }
    const root: FsDir = { kind: 'dir', name: '', mtimeMs: 0, ino: 1, children: new Map<string, FsNode>([['s.json', sidecar]]) }
    const t: FsTree = { root, lookup: (p) => (p === '/' ? root : root.children.get(p.slice(1))) }
    const base = { tree: () => t, originals: noReader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 1000, closing: new AbortController().signal, attrTimeoutMs: 60_000, fileHandles: false }
    const f = new FsOps({ ...base, staticTree: true }).fuseOps()
    const st = recorder()
    f.getattr!('/s.json', st.cb)
    assert.equal(((await st.once) as [number, { size: number }])[1].size, text.length)
    for (const [pos, len] of [[0, 8], [8, 64], [text.length, 64]] as const) {
      const buf = Buffer.alloc(len)
      const r = recorder()
      f.read!('/s.json', 0, buf, len, pos, r.cb)
      const [n] = (await r.once) as [number]
      assert.equal(buf.subarray(0, n).toString(), text.slice(pos, pos + len))
    }
    assert.equal(builds.length, 1, 'the sidecar was built again after the getattr that sized it')
  })

  void test('fuse-native per-op timers: on by default in the options, off when a mount asks (every mount does: its ops answer before returning, or under its own read deadline)', () => {
    const o = { attrTimeoutSec: 60, negativeTimeoutSec: 10, allowOther: false, autoUnmount: true, debug: false, readTimeoutMs: 25_000 }
    assert.deepEqual(fuseNativeOptions(o).timeout, { default: 15_000, read: 30_000 })
    assert.equal(fuseNativeOptions({ ...o, opTimeouts: false }).timeout, false)
  })

  void test('statfs is answered from the tree, read-only', async () => {
    const ops = await makeOps(noReader)
    const r = recorder()
    ops.statfs!('/', r.cb)
    const [err, s] = (await r.once) as [number, Record<string, number>]
    assert.equal(err, 0)
    assert.equal(s.blocks, 1)
    assert.equal(s.bfree, 0)
    assert.equal(s.files, 9)
    assert.equal(s.namemax, 255)
  })

  void test('errors map to errno in one place', () => {
    assert.equal(toNegErrno(new FsErrno('ENOENT')), -E.ENOENT)
    assert.equal(toNegErrno(new FlickrfsError('TIMEOUT', 't')), -E.ETIMEDOUT)
    assert.equal(toNegErrno(new FlickrfsError('NO_SPACE', 'n')), -E.ENOSPC)
    assert.equal(toNegErrno(new FlickrfsError('NETWORK', 'n')), -E.EIO)
    assert.equal(toNegErrno(Object.assign(new Error('x'), { code: 'ENOENT' })), -E.EIO)
    assert.equal(toNegErrno('weird'), -E.EIO)
  })

  void test('the libfuse options ride in fsname (pinned to fuse-native 2.2.6)', () => {
    assert.equal(fsnameHack(10), 'flickrfs,ro,use_ino,negative_timeout=10,max_background=64,congestion_threshold=48')
  })
})
