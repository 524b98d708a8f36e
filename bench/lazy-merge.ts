/**
 * In-process figures of a refresh that merges a small change into a lazily served catalog
 * (src/catalog/lazy-merge.ts) against the whole refresh of the same change (issue 11 item 4):
 *
 *   node --import tsx --expose-gc bench/lazy-merge.ts [--items 100000] [--sets 2000] [--runs 3] [--edits 50] [--views 0] [--full] [--unresolved 0 [--backoff]] [--transcodes 0] [--whole | --both] [--profile FILE]
 *
 * The fake Flickr serves a generated account in this process; its catalog is saved as synced
 * (bench/catalog-state.ts syncedStateOf) once; each run copies it, changes the account once (as
 * bench/memory.ts --change: 50 edits (--edits), 20 comments, 10 uploads, a set renamed; later runs see the
 * same change), opens the copy as the online mount does (lazy, with the layout's sizer) and times
 * refreshIfUnchanged, then the refresh given its answers (merged, or with --whole loaded whole as
 * before: a catalog opened deferred; --both: each run does the merge, then the whole refresh, and
 * the ratios of their medians are printed). Prints each phase's wall and CPU time, the process's
 * RSS at its top during the refresh (the fake's account included), and the heap it left after gc.
 * --profile FILE: a CPU profile of the first run's refresh alone (node:inspector), for DevTools.
 * --full: the refresh is a full listing (the weekly one; refreshIfUnchanged then asks nothing), which
 * a lazy catalog merges (src/catalog/full-merge.ts); --views N: N photos' view counts move too (they
 * move without `lastupdate`: only a full listing sees them). heapTop is the JS heap's top during the
 * refresh above the heap before it (after gc): the refresh's own memory, without the fake's account
 * that RSS counts too. --unresolved N: N photos (spread over the photostream) have no original on
 * record in the synced catalog and the fake still refuses theirs (an HTML page): items that failed
 * last time: the refresh tries them again, and lists the photostream whole for their fresh records
 * when that is due (src/catalog/incremental.ts relistDue). With --backoff each run merges twice: as
 * the first refresh after they failed (the photostream listed whole, as every refresh did before
 * the backoff: the baseline), and as one within the hour after that listing (the synced catalog's
 * marks say it was made); the ratios of their medians are printed.
 * --transcodes N: N videos held as transcodes in the synced catalog, and the refreshes given
 * cookies (which make the fake serve their originals): each is resolved again. With --stale-cookies
 * the fake refuses those cookies too (an expired session: the videos stay transcodes), and each run
 * refreshes twice: as the first refresh with those cookies (the transcodes asked again, as every
 * refresh with cookies did before: the baseline), and as one within the day after it (the synced
 * catalog's marks say it asked; src/catalog/incremental.ts transcodeTry); the ratios are printed.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Catalog } from '../src/catalog/index.js'
import { CatalogStore } from '../src/catalog/persist.js'
import { generateAccount, startFakeFlickr } from '../src/fake-flickr/index.js'
import { prng } from '../src/fake-flickr/generate.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../src/layout/index.js'
import { dropOriginals, syncedStateOf } from './catalog-state.js'
import { spreadIds } from './bench-fake.js'
import { mediaKey, type MediaEntry } from '../src/catalog/types.js'
import { cookiesFingerprint } from '../src/catalog/incremental.js'
import { benchArgs, median } from './measure.js'

const { has, number, text } = benchArgs()
const MB = 1024 * 1024
const items = number('items', 100_000)
const sets = number('sets', 2000)
const runs = number('runs', 3)
const backoff = has('backoff')
const edits = number('edits', 50)
const viewed = number('views', 0)
const full = has('full')
const unresolved = number('unresolved', 0)
const transcodes = number('transcodes', 0)
const stale = has('stale-cookies')
if (backoff && unresolved === 0) throw new Error('--backoff needs --unresolved N (N > 0)')
if (stale && (transcodes === 0 || backoff)) throw new Error('--stale-cookies needs --transcodes N (N > 0), and no --backoff')
const COOKIES = 'cookie_accid=1; cookie_epass=2'

/**
 * What a run refreshes: merged or whole, and from the catalog as synced, or (--backoff) as just
 * relisted, or (--stale-cookies) as just after its transcodes were asked with the cookies.
 */
