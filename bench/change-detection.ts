/**
 * Cheap change detection: API calls of one refresh after 50 photos changed on a 100,000-item
 * account, incremental (recentlyUpdated + a page-1 check + the set list + only the sets that moved)
 * against today's full re-listing, both in the same run from the same first sync.
 *
 *   node --import tsx bench/change-detection.ts [--items 100000] [--sets 2000] [--changed 50]
 *
 * One first sync (a full listing), copied to a second root; then 50 photos change on the fake
 * (edits, new comments, replaced originals, uploads added to sets). Root A refreshes incrementally,
 * root B with a full listing (fullListingEveryMs 0, today's behaviour); both catalogs must come out
 * the same. Then a refresh with no change, both ways. Also counted: what flickr.activity.userPhotos
 * (unverified, see docs/FLICKR.md) reports of the same changes, and at what cost.
 * The fake runs in this process (its counters are the call counts). The limiter is raised as in
 * bench/catalog.ts (calls, not waiting, are measured); the "at Flickr's rate" column is the time
 * those calls take at 1 call/s once the burst is spent.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Catalog, type CatalogSnapshot, type RefreshReport } from '../src/catalog/index.js'
import { sameJson } from '../src/catalog/same-json.js'
import { photoSidecarSizer } from '../src/layout/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../src/fake-flickr/index.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { benchArgs } from './measure.js'

const { number } = benchArgs()

const WEEK_MS = 7 * 86_400_000

/** What a full listing decides, without change stamps. */
function content(snap: CatalogSnapshot): unknown {
  return {
    photostream: snap.photostream,
    photos: [...snap.photos.values()].map((p) => p.raw),
    comments: [...snap.comments],
    media: [...snap.media],
    sets: snap.sets.map((s) => ({ id: s.id, raw: s.raw, photoIds: s.photoIds })),
    collections: JSON.stringify(snap.collections, (k, v: unknown) => (k === 'changedAtMs' ? undefined : v)),
  }
}

function apiCalls(fake: FakeFlickr): Record<string, number> {
  return Object.fromEntries(Object.entries(fake.counts()).filter(([k]) => k.startsWith('flickr.')))
}

const sum = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0)

/** `changed` photos change: 50% edited, 30% newly commented, 10% replaced, 10% uploads each added to a set. */
function change(fake: FakeFlickr, changed: number): { photos: Set<string>; sets: Set<string>; commented: Set<string> } {
  const a = fake.account
  const photos = new Set<string>()
  const sets = new Set<string>()
  const commented = new Set<string>()
  const stride = Math.floor(a.photostream.length / changed)
  const ids = Array.from({ length: changed }, (_, i) => a.photostream[i * stride + 3] as string)
  ids.forEach((id, i) => {
    const kind = i % 10
    if (kind < 5) a.editPhoto(id, { title: `edited ${i}`, tags: ['edited'] })
    else if (kind < 8) {
      a.addComment(id, `comment ${i}`)
      commented.add(id)
    } else if (kind === 8) a.replaceOriginal(id)
    else {
      const p = a.addPhoto({ title: `upload ${i}` })
      const s = a.sets[(i * 37) % a.sets.length]
      if (s !== undefined) {
        a.addToSet(s.id, p.id)
        sets.add(s.id)
      }
      photos.add(p.id)
      return
    }
    photos.add(id)
  })
  return { photos, sets, commented }
}

async function timed(fn: () => Promise<RefreshReport>): Promise<{ report: RefreshReport; ms: number }> {
  const t0 = performance.now()
  const report = await fn()
  return { report, ms: performance.now() - t0 }
}

