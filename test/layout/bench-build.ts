// Not a test: `node --expose-gc --import tsx test/layout/bench-build.ts [photos] [sets]`.
// Measures buildLayout for a large account, plus a full `stat` pass (every size) and a full read pass.
import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, SetEntry } from '../../src/catalog/types.js'
import { mediaKey } from '../../src/catalog/types.js'
import { buildLayout } from '../../src/layout/index.js'
import type { LayoutDir } from '../../src/layout/index.js'

const nPhotos = Number(process.argv[2] ?? 100_000)
const nSets = Number(process.argv[3] ?? 2_000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const heapMb = (): number => {
  gc()
  return process.memoryUsage().heapUsed / 1e6
}

function makeSnapshot(): CatalogSnapshot {
  const photos = new Map<string, PhotoEntry>()
  const media = new Map<string, MediaEntry>()
  const photostream: string[] = []
  for (let i = 0; i < nPhotos; i++) {
    const id = String(50_000_000_000 + i)
    const secret = `a1b2c3${i}`
    const video = i % 20 === 0
    const raw = {
      id, owner: '12345678@N00', secret: 'deadbeef', server: '65535', farm: 66, title: `IMG_${i}`, ispublic: 0, isfriend: 0, isfamily: 0,
      description: { _content: i % 3 === 0 ? 'A longer description of the picture, with some words in it.' : '' },
      license: '0', dateupload: String(1_500_000_000 + i), lastupdate: String(1_600_000_000 + i),
      datetaken: '2019-06-07 08:09:10', datetakengranularity: 0, datetakenunknown: '0', ownername: 'tester',
      iconserver: '1', iconfarm: 1, views: String(i % 997), tags: 'holiday beach family', machine_tags: '',
      originalsecret: secret, originalformat: video ? 'mov' : 'jpg', latitude: 0, longitude: 0, accuracy: 0, context: 0,
      media: video ? 'video' : 'photo', media_status: 'ready', pathalias: 'tester', count_comments: '0', count_faves: '1',
      url_o: `https://live.staticflickr.com/65535/${id}_${secret}_o.jpg`, height_o: 3000, width_o: 4000,
    }
    photos.set(id, {
      id, raw, media: video ? 'video' : 'photo', secret, format: video ? 'mov' : 'jpg', lastUpdate: 1_600_000_000 + i,
      dateUpload: 1_500_000_000 + i, dateTaken: '2019-06-07 08:09:10', countComments: 0, urlO: raw.url_o, changedAtMs: 1_700_000_000_000 + i,
    })
    media.set(mediaKey(id, secret), { id, secret, size: 3_000_000 + i, ext: video ? 'mov' : 'jpg', url: raw.url_o, kind: 'original' })
    photostream.push(id)
  }
  const sets: SetEntry[] = []
  const perSet = Math.floor(nPhotos / nSets)
  for (let s = 0; s < nSets; s++) {
    const id = String(72_157_600_000_000_000 + s)
    const photoIds = photostream.slice(s * perSet, s * perSet + perSet + 5)
    sets.push({ id, raw: { id, photos: photoIds.length, title: { _content: `Album ${s}` } }, title: `Album ${s}`, photoIds, changedAtMs: 1_700_000_000_000 + s })
  }
  const collections: CollectionEntry[] = Array.from({ length: 20 }, (_, c) => ({
    id: `1000-${c}`, raw: { id: `1000-${c}`, title: `C${c}` }, title: `C${c}`,
    setIds: sets.slice(c * 50, c * 50 + 50).map((s) => s.id),
    children: [{ id: `1001-${c}`, raw: {}, title: 'Kid', setIds: sets.slice(c * 10, c * 10 + 10).map((s) => s.id), children: [], changedAtMs: 1 }],
    changedAtMs: 1,
  }))
  return { userId: 'u', userName: 'n', photostream, photos, comments: new Map(), media, sets, collections, photostreamChangedAtMs: 1_700_000_000_000, refreshedAtMs: 0 }
}

function countAndSize(dir: LayoutDir): { nodes: number; bytes: number } {
  let nodes = 0
  let bytes = 0
  for (const n of dir.children.values()) {
    nodes++
    if (n.kind === 'dir') {
      const sub = countAndSize(n)
      nodes += sub.nodes
      bytes += sub.bytes
    } else if (n.kind === 'file' && n.content.type === 'bytes') bytes += n.size
  }
  return { nodes, bytes }
}

/** A yardstick for how busy the machine is: 300k small objects into one Map, nothing else. */
function referenceMs(): number {
  const t0 = performance.now()
  const m = new Map<string, object>()
  for (let i = 0; i < 300_000; i++) m.set(`${50_000_000_000 + i}.jpg`, { name: i, a: 1, b: 2, c: 3 })
  return Math.round(performance.now() - t0 + m.size * 0)
}

const snap = makeSnapshot()
const base = heapMb()
const times: number[] = []
const cpuTimes: number[] = []
let layout = buildLayout(snap)
for (let i = 0; i < 5; i++) {
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  layout = buildLayout(snap)
  const c1 = process.cpuUsage(c0)
  times.push(performance.now() - t0)
  cpuTimes.push((c1.user + c1.system) / 1000)
}
const afterBuild = heapMb()
const t1 = performance.now()
const { nodes, bytes } = countAndSize(layout.root)
const statMs = performance.now() - t1
const afterStat = heapMb()
let read = 0
const t2 = performance.now()
for (const n of layout.lookup('/photostream')?.kind === 'dir' ? (layout.lookup('/photostream') as LayoutDir).children.values() : []) {
  if (n.kind === 'file' && n.content.type === 'bytes') read += n.content.data.length
}
const readMs = performance.now() - t2
console.log(JSON.stringify({
  referenceMs: [referenceMs(), referenceMs(), referenceMs()],
  photos: nPhotos, sets: nSets, nodes,
  buildMs: times.map((t) => Math.round(t)), buildCpuMs: cpuTimes.map((t) => Math.round(t)), heapSnapshotMb: Math.round(base), layoutHeapMb: Math.round(afterBuild - base),
  firstStatAllMs: Math.round(statMs), heapAfterStatMb: Math.round(afterStat - base), metadataBytes: bytes,
  readAllSidecarsMs: Math.round(readMs), readBytes: read,
}))
