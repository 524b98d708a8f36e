/**
 * FirstCatalog fed by a real first refresh (real catalog in a temp root, real HTTP to the fake):
 * the first sync announces its parts in the order a first mount shows them, every view shows sets
 * whole, collections only with every set, and the last view already has the complete catalog's
 * times and bytes for photos and sets (nothing a reader saw changes when the catalog completes).
 * Then the throttle: a long run of comments alone shows a view only every `commentsEveryMs`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { CatalogView, ListingEvent, MediaEvent, PhotoEntry } from '../../src/catalog/index.js'
import { FirstCatalog, type PartialView } from '../../src/service/first-catalog.js'
import { firstCatalogProgress } from '../../src/service/live-mount.js'
import { buildLayout, type Layout } from '../../src/layout/index.js'
import { harness, refresh } from '../catalog/harness.js'

/** A view's photostream order. */
function orderOf(view: CatalogView): string[] {
  return Array.from({ length: view.photostreamLength }, (_, i) => view.photostreamId(i))
}

/** A sidecar's mtime and bytes in `layout`. */
function sidecar(layout: Layout, name: string): { mtimeMs: number; size: number; text: string } | undefined {
  const node = layout.lookup(`/photostream/${name}`)
  if (node === undefined || node.kind !== 'file' || node.content.type !== 'bytes') return undefined
  return { mtimeMs: node.mtimeMs, size: node.size, text: node.content.data.toString('utf8') }
}

