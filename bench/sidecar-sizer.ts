/**
 * The cost of the layout's sidecar sizer (layout/metadata.ts `photoSidecarSizer`), which a save
 * runs once per changed photo to store its sidecar's two lengths (with views and without):
 *
 *   node --import tsx bench/sidecar-sizer.ts [--items 100000] [--runs 7]
 *
 *   bytes once   the baseline: `jsonBytes(photoMetadata(…))` of every photo, as a read of its
 *                sidecar makes it (one JSON, one Buffer)
 *   sizes()      the sizer: both lengths (one JSON with views, no Buffer; the other less the views
 *                entry's own length)
 *   both JSONs   what the sizer spares: the bytes made twice, with views and without
 *
 * over the photos of a generated account (2% videos, 5% with comments, records as the fake Flickr
 * lists them), in one process, interleaved in a turning order, CPU time of this thread
 * (process.cpuUsage; nothing else runs). Prints each run and the medians, and sizes() ÷ bytes once.
 */
import { PHOTO_EXTRAS } from '../src/catalog/index.js'
import { photoFields } from '../src/catalog/records.js'
import type { MediaEntry, PhotoEntry, RawRecord } from '../src/catalog/types.js'
import { generateAccount } from '../src/fake-flickr/index.js'
import { commentRecord, listPhoto } from '../src/fake-flickr/records.js'
import { jsonBytes, photoMetadata, photoSidecarSizer } from '../src/layout/index.js'
import { benchArgs, median } from './measure.js'

const { number } = benchArgs()
const ORIGIN = 'http://127.0.0.1:1'

interface Item {
  photo: PhotoEntry
  media: MediaEntry
  comments: readonly RawRecord[] | undefined
}

/** Every photo of a generated account as the catalog holds it: record, original, comments. */
function items(n: number): Item[] {
  const videos = Math.round(n * 0.02)
  const account = generateAccount({ seed: 42, photos: n - videos, videos, sets: 0, collections: 0, commentedFraction: 0.05 })
  const ctx = { account, extras: new Set(PHOTO_EXTRAS), origin: ORIGIN }
  return account.photostream.map((id) => {
    const p = account.requirePhoto(id)
    const photo = photoFields(listPhoto(p, ctx), id, 1_700_000_000_000)
    const ext = p.media === 'video' ? (p.videoFormat ?? 'mp4') : photo.format
    const media: MediaEntry = { id, secret: photo.secret, size: p.bytes, ext, url: `${ORIGIN}/o/${id}.${ext}`, kind: 'original' }
    const comments = p.comments.length > 0 ? p.comments.map((c) => commentRecord(account, p, c, ORIGIN)) : undefined
    return { photo, media, comments }
  })
}

const WAYS: Record<string, (all: Item[]) => number> = {
  'bytes once': (all) => {
    let n = 0
    for (const { photo, media, comments } of all) n += jsonBytes(photoMetadata({ photo, media, comments })).length
    return n
  },
  'sizes()': (all) => {
    let n = 0
    for (const { photo, media, comments } of all) n += photoSidecarSizer.sizes(photo, media, comments)[0]
    return n
  },
  'both JSONs': (all) => {
    let n = 0
    for (const { photo, media, comments } of all) {
      n += jsonBytes(photoMetadata({ photo, media, comments })).length
      n += jsonBytes(photoMetadata({ photo, media, comments, ignoreViews: true })).length
    }
    return n
  },
}

function cpuMs(fn: () => number): { ms: number; check: number } {
  const c0 = process.cpuUsage()
  const check = fn()
  const c1 = process.cpuUsage(c0)
  return { ms: (c1.user + c1.system) / 1000, check }
}

const n = number('items', 100_000)
const runs = number('runs', 7)
const all = items(n)
const names = Object.keys(WAYS)
const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]))
// One warm-up pass each (V8 tiers up), not counted.
for (const k of names) WAYS[k]?.(all)
for (let r = 0; r < runs; r++) {
  // A turning order: each way runs first, middle and last as often.
  const order = names.map((_, i) => names[(i + r) % names.length] as string)
  const row: string[] = []
  for (const k of order) {
    const { ms } = cpuMs(() => WAYS[k]?.(all) ?? 0)
    times[k]?.push(ms)
    row.push(`${k} ${ms.toFixed(0)} ms`)
  }
  console.log(`run ${r + 1}: ${row.join(', ')}`)
}
const med = Object.fromEntries(names.map((k) => [k, median(times[k] ?? [])]))
console.log(`${n} photos, medians of ${runs} (CPU ms): ${names.map((k) => `${k} ${med[k]?.toFixed(0)}`).join(', ')}`)
console.log(`sizes() ÷ bytes once: ${((med['sizes()'] ?? NaN) / (med['bytes once'] ?? NaN)).toFixed(2)}; both JSONs ÷ bytes once: ${((med['both JSONs'] ?? NaN) / (med['bytes once'] ?? NaN)).toFixed(2)}`)
console.log(`per photo: sizes() ${((1000 * (med['sizes()'] ?? NaN)) / n).toFixed(2)} µs, bytes once ${((1000 * (med['bytes once'] ?? NaN)) / n).toFixed(2)} µs`)
