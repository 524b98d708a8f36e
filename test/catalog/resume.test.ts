/**
 * A refresh cut off in the middle (Flickr unreachable past the retries) keeps what it fetched, in
 * the catalog's sqlite beside the catalog, and the next refresh asks Flickr only for the rest;
 * readers keep the old catalog meanwhile. Counted at the fake, over HTTP, with a real sqlite file.
 * (Kill -9 of the CLI in each phase: test/e2e/sync-resume.test.ts.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Catalog, readProgress, type ProgressMeta, type RefreshProgress } from '../../src/catalog/index.js'
import { RefreshCheckpoint } from '../../src/catalog/checkpoint.js'
import { tempDir } from '../support/repo.js'
import { harness, refresh, type Harness } from './harness.js'

const count = (h: Harness, name: string): number => h.fake.counts()[name] ?? 0

/** Starts a refresh and makes every API call fail once `when` holds for its progress; resolves with the saved progress. */
async function cutOff(h: Harness, when: (p: RefreshProgress) => boolean, saves = true): Promise<ProgressMeta | undefined> {
  let cut = false
  await assert.rejects(
    refresh(h, {
      onProgress: (p) => {
        if (cut || !when(p)) return
        cut = true
        h.fake.faults.inject('http500', { count: Infinity, target: 'api' })
      },
    }),
  )
  assert.ok(cut, 'the refresh was cut off')
  h.fake.faults.clear()
  const meta = await readProgress(h.root)
  if (saves) assert.ok(meta !== undefined, 'progress was saved')
  return meta
}

async function resumable(t: Parameters<typeof harness>[0]): Promise<Harness> {
  const h = await harness(t, { photos: 400, videos: 6, sets: 8, commentedFraction: 0.5 }, { maxRetries: 0 })
  await h.catalog.close()
  h.catalog = await h.reopen({ checkpoint: { everyResults: 20 } })
  return h
}

void test('a first sync cut off in its comments goes on from what it saved: nothing recorded is asked again', async (t) => {
  const h = await resumable(t)
  const a = h.fake.account
  const N = a.photostream.length
  const C = a.commented().length
  assert.ok(C > 150)

  const meta = (await cutOff(h, (p) => p.commentsFetched >= 100)) as ProgressMeta
  assert.equal(h.catalog.generation, '', 'nothing was saved as the catalog')
  assert.equal(meta.photostream?.count, N, 'the photostream listing was saved')
  assert.equal(meta.comments.total, C)
  assert.ok(meta.comments.done >= 100 && meta.comments.done < C, `comments saved: ${meta.comments.done} of ${C}`)
  assert.equal(meta.sizes.total, N)

  h.fake.resetCounts()
  const report = await refresh(h)
  // Exactly the rest: the failing refresh saved every answer it had before it gave up.
  assert.equal(count(h, 'flickr.people.getPhotos'), 0, 'the saved listing is reused')
  assert.equal(count(h, 'flickr.photos.comments.getList'), C - meta.comments.done)
  const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video').length
  assert.ok(count(h, 'media:HEAD') >= N - meta.sizes.done - videos, 'each original not saved is sized')
  assert.ok(count(h, 'media:HEAD') <= N - meta.sizes.done, `${count(h, 'media:HEAD')} HEADs for ${N - meta.sizes.done} originals not saved`)
  assert.equal(count(h, 'flickr.photosets.getPhotos'), meta.sets.total - meta.sets.done)
  assert.equal(report.photos.total, N)

  // The catalog is whole, and the progress gone.
  const snap = h.catalog.snapshot()
  assert.equal(snap.media.size, N)
  for (const id of a.commented()) assert.deepEqual(snap.comments.get(id)?.map((c) => c._content), a.requirePhoto(id).comments.map((c) => c.text), id)
  assert.equal(await readProgress(h.root), undefined)
})