interface Variant { name: string; whole: boolean; seed: 'synced' | 'relisted' | 'tried' }
const variants: Variant[] = backoff
  ? [{ name: 'relisting (first refresh after failing)', whole: false, seed: 'synced' }, { name: 'between listings', whole: false, seed: 'relisted' }]
  : stale
    ? [{ name: 'transcodes asked (first refresh with the cookies)', whole: false, seed: 'synced' }, { name: 'within the day', whole: false, seed: 'tried' }]
    : (has('both') ? [false, true] : [has('whole')]).map((whole): Variant => ({ name: whole ? 'whole refresh' : 'merge', whole, seed: 'synced' }))

const videos = Math.round(items * 0.02)
const account = generateAccount({ seed: 42, photos: items - videos, videos, sets, collections: 20, commentedFraction: 0.05, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
const fake = await startFakeFlickr({ account })
const client = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
const media = new MediaClient({ origins: [fake.origin] })
const dir = await mkdtemp(join(tmpdir(), 'flickrfs-bench-merge-'))
const seed = join(dir, 'seed')
const store = await CatalogStore.open(seed)
const synced = syncedStateOf(account, fake.origin, Date.now())
const failing = spreadIds(account, unresolved)
dropOriginals(synced, failing)
for (const id of failing) fake.faults.hostile[id] = 'html200'
if (stale) {
  fake.faults.videoOriginal404 = true
  fake.faults.expiredCookies = true
}
// --transcodes N: N videos held as transcodes (their originals refused without cookies once); the
// refreshes give cookies, so each is resolved again (and its original is had now).
const videoIds = account.photostream.filter((id) => account.requirePhoto(id).media === 'video').slice(0, transcodes)
for (const id of videoIds) {
  const entry = synced.snap.photos.get(id)
  const m = entry === undefined ? undefined : (synced.snap.media as Map<string, MediaEntry>).get(mediaKey(id, entry.secret))
  if (m !== undefined) (synced.snap.media as Map<string, MediaEntry>).set(mediaKey(id, m.secret), { ...m, ext: 'mp4', kind: 'transcode', label: 'HD MP4' })
}
if (videoIds.length < transcodes) throw new Error(`only ${videoIds.length} videos to hold as transcodes`)
await store.save(synced, Date.now(), undefined, { sizer: photoSidecarSizer })
await store.close()
// --backoff: the same catalog as a refresh that listed the photostream for its failing items left
// it; --stale-cookies: as one that asked for its transcodes' originals with the cookies.
const seeds = { synced: seed, relisted: join(dir, 'seed-relisted'), tried: join(dir, 'seed-tried') }
for (const v of variants) {
  if (v.seed === 'synced' || synced.listing === undefined) continue
  const marked = await CatalogStore.open(seeds[v.seed])
  const listing = v.seed === 'relisted'
    ? { ...synced.listing, relisted: { atMs: Date.now(), count: 1, failing: unresolved } }
    : { ...synced.listing, transcodesTried: { atMs: Date.now(), cookies: cookiesFingerprint(COOKIES) } }
  await marked.save({ ...synced, listing }, Date.now(), undefined, { sizer: photoSidecarSizer })
  await marked.close()
}

const rand = prng(2026_12_02)
const some = (): string => account.photostream[Math.floor(rand() * account.photostream.length)] as string
for (let i = 0; i < edits; i++) account.editPhoto(some(), { title: `edited ${i}` })
for (let i = 0; i < 20; i++) account.addComment(some(), `comment ${i}`)
for (let i = 0; i < 10; i++) account.addPhoto({ title: `uploaded ${i}` })
account.renameSet((account.sets[0] as { id: string }).id, 'renamed')
for (let i = 0; i < viewed; i++) account.requirePhoto(some()).views += 1

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const heap = (): number => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

const rows = new Map<Variant, Array<Record<string, number>>>(variants.map((v) => [v, []]))
try {
  for (let run = 0; run < runs; run++) {
    for (const variant of variants) {
      const whole = variant.whole
      const root = join(dir, `run-${run}`)
      await cp(seeds[variant.seed], root, { recursive: true })
      const catalog = await Catalog.open(root, { sidecarSizer: photoSidecarSizer, ...(whole ? { deferLoad: true } : { lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } }) })
      const asked = { fullListingEveryMs: full ? 0 : 7 * 86_400_000, ...(transcodes > 0 ? { cookies: COOKIES } : {}) }
      const heap0 = heap()
      fake.resetCounts()
      let t = performance.now()
      let c = cpuMs()
      const quick = await catalog.refreshIfUnchanged(client, asked)
      const row: Record<string, number> = { quickMs: performance.now() - t, quickCpu: cpuMs() - c }
      if (quick?.answers === undefined && !full && unresolved === 0 && transcodes === 0) throw new Error('the change was not seen')
      t = performance.now()
      c = cpuMs()
      let top = 0
      let heapTop = 0
      const sampler = setInterval(() => {
        const now = process.memoryUsage()
        top = Math.max(top, now.rss)
        heapTop = Math.max(heapTop, now.heapUsed)
      }, 10)
      const profile = run === 0 && has('profile') ? new Session() : undefined
      if (profile !== undefined) {
        profile.connect()
        await profile.post('Profiler.enable')
        await profile.post('Profiler.start')
      }
      // Nothing to merge (--stale-cookies within the day, no edits): the quick refresh's report.
      const report = quick?.unchanged?.report ?? (await catalog.refresh(client, media, { ...asked, ...(quick?.answers !== undefined ? { answered: quick.answers } : {}), letGo: true }))
      clearInterval(sampler)
      if (profile !== undefined) {
        const { profile: taken } = await profile.post('Profiler.stop')
        await writeFile(text('profile') as string, JSON.stringify(taken))
        profile.disconnect()
      }
      row.refreshMs = performance.now() - t
      row.refreshCpu = cpuMs() - c
      row.merged = report.merged === true ? 1 : 0
      row.unavailable = report.media.unavailable.length
      row.sizes = fake.counts()['flickr.photos.getSizes'] ?? 0
      row.transcodes = report.media.transcodes.length
      // Every REST call both steps made, as the fake counts them (a listing's pages each).
      const counts = fake.counts()
      row.calls = Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0)
      row.setCalls = counts['flickr.photosets.getPhotos'] ?? 0
      row.pageCalls = counts['flickr.people.getPhotos'] ?? 0
      row.rssTop = top
      row.heapTop = heapTop - heap0
      row.heapAfter = heap() - heap0
      await catalog.close()
      await rm(root, { recursive: true, force: true })
      rows.get(variant)?.push(row)
      console.error(`run ${run + 1}, ${variant.name}: ${JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'rssTop' || k === 'heapTop' || k === 'heapAfter' ? Math.round(v / MB) : Math.round(v)])))}`)
    }
  }
  const m = (v: Variant, k: string): number => median((rows.get(v) ?? []).map((r) => r[k] as number))
  for (const v of variants) {
    console.log(`${items} items, ${sets} sets, ${edits} edits, ${viewed} views${full ? ', a full listing' : ''}${unresolved > 0 ? `, ${unresolved} unresolved` : ''}${transcodes > 0 ? `, ${transcodes} transcodes retried with cookies` : ''}, ${v.name}, median of ${runs}: quick ${m(v, 'quickMs').toFixed(0)} ms (CPU ${m(v, 'quickCpu').toFixed(0)} ms); ` +
      `refresh ${m(v, 'refreshMs').toFixed(0)} ms (CPU ${m(v, 'refreshCpu').toFixed(0)} ms), REST calls ${m(v, 'calls')} (${m(v, 'pageCalls')} photostream pages, ${m(v, 'setCalls')} set listings, ${m(v, 'sizes')} getSizes), transcodes left ${m(v, 'transcodes')}, RSS top ${(m(v, 'rssTop') / MB).toFixed(0)} MB, heap top ${(m(v, 'heapTop') / MB).toFixed(0)} MB, heap left ${(m(v, 'heapAfter') / MB).toFixed(0)} MB, merged ${m(v, 'merged')}`)
  }
  const [a, b] = variants
  if (a !== undefined && b !== undefined) {
    // merge ÷ whole, or (--backoff) between listings ÷ relisting, or (--stale-cookies) within the day ÷ asked.
    const [num, den] = backoff || stale ? [b, a] : [a, b]
    const r = (k: string): string => (m(num, k) / m(den, k)).toFixed(2)
    console.log(`${num.name} ÷ ${den.name}: quick + refresh wall ${((m(num, 'quickMs') + m(num, 'refreshMs')) / (m(den, 'quickMs') + m(den, 'refreshMs'))).toFixed(2)}, ` +
      `CPU ${((m(num, 'quickCpu') + m(num, 'refreshCpu')) / (m(den, 'quickCpu') + m(den, 'refreshCpu'))).toFixed(2)}, REST calls ${r('calls')}, RSS top ${r('rssTop')}, heap top ${r('heapTop')}, heap left ${r('heapAfter')}`)
  }
} finally {
  await fake.close()
  await rm(dir, { recursive: true, force: true })
}
