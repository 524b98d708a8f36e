/**
 * Incremental refreshes (src/catalog/incremental.ts) against the fake Flickr: after random edits,
 * uploads (some dated back), comments, replaced originals and set edits, a catalog kept up to date
 * from recentlyUpdated is the very catalog a full listing of the same account gives, in the same
 * photostream order; a deletion is found without listing everything (test/catalog/deletions.test.ts
 * has more); an old full listing or a retry makes the refresh list everything.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RefreshReport } from '../../src/catalog/index.js'
import { prng } from '../../src/fake-flickr/generate.js'
import { cookiesFingerprint, marksAfter, marksUnchanged, planFor, RETRY_RELIST_FIRST_MS, RETRY_RELIST_MAX_MS, RETRY_RELIST_REASON, RETRY_RELIST_SLACK_MS, TRANSCODE_RETRY_EVERY_MS, type ListingMarks, type ListingPlan } from '../../src/catalog/incremental.js'
import { fullCatalog, harness, headOf, listingContent as content, randomChange, refresh } from './harness.js'

const WEEK_MS = 7 * 86_400_000

void test('after random edits, uploads, comments and set edits, an incremental catalog equals a full listing', async (t) => {
  const h = await harness(t, { photos: 700, videos: 8, sets: 14, collections: 2, commentedFraction: 0.2 })
  // Our clock two hours ahead of Flickr's: the newest lastupdate seen bounds the next min_date.
  h.clock.ms = Date.now() + 2 * 3_600_000
  const full = await fullCatalog(t, h)
  const first = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(first.listing.mode, 'full')
  assert.equal(first.listing.reason, 'first sync')
  const seed = 20261130
  const rand = prng(seed)
  let n = 0
  for (let round = 0; round < 6; round++) {
    const done: string[] = []
    const changes = 1 + Math.floor(rand() * 12)
    for (let i = 0; i < changes; i++) done.push(randomChange(h.fake.account, rand, n++))
    h.fake.resetCounts()
    const report = await refresh(h, { fullListingEveryMs: WEEK_MS })
    const calls = h.fake.counts()
    await full.refresh(h.client, h.media)
    const what = `seed ${seed} round ${round}: ${done.join(', ')}`
    assert.equal(report.listing.mode, 'changes', `${what}: ${report.listing.reason ?? ''}`)
    assert.equal(report.clientCalls.getPhotostream ?? 0, 0, what)
    assert.equal(report.clientCalls.getPhotostreamPage, 1, what)
    // Only the sets that moved lately are listed again (each has fewer than 500 members here):
    // those changed in this round, and within the hour's overlap those of the rounds before.
    assert.equal(calls['flickr.photosets.getPhotos'] ?? 0, report.listing.setsListed, what)
    const lately = h.fake.account.sets.filter((s) => s.dateUpdate >= Math.floor(Date.now() / 1000) - 2 * 3600).length
    assert.ok(report.listing.setsListed <= lately && lately < h.fake.account.sets.length, `${what}: ${report.listing.setsListed} sets listed, ${lately} changed lately`)
    assert.deepEqual(content(h.catalog.snapshot()), content(full.snapshot()), what)
  }
})

void test('a deletion is found by the page-1 check and getSizes, with no full listing; one it cannot confirm lists everything', async (t) => {
  const h = await harness(t, { photos: 120, videos: 2, sets: 4, commentedFraction: 0.2 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  const a = h.fake.account
  const gone = a.photostream[7] as string
  a.deletePhoto(gone)
  a.editPhoto(a.photostream[3] as string, { title: 'also edited' })
  h.fake.resetCounts()
  const report: RefreshReport = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(report.listing.mode, 'changes', report.listing.reason)
  assert.equal(report.photos.deleted, 1)
  assert.equal(report.photos.changed, 1)
  assert.deepEqual(h.catalog.snapshot().photostream, a.photostream)
  assert.equal(h.catalog.snapshot().photos.has(gone), false)
  // One page holds the whole photostream: page 1 tells the gap, getSizes confirms it.
  assert.equal(h.fake.counts()['flickr.people.getPhotos'], 1)
  assert.equal(h.fake.counts()['flickr.photos.getSizes'], 1)

  // Gone from the listing while Flickr still has it: not a deletion this refresh can vouch for.
  const hidden = a.photostream[20] as string
  a.photostream = a.photostream.filter((id) => id !== hidden)
  const unsure = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(unsure.listing.mode, 'full')
  assert.match(unsure.listing.reason ?? '', /Flickr counts 120 items, the catalog with the changes 121 \(something was deleted: .* is not in the listing but Flickr still has it\)/)
  assert.deepEqual(h.catalog.snapshot().photostream, a.photostream)
  // That full listing counts as one: the next refresh is incremental again.
  h.fake.resetCounts()
  const next = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(next.listing.mode, 'changes')
  assert.equal(h.fake.counts()['flickr.people.getPhotos'], 1)
})

void test('the full listing comes back when the last one is older than fullListingEveryMs, and with 0 every time', async (t) => {
  const h = await harness(t, { photos: 60, videos: 1, sets: 3 })
  await refresh(h, { fullListingEveryMs: 3_600_000 })
  assert.equal((await refresh(h, { fullListingEveryMs: 3_600_000 })).listing.mode, 'changes')
  h.tick(3_600_000)
  const late = await refresh(h, { fullListingEveryMs: 3_600_000 })
  assert.equal(late.listing.mode, 'full')
  assert.match(late.listing.reason ?? '', /last full listing is 1 h old/)
  assert.equal((await refresh(h, { fullListingEveryMs: 3_600_000 })).listing.mode, 'changes')
  assert.equal((await refresh(h)).listing.mode, 'full')
  assert.equal((await refresh(h, { fullListingEveryMs: 0 })).listing.mode, 'full')
})

void test('the listing marks survive a restart; a retry of failed items lists everything', async (t) => {
  const h = await harness(t, { photos: 60, videos: 1, sets: 3 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  await h.catalog.close()
  h.catalog = await h.reopen()
  const a = h.fake.account
  a.addComment(a.photostream[2] as string, 'after the restart')
  h.fake.resetCounts()
  const report = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(report.listing.mode, 'changes')
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'], 1)
  assert.equal(h.catalog.snapshot().comments.get(a.photostream[2] as string)?.at(-1)?._content, 'after the restart')
  const retry = await refresh(h, { fullListingEveryMs: WEEK_MS, resolveAgain: new Set([a.photostream[0] as string]) })
  assert.equal(retry.listing.mode, 'full')
  assert.equal(retry.listing.reason, 'items that failed last time are listed afresh')
})

void test('a no-change incremental refresh costs the change list, one page-1 check, the set list and the tree', async (t) => {
  const h = await harness(t, { photos: 1150, videos: 12, sets: 40, collections: 3, commentedFraction: 0.05 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  h.fake.resetCounts()
  const report = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(report.changed, false)
  assert.equal(report.listing.mode, 'changes')
  const counts = h.fake.counts()
  const recent = Math.max(1, Math.ceil((report.listing.changesReported ?? 0) / 500))
  assert.deepEqual(
    Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith('flickr.'))),
    { 'flickr.photos.recentlyUpdated': recent, 'flickr.people.getPhotos': 1, 'flickr.photosets.getList': 1, 'flickr.collections.getTree': 1 },
  )
  assert.equal(h.mediaRequests(), 0)
})

void test('a loaded catalog decides "nothing changed" from its head, keeps its snapshot, and merges a change after', async (t) => {
  const h = await harness(t, { photos: 300, videos: 4, sets: 8, collections: 2, commentedFraction: 0.1 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  const loaded = h.catalog.snapshot()
  const generation = h.catalog.generation
  const told: number[] = []
  h.catalog.on('change', (snap) => told.push(snap.photos.size))
  h.tick()
  h.fake.resetCounts()
  const quick = await h.catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.equal(quick?.unchanged?.report.changed, false, 'a loaded catalog is asked too, not only a lazy or deferred one')
  assert.equal(h.fake.counts()['flickr.photos.comments.getList'] ?? 0, 0)
  assert.notEqual(h.catalog.generation, generation, 'it holds the head saved again')
  const held = h.catalog.snapshot()
  assert.equal(held.photos, loaded.photos, 'the very same records: nothing was loaded again')
  assert.equal(held.refreshedAtMs, h.clock.ms, 'with the refresh time of the head saved again')
  assert.deepEqual(told, [], 'nobody is told of a catalog that did not change')
  // The head it holds is the one on disk: no reload, and the next refresh starts from the moved marks.
  assert.equal(await h.catalog.reload(), false)
  const a = h.fake.account
  a.addComment(a.photostream[3] as string, 'after the quick refresh')
  const after = await h.catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.equal(after?.unchanged, undefined, 'a new comment is something to merge')
  const merged = await h.catalog.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS, ...(after?.answers !== undefined ? { answered: after.answers } : {}) })
  assert.equal(merged.listing.mode, 'changes')
  assert.equal(h.catalog.snapshot().comments.get(a.photostream[3] as string)?.at(-1)?._content, 'after the quick refresh')
  assert.deepEqual(told, [held.photos.size])
})

void test('a loaded catalog whose head another writer replaced loads that catalog when nothing changed since', async (t) => {
  const h = await harness(t, { photos: 120, videos: 2, sets: 4, commentedFraction: 0.1 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  const other = await h.reopen()
  const a = h.fake.account
  const id = a.photostream[1] as string
  a.editPhoto(id, { title: 'saved by the other writer' })
  h.tick()
  await other.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS })
  const told: number[] = []
  h.catalog.on('change', (snap) => told.push(snap.photos.size))
  h.tick()
  const quick = await h.catalog.refreshIfUnchanged(h.client, { fullListingEveryMs: WEEK_MS })
  assert.equal(quick?.unchanged?.report.changed, false, 'nothing changed since the other writer\'s save')
  assert.equal(h.catalog.snapshot().photos.get(id)?.raw.title, 'saved by the other writer')
  assert.equal(await h.catalog.reload(), false, 'it holds the head on disk')
  assert.equal(told.length, 1, 'told once: its snapshot changed')
})

void test('an original that could not be had makes the next refresh list the photostream whole (not the sets), so its fixed record is used', async (t) => {
  const h = await harness(t, { photos: 30, videos: 1, sets: 2 })
  const a = h.fake.account
  const bad = a.photostream.find((id) => a.requirePhoto(id).media === 'photo') as string
  const server = a.requirePhoto(bad).server
  // A record whose URL leads nowhere, fixed on Flickr later without its lastupdate moving.
  a.requirePhoto(bad).server = 'gone'
  const first = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.deepEqual(first.media.unavailable.map((u) => u.id), [bad])
  a.requirePhoto(bad).server = server
  h.fake.resetCounts()
  const next = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(next.listing.mode, 'full')
  assert.equal(next.listing.reason, 'items that failed last time are listed afresh')
  assert.deepEqual(next.media.unavailable, [])
  // Every photostream page, but no set's members: a set says nothing of an original.
  const counts = h.fake.counts()
  assert.equal(counts['flickr.people.getPhotos'], 2, 'the page-1 check and the one page of the photostream')
  assert.equal(counts['flickr.photosets.getPhotos'] ?? 0, 0)
  assert.equal(next.listing.setsListed, 0)
  // The listing's marks stay an incremental refresh's: the weekly full listing is not put off by it.
  assert.equal((await headOf(h.root)).listing?.fullListingAtMs, first.startedAtMs)
  assert.equal((await refresh(h, { fullListingEveryMs: WEEK_MS })).listing.mode, 'changes')
})

void test('a page-1 check that lost its photo array fails the refresh instead of passing on nothing', async (t) => {
  const h = await harness(t, { photos: 40, videos: 1, sets: 2 })
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  const generation = h.catalog.generation
  h.fake.account.addPhoto({ title: 'not taken in' })
  h.fake.faults.inject('dropList', { count: Infinity, target: 'flickr.people.getPhotos' })
  h.fake.resetCounts()
  await assert.rejects(refresh(h, { fullListingEveryMs: WEEK_MS }), /people\.getPhotos with a listing that does not add up \(page 1 has no "photo" array/)
  assert.equal(h.fake.counts()['flickr.people.getPhotos'], 3, 'read three times, then given up')
  assert.equal(h.catalog.generation, generation)
  h.fake.faults.clear()
  const good = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(good.listing.mode, 'changes')
  assert.equal(good.photos.added, 1)
})

void test('a first sync that went on from a saved listing leaves no marks: the next refresh lists everything once', async (t) => {
  const h = await harness(t, { photos: 300, videos: 2, sets: 3, commentedFraction: 0.5 }, { maxRetries: 0 })
  await h.catalog.close()
  h.catalog = await h.reopen({ checkpoint: { everyResults: 20 } })
  let cut = false
  await assert.rejects(refresh(h, {
    fullListingEveryMs: WEEK_MS,
    onProgress: (p) => {
      if (cut || p.commentsFetched < 40) return
      cut = true
      h.fake.faults.inject('http500', { count: Infinity, target: 'api' })
    },
  }))
  assert.ok(cut)
  h.fake.faults.clear()
  h.fake.resetCounts()
  await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(h.fake.counts()['flickr.people.getPhotos'] ?? 0, 0, 'the saved listing was gone on from')
  const next = await refresh(h, { fullListingEveryMs: WEEK_MS })
  assert.equal(next.listing.mode, 'full')
  assert.equal(next.listing.reason, 'no full listing on record')
  assert.equal((await refresh(h, { fullListingEveryMs: WEEK_MS })).listing.mode, 'changes')
})

void test('while items fail, the photostream is listed for them at once, then after 1, 2, 4, … hours, at most daily; more failing, or a full listing, starts over', () => {
  const H = 3_600_000
  const fullAt = 1_000_000 * H
  let marks: ListingMarks = { fullListingAtMs: fullAt, changesSinceSec: fullAt / 1000, newestSec: fullAt / 1000 - 10 }
  const failing = { n: 2 }
  const plan = (nowMs: number, retrying = 0): ListingPlan =>
    planFor({ refreshedAtMs: fullAt, listing: marks, unresolved: () => failing.n }, { fullListingEveryMs: 30 * 24 * H, nowMs, retrying })
  /** Refreshes every hour from `fromMs` for `hours` (each `early` ms before the hour but the first); the hours (since fromMs) at which the photostream was listed. */
  const run = (fromMs: number, hours: number, early = 0): number[] => {
    const listedAt: number[] = []
    for (let h = 0; h < hours; h++) {
      const nowMs = fromMs + h * H - (h > 0 ? early : 0)
      const p = plan(nowMs)
      assert.equal(p.mode, 'changes')
      if (p.mode === 'changes' && p.relist !== undefined) listedAt.push(h)
      marks = marksAfter(p, marks, nowMs, [])
    }
    return listedAt
  }
  // A day and a half of hourly refreshes after a failure: at once, then 1, 2, 4, 8, 16 h later, then
  // a day later; the same when each run starts a little before the hour (a cron job's start moves).
  const before = marks
  assert.deepEqual(run(fullAt + H, 48), [0, 1, 3, 7, 15, 31])
  assert.deepEqual(marks.relisted?.count, 6)
  marks = before
  assert.deepEqual(run(fullAt + H, 48, 5_000), [0, 1, 3, 7, 15, 31])
  marks = before
  assert.deepEqual(run(fullAt + H, 48, RETRY_RELIST_SLACK_MS + 1), [0, 2, 4, 8, 16, 32], 'more than the slack early: the first wait a run longer')
  marks = before
  assert.deepEqual(run(fullAt + H, 48), [0, 1, 3, 7, 15, 31])
  // Fewer failing between listings (some fixed): one new failure after that is listed at once.
  failing.n = 1
  assert.deepEqual(run(fullAt + 48 * H, 1), [])
  assert.equal(marks.relisted?.failing, 1)
  // A new failure (more failing than the fewest since the last listing for them, though no more than then): listed at the next refresh.
  failing.n = 2
  assert.deepEqual(run(fullAt + 48 * H + H / 2, 2), [0])
  // A pin's failed download counts too.
  const withDownload = plan(fullAt + 50 * H, 1)
  assert.ok(withDownload.mode === 'changes' && withDownload.relist === RETRY_RELIST_REASON)
  // Nothing failing: an incremental refresh with no listing, and the mark dropped; the next failure is listed at once.
  failing.n = 0
  const none = plan(fullAt + 50 * H)
  assert.deepEqual(none, { mode: 'changes', minDateSec: none.mode === 'changes' ? none.minDateSec : 0 })
  marks = marksAfter(none, marks, fullAt + 50 * H, [])
  assert.equal(marks.relisted, undefined)
  failing.n = 1
  assert.deepEqual(run(fullAt + 51 * H, 3), [0, 1])
  // A full listing gives every record fresh: the mark goes, and the first refresh after it lists again.
  marks = marksAfter({ mode: 'full', reason: 'weekly' }, marks, fullAt + 60 * H, [])
  assert.equal(marks.relisted, undefined)
  assert.deepEqual(run(fullAt + 61 * H, 3), [0, 1])
  // A clock gone back (before the last listing for them, after the full one) lists at once.
  assert.deepEqual(run(fullAt + 60 * H + H / 2, 1), [0])
  assert.ok(RETRY_RELIST_FIRST_MS === H && RETRY_RELIST_MAX_MS === 24 * H)
})