void test('saved comments stay valid for their lastupdate, saved listings only while young', async (t) => {
  const h = await resumable(t)
  const a = h.fake.account
  const C = a.commented().length
  const meta = (await cutOff(h, (p) => p.commentsFetched >= 60)) as ProgressMeta
  assert.ok(meta.comments.done >= 60)

  // A day later, one of the photos whose comments were saved was edited.
  const saved = a.commented().filter((id) => !a.requirePhoto(id).comments.some((c) => c.text === 'new'))
  const edited = saved[0] as string
  a.editPhoto(edited, { title: 'edited while the sync was down' })
  a.addComment(edited, 'new')
  h.tick(25 * 3600_000)
  h.fake.resetCounts()
  await refresh(h)
  assert.ok(count(h, 'flickr.people.getPhotos') >= 1, 'a listing older than 24 h is listed again')
  // The saved comment lists are still good, except the edited photo's if it was among them.
  const asked = count(h, 'flickr.photos.comments.getList')
  assert.ok(asked <= C - meta.comments.done + 1, `${asked} comment lists asked, ${C - meta.comments.done} not saved`)
  assert.ok(asked >= C - meta.comments.done)
  assert.ok(h.catalog.snapshot().comments.get(edited)?.some((c) => c._content === 'new'), 'the edited photo has its new comment')
  assert.equal(count(h, 'flickr.photosets.getPhotos'), a.sets.filter((s) => s.photoIds.length > 0).length, 'set listings older than 24 h are listed again')
})

void test('readers see the old catalog while a refresh runs and after it is cut off', async (t) => {
  const h = await resumable(t)
  const a = h.fake.account
  await refresh(h)
  const old = { generation: h.catalog.generation, photos: h.catalog.snapshot().photos.size, sets: h.catalog.snapshot().sets.length }
  // Many new commented photos and a new set: much to fetch, so progress is saved during the refresh.
  const added = Array.from({ length: 150 }, (_, i) => a.addPhoto({ title: `new ${i}` }).id)
  for (const id of added) a.addComment(id, `comment on ${id}`)
  a.addSet({ title: 'New set', photoIds: added.slice(0, 40) })

  const seen: Array<Promise<{ generation: string; photos: number; sets: number; progress: ProgressMeta | undefined }>> = []
  const look = async (): Promise<{ generation: string; photos: number; sets: number; progress: ProgressMeta | undefined }> => {
    // A reader looks once progress is saved (the checkpoint writes every 20 answers, on sqlite's
    // thread: on a loaded machine the first looks came before any write landed).
    let progress = await readProgress(h.root)
    for (let waited = 0; progress === undefined && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      progress = await readProgress(h.root)
    }
    const reader = await Catalog.open(h.root, { readOnly: true })
    try {
      return { generation: reader.generation, photos: reader.snapshot().photos.size, sets: reader.snapshot().sets.length, progress }
    } finally {
      await reader.close()
    }
  }
  const meta = (await cutOff(h, (p) => {
    if (p.commentsFetched > 0 && p.commentsFetched % 30 === 0) seen.push(look())
    return p.commentsFetched >= 120
  })) as ProgressMeta
  const during = await Promise.all(seen)
  assert.ok(during.some((d) => d.progress !== undefined), 'progress was saved while the readers looked')
  for (const d of during) assert.deepEqual({ generation: d.generation, photos: d.photos, sets: d.sets }, old)
  assert.ok(meta.comments.done >= 100)
  // The cut-off refresh changed nothing a reader sees, in this process or another.
  assert.equal(h.catalog.generation, old.generation)
  assert.deepEqual(await look().then((d) => ({ generation: d.generation, photos: d.photos, sets: d.sets })), old)

  h.fake.resetCounts()
  await refresh(h)
  assert.equal(count(h, 'flickr.photos.comments.getList'), 150 - meta.comments.done)
  assert.equal(h.catalog.snapshot().photos.size, old.photos + 150)
  assert.equal(h.catalog.snapshot().sets.length, old.sets + 1)
})

