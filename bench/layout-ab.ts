/**
 * buildLayout of two or more builds in one process, alternated on one snapshot: the A/B of a change
 * to the layout's CPU on a noisy machine (separate processes drift apart with the load; here every
 * build of A sits next to one of B, in alternating order, on the same objects).
 *
 *   node --import tsx bench/layout-ab.ts [--photos 100000] [--sets 2000] [--rounds 15] LABEL=REPO [LABEL=REPO …]
 *
 * REPO is a checkout with its dist/ built (`npm run build`): its dist/layout/index.js is imported.
 * Each round builds the layout once per build and lists photostream/ (eachChild, as a readdir),
 * timed by process CPU; three rounds first warm the JIT and are not counted. Prints, per build,
 * the median and the fastest round, and each build's median ÷ the first's.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CatalogSnapshot, MediaEntry, PhotoEntry, SetEntry } from '../src/catalog/types.js'
import type { Layout, LayoutOptions } from '../src/layout/index.js'
import { benchArgs, median } from './measure.js'

const { args, number } = benchArgs()
type Build = (snap: CatalogSnapshot, opts?: LayoutOptions) => Layout

/** An account of `n` photos (every 20th a video) in `nSets` sets of consecutive photos. */
function snapshotOf(n: number, nSets: number): CatalogSnapshot {
  const photos = new Map<string, PhotoEntry>()
  const media = new Map<string, MediaEntry>()
  const photostream: string[] = []
  for (let i = 0; i < n; i++) {
    const id = String(50_000_000_000 + i)
    const secret = `a1b2c3${i}`
    const video = i % 20 === 0
    const raw = { id, title: `IMG_${i}`, views: String(i % 997), datetaken: '2019-06-07 08:09:10' }
    photos.set(id, {
      id, raw, media: video ? 'video' : 'photo', secret, format: video ? 'mov' : 'jpg', lastUpdate: 1_600_000_000 + i, dateUpload: 1_500_000_000 + i,
      dateTaken: '2019-06-07 08:09:10', countComments: 0, urlO: null, changedAtMs: 1_700_000_000_000 + i,
    })
    media.set(`${id}_${secret}`, { id, secret, size: 3_000_000 + i, ext: video ? 'mov' : 'jpg', url: 'https://example.invalid/', kind: 'original' })
    photostream.push(id)
  }
  const sets: SetEntry[] = []
  const perSet = Math.floor(n / nSets)
  for (let s = 0; s < nSets; s++) {
    const id = String(72_157_600_000_000_000 + s)
    sets.push({ id, raw: { id }, title: `Album ${s}`, photoIds: photostream.slice(s * perSet, s * perSet + perSet + 5), changedAtMs: 1_700_000_000_000 + s })
  }
  return { userId: 'u', userName: 'n', photostream, photos, comments: new Map(), media, sets, collections: [], photostreamChangedAtMs: 1_700_000_000_000, refreshedAtMs: 0 }
}

/** CPU ms of one build of the layout and one listing of its photostream/. */
function round(build: Build, snap: CatalogSnapshot): number {
  const c0 = process.cpuUsage()
  const layout = build(snap)
  let names = 0
  const dir = layout.lookup('/photostream')
  if (dir?.kind === 'dir') dir.eachChild?.(() => names++)
  const c1 = process.cpuUsage(c0)
  if (names === 0) throw new Error('photostream/ listed nothing')
  return (c1.user + c1.system) / 1000
}

const builds: Array<{ label: string; build: Build; cpu: number[] }> = []
for (const spec of args.filter((a) => a.includes('='))) {
  const [label, repo] = spec.split('=') as [string, string]
  const mod = (await import(pathToFileURL(resolve(repo, 'dist/layout/index.js')).href)) as { buildLayout: Build }
  builds.push({ label, build: mod.buildLayout, cpu: [] })
}
if (builds.length < 2) throw new Error('give two builds or more: LABEL=REPO LABEL=REPO')
const snap = snapshotOf(number('photos', 100_000), number('sets', 2_000))
const rounds = number('rounds', 15)
for (let r = -3; r < rounds; r++) {
  const order = r % 2 === 0 ? builds : [...builds].reverse()
  for (const b of order) {
    const ms = round(b.build, snap)
    if (r >= 0) b.cpu.push(ms)
  }
}
const first = median(builds[0]?.cpu ?? [])
for (const b of builds) {
  const m = median(b.cpu)
  console.log(`${b.label.padEnd(10)} CPU median ${m.toFixed(0)} ms, fastest ${Math.min(...b.cpu).toFixed(0)} ms, ÷ ${builds[0]?.label} ${(m / first).toFixed(3)}`)
}