void test('transcodes are asked again with cookies at once, then after a day (less the slack), at once with other cookies; never without cookies; the marks keep when', () => {
  const H = 3_600_000
  const fullAt = 1_000_000 * H
  let marks: ListingMarks = { fullListingAtMs: fullAt, changesSinceSec: fullAt / 1000, newestSec: fullAt / 1000 - 10 }
  const plan = (nowMs: number, opts: { cookies?: string; retryTranscodes?: boolean } = {}, fullListingEveryMs = 30 * 24 * H): ListingPlan =>
    planFor({ refreshedAtMs: fullAt, listing: marks, unresolved: () => 0 }, { fullListingEveryMs, nowMs, retrying: 0, ...opts })
  const a = 'cookie_accid=1; cookie_epass=a'
  /** Hourly refreshes with `cookies` from `fromMs`, each `early` ms before the hour but the first: the hours at which transcodes were asked again. */
  const run = (fromMs: number, hours: number, cookies: string | undefined, early = 0): number[] => {
    const asked: number[] = []
    for (let h = 0; h < hours; h++) {
      const nowMs = fromMs + h * H - (h > 0 ? early : 0)
      const p = plan(nowMs, cookies === undefined ? {} : { cookies })
      if (p.transcodes !== undefined) asked.push(h)
      // A refresh that finds nothing to change keeps the marks as a merge would (the quick refresh's).
      marks = h % 2 === 0 ? marksAfter(p, marks, nowMs, []) : (marksUnchanged(marks, nowMs, p) ?? assert.fail('marks'))
    }
    return asked
  }
  // (Read through a function: an assertion on `marks` would narrow it for the lines after.)
  const tried = (): ListingMarks['transcodesTried'] => marks.transcodesTried
  assert.deepEqual(run(fullAt + H, 30, undefined), [], 'never without cookies')
  assert.equal(tried(), undefined)
  assert.deepEqual(run(fullAt + 40 * H, 60, a), [0, 24, 48])
  assert.equal(tried()?.cookies, cookiesFingerprint(a), 'a fingerprint of the cookies')
  assert.ok(!JSON.stringify(marks).includes('epass'), 'never the cookies themselves')
  const before = marks
  assert.deepEqual(run(fullAt + 200 * H, 30, a, 5_000), [0, 24], 'a day after the last try, a run 5 s early counts')
  marks = before
  assert.deepEqual(run(fullAt + 150 * H, 30, a, RETRY_RELIST_SLACK_MS + 1), [0, 25], 'more than the slack early: a run later')
  // Other cookies (the session signed in again): at once; without cookies in between, the mark stays.
  const at = marks.transcodesTried?.atMs ?? assert.fail('marked')
  assert.deepEqual(run(at + H, 3, undefined), [])
  assert.equal(marks.transcodesTried?.atMs, at)
  assert.deepEqual(run(at + 4 * H, 3, 'cookie_accid=1; cookie_epass=b'), [0])
  // A full listing keeps the mark (it says nothing of the cookies), a clock gone back asks at once.
  const t0 = marks.transcodesTried?.atMs ?? assert.fail('marked')
  const full = plan(t0 + H, { cookies: 'cookie_accid=1; cookie_epass=b' }, 0)
  assert.equal(full.mode, 'full')
  assert.equal(full.transcodes, undefined)
  assert.deepEqual(marksAfter(full, marks, t0 + H, []).transcodesTried, marks.transcodesTried)
  assert.notEqual(plan(t0 - H, { cookies: 'cookie_accid=1; cookie_epass=b' }).transcodes, undefined, 'a clock gone back')
  // Asked for (or refused) whatever the marks say.
  assert.notEqual(plan(t0 + H, { retryTranscodes: true }).transcodes, undefined)
  assert.equal(plan(t0 - H, { cookies: 'x', retryTranscodes: false }).transcodes, undefined)
  assert.equal(TRANSCODE_RETRY_EVERY_MS, 24 * H)
})

