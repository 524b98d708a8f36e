/**
 * The JS cost of serving sidecars, two or more builds in one process, alternated: each build's
 * dist/layout and dist/fs/ops serve a getattr and a 128 KiB read of every sidecar of one snapshot,
 * straight through `FsOps` (no mount: the binding's hand-offs, ~0.1 ms an op, would bury a few µs).
 * Two settings: an offline mount's (no file handles, a static tree: the sidecar built at its
 * getattr and kept for the read) and an online mount's (open, read, release per file).
 *
 *   node --import tsx bench/sidecar-ops-ab.ts [--photos 5000] [--rounds 25] LABEL=REPO [LABEL=REPO …]
 *
 * REPO is a checkout with its dist/ built (`npm run build`). Every round makes a fresh layout and
 * FsOps per build (nothing cached from the round before) and times the ops by process CPU; three
 * rounds first warm the JIT. Prints each build's median per setting and its ratio to the first's.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CatalogSnapshot } from '../src/catalog/types.js'
import { photoSpecs, snapshot } from '../test/layout/fixture.js'
import { benchArgs, median } from './measure.js'

const { args, number } = benchArgs()
const builds = args.filter((a) => /^[\w.-]+=/.test(a)).map((a) => ({ label: a.slice(0, a.indexOf('=')), repo: resolve(a.slice(a.indexOf('=') + 1)) }))
if (builds.length === 0) {
  process.stderr.write('usage: node --import tsx bench/sidecar-ops-ab.ts [--photos N] [--rounds N] LABEL=REPO [LABEL=REPO …]\n')
  process.exit(2)
}

type Cb = (...a: unknown[]) => void
interface Ops {
  getattr(p: string, cb: Cb): void
  open?(p: string, flags: number, cb: Cb): void
  read(p: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb): void
  release?(p: string, fh: number, cb: Cb): void
}
interface Loaded {
  label: string
  buildLayout: (snap: CatalogSnapshot) => unknown
  FsOps: new (ctx: unknown) => { fuseOps(): Ops }
}

/** Every third photo commented, as in a real account's share of sidecars with comments. */
const snap = snapshot({
  photos: photoSpecs(number('photos', 5000)).map((p, i) => (i % 3 === 0 ? { ...p, comments: [{ id: `c${i}`, author: 'x', _content: 'a comment '.repeat(6) }] } : p)),
})
const paths = snap.photostream.map((id) => `/photostream/${id}.jpg.metadata`)
const buf = Buffer.alloc(128 * 1024)

/** CPU ms of a getattr and a read (with an open and release when `handles`) of every sidecar. */
function round(b: Loaded, handles: boolean): number {
  const layout = b.buildLayout(snap)
  const ops = new b.FsOps({
    tree: () => layout, originals: { read: () => Promise.reject(new Error('no originals here')) }, owner: { uid: 1, gid: 1 },
    readTimeoutMs: 1000, closing: new AbortController().signal, attrTimeoutMs: 60_000, fileHandles: handles, staticTree: !handles,
  }).fuseOps()
  let bytes = 0
  const fail = (what: string) => (e: unknown): void => {
    if (e !== 0) throw new Error(`${what} answered ${String(e)}`)
  }
  const c0 = process.cpuUsage()
  for (const p of paths) {
    ops.getattr(p, fail('getattr'))
    let fh = 0
    if (handles) ops.open?.(p, 0, (e, h) => (fail('open')(e), (fh = h as number)))
    ops.read(p, fh, buf, buf.length, 0, (n) => (bytes += n as number))
    if (handles) ops.release?.(p, fh, fail('release'))
  }
  const c1 = process.cpuUsage(c0)
  if (bytes === 0) throw new Error('read nothing')
  return (c1.user + c1.system) / 1000
}

const loaded: Loaded[] = []
for (const b of builds) {
  const dist = (f: string): string => pathToFileURL(`${b.repo}/dist/${f}`).href
  const layout = (await import(dist('layout/index.js'))) as { buildLayout: Loaded['buildLayout'] }
  const fs = (await import(dist('fs/ops.js'))) as { FsOps: Loaded['FsOps'] }
  loaded.push({ label: b.label, buildLayout: layout.buildLayout, FsOps: fs.FsOps })
}
const rounds = number('rounds', 25)
for (const handles of [false, true]) {
  const times = new Map(loaded.map((b) => [b.label, [] as number[]]))
  for (let r = -3; r < rounds; r++) {
    const order = r % 2 === 0 ? loaded : [...loaded].reverse()
    for (const b of order) {
      const ms = round(b, handles)
      if (r >= 0) times.get(b.label)?.push(ms)
    }
  }
  const first = median(times.get(loaded[0]?.label ?? '') ?? [])
  const setting = handles ? 'online (open, read, release)' : 'offline (no handles, static tree)'
  for (const b of loaded) {
    const m = median(times.get(b.label) ?? [])
    console.log(`${setting}: ${b.label} ${m.toFixed(1)} ms for ${paths.length} sidecars (${((m * 1000) / paths.length).toFixed(1)} µs each), ÷ ${loaded[0]?.label} ${(m / first).toFixed(3)}`)
  }
}
