/**
 * Stat never loads a sidecar whose size the catalog stored: over a layout whose view answers
 * records with promises (as rows on disk will, each one a query) and sizes from a stored column,
 * the real FsOps of an online mount and of an offline one (static tree, no file handles) answer
 * getattr of every path, readdir of every folder and statfs without asking for one record; a read
 * of a sidecar then asks once, for the exact bytes. Over the snapshot (no stored size) an offline
 * mount still builds a sidecar once, at the getattr that measures it, for its reads too.
 */
import assert from 'node:assert/strict'
import { posix } from 'node:path'
import { describe, test } from 'node:test'
import { snapshotView, type CatalogSnapshot, type CatalogView } from '../../src/catalog/index.js'
import type { FuseOps } from '../../src/fs/fuse-binding.js'
import { FsOps, type OpsContext } from '../../src/fs/ops.js'
import type { OriginalReader } from '../../src/fs/types.js'
import { buildLayout, type Layout } from '../../src/layout/index.js'
import { collectionEntry, photoSpecs, setEntry, snapshot } from '../layout/fixture.js'
import { laterView } from '../support/later-view.js'
import { recorder } from './recorder.js'

const noReader: OriginalReader = { read: () => Promise.reject(new Error('no original is read here')) }

/** The FsOps options mount.ts sets for each kind of mount. */
const MOUNTS: Record<string, Partial<OpsContext>> = {
  online: {},
  offline: { fileHandles: false, syncLocalReads: true, staticTree: true },
}

function accountSnapshot(): CatalogSnapshot {
  const photos = photoSpecs(12)
  const [first, second] = photos
  if (first) first.comments = [{ id: 'c1', author: 'x', _content: 'nice 🌸' }]
  if (second) second.media = 'video'
  const ids = photos.map((p) => p.id)
  return snapshot({ photos, sets: [setEntry('10', 'Ten', ids.slice(0, 5)), setEntry('11', 'Eleven', ids.slice(3, 8))], collections: [collectionEntry('1-1', 'C', ['10'])] })
}

function opsOver(layout: Layout, mount: Partial<OpsContext>): FuseOps {
  const ops = new FsOps({ tree: () => layout, originals: noReader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 10_000, closing: new AbortController().signal, attrTimeoutMs: 60_000, ...mount })
  return ops.fuseOps()
}

async function call<T extends unknown[]>(start: (cb: (...args: unknown[]) => void) => void): Promise<T> {
  const r = recorder()
  start(r.cb)
  const answer = (await r.once) as [number, ...unknown[]]
  assert.equal(answer[0], 0, `answered ${answer[0]}`)
  return answer.slice(1) as T
}

/** getattr of every path and readdir of every folder, as `ls -lR` would: the paths of the sidecars seen. */
async function walk(fuse: FuseOps, dir = '/'): Promise<string[]> {
  const sidecars: string[] = []
  const [names] = await call<[string[]]>((cb) => fuse.readdir!(dir, cb))
  for (const name of names) {
    if (name === '.' || name === '..') continue
    const path = posix.join(dir, name)
    const [st] = await call<[{ mode: number; size: number }]>((cb) => fuse.getattr!(path, cb))
    if ((st.mode & 0o170000) === 0o040000) sidecars.push(...(await walk(fuse, path)))
    else if (name.endsWith('.metadata') && (st.mode & 0o170000) === 0o100000) sidecars.push(path)
  }
  return sidecars
}

/** The whole of `path` through FUSE reads of 64 bytes (with a handle when the mount has them). */
async function readWhole(fuse: FuseOps, path: string, size: number): Promise<string> {
  const fh = fuse.open ? (await call<[number]>((cb) => fuse.open!(path, 0, cb)))[0] : 0
  const parts: Buffer[] = []
  for (let pos = 0; pos < size; pos += 64) {
    const buf = Buffer.alloc(64)
    const r = recorder()
    fuse.read!(path, fh, buf, 64, pos, r.cb)
    const [n] = (await r.once) as [number]
    assert.ok(n > 0, `read ${path} @${pos} answered ${n}`)
    parts.push(buf.subarray(0, n))
  }
  if (fuse.release) await call((cb) => fuse.release!(path, fh, cb))
  return Buffer.concat(parts).toString()
}

/** `view` with its `record` calls counted. */
function counted(view: CatalogView): CatalogView & { readonly asked: number } {
  let asked = 0
  return new Proxy(view, {
    get(target, prop) {
      if (prop === 'asked') return asked
      if (prop === 'record') return (id: string) => (asked++, target.record(id))
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  }) as CatalogView & { readonly asked: number }
}

void describe('fs ops: stat of a sidecar whose size the catalog stored', () => {
  for (const [kind, mount] of Object.entries(MOUNTS)) {
    void test(`${kind} mount: getattr, readdir and statfs load no record; a read loads it once, the exact bytes`, async () => {
      const snap = accountSnapshot()
      for (const ignoreViews of [false, true]) {
        const view = laterView(snap)
        const fuse = opsOver(buildLayout(view, { ignoreViews }), mount)
        const sidecars = await walk(fuse)
        // photostream/'s and the links' targets: 12 photos, each with one sidecar.
        assert.equal(sidecars.filter((p) => p.startsWith('/photostream/')).length, 12)
        for (const path of sidecars) await call((cb) => fuse.getattr!(path, cb))
        await call((cb) => fuse.statfs!('/', cb))
        assert.equal(view.asked, 0, `stat loaded ${view.asked} records (ignoreViews ${ignoreViews})`)

        const path = '/photostream/50000.jpg.metadata'
        const [st] = await call<[{ size: number }]>((cb) => fuse.getattr!(path, cb))
        const expected = buildLayout(snap, { ignoreViews }).lookup(path)
        assert.ok(expected?.kind === 'file' && expected.content.type === 'bytes')
        assert.equal(st.size, expected.size)
        assert.equal(await readWhole(fuse, path, st.size), expected.content.data.toString())
        assert.equal(view.asked, 1, 'the read loaded the record other than once')
      }
    })
  }

  void test('offline mount over the snapshot (no stored size): a sidecar is built once, at its getattr, for its reads too', async () => {
    const snap = accountSnapshot()
    const view = counted(snapshotView(snap))
    const fuse = opsOver(buildLayout(view), MOUNTS.offline ?? {})
    const path = '/photostream/50000.jpg.metadata'
    const [st] = await call<[{ size: number }]>((cb) => fuse.getattr!(path, cb))
    assert.equal(view.asked, 1, 'getattr did not build the bytes it measured')
    const text = await readWhole(fuse, path, st.size)
    assert.equal(Buffer.byteLength(text), st.size)
    assert.equal(view.asked, 1, 'the reads built the sidecar again')
  })
})
