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
