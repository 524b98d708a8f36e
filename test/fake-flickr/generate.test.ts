import { describe, test } from 'node:test'
import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'
import { accountFingerprint, generateAccount, ODD_TITLES, type FakeCollection } from '../../src/fake-flickr/index.js'

void describe('generateAccount', () => {
  void test('the same seed gives the same account; another seed a different one', () => {
    const a = accountFingerprint(generateAccount({ seed: 42, photos: 200, videos: 10 }))
    assert.equal(accountFingerprint(generateAccount({ seed: 42, photos: 200, videos: 10 })), a)
    assert.notEqual(accountFingerprint(generateAccount({ seed: 43, photos: 200, videos: 10 })), a)
  })

  void test('counts, newest-first photostream, sizes spread around the mean', () => {
    const acc = generateAccount({ seed: 1, photos: 690, videos: 10, sets: 20, collections: 4 })
    const items = acc.photostream.map((id) => acc.requirePhoto(id))
    assert.equal(items.length, 700)
    assert.equal(items.filter((p) => p.media === 'video').length, 10)
    for (let i = 1; i < items.length; i++) assert.ok(items[i - 1]!.dateupload > items[i]!.dateupload)
    const photoBytes = items.filter((p) => p.media === 'photo').reduce((n, p) => n + p.bytes, 0)
    const mean = photoBytes / 690
    assert.ok(mean > 60_000 && mean < 80_000, `mean photo size ${mean}`)
    assert.ok(items.every((p) => p.lastupdate >= p.dateupload && p.lastupdate < Date.now() / 1000))
    assert.equal(new Set(items.map((p) => p.id)).size, 700)
  })

  void test('sets overlap, leave photos out, hold videos; collections nest and mix sets with collections', () => {
    const acc = generateAccount({ seed: 2, photos: 300, videos: 12, sets: 12, collections: 3, commentedFraction: 0.2 })
    const memberships = new Map<string, number>()
    for (const s of acc.sets) for (const id of s.photoIds) memberships.set(id, (memberships.get(id) ?? 0) + 1)
    assert.ok([...memberships.values()].some((n) => n > 1), 'some photo is in several sets')
    assert.ok(acc.notInSet().length > 0, 'some photo is in no set')
    assert.ok(acc.sets.some((s) => s.photoIds.some((id) => acc.requirePhoto(id).media === 'video')), 'some set holds videos')
    assert.ok(acc.sets.every((s) => s.photoIds.includes(s.primary)))
    const formats = new Set(acc.photostream.map((id) => acc.requirePhoto(id)).filter((p) => p.media === 'video').map((p) => p.videoFormat))
    assert.ok(formats.size >= 3)
    assert.equal(acc.collections.length, 3)
    const all: FakeCollection[] = []
    const walk = (cs: FakeCollection[], depth: number, seen: number[]): void => {
      for (const c of cs) {
        all.push(c)
        seen.push(depth)
        walk(c.children, depth + 1, seen)
      }
    }
    const depths: number[] = []
    walk(acc.collections, 1, depths)
    assert.ok(Math.max(...depths) >= 3, 'collections nest three deep')
    assert.ok(all.some((c) => c.setIds.length > 0 && c.children.length > 0), 'a collection with both sets and collections')
    const setInCollections = new Map<string, number>()
    for (const c of all) for (const id of c.setIds) setInCollections.set(id, (setInCollections.get(id) ?? 0) + 1)
    assert.ok([...setInCollections.values()].some((n) => n > 1), 'a set in several collections')
    const commented = acc.commented().length
    assert.ok(commented > 30 && commented < 100, `commented ${commented}`)
    for (const id of acc.commented()) {
      const p = acc.requirePhoto(id)
      assert.ok(p.lastupdate >= (p.comments.at(-1)?.datecreate ?? 0))
    }
  })

  void test('oddTitles: slashes, dots, control characters, emoji, empty, over 255 bytes, a zero date', () => {
    const acc = generateAccount({ seed: 3, photos: 40, videos: 2, sets: 14, oddTitles: true })
    const titles = acc.photostream.map((id) => acc.requirePhoto(id).title)
    for (const t of ODD_TITLES) assert.ok(titles.includes(t), JSON.stringify(t))
    assert.ok(titles.some((t) => Buffer.byteLength(t) > 255))
    assert.ok(titles.some((t) => [...t].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)))
    assert.ok(titles.some((t) => /\p{Extended_Pictographic}/u.test(t)))
    assert.ok(acc.sets.some((s) => s.title.includes('/')) && acc.sets.some((s) => s.title === '..'))
    assert.ok(acc.photostream.some((id) => acc.requirePhoto(id).datetaken === '0000-00-00 00:00:00'))
  })

  void test('100,000 items and 2,000 sets generate quickly, with a set over 500 members', () => {
    const cpu = process.cpuUsage()
    const acc = generateAccount({ seed: 9, photos: 95_000, videos: 5_000, sets: 2_000, collections: 40 })
    const used = process.cpuUsage(cpu)
    const ms = (used.user + used.system) / 1000
    assert.equal(acc.photos.size, 100_000)
    assert.equal(acc.sets.length, 2_000)
    assert.ok(acc.sets.some((s) => s.photoIds.length > 500))
    // CPU time, not wall time: the machine is shared and loaded.
    assert.ok(ms < 3000, `generation took ${Math.round(ms)} ms of CPU`)
  })
})

/** Maps and Sets as entries, functions (the account's clock) left out: the whole generated state. */
function fullJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Map) return { map: [...(v as Map<unknown, unknown>).entries()] }
    if (v instanceof Set) return { set: [...(v as Set<unknown>)] }
    if (typeof v === 'function') return undefined
    return v
  })
}

void describe('generateAccount output is pinned', () => {
  void test('seed 7 gives the very account it gave before generate.ts was split into steps', () => {
    const acc = generateAccount({ seed: 7, photos: 300, videos: 10, sets: 12, collections: 3 })
    const json = fullJson(acc)
    assert.ok(json.length > 100_000, `the JSON holds the whole account (${json.length} chars)`)
    assert.equal(createHash('sha256').update(json).digest('hex'), '35fa95050b291f85536265d35705b1a1dc27561379edb33b4f29fc46f17efee2')
  })
})
