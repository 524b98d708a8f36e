import { test } from 'node:test'
import assert from 'node:assert/strict'
import { paginate } from '../../src/flickr/index.js'

const photos = (ids: number[]) => ids.map((id) => ({ id: String(id) }))

void test('paginate stops at pages and de-duplicates overlapping pages', async () => {
  const asked: number[] = []
  const pagesData = [[1, 2, 3], [3, 4, 5], [6]]
  const out = await paginate((page) => {
    asked.push(page)
    return Promise.resolve({ photos: { page, pages: '3', perpage: 3, total: '6', photo: photos(pagesData[page - 1] ?? [6]) } })
  }, 'photos', 'photo', { perPage: 3 })
  assert.deepEqual(out.map((p) => p.id), ['1', '2', '3', '4', '5', '6'])
  assert.deepEqual(asked, [1, 2, 3])
})

void test('paginate re-asks a short page before the last one, then accepts it', async () => {
  const asked: number[] = []
  let shortServed = 0
  const out = await paginate((page) => {
    asked.push(page)
    if (page === 1 && shortServed < 1) {
      shortServed++
      return Promise.resolve({ photos: { page, pages: 2, perpage: 3, photo: photos([1]) } })
    }
    return Promise.resolve({ photos: { page, pages: 2, perpage: 3, photo: photos(page === 1 ? [1, 2, 3] : [4]) } })
  }, 'photos', 'photo', { perPage: 3 })
  assert.deepEqual(out.map((p) => p.id), ['1', '2', '3', '4'])
  assert.deepEqual(asked, [1, 1, 2])

  const stubborn: number[] = []
  const out2 = await paginate((page) => {
    stubborn.push(page)
    return Promise.resolve({ photos: { page, pages: 2, perpage: 3, photo: photos(page === 1 ? [1] : [4]) } })
  }, 'photos', 'photo', { perPage: 3 })
  assert.deepEqual(out2.map((p) => p.id), ['1', '4'])
  assert.deepEqual(stubborn, [1, 1, 1, 2], 'two re-asks, then move on')
})

void test('paginate handles an empty list, a lone object and a missing pages', async () => {
  assert.deepEqual(await paginate(() => Promise.resolve({ photos: { page: 1, pages: 0, total: 0, photo: [] } }), 'photos', 'photo', { perPage: 500 }), [])
  assert.deepEqual(await paginate(() => Promise.resolve({ photoset: { page: 1, pages: 1, photo: { id: '9' } } }), 'photoset', 'photo', { perPage: 500 }), [{ id: '9' }])
  // No pages, no total: keep going until a page adds nothing new (a repeated last page).
  let calls = 0
  const out = await paginate((page) => {
    calls++
    return Promise.resolve({ photosets: { page, per_page: 2, photoset: photos(page === 1 ? [1, 2] : [3]) } })
  }, 'photosets', 'photoset', { perPage: 2 })
  assert.deepEqual(out.map((p) => p.id), ['1', '2', '3'])
  assert.equal(calls, 2, 'a short page ends a list whose pages is unknown')

  // No pages and a server that repeats a full page forever: stop when nothing new arrives.
  let repeats = 0
  const out2 = await paginate((page) => {
    repeats++
    return Promise.resolve({ photos: { page, perpage: 2, photo: photos([1, 2]) } })
  }, 'photos', 'photo', { perPage: 2 })
  assert.deepEqual(out2.map((p) => p.id), ['1', '2'])
  assert.equal(repeats, 2)
})

/** A fetchPage whose answers wait until the test lets them go: what is asked, and what is in flight. */
function heldPages(answerOf: (page: number) => unknown) {
  const asked: number[] = []
  const waiting = new Map<number, () => void>()
  let inFlight = 0
  let peak = 0
  let settled = 0
  const fetchPage = (page: number): Promise<unknown> => {
    asked.push(page)
    peak = Math.max(peak, ++inFlight)
    return new Promise<void>((resolve) => waiting.set(page, resolve)).then(() => {
      inFlight--
      settled++
      const answer = answerOf(page)
      if (answer instanceof Error) throw answer
      return answer
    })
  }
  /** Lets every page asked so far answer, last asked first, until nothing more is asked. */
  const drain = async (): Promise<void> => {
    for (;;) {
      await new Promise((r) => setImmediate(r))
      const pages = [...waiting.keys()].reverse()
      if (pages.length === 0) return
      for (const p of pages) {
        waiting.get(p)?.()
        waiting.delete(p)
      }
    }
  }
  /** Lets one page answer now. */
  const release = async (page: number): Promise<void> => {
    waiting.get(page)?.()
    waiting.delete(page)
    await new Promise((r) => setImmediate(r))
  }
  return { asked, fetchPage, drain, release, peak: () => peak, settled: () => settled }
}

void test('paginate asks the pages the first one names together, and takes them in order whatever order they answer in', async () => {
  const ids = (page: number) => [page * 10 + 1, page * 10 + 2]
  const held = heldPages((page) => ({ photos: { page, pages: 5, perpage: 2, total: 10, photo: photos(ids(page)) } }))
  const taken: number[] = []
  const listing = paginate(held.fetchPage, 'photos', 'photo', { perPage: 2, onPage: (page) => void taken.push(page) })
  await held.drain()
  const out = await listing
  assert.deepEqual(out.map((p) => p.id), [11, 12, 21, 22, 31, 32, 41, 42, 51, 52].map(String))
  assert.deepEqual(held.asked, [1, 2, 3, 4, 5], 'each page once, none past the last')
  assert.equal(held.peak(), 4, 'pages 2 to 5 were asked before any of them answered')
  assert.deepEqual(taken, [1, 2, 3, 4, 5])

  const one = heldPages((page) => ({ photos: { page, pages: 5, perpage: 2, total: 10, photo: photos(ids(page)) } }))
  const alone = paginate(one.fetchPage, 'photos', 'photo', { perPage: 2, pagesAhead: 0 })
  await one.drain()
  assert.equal((await alone).length, 10)
  assert.equal(one.peak(), 1, 'pagesAhead 0: one page at a time')
})

