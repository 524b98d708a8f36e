/**
 * Bytes that come later (`FsBytes.load`, a sidecar whose record is read from disk), through the
 * FUSE ops called directly (no mount): every callback exactly once, the exact bytes, one load
 * shared by concurrent reads, EIO when it fails, an answer when it never comes (deadline, unmount).
 */
import assert from 'node:assert/strict'
import { constants } from 'node:os'
import { describe, test } from 'node:test'
import { FsOps } from '../../src/fs/ops.js'
import type { FuseOps } from '../../src/fs/fuse-binding.js'
import type { FsDir, FsFile, FsNode, FsTree, OriginalReader } from '../../src/fs/types.js'
import { recorder } from './recorder.js'

const E = constants.errno
const TEXT = '{\n  "id": "1",\n  "title": "bytes that come later"\n}\n'

/** A file whose every load is a promise this test settles by hand; each load's signal is kept. */
function laterFile(size = Buffer.byteLength(TEXT)): {
  file: FsFile
  loads: { signal: AbortSignal; resolve: (b: Buffer) => void; reject: (e: Error) => void }[]
} {
  const loads: { signal: AbortSignal; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = []
  const content = {
    type: 'bytes' as const,
    get data(): Buffer {
      throw new Error('data read: the bytes come only through load')
    },
    load(signal: AbortSignal): Promise<Buffer> {
      return new Promise<Buffer>((resolve, reject) => loads.push({ signal, resolve, reject }))
    },
  }
  return { file: { kind: 'file', name: 's.json', mtimeMs: 0, ino: 2, size, content }, loads }
}

function treeOf(file: FsFile): FsTree {
  const root: FsDir = { kind: 'dir', name: '', mtimeMs: 0, ino: 1, children: new Map<string, FsNode>([[file.name, file]]) }
  return { root, lookup: (p) => (p === '/' ? root : root.children.get(p.slice(1))) }
}

const noReader: OriginalReader = { read: () => Promise.reject(new Error('unused')) }

function opsFor(file: FsFile, opts: { readTimeoutMs?: number; fileHandles?: boolean; closing?: AbortSignal } = {}): { ops: FsOps; fuse: FuseOps } {
  const t = treeOf(file)
  const ops = new FsOps({
    tree: () => t,
    originals: noReader,
    owner: { uid: 1, gid: 1 },
    readTimeoutMs: opts.readTimeoutMs ?? 60_000,
    closing: opts.closing ?? new AbortController().signal,
    attrTimeoutMs: 60_000,
    fileHandles: opts.fileHandles ?? true,
  })
  return { ops, fuse: ops.fuseOps() }
}

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function openFh(fuse: FuseOps, path: string): Promise<number> {
  const o = recorder()
  fuse.open!(path, 0, o.cb)
  const [err, fh] = (await o.once) as [number, number]
  assert.equal(err, 0, `open ${path}`)
  return fh
}

/** Starts a read; `answer` is its first answer, `calls` every one, `buf` libfuse's buffer. */
function startRead(fuse: FuseOps, fh: number, pos: number, len: number): { buf: Buffer; r: ReturnType<typeof recorder> } {
  const buf = Buffer.alloc(len)
  const r = recorder()
  fuse.read!('/s.json', fh, buf, len, pos, r.cb)
  return { buf, r }
}

void describe('fs ops: bytes that come later (FsBytes.load)', () => {
  void test('a read waits for the load and answers exactly the bytes, at any offset, once; stat does not wait', async () => {
    for (const fileHandles of [true, false]) {
      const { file, loads } = laterFile()
      const { ops, fuse } = opsFor(file, { fileHandles })
      const st = recorder()
      fuse.getattr!('/s.json', st.cb)
      assert.equal(((await st.once) as [number, { size: number }])[1].size, Buffer.byteLength(TEXT))
      assert.equal(loads.length, 0, 'getattr started a load')
      const fh = fileHandles ? await openFh(fuse, '/s.json') : 0
      const first = startRead(fuse, fh, 0, 8)
      await settle()
      assert.deepEqual(first.r.calls, [], 'answered before the bytes came')
      assert.equal(ops.stats().readsInFlight, 1)
      assert.equal(loads.length, 1)
      loads[0]?.resolve(Buffer.from(TEXT))
      assert.deepEqual(await first.r.once, [8])
      assert.equal(first.buf.toString(), TEXT.slice(0, 8))
      // Later reads of the same version use the bytes already loaded.
      for (const [pos, len] of [[8, 1000], [Buffer.byteLength(TEXT), 64]] as const) {
        const { buf, r } = startRead(fuse, fh, pos, len)
        const [n] = (await r.once) as [number]
        assert.equal(buf.subarray(0, n).toString(), TEXT.slice(pos, pos + len), `${pos}+${len}`)
      }
      await settle()
      assert.equal(first.r.calls.length, 1)
      assert.equal(loads.length, 1, `loaded again (fileHandles ${fileHandles})`)
      assert.equal(ops.stats().readsInFlight, 0)
    }
  })

  void test('concurrent reads of one file, through one handle or several, share one load', async () => {
    const { file, loads } = laterFile()
    const { fuse } = opsFor(file)
    const a = await openFh(fuse, '/s.json')
    const b = await openFh(fuse, '/s.json')
    const reads = [startRead(fuse, a, 0, 4), startRead(fuse, a, 4, 4), startRead(fuse, b, 0, 1000)]
    await settle()
    assert.equal(loads.length, 1, 'each open or read started its own load')
    loads[0]?.resolve(Buffer.from(TEXT))
    const answers = await Promise.all(reads.map((x) => x.r.once))
    assert.deepEqual(answers, [[4], [4], [Buffer.byteLength(TEXT)]])
    assert.equal(reads.map((x, i) => x.buf.subarray(0, answers[i]?.[0] as number).toString()).join('|'), `${TEXT.slice(0, 4)}|${TEXT.slice(4, 8)}|${TEXT}`)
    await settle()
    for (const x of reads) assert.equal(x.r.calls.length, 1)
  })

  void test('a load that fails answers EIO once to every read waiting; the next read loads again', async () => {
    const { file, loads } = laterFile()
    const { ops, fuse } = opsFor(file)
    const fh = await openFh(fuse, '/s.json')
    const reads = [startRead(fuse, fh, 0, 8), startRead(fuse, fh, 8, 8)]
    await settle()
    loads[0]?.reject(new Error('sqlite: disk I/O error'))
    await settle()
    for (const x of reads) assert.deepEqual(x.r.calls, [[-E.EIO]])
    assert.equal(ops.stats().readsInFlight, 0)
    const again = startRead(fuse, fh, 0, 8)
    await settle()
    assert.equal(loads.length, 2, 'a failed load was not tried again')
    loads[1]?.resolve(Buffer.from(TEXT))
    assert.deepEqual(await again.r.once, [8])
    assert.equal(again.buf.toString(), TEXT.slice(0, 8))
  })

  void test('a load that never comes: ETIMEDOUT once at the deadline, the buffer never written after, the next read loads again', async () => {
    const { file, loads } = laterFile()
    const { ops, fuse } = opsFor(file, { readTimeoutMs: 50 })
    const fh = await openFh(fuse, '/s.json')
    const x = startRead(fuse, fh, 0, 8)
    assert.deepEqual(await x.r.once, [-E.ETIMEDOUT])
    assert.equal(loads[0]?.signal.aborted, false, 'the mount is not stopping')
    assert.equal(ops.stats().readsInFlight, 0)
    // The load no read waits for was let go: the next read starts its own.
    const next = startRead(fuse, fh, 0, 8)
    await settle()
    assert.equal(loads.length, 2)
    loads[0]?.resolve(Buffer.from(TEXT))
    await settle()
    assert.deepEqual(x.r.calls, [[-E.ETIMEDOUT]])
    assert.ok(x.buf.equals(Buffer.alloc(8)), 'libfuse\'s buffer was written after the read was answered')
    loads[1]?.resolve(Buffer.from(TEXT))
    assert.deepEqual(await next.r.once, [8])
    assert.equal(next.buf.toString(), TEXT.slice(0, 8))
  })

  void test('a load still pending when the mount stops: every waiting read answers once, the load\'s signal aborts', async () => {
    for (const fileHandles of [true, false]) {
      const closing = new AbortController()
      const { file, loads } = laterFile()
      const { ops, fuse } = opsFor(file, { closing: closing.signal, fileHandles })
      const fh = fileHandles ? await openFh(fuse, '/s.json') : 0
      const reads = [startRead(fuse, fh, 0, 8), startRead(fuse, fh, 0, 8)]
      await settle()
      assert.deepEqual(reads.map((x) => x.r.calls.length), [0, 0])
      closing.abort()
      for (const x of reads) assert.deepEqual(await x.r.once, [-E.ETIMEDOUT])
      assert.equal(loads[0]?.signal.aborted, true)
      // A read that comes after the mount stopped answers too, whatever its load does.
      const late = startRead(fuse, fh, 0, 8)
      assert.deepEqual(await late.r.once, [-E.ETIMEDOUT])
      await settle()
      for (const x of [...reads, late]) assert.equal(x.r.calls.length, 1)
      assert.equal(ops.stats().readsInFlight, 0)
    }
  })

  void test('a load that answers at once is served at once, as bytes in memory are (no promise, no deadline)', async () => {
    let loads = 0
    const file: FsFile = {
      kind: 'file', name: 's.json', mtimeMs: 0, ino: 2, size: Buffer.byteLength(TEXT),
      content: { type: 'bytes', get data(): Buffer { throw new Error('data read') }, load: () => (loads++, Buffer.from(TEXT)) },
    }
    for (const fileHandles of [true, false]) {
      const { fuse } = opsFor(file, { fileHandles })
      const fh = fileHandles ? await openFh(fuse, '/s.json') : 0
      const { buf, r } = startRead(fuse, fh, 2, 6)
      assert.deepEqual(r.calls, [[6]], 'not answered before read() returned')
      assert.equal(buf.toString(), TEXT.slice(2, 8))
    }
    assert.equal(loads, 2)
  })
})
