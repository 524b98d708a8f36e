/**
 * A lazily read bucket parses only the row asked for (src/catalog/json-rows.ts, persist.ts
 * StoredBucket): the rows found in the text are the ones a whole parse gives, whatever the rows
 * hold (quotes, backslashes, brackets and the very text `"id":"<id>"` in strings; one photo's id as
 * another's comment id; an id that is a prefix of another; a numeric id), and a text that is not an
 * array of objects, or not JSON, is parsed whole or refused as before.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { JsonRows } from '../../src/catalog/json-rows.js'
import { StoredBucket } from '../../src/catalog/persist.js'
import { photoFields } from '../../src/catalog/records.js'
import { prng } from '../../src/fake-flickr/generate.js'

interface Row { r: Record<string, unknown>; c: number; v: number; m?: Array<Record<string, unknown>>; e?: Record<string, unknown> }

/** Strings a scanner could trip on: escapes, brackets, quotes, the needle itself, non-ASCII. */
const NASTY = ['plain', 'a "quoted" word', 'back\\slash\\', '\\"', '{[}]', '"id":"12"', '},{"r":{"id":"99"', 'naïve 東京 🙂', '\n\t\u0000', '']

function rowsOf(seed: number, count: number): Row[] {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const rows: Row[] = []
  for (let i = 0; i < count; i++) {
    const id = String(12 + i * 10 + Math.floor(rand() * 3)) // 12, 22..24, …: "12" is a prefix of "120…"
    const row: Row = {
      r: { id, title: pick(NASTY), description: { _content: pick(NASTY) }, tags: `${pick(NASTY)} x`, originalsecret: 'abc', lastupdate: String(i), nested: [[], {}, [{ a: pick(NASTY) }]] },
      c: i,
      v: i + 1,
    }
    if (rand() < 0.5) row.m = [{ id: pick(['12', '22', `${id}-c`]), _content: pick(NASTY) }]
    if (rand() < 0.5) row.e = { id, secret: 's', size: i, ext: 'jpg', url: `http://x/${id}`, kind: 'original' }
    rows.push(row)
  }
  return rows
}

void test('the rows found in the text are the whole parse\'s, over nasty strings, repeated ids in comments and prefixes', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rows = rowsOf(seed, 1 + (seed % 7) * 5)
    const text = JSON.stringify(rows, null, seed % 3 === 0 ? 1 : undefined)
    const found = JsonRows.of(Buffer.from(text))
    assert.ok(found !== undefined, `seed ${seed}: scanned`)
    assert.equal(found.length, rows.length, `seed ${seed}: every row`)
    const bucket = new StoredBucket(Buffer.from(text))
    for (const row of rows) {
      const id = String(row.r.id)
      assert.deepEqual(bucket.comments(id), row.m, `seed ${seed}, ${id}: comments`)
      assert.deepEqual(bucket.record(id), photoFields(row.r as never, id, row.c, row.v), `seed ${seed}, ${id}: record`)
    }
    assert.equal(bucket.record('1'), undefined)
    assert.equal(bucket.comments('999999'), undefined)
  }
})

void test('each element holding a needle is given once, in order; none inside a string', () => {
  const rows = [{ r: { id: '1', t: '"id":"2"' } }, { r: { id: '2' }, m: [{ id: '2' }] }, { r: { id: '3' } }]
  const found = JsonRows.of(Buffer.from(JSON.stringify(rows))) as JsonRows
  assert.deepEqual([...found.holding('"id":"2"')].map((t) => JSON.parse(t) as unknown), [rows[1]])
  assert.deepEqual([...found.holding('"id":"4"')], [])
  // The first `"id":"2"` is a comment of photo 1: photo 2's row is the one whose record has it.
  const bucket = new StoredBucket(Buffer.from(JSON.stringify([{ r: { id: '1' }, c: 1, v: 1, m: [{ id: '2' }] }, { r: { id: '2' }, c: 2, v: 2, m: [{ id: 'own' }] }])))
  assert.equal(bucket.record('2')?.changedAtMs, 2)
  assert.deepEqual(bucket.comments('2'), [{ id: 'own' }])
})

void test('a numeric id, or a text that is not an array of objects, is read whole; a text that is not JSON is refused at once', () => {
  const numeric = JSON.stringify([{ r: { id: 7 }, c: 1, v: 1 }, { r: { id: '8' }, c: 2, v: 2 }])
  const b = new StoredBucket(Buffer.from(numeric))
  assert.equal(b.record('7')?.id, '7')
  assert.equal(b.record('8')?.id, '8')
  for (const odd of ['[]', ' [ {"r":{"id":"5"},"c":0,"v":0} ] ', '[1,{"r":{"id":"5"},"c":0,"v":0}]', '{"r":{"id":"5"}}']) {
    const rows = JsonRows.of(Buffer.from(odd))
    if (odd === '[]' || odd.startsWith(' [')) assert.ok(rows !== undefined, odd)
    else assert.equal(rows, undefined, odd)
  }
  assert.equal(new StoredBucket(Buffer.from(' [ {"r":{"id":"5"},"c":0,"v":0} ] ')).record('5')?.id, '5')
  for (const damaged of ['[{"r":{"id":"5"},"c":0', '[{"r":{"id":"5"}}]]x', '[{"r":{"id":"5\\"}}]', '']) {
    assert.throws(() => new StoredBucket(Buffer.from(damaged)), SyntaxError, JSON.stringify(damaged))
  }
})