async function main(): Promise<void> {
  const items = number('items', 100_000)
  const nSets = number('sets', 2000)
  const changed = number('changed', 50)
  const videos = Math.round(items * 0.02)
  const fake = await startFakeFlickr({ account: generateAccount({ seed: 42, photos: items - videos, videos, sets: nSets, collections: 20, commentedFraction: 0.05 }) })
  const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-change-'))
  const rootA = join(work, 'a')
  const rootB = join(work, 'b')
  try {
    const client = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
    const media = new MediaClient({ origins: [fake.origin] })
    const opts = { apiConcurrency: 32, mediaConcurrency: 64 }

    // As the mount and pin open them: writable catalogs save their sidecars' lengths.
    const writable = { sidecarSizer: photoSidecarSizer }
    const first = await Catalog.open(rootA, writable)
    const firstRun = await timed(() => first.refresh(client, media, { ...opts, fullListingEveryMs: WEEK_MS }))
    await first.close()
    console.error(`first sync: ${sum(firstRun.report.clientCalls)} client calls, ${(firstRun.ms / 1000).toFixed(1)} s`)
    const unavailable = firstRun.report.media.unavailable.length
    if (unavailable > 0) throw new Error(`${unavailable} originals unavailable in the first sync: ${firstRun.report.media.unavailable[0]?.message ?? ''}`)
    await cp(rootA, rootB, { recursive: true })
    const a = await Catalog.open(rootA, writable)
    const b = await Catalog.open(rootB, writable)

    const what = change(fake, changed)
    fake.resetCounts()
    const activity = await activityCalls(client, what)
    fake.resetCounts()
    const inc = await timed(() => a.refresh(client, media, { ...opts, fullListingEveryMs: WEEK_MS }))
    const incCalls = apiCalls(fake)
    fake.resetCounts()
    const full = await timed(() => b.refresh(client, media, { ...opts, fullListingEveryMs: 0 }))
    const fullCalls = apiCalls(fake)
    const same = sameJson(content(a.snapshot()), content(b.snapshot()))

    fake.resetCounts()
    const inc0 = await timed(() => a.refresh(client, media, { ...opts, fullListingEveryMs: WEEK_MS }))
    const inc0Calls = apiCalls(fake)
    fake.resetCounts()
    const full0 = await timed(() => b.refresh(client, media, { ...opts, fullListingEveryMs: 0 }))
    const full0Calls = apiCalls(fake)
    await a.close()
    await b.close()

    if (inc.report.listing.mode !== 'changes' || inc0.report.listing.mode !== 'changes') throw new Error(`the incremental refresh listed everything: ${inc.report.listing.reason ?? inc0.report.listing.reason ?? ''}`)
    const flickrTime = (calls: number): string => `${(calls / 60).toFixed(1)} min`
    const row = (name: string, c: Record<string, number>, ms: number): string =>
      `| ${name} | **${sum(c)}** | ${Object.entries(c).sort().map(([k, v]) => `${k.replace(/^flickr\./, '')} ${v}`).join(', ')} | ${(ms / 1000).toFixed(2)} s | ${flickrTime(sum(c))} |`
    console.log(`change detection bench: ${items} items (${videos} videos), ${nSets} sets, ${changed} photos changed ` +
      `(${what.photos.size} photos, ${what.commented.size} newly commented, ${what.sets.size} sets gained an upload)`)
    console.log(`first sync: ${sum(firstRun.report.clientCalls)} client calls, ${(firstRun.ms / 1000).toFixed(1)} s`)
    console.log('| refresh | API calls | by method | time | at 1 call/s |')
    console.log('|---|---|---|---|---|')
    console.log(row(`incremental, ${changed} changed (recentlyUpdated reported ${inc.report.listing.changesReported ?? 0})`, incCalls, inc.ms))
    console.log(row(`baseline: full re-listing, ${changed} changed`, fullCalls, full.ms))
    console.log(row('incremental, no change', inc0Calls, inc0.ms))
    console.log(row('baseline: full re-listing, no change', full0Calls, full0.ms))
    console.log(`same catalog after the ${changed} changes (photostream order, records, comments, originals, sets, collections): ${same ? 'yes' : 'NO'}`)
    console.log(`ratio of calls with ${changed} changed: ${(sum(fullCalls) / sum(incCalls)).toFixed(1)}x fewer; no change: ${(sum(full0Calls) / sum(inc0Calls)).toFixed(1)}x fewer`)
    console.log(`activity.userPhotos timeframe=1d, per_page=50: ${activity.calls} call(s), reported ${activity.reported} photos, ` +
      `of which ${activity.ofChanged} among the ${what.photos.size} changed (all ${what.commented.size} newly commented: ${activity.allCommented ? 'yes' : 'no'}), ` +
      `${activity.other} others; edits, replacements and uploads: not reported\n`)
    if (!same) process.exitCode = 1
  } finally {
    await fake.close()
    await rm(work, { recursive: true, force: true })
  }
}

/** What activity.userPhotos says about the same changes: every page at its maximum of 50. */
async function activityCalls(client: FlickrClient, what: { photos: Set<string>; commented: Set<string> }): Promise<{ calls: number; reported: number; ofChanged: number; other: number; allCommented: boolean }> {
  const ids = new Set<string>()
  let calls = 0
  for (let page = 1, pages = 1; page <= pages; page++) {
    const r = (await client.call('flickr.activity.userPhotos', { timeframe: '1d', per_page: '50', page: String(page) })) as { items: { pages: number; item?: Array<{ id: string }> } }
    calls++
    pages = Number(r.items.pages)
    for (const item of r.items.item ?? []) ids.add(item.id)
  }
  const ofChanged = [...ids].filter((id) => what.photos.has(id)).length
  return { calls, reported: ids.size, ofChanged, other: ids.size - ofChanged, allCommented: [...what.commented].every((id) => ids.has(id)) }
}

await main()