void test('paginate asks no more than pagesAhead beyond the page being read, and never past the total', async () => {
  // pages says 40, total says 20 pages of 2: the smaller one is believed for asking ahead.
  const held = heldPages((page) => ({ photos: { page, pages: 40, perpage: 2, total: 40, photo: photos([page * 10 + 1, page * 10 + 2]) } }))
  const listing = paginate(held.fetchPage, 'photos', 'photo', { perPage: 2, pagesAhead: 3 })
  await held.drain()
  assert.equal((await listing).length, 40)
  assert.equal(held.peak(), 4, 'the page being read and 3 ahead')
  assert.deepEqual(held.asked, Array.from({ length: 20 }, (_, i) => i + 1))
})

void test('a listing that ends before the pages asked ahead waits for them, takes none of them, and a failure among them fails nobody', async () => {
  // Page 3 repeats page 2 (a page with no new id ends the list); pages 4–6 were asked ahead, 5 fails.
  const held = heldPages((page) => (page === 5
    ? new Error('page 5 failed')
    : { photos: { page, pages: 6, perpage: 2, photo: photos(page === 3 ? [21, 22] : [page * 10 + 1, page * 10 + 2]) } }))
  let done = false
  const listing = paginate(held.fetchPage, 'photos', 'photo', { perPage: 2 }).finally(() => (done = true))
  await held.release(1)
  // Page 5 fails while page 3, the one being read, is still out: no unhandled rejection.
  await held.release(5)
  await held.release(2)
  await held.release(3)
  assert.deepEqual(held.asked, [1, 2, 3, 4, 5, 6])
  assert.equal(done, false, 'pages 4 and 6 are still out: the listing has not returned')
  await held.drain()
  const out = await listing
  assert.deepEqual(out.map((p) => p.id), ['11', '12', '21', '22'])
  assert.equal(held.settled(), 6)

  // A page asked ahead that fails fails the listing when its turn comes, once the others are in.
  const failing = heldPages((page) => (page === 3
    ? new Error('page 3 failed')
    : { photos: { page, pages: 6, perpage: 2, total: 12, photo: photos([page * 10 + 1, page * 10 + 2]) } }))
  const failed = paginate(failing.fetchPage, 'photos', 'photo', { perPage: 2 }).then(() => undefined, (e: unknown) => e)
  await failing.drain()
  assert.match(String(await failed), /page 3 failed/)
  assert.equal(failing.settled(), failing.asked.length)
})

void test('expectedPages asks that many pages with the first; a guess too high asks past the end and takes nothing from there', async () => {
  const ids = (page: number) => [page * 10 + 1, page * 10 + 2]
  // Three pages; past the end Flickr repeats the last one.
  const answer = (page: number) => ({ photos: { page: Math.min(page, 3), pages: 3, perpage: 2, total: 6, photo: photos(ids(Math.min(page, 3))) } })
  const exact = heldPages(answer)
  const listing = paginate(exact.fetchPage, 'photos', 'photo', { perPage: 2, expectedPages: 3 })
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(exact.asked, [1, 2, 3], 'asked before any answer')
  await exact.drain()
  assert.deepEqual((await listing).map((p) => p.id), ['11', '12', '21', '22', '31', '32'])

  const high = heldPages(answer)
  const tooHigh = paginate(high.fetchPage, 'photos', 'photo', { perPage: 2, expectedPages: 5 })
  await high.drain()
  assert.deepEqual((await tooHigh).map((p) => p.id), ['11', '12', '21', '22', '31', '32'])
  assert.deepEqual(high.asked, [1, 2, 3, 4, 5])
  assert.equal(high.settled(), 5, 'the pages past the end were waited for')

  const capped = heldPages(answer)
  const huge = paginate(capped.fetchPage, 'photos', 'photo', { perPage: 2, expectedPages: 1_000, pagesAhead: 1 })
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(capped.asked, [1, 2], 'never more than pagesAhead beyond page 1')
  await capped.drain()
  assert.equal((await huge).length, 6)
})

void test('a hook that returns a promise holds the listing: no page is taken or asked past it until the promise settles', async () => {
  const ids = (page: number) => [page * 10 + 1, page * 10 + 2]
  const held = heldPages((page) => ({ photos: { page, pages: 4, perpage: 2, total: 8, photo: photos(ids(page)) } }))
  const taken: number[] = []
  let letGo!: () => void
  const listing = paginate(held.fetchPage, 'photos', 'photo', {
    perPage: 2,
    pagesAhead: 1,
    onPage: (page) => {
      taken.push(page)
      return page === 2 ? new Promise<void>((resolve) => (letGo = resolve)) : undefined
    },
  })
  for (const p of [1, 2, 3]) await held.release(p)
  assert.deepEqual(taken, [1, 2], 'page 3 has come in but is not taken')
  assert.deepEqual(held.asked, [1, 2, 3], 'nothing asked past the page ahead of the one held')
  letGo()
  await held.drain()
  const out = await listing
  assert.deepEqual(taken, [1, 2, 3, 4])
  assert.deepEqual(out.map((p) => p.id), [11, 12, 21, 22, 31, 32, 41, 42].map(String))
})