void test("items failing elsewhere (a pin's downloads, seen by a mount) count for the listing's backoff, and a refresh that finds nothing changed keeps the mark", () => {
  const H = 3_600_000
  const fullAt = 1_000_000 * H
  const start: ListingMarks = { fullListingAtMs: fullAt, changesSinceSec: fullAt / 1000, newestSec: fullAt / 1000 - 10 }
  const plan = (marks: ListingMarks, nowMs: number, failingElsewhere?: number): ListingPlan =>
    planFor({ refreshedAtMs: fullAt, listing: marks, unresolved: () => 0 }, { fullListingEveryMs: 30 * 24 * H, nowMs, retrying: 0, ...(failingElsewhere !== undefined ? { failingElsewhere } : {}) })
  // A pin's refresh lists for its failed download (retrying 1: as `resolveAgain`) ...
  const pinned = planFor({ refreshedAtMs: fullAt, listing: start, unresolved: () => 0 }, { fullListingEveryMs: 30 * 24 * H, nowMs: fullAt + H, retrying: 1 })
  assert.ok(pinned.mode === 'changes' && pinned.relist === RETRY_RELIST_REASON)
  const after = marksAfter(pinned, start, fullAt + H, [])
  // ... a mount's refresh 15 min later counts it without retrying it: no listing, the mark kept.
  const mounted = plan(after, fullAt + H + 15 * 60_000, 1)
  assert.ok(mounted.mode === 'changes' && mounted.relist === undefined && mounted.failing === 1)
  const kept = marksUnchanged(after, fullAt + H + 15 * 60_000, mounted) ?? assert.fail('marks')
  assert.deepEqual(kept.relisted, after.relisted)
  // Without the count the mark went, and the next pin listed the photostream again.
  assert.equal(marksUnchanged(after, fullAt + H + 15 * 60_000, plan(after, fullAt + H + 15 * 60_000))?.relisted, undefined)
  // An hour after the listing, the mount's refresh lists for it (the backoff counts either process).
  const due = plan(kept, fullAt + 2 * H, 1)
  assert.ok(due.mode === 'changes' && due.relist === RETRY_RELIST_REASON)
})