void describe('FirstCatalog', () => {
  void it('follows a real first sync: photostream, whole sets, then collections, comments last; the last view is what the complete catalog shows', async (t) => {
    const h = await harness(t, { photos: 30, videos: 2, sets: 5, collections: 2, commentedFraction: 0.4 })
    h.tick()
    const partial = new FirstCatalog(h.clock.now)
    const order: string[] = []
    const views: PartialView[] = []
    const take = (): void => {
      const v = partial.takeView()
      if (v !== undefined) views.push(v)
    }
    await h.catalog.refresh(h.client, h.media, {
      onMedia: (ev: MediaEvent) => {
        partial.add(ev)
        take()
      },
      onListed: (ev: ListingEvent) => {
        order.push(ev.kind)
        partial.listed(ev)
        take()
      },
    })
    const snap = h.catalog.snapshot()
    assert.ok(snap.sets.length === 5 && snap.comments.size > 0)

    // The order of a first sync: photostream, set list, each set, the tree, then every comment list.
    const last = (k: string): number => order.lastIndexOf(k)
    const first = (k: string): number => order.indexOf(k)
    assert.equal(order[0], 'photostream', order.join(' '))
    assert.ok(first('setList') > 0 && last('set') < first('collections'), order.join(' '))
    assert.ok(last('collections') < first('comments'), `comments come last: ${order.join(' ')}`)
    assert.equal(order.filter((k) => k === 'comments').length, snap.comments.size)

    // Every view: a set shown has every member the complete catalog gives it; collections and
    // Not in any set only once every set is in.
    const final = new Map(snap.sets.map((s) => [s.id, s]))
    let sawSomeSets = false
    for (const { view: v, allSets } of views) {
      if (!allSets && v.sets.length > 0) sawSomeSets = true
      for (const s of v.sets) assert.deepEqual(s.photoIds, final.get(s.id)?.photoIds, `set ${s.id} is whole`)
      if (!allSets) assert.equal(v.collections.length, 0, 'no collection before every set')
    }
    assert.ok(sawSomeSets, 'some view showed part of the sets')

    // The last view already has the complete catalog's sidecars (bytes and mtimes) and set times.
    const lastView = views[views.length - 1] as PartialView
    assert.equal(lastView.allSets, true)
    const shown = buildLayout(lastView.view)
    const whole = buildLayout(snap)
    let commented = 0
    for (const id of snap.photostream) {
      const photo = snap.photos.get(id)!
      const name = `${id}.${snap.media.get(`${id}_${photo.secret}`)?.ext ?? ''}.metadata`
      const [a, b] = [sidecar(shown, name), sidecar(whole, name)]
      assert.ok(b !== undefined, name)
      assert.deepEqual(a, b, `${name}: same bytes and mtime once the comments are in`)
      if (snap.comments.has(id)) commented++
    }
    assert.ok(commented > 0)
    for (const s of lastView.view.sets) assert.equal(s.changedAtMs, final.get(s.id)?.changedAtMs)
    assert.deepEqual(orderOf(lastView.view), snap.photostream)

    // Before its comments came, a commented photo's sidecar was a second older and had none.
    const id = [...snap.comments.keys()][0] as string
    const early = views.find((v) => v.view.photo(id) !== undefined)!
    assert.equal(early.view.comments(id), undefined)
    assert.equal(early.view.photo(id)!.changedAtMs, snap.photos.get(id)!.changedAtMs - 1000)
    assert.equal((early.view.record(id) as PhotoEntry).changedAtMs, snap.photos.get(id)!.changedAtMs - 1000)
  })

  void it('shows comment-only news at most every commentsEveryMs, other news at most every everyMs', async (t) => {
    const h = await harness(t, { photos: 40, videos: 0, sets: 2, collections: 0, commentedFraction: 1 })
    const events: Array<{ media?: MediaEvent; listed?: ListingEvent }> = []
    await refresh(h, {
      onMedia: (media) => events.push({ media }),
      onListed: (listed) => events.push({ listed }),
    })
    const partial = new FirstCatalog()
    const shownAt: Array<{ at: number; comments: number }> = []
    const stop = partial.showEvery((v) => shownAt.push({ at: performance.now(), comments: v.comments }), 50, 600)
    t.after(stop)
    // Everything but the comments at once, then one comment list every 20 ms (2 s of comments).
    const comments = events.filter((e) => e.listed?.kind === 'comments')
    for (const e of events.filter((x) => x.listed?.kind !== 'comments')) {
      if (e.media) partial.add(e.media)
      else if (e.listed) partial.listed(e.listed)
    }
    await new Promise((res) => setTimeout(res, 300))
    const before = shownAt.length
    assert.ok(before >= 1, 'the tree was shown')
    const t0 = performance.now()
    for (const e of comments) {
      partial.listed(e.listed!)
      await new Promise((res) => setTimeout(res, 2000 / comments.length))
    }
    await new Promise((res) => setTimeout(res, 900))
    const during = shownAt.slice(before)
    const span = performance.now() - t0
    assert.ok(comments.length === 40, `${comments.length} comment lists`)
    assert.ok(during.length >= 2 && during.length <= Math.ceil(span / 600) + 1, `${during.length} views in ${Math.round(span)} ms of comments`)
    for (let i = 1; i < during.length; i++) assert.ok(during[i]!.at - during[i - 1]!.at >= 550, 'comment views are 600 ms apart')
    assert.equal(during[during.length - 1]!.comments, 40, 'the last view has every comment list')
  })
})

void describe('FirstCatalog.release', () => {
  void it('lets go of what it gathered: no more views, later events ignored, its count kept for the failure line', async (t) => {
    const h = await harness(t, { photos: 12, videos: 0, sets: 2, collections: 0, commentedFraction: 0.5 })
    const events: Array<{ media?: MediaEvent; listed?: ListingEvent }> = []
    await refresh(h, { onMedia: (media) => events.push({ media }), onListed: (listed) => events.push({ listed }) })
    const partial = new FirstCatalog()
    const media = events.filter((e) => e.media !== undefined)
    for (const e of events.slice(0, -1)) {
      if (e.media) partial.add(e.media)
      else if (e.listed) partial.listed(e.listed)
    }
    const view = partial.takeView()
    assert.ok(view !== undefined)
    const shown = view.view.photoCount
    partial.release()
    assert.equal(partial.size, media.length)
    const last = events.at(-1)!
    if (last.media) partial.add(last.media)
    else if (last.listed) partial.listed(last.listed)
    assert.equal(partial.takeView(), undefined, 'no view after release')
    // A view taken before stays as it was: release() empties the catalog's own maps, not the view's.
    assert.equal(view.view.photoCount, shown)
    assert.ok(shown > 0)
  })
})

