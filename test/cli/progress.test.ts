/**
 * The progress line's rules, with a clock the test moves: it fits any width, it is drawn at most
 * every 100 ms however often it is updated, and a rate or ETA appears only once it is measured from
 * bytes really fetched for a few seconds (originals already on disk are not speed).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { API_LINES_EVERY_MS, createProgress, describePlain, LINES_EVERY_MS, RATE_SAMPLE_MS, RATE_WINDOW_MS, RateMeter, renderLine, type ProgressState } from '../../src/cli/progress.js'

function terminal(columns: number): { out: Writable & { columns: number }; draws: string[] } {
  const draws: string[] = []
  const out = Object.assign(new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const part of chunk.toString().split('\r\x1b[K').slice(1)) if (part !== '') draws.push(part)
      cb()
    },
  }), { columns })
  return { out, draws }
}

const state = (over: Partial<ProgressState>): ProgressState => ({
  phase: 'downloading', doneItems: 0, totalItems: 700, doneBytes: 0, totalBytes: 5_000_000_000, fetchedBytes: 0, ...over,
})

void test('the line fits every width from 10 to 250 columns, in every phase', () => {
  const big = state({ doneItems: 123_456, totalItems: 999_999, doneBytes: 123_456_789_012, totalBytes: 999_999_999_999 })
  for (let width = 10; width <= 250; width++) {
    for (const s of [big, { ...big, phase: 'listing' as const }, { ...big, phase: 'writing' as const }]) {
      for (const rate of [undefined, 12_345_678]) {
        const line = renderLine(s, width, rate)
        assert.ok(line.length < width, `${width} columns: "${line}" (${line.length})`)
        assert.ok(line.length > 0)
      }
    }
  }
  assert.match(renderLine(big, 200, 12_345_678), /^\[#+-*\] 123456\/999999 items {2}123 GB\/1000 GB {2}12\.3 MB\/s {2}ETA \d+:\d\d:\d\d$/)
})

void test('a thousand updates in one second are drawn at most ten times', () => {
  let t = 0
  const { out, draws } = terminal(80)
  const p = createProgress('bar', out, () => t)
  for (let i = 0; i < 1000; i++) {
    t = i
    p.update(state({ doneItems: i }))
  }
  p.done()
  assert.ok(draws.length >= 5 && draws.length <= 10, `${draws.length} draws`)
})

void test('no rate or ETA while listing, before 3 s of downloading, or from bytes that were already there', () => {
  let t = 0
  const { out, draws } = terminal(120)
  const p = createProgress('bar', out, () => t)
  const at = (ms: number, s: Partial<ProgressState>): string => {
    t = ms
    p.update(state(s))
    return draws.at(-1) ?? ''
  }
  // Before the first page: what is under way, not "0 items found  0 done  0 B/0 B so far".
  const none = state({ phase: 'listing', totalItems: 0, doneItems: 0, fetchedBytes: 0, doneBytes: 0, totalBytes: 0 })
  assert.equal(renderLine(none, 120, undefined), 'Listing the account on Flickr…')
  assert.equal(describePlain(none, undefined), 'listing: 0 items found yet')
  assert.match(at(0, { phase: 'listing', totalItems: 69, doneItems: 5, fetchedBytes: 5e6, doneBytes: 5e6 }), /^Listing: 69 items found {2}5 done/)
  assert.doesNotMatch(at(2000, { phase: 'listing', totalItems: 306, doneItems: 50, fetchedBytes: 50e6, doneBytes: 50e6 }), /ETA|\/s/)
  // Downloading, but only originals already on disk: nothing fetched, so no speed to tell.
  assert.doesNotMatch(at(3000, { doneItems: 100, doneBytes: 1e9, fetchedBytes: 50e6 }), /ETA|\/s/)
  assert.doesNotMatch(at(6500, { doneItems: 300, doneBytes: 3e9, fetchedBytes: 50e6 }), /ETA|\/s/)
  // Fetched bytes over the last seconds: now a rate (20 MB in 2 s) and an ETA.
  assert.match(at(8500, { doneItems: 400, doneBytes: 3.02e9, fetchedBytes: 70e6 }), /\d+\/700 items .* [\d.]+ MB\/s {2}ETA \d+:\d\d/)
  p.done()
})

void test('a fast first second has no ETA: a rate needs 3 s of downloading', () => {
  let t = 0
  const { out, draws } = terminal(120)
  const p = createProgress('bar', out, () => t)
  for (let i = 1; i <= 20; i++) {
    t = i * 140
    p.update(state({ doneItems: i * 10, doneBytes: i * 10e6, fetchedBytes: i * 10e6 }))
  }
  p.done()
  assert.ok(draws.length > 10)
  for (const d of draws) assert.doesNotMatch(d, /ETA|\/s/, `at ~${t} ms: ${d}`)
})

void test('the rate holds a bounded window however often it is told: a million originals found in place in minutes', () => {
  let t = 0
  const meter = new RateMeter(() => t)
  // 200,000 updates in 10 s (one per 50 µs), 10 MB fetched a second.
  for (let i = 0; i < 200_000; i++) {
    t = i * 0.05
    meter.add(t * 10_000)
    assert.ok(meter.held <= RATE_WINDOW_MS / RATE_SAMPLE_MS + 2, `${meter.held} samples held after ${i + 1} updates`)
  }
  const rate = meter.rate()
  assert.ok(rate !== undefined && Math.abs(rate - 10e6) < 0.05 * 10e6, `rate ${rate}`)
})

void test('while the catalog is saved the line says so instead of a rate and an ETA that stand still', () => {
  const s = state({ doneItems: 999_000, totalItems: 1_000_000, doneBytes: 1_998_000_000, totalBytes: 2_000_000_000, fetchedBytes: 1_998_000_000 })
  assert.match(renderLine(s, 200, 900_000), /ETA/)
  const saving = renderLine({ ...s, saving: true }, 200, 900_000)
  assert.match(saving, /999000\/1000000 items {2}2\.0 GB\/2\.0 GB {2}saving the catalog$/)
  assert.doesNotMatch(saving, /ETA|\/s/)
  for (let width = 10; width <= 120; width++) assert.ok(renderLine({ ...s, saving: true }, width, 900_000).length < width)
  // And in a log (no terminal): the plain line.
  assert.equal(describePlain({ ...s, saving: true }, 900_000), 'downloading: 999000/1000000 items, 2.0 GB/2.0 GB, saving the catalog')
})

void test('once every original is down, the line says which calls are left and how long they take at the limit', () => {
  // A first sync of a big account: its comments come last, at the key's rate, for hours.
  const api = { commentsDone: 1_200, commentsTotal: 30_000, setsDone: 2_000, setsTotal: 2_000, secondsLeft: 8 * 3600 }
  const down = state({ doneItems: 100_000, totalItems: 100_000, doneBytes: 300e9, totalBytes: 300e9, fetchedBytes: 300e9, api })
  for (const width of [80, 120, 200]) {
    const line = renderLine(down, width, 40e6)
    assert.match(line, /100000\/100000 items {2}comments 1200\/30000, about 8 h at Flickr's limit/, `${width} columns: ${line}`)
    assert.doesNotMatch(line, /\/s\b|ETA/, 'no download rate once nothing is downloading')
  }
  for (let width = 10; width <= 250; width++) assert.ok(renderLine(down, width, 40e6).length < width)
  assert.equal(describePlain(down, 40e6), "downloading: 100000/100000 items, 300 GB/300 GB; comments 1200/30000, about 8 h at Flickr's limit")
  // Sets still to list are said too; before the budget is read, no estimate.
  const sets = { ...down, api: { commentsDone: 5, commentsTotal: 9, setsDone: 1, setsTotal: 3 } }
  assert.match(renderLine(sets, 120, undefined), /items {2}comments 5\/9, sets 1\/3 {2}/)
  // While originals still come, the download's rate and ETA first; the calls only where they fit.
  const downloading = { ...down, doneItems: 50_000, doneBytes: 150e9 }
  assert.match(renderLine(downloading, 200, 40e6), /MB\/s {2}ETA [\d:]+ {2}comments 1200\/30000, about 8 h at Flickr's limit$/)
  assert.match(renderLine(downloading, 80, 40e6), /MB\/s {2}ETA [\d:]+$/)
  // Nothing left to download nor to call: no rate standing still at its last value either.
  const over = { ...down, api: undefined }
  assert.equal(renderLine(over, 120, 40e6), '[##############################] 100000/100000 items  300 GB/300 GB')
  assert.equal(describePlain(over, 40e6), 'downloading: 100000/100000 items, 300 GB/300 GB')
  // The tree's write, in a log as on a terminal: no bytes to count.
  assert.equal(describePlain({ ...over, phase: 'writing', doneBytes: 0, totalBytes: 0 }, undefined), 'writing the tree: 100000 items')
  // Nothing left to call: nothing said.
  const none = { ...down, api: { ...api, commentsDone: 30_000 } }
  assert.doesNotMatch(renderLine(none, 200, undefined), /comments|limit/)
  assert.equal(describePlain(none, undefined), 'downloading: 100000/100000 items, 300 GB/300 GB')
})

void test('in a log, the moment only calls are left is said at once, then a line a minute', () => {
  const t0 = 100_000
  let t = t0
  const lines: string[] = []
  const out = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); cb() } })
  const p = createProgress('lines', out, () => t)
  const api = (done: number): ProgressState['api'] => ({ commentsDone: done, commentsTotal: 600, setsDone: 4, setsTotal: 4 })
  p.update(state({ doneItems: 690, totalItems: 700, api: api(10) }))
  t = t0 + LINES_EVERY_MS - 1
  p.update(state({ doneItems: 699, totalItems: 700, api: api(20) }))
  assert.equal(lines.length, 1, lines.join('\n'))
  // The last original: said at once though the last line is only ~5 s old.
  t = t0 + LINES_EVERY_MS
  p.update(state({ doneItems: 700, totalItems: 700, api: api(21) }))
  assert.equal(lines.length, 2, lines.join('\n'))
  assert.match(lines[1] ?? '', /700\/700 items.*; comments 21\/600$/)
  // A comment a second for the next two minutes: two more lines, not twenty-four.
  for (let s = 1; s <= 120; s++) {
    t = t0 + LINES_EVERY_MS + s * 1000
    p.update(state({ doneItems: 700, totalItems: 700, api: api(21 + s) }))
  }
  assert.equal(lines.length, 4, lines.join('\n'))
  assert.match(lines[2] ?? '', /comments 81\/600$/)
  assert.ok(API_LINES_EVERY_MS === 60_000)
  p.done()
})

void test("a pin waiting for a mount's first catalog says how far it has come and how long its calls take", () => {
  const waiting = state({ phase: 'waiting', doneItems: 80_000, totalItems: 100_000, doneBytes: 0, totalBytes: 0, api: { commentsDone: 0, commentsTotal: 30_000, setsDone: 150, setsTotal: 2_000, secondsLeft: 9 * 3600 } })
  assert.equal(describePlain(waiting, undefined), "waiting for the mount's first catalog: 100000 items listed, sizes 80000/100000; comments 0/30000, sets 150/2000, about 9 h at Flickr's limit")
  assert.equal(renderLine(waiting, 120, undefined), "Mount's first catalog: comments 0/30000, about 9 h at Flickr's limit  sets 150/2000  100000 items listed")
  // At 80 columns the calls left and their estimate still fit (the sets and counts where they can).
  assert.equal(renderLine(waiting, 80, undefined), "Mount's first catalog: comments 0/30000, about 9 h at Flickr's limit")
  for (let width = 10; width <= 250; width++) assert.ok(renderLine(waiting, width, undefined).length < width)
  // What the pin downloaded meanwhile, where it fits (the calls and their estimate first).
  const downloading = { ...waiting, downloaded: 812, doneBytes: 57e6, fetchedBytes: 57e6 }
  assert.equal(renderLine(downloading, 120, undefined), "Mount's first catalog: comments 0/30000, about 9 h at Flickr's limit  812 originals down (57.0 MB)  sets 150/2000")
  assert.match(describePlain(downloading, undefined), /; 812 originals down \(57\.0 MB\)$/)
  // At 80 columns too, as a pin of its own says its originals down: the calls' field gives up words for it.
  assert.equal(renderLine(downloading, 80, undefined), "First catalog: comments 0/30000, about 9 h  812 originals down (57.0 MB)")
  // The biggest counts an account gives: still every piece of news at 80, without its bytes.
  const huge = { ...downloading, totalItems: 1_000_000, doneItems: 999_999, downloaded: 999_999, doneBytes: 123.4e12, api: { commentsDone: 999_999, commentsTotal: 1_000_000, setsDone: 150, setsTotal: 2_000, secondsLeft: 40 * 3600 } }
  assert.equal(renderLine(huge, 80, undefined), "First catalog: comments 999999/1000000, about 40 h  999999 originals down")
  for (const st of [downloading, huge]) {
    for (let width = 10; width <= 250; width++) {
      const line = renderLine(st, width, undefined)
      assert.ok(line.length < width, `${width} columns: ${line}`)
      if (width >= 80) assert.match(line, / originals down/, `${width} columns: ${line}`)
    }
  }
  const noCalls = { ...waiting, api: { commentsDone: 5, commentsTotal: 5, setsDone: 2, setsTotal: 2 } }
  assert.equal(renderLine(noCalls, 80, undefined), "Mount's first catalog: 100000 items listed  sizes 80000/100000")
  // Before the photostream is listed: nothing to count yet, and still a line.
  assert.equal(describePlain(state({ phase: 'waiting', doneItems: 0, totalItems: 0, api: { commentsDone: 0, commentsTotal: 0, setsDone: 0, setsTotal: 0 } }), undefined),
    "waiting for the mount's first catalog: 0 items listed")
})