void test('a refresh with little to do saves no progress, and a completed one leaves none', async (t) => {
  const h = await resumable(t)
  await refresh(h)
  assert.equal(await readProgress(h.root), undefined)
  h.fake.account.addComment(h.fake.account.photostream[0] as string, 'one more')
  const meta = await cutOff(h, (p) => p.phase === 'details', false)
  // Cut off right after the listing: at most what was fetched is saved, not the listing (one comment list is not worth it).
  assert.equal(meta?.photostream, undefined)
  h.fake.resetCounts()
  await refresh(h)
  assert.ok(count(h, 'flickr.people.getPhotos') >= 1)
  assert.equal(await readProgress(h.root), undefined)
})

for (const { pagesAhead, cutAt, saved } of [
  // One page at a time: page 3 is the first to fail, pages 1 and 2 are saved.
  { pagesAhead: 0, cutAt: 3, saved: 2 },
  // As a refresh asks by default: once page 1 is in, pages 2 to 4 go out together and fail together.
  { pagesAhead: undefined, cutAt: 2, saved: 1 },
]) {
  void test(`a first sync cut off in its photostream listing asks only for the pages after the last one it saved (${pagesAhead === 0 ? 'one page at a time' : 'pages asked ahead'})`, async (t) => {
    const h = await harness(t, { photos: 1_700, videos: 4, sets: 4, commentedFraction: 0.02 }, { maxRetries: 0, ...(pagesAhead !== undefined ? { pagesAhead } : {}) })
    const a = h.fake.account
    const pages = Math.ceil(a.photostream.length / 500)
    assert.equal(pages, 4)
    // Page `cutAt` fails once it has arrived (the fake counts a request before its latency, and looks for faults after).
    h.fake.faults.apiLatencyMs = 60
    const watch = setInterval(() => {
      if (count(h, 'flickr.people.getPhotos') >= cutAt) h.fake.faults.inject('http500', { count: Infinity, target: 'flickr.people.getPhotos' })
    }, 2)
    await assert.rejects(refresh(h))
    clearInterval(watch)
    h.fake.faults.clear()
    const meta = await readProgress(h.root)
    assert.deepEqual(meta?.photostream && { chunks: meta.photostream.chunks, count: meta.photostream.count, complete: meta.photostream.complete }, { chunks: saved, count: saved * 500, complete: false })

    h.fake.resetCounts()
    const report = await refresh(h)
    assert.equal(count(h, 'flickr.people.getPhotos'), pages - saved, 'the pages saved are not asked again')
    assert.equal(report.photos.total, a.photostream.length)
    assert.deepEqual(h.catalog.snapshot().photostream, a.photostream, 'the listing is whole and in order')
    assert.equal(await readProgress(h.root), undefined)
  })
}

void test('a first sync\'s listing waits for the checkpoint once the pages it has not written pass maxUnwrittenChars', async (t) => {
  const root = await tempDir('flickrfs-checkpoint-')
  t.after(() => rm(root, { recursive: true, force: true }))
  await mkdir(join(root, '.flickrfs'))
  const page = (n: number) => Array.from({ length: 3 }, (_, i) => ({ id: String(n * 10 + i), title: `photo ${n}.${i}` }))
  const open = async (maxUnwrittenChars?: number) => {
    const cp = await RefreshCheckpoint.open(root, () => 1_700_000_000_000, maxUnwrittenChars === undefined ? {} : { maxUnwrittenChars })
    cp.begin('12345678@N00', true)
    return cp
  }
  const roomy = await open()
  assert.equal(roomy.photostreamResume().onPage?.(1, page(1)), undefined, 'under the bound: the listing goes on')
  await roomy.close()

  const tight = await open(JSON.stringify(page(1)).length + 10)
  const onPage = tight.photostreamResume().onPage
  assert.equal(onPage?.(1, page(1)), undefined)
  const wait = onPage?.(2, page(2))
  assert.ok(wait instanceof Promise, 'past the bound: the listing is held')
  await wait
  // Settled once both pages are on disk: what a rerun would go on from.
  const saved = (await readProgress(root))?.photostream
  assert.deepEqual(saved && { chunks: saved.chunks, count: saved.count }, { chunks: 2, count: 6 })
  assert.equal(onPage?.(3, page(3)), undefined, 'written: room again')
  await tight.close()
})