void describe('FirstCatalog views', () => {
  void it('a view stays as it was taken while more comes in: later photos, comments and a photo given again are not seen', async (t) => {
    const h = await harness(t, { photos: 20, videos: 0, sets: 2, collections: 0, commentedFraction: 0.5 })
    const events: Array<{ media?: MediaEvent; listed?: ListingEvent }> = []
    await refresh(h, { onMedia: (media) => events.push({ media }), onListed: (listed) => events.push({ listed }) })
    const media = events.flatMap((e) => (e.media ? [e.media] : []))
    const comments = events.flatMap((e) => (e.listed?.kind === 'comments' && e.listed.list.length > 0 ? [e.listed] : []))
    const commented = media.find((m) => comments.some((c) => c.photoId === m.listed.id))!
    const partial = new FirstCatalog()
    for (const m of media.slice(0, 10)) partial.add(m)
    if (!media.slice(0, 10).includes(commented)) partial.add(commented)
    const early = partial.takeView()!
    const shown = early.view.photoCount
    const stampBefore = early.view.photo(commented.listed.id)!.changedAtMs
    const later = media.find((m) => early.view.photo(m.listed.id) === undefined)!
    // More photos, every comment list, and a photo given again with another original.
    for (const m of media) if (early.view.photo(m.listed.id) === undefined) partial.add(m)
    for (const c of comments) partial.listed(c)
    partial.add({ ...commented, media: { ...commented.media, secret: 'other', size: 1 } })
    assert.equal(early.view.photoCount, shown)
    assert.equal(early.view.photo(later.listed.id), undefined, 'a photo added after the view')
    assert.equal(early.view.comments(commented.listed.id), undefined, 'comments that came after the view')
    assert.equal(early.view.photo(commented.listed.id)!.changedAtMs, stampBefore)
    assert.equal(early.view.media(commented.listed.id, commented.media.secret), commented.media)
    const now = partial.takeView()!
    assert.equal(now.view.photoCount, media.length)
    assert.equal(now.view.photo(commented.listed.id)!.changedAtMs, stampBefore + 1000, 'a second later once its comments are in')
    assert.ok(((now.view.comments(commented.listed.id) as unknown[] | undefined)?.length ?? 0) > 0)
    assert.equal(now.view.media(commented.listed.id, commented.media.secret), undefined, 'its original is the one given last')
    assert.equal(now.view.media(commented.listed.id, 'other')?.size, 1)
    assert.equal(now.comments, comments.length)
  })
})

void describe("the first catalog's progress lines", () => {
  void it('count the sizes out of the originals to size, or of the photos listed before that is known; never out of 0', () => {
    const lines: string[] = []
    const tell = firstCatalogProgress((l) => lines.push(l), 0)
    const p = { phase: 'details' as const, photos: 3020, sets: 0, setsListed: 0, commentsToFetch: 0, commentsFetched: 0, mediaToResolve: 0, mediaResolved: 80 }
    // Originals are sized page by page while the listing comes in: the details' count is not set yet.
    tell(p)
    tell({ ...p, mediaToResolve: 3000, mediaResolved: 900, commentsToFetch: 613 })
    tell({ ...p, phase: 'listing', photos: 0, mediaResolved: 12 })
    assert.deepEqual(lines.map((l) => /sizes [^,]*/.exec(l)?.[0]), ['sizes 80/3020', 'sizes 900/3000', 'sizes 12'])
  })
})
