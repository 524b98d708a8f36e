import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ChunkRows, chunkKey, chunkKeyOf, PART_CHARS, partsOf, PendingRows } from '../../src/catalog/chunk-rows.js'
import { jsonPieces } from '../../src/catalog/json-pieces.js'
import { openSqliteAdapter } from '../../src/util/sqlite.js'
import { tempDir } from '../support/repo.js'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function adapterIn(): Promise<ReturnType<typeof openSqliteAdapter>> {
  const dir = await tempDir('flickrfs-chunk-rows-')
  dirs.push(dir)
  return openSqliteAdapter(join(dir, 'catalog.sqlite'), { busyTimeout: 15_000 })
}

/** Every row of the table, key → value. */
async function rowsOf(adapter: ReturnType<typeof openSqliteAdapter>): Promise<Map<string, string>> {
  const rows = (await adapter.query('SELECT key, value FROM keyv')) as Array<{ key: string; value: string }>
  return new Map(rows.map((r) => [r.key, r.value]))
}

/** The first word of each statement `adapter` runs from now on, in order. */
function statementsOf(adapter: ReturnType<typeof openSqliteAdapter>): string[] {
  const statements: string[] = []
  const query = adapter.query.bind(adapter)
  adapter.query = ((sql: string, ...params: unknown[]): ReturnType<typeof query> => {
    statements.push(sql.split(' ')[0] as string)
    return query(sql, ...params)
  }) as typeof adapter.query
  return statements
}

/** Writes ps:10 and ps:1 (each in parts) and ps:11 (one row), keys that extend one another as the checkpoint's do; their texts. */
async function writeExtendingKeys(rows: ChunkRows): Promise<{ one: string; ten: string }> {
  const one = JSON.stringify('1'.repeat(PART_CHARS * 2))
  const ten = JSON.stringify('t'.repeat(PART_CHARS * 2))
  await rows.write('ps:10', ten)
  await rows.write('ps:1', one)
  await rows.write('ps:11', '[11]')
  return { one, ten }
}

/** A JSON text of `n` units with a surrogate pair (an emoji) straddling every place a cut would fall. */
function textWithPairsAtCuts(n: number): string {
  const units: string[] = []
  let length = 0
  while (length < n) {
    // '"' + filler up to one unit before the next multiple of PART_CHARS, then the pair across it.
    const toCut = PART_CHARS - (length % PART_CHARS) - 1
    const filler = 'x'.repeat(Math.max(0, toCut))
    units.push(filler, '\u{1F600}')
    length += filler.length + 2
  }
  return JSON.stringify(units.join(''))
}

void test('a long chunk is stored in parts of at most PART_CHARS, never cut inside a surrogate pair, and reads back whole', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  const text = textWithPairsAtCuts(PART_CHARS * 3 + 100)
  const key = chunkKey(text)
  // The same key as a sha1 of the whole text: chunks saved before keep their names.
  assert.equal(key, `chunk:${createHash('sha1').update(text).digest('hex')}`)
  await rows.write(key, text)
  const stored = await rowsOf(adapter)
  const parts = [...stored].filter(([k]) => k.startsWith(`catalog:${key}:`))
  assert.ok(parts.length >= 4, `${parts.length} parts`)
  for (const [k, v] of parts) {
    assert.ok(v.length <= PART_CHARS, `${k} holds ${v.length} units`)
    assert.ok(Buffer.byteLength(v) < 128 * 1024)
    // Stored as UTF-8 by the driver: a lone surrogate would come back as U+FFFD.
    assert.ok(!v.includes('\uFFFD'), `${k} holds a replacement character`)
  }
  assert.equal(partsOf(text).join(''), text)
  assert.equal(await rows.read(key), text)
  // Its UTF-8 bytes whole, joined from the parts' (a pair cut between two parts would be two U+FFFD).
  assert.ok((await rows.readBytes(key))?.equals(Buffer.from(text)))
  await adapter.disconnect()
})

void test('a chunk stored whole in one row (as catalogs were saved before parts) reads the same; a short one is still one row', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  const long = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ id: String(i), t: 'é' })))
  await adapter.set(`catalog:${chunkKey(long)}`, long)
  assert.equal(await rows.read(chunkKey(long)), long)
  assert.ok((await rows.readBytes(chunkKey(long)))?.equals(Buffer.from(long)))
  await rows.write('chunk:short', '[1,2,3]')
  assert.deepEqual([...(await rowsOf(adapter)).keys()].filter((k) => k.startsWith('catalog:chunk:short')), ['catalog:chunk:short'])
  assert.equal(await rows.read('chunk:short'), '[1,2,3]')
  assert.equal(await rows.read('chunk:none'), undefined)
  assert.equal((await rows.readBytes('chunk:short'))?.toString(), '[1,2,3]')
  assert.equal(await rows.readBytes('chunk:none'), undefined)
  await adapter.disconnect()
})

void test('delete removes chunks with their parts and nothing else; a chunk missing a part reads as absent', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  const a = JSON.stringify('a'.repeat(PART_CHARS * 2))
  const b = JSON.stringify('b'.repeat(PART_CHARS * 2))
  await rows.write('chunk:a', a)
  await rows.write('chunk:b', b)
  await rows.write('chunk:c', '[]')
  await adapter.set('progress:chunk:a', 'theirs')
  await rows.delete(['chunk:a', 'chunk:c'])
  const left = [...(await rowsOf(adapter)).keys()].sort()
  assert.deepEqual(left, ['catalog:chunk:b', 'catalog:chunk:b:0', 'catalog:chunk:b:1', 'catalog:chunk:b:2', 'progress:chunk:a'])
  await adapter.query('DELETE FROM keyv WHERE key = ?', 'catalog:chunk:b:1')
  assert.equal(await rows.read('chunk:b'), undefined)
  await adapter.disconnect()
})

void test('keysStarting lists the chunks stored under a start, each once (not its parts), of this namespace only', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  await rows.write('chunk:a', JSON.stringify('a'.repeat(PART_CHARS * 2)))
  await rows.write('chunk:b', '[]')
  await rows.write('head-like', '{}')
  await adapter.set('progress:chunk:c', 'theirs')
  assert.deepEqual((await rows.keysStarting('chunk:')).sort(), ['chunk:a', 'chunk:b'])
  assert.ok([...(await rowsOf(adapter)).keys()].includes('catalog:chunk:a:1'))
  await adapter.disconnect()
})

void test('keys that extend one another (the checkpoint\'s ps:1 and ps:10) keep apart: a read or a delete of one never takes the other', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'progress')
  const { one, ten } = await writeExtendingKeys(rows)
  assert.equal(await rows.read('ps:1'), one)
  assert.equal(await rows.read('ps:10'), ten)
  await rows.delete(['ps:1'])
  assert.equal(await rows.read('ps:1'), undefined)
  assert.equal(await rows.read('ps:10'), ten)
  assert.equal(await rows.read('ps:11'), '[11]')
  assert.deepEqual([...(await rowsOf(adapter)).keys()].filter((k) => k.startsWith('progress:ps:1:')), [])
  await adapter.disconnect()
})

void test('readMany reads several chunks in one statement, each as read alone and in the order asked: parted or not, missing, keys that extend one another', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'progress')
  const { one, ten } = await writeExtendingKeys(rows)
  await rows.write('ps:2', JSON.stringify('2'.repeat(PART_CHARS + 1)))
  await adapter.query('DELETE FROM keyv WHERE key = ?', 'progress:ps:2:1')
  const asked = ['ps:11', 'ps:1', 'ps:none', 'ps:10', 'ps:2', 'ps:1']
  const many = await rows.readMany(asked)
  assert.deepEqual(many, [ '[11]', one, undefined, ten, undefined, one ])
  const alone: Array<string | undefined> = []
  for (const key of asked) alone.push(await rows.read(key))
  assert.deepEqual(many, alone)
  // As bytes too: a missing part is a missing chunk, and keys that extend one another keep apart.
  const bytes: Array<string | undefined> = []
  for (const key of asked) bytes.push((await rows.readBytes(key))?.toString())
  assert.deepEqual(bytes, many)
  // One statement for them all.
  const statements = statementsOf(adapter)
  await rows.readMany(asked)
  assert.deepEqual(statements, ['SELECT'])
  assert.deepEqual(await rows.readMany([]), [])
  await adapter.disconnect()
})

void test('a chunk of a few parts is written by one statement, its parts and marker together; one of more parts than a statement takes is written whole in a transaction', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  const statements = statementsOf(adapter)
  const few = JSON.stringify('f'.repeat(PART_CHARS * 3 + 5))
  await rows.write('chunk:few', few)
  assert.deepEqual(statements, ['INSERT'], 'one statement for 4 parts and the marker')
  assert.equal([...(await rowsOf(adapter)).keys()].filter((k) => k.startsWith('catalog:chunk:few:')).length, 4)
  assert.equal(await rows.read('chunk:few'), few)
  statements.length = 0
  const many = JSON.stringify('m'.repeat(PART_CHARS * 40))
  await rows.write('chunk:many', many)
  assert.deepEqual([statements[0], statements.at(-1)], ['BEGIN', 'COMMIT'])
  assert.equal([...(await rowsOf(adapter)).keys()].filter((k) => k.startsWith('catalog:chunk:many:')).length, 41)
  assert.equal(await rows.read('chunk:many'), many)
  statements.length = 0
  await rows.write('chunk:one', '[1]')
  assert.deepEqual(statements, ['INSERT'])
  assert.deepEqual([...(await rowsOf(adapter)).keys()].filter((k) => k.startsWith('catalog:chunk:one')), ['catalog:chunk:one'])
  await adapter.disconnect()
})

void test('small chunks given a PendingRows wait for flush, several to a statement; a big one writes them first, in order', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  const pending = new PendingRows()
  const statements = statementsOf(adapter)
  const small = (i: number): string => JSON.stringify(String(i).repeat(PART_CHARS + 10))
  for (let i = 0; i < 3; i++) await rows.writePieces(`chunk:s${i}`, () => [small(i)], pending)
  assert.deepEqual(statements, [], 'nothing written before flush')
  assert.equal(await rows.read('chunk:s0'), undefined)
  statements.length = 0
  const big = JSON.stringify('b'.repeat(PART_CHARS * 20))
  await rows.writePieces('chunk:big', () => [big], pending)
  assert.deepEqual(statements.slice(0, 2), ['INSERT', 'BEGIN'], 'what was pending goes first, in one statement')
  for (let i = 0; i < 3; i++) assert.equal(await rows.read(`chunk:s${i}`), small(i))
  assert.equal(await rows.read('chunk:big'), big)
  statements.length = 0
  // More than one statement's worth: written as they fill one, the rest at flush.
  for (let i = 3; i < 40; i++) await rows.writePieces(`chunk:s${i}`, () => [small(i)], pending)
  const before = statements.length
  assert.ok(before >= 2 && before <= 13, `${before} statements for 37 chunks of 2 parts`)
  await rows.flush(pending)
  assert.equal(statements.length, before + 1)
  await rows.flush(pending)
  assert.equal(statements.length, before + 1, 'nothing left to write')
  for (let i = 3; i < 40; i++) assert.equal(await rows.read(`chunk:s${i}`), small(i))
  await adapter.disconnect()
})

/** Values shaped as a save's chunks (a bucket of rows, a listing page of long columns), with what JSON writes in its own way. */
function chunkShapedValues(): unknown[] {
  const long = 'a\u{1F600}"\\\n\u00e9'.repeat(12_000) + '\ud800x'
  const rows = Array.from({ length: 3_000 }, (_, i) => ({
    r: { id: String(i), title: 'é'.repeat(i % 40), pair: '\u{1F600}'.repeat(i % 9) },
    c: i * 1000,
    k: i % 5 === 0 ? undefined : i,
    m: i % 3 === 0 ? [{ _content: 'x\u2028y' }] : undefined,
  }))
  const page = {
    n: 3, id: { t: long, l: 'AAAA'.repeat(40_000), w: 1 }, gone: undefined, fn: () => 1,
    ext: { d: ['jpg', ''], c: long.slice(5), w: 1 }, when: new Date(0), map: new Map([[1, 2]]), bare: Object.create(null) as object,
  }
  return [rows, page, [1, undefined, () => 1, null, [long]], long, 'short', 7, [], {}]
}

void test('a chunk made in pieces (jsonPieces) is the very JSON text, key and rows of the chunk written whole', async () => {
  const whole = await adapterIn()
  const inPieces = await adapterIn()
  for (const value of chunkShapedValues()) {
    const text = JSON.stringify(value)
    assert.equal([...jsonPieces(value)].join(''), text)
    const key = chunkKeyOf(() => jsonPieces(value))
    assert.equal(key, chunkKey(text))
    await new ChunkRows(whole, 'catalog').write(key, text)
    await new ChunkRows(inPieces, 'catalog').writePieces(key, () => jsonPieces(value))
    assert.equal(await new ChunkRows(inPieces, 'catalog').read(key), text)
  }
  const a = await rowsOf(whole)
  assert.ok([...a.keys()].some((k) => k.endsWith(':3')), 'some chunk is in several parts')
  assert.deepEqual(await rowsOf(inPieces), a)
  await whole.disconnect()
  await inPieces.disconnect()
})

void test('readByteRange reads any bytes of a chunk alone, as readByteParts read them whole: inside a part, across parts, at the ends, in one stored row; a row gone or cut short reads as absent', async () => {
  const adapter = await adapterIn()
  const rows = new ChunkRows(adapter, 'catalog')
  // Characters of 1 to 4 UTF-8 bytes, so that byte offsets and the parts' cuts (in UTF-16 units) differ.
  const text = JSON.stringify(textWithPairsAtCuts(PART_CHARS * 3) + 'é€'.repeat(5000))
  await rows.write('chunk:long', text)
  await rows.write('chunk:short', '[{"r":{"id":"1"}},{"r":{"id":"2"}}]')
  const long = await rows.readByteParts('chunk:long')
  assert.ok(long !== undefined)
  assert.equal(long.bytes.toString('utf8'), text)
  assert.equal(long.ends.length, partsOf(text).length, 'an end for each part')
  assert.equal(long.ends.at(-1), long.bytes.length)
  const cuts = [...long.ends.slice(0, -1)]
  const ranges: Array<[number, number]> = [[0, 1], [0, 100], [5, 5000], [long.bytes.length - 7, long.bytes.length], [0, long.bytes.length]]
  for (const cut of cuts) ranges.push([cut - 10, cut], [cut, cut + 10], [cut - 1, cut + 1], [cut - 500, cut + 700])
  ranges.push([(cuts[0] as number) - 3, (cuts[1] as number) + 3])
  for (const [from, to] of ranges) {
    const got = await rows.readByteRange('chunk:long', long.ends, from, to)
    assert.deepEqual(got, long.bytes.subarray(from, to), `bytes ${from}-${to}`)
  }
  // Asked at once (a pin's sidecars, 16 at a time): the same bytes, 64 pieces to a statement.
  const many = Array.from({ length: 100 }, (_, i): [number, number] => ranges[i % ranges.length] as [number, number])
  const statements = statementsOf(adapter)
  const atOnce = await Promise.all(many.map(([from, to]) => rows.readByteRange('chunk:long', long.ends, from, to)))
  atOnce.forEach((got, i) => assert.deepEqual(got, long.bytes.subarray(...(many[i] as [number, number])), `bytes ${String(many[i])}, asked at once`))
  assert.ok(statements.length <= 4, `${statements.length} statements for 100 ranges asked at once (of up to 2 pieces each)`)
  const short = await rows.readByteParts('chunk:short')
  assert.ok(short !== undefined)
  assert.deepEqual([...short.ends], [short.bytes.length], 'a chunk stored whole: one row')
  assert.equal((await rows.readByteRange('chunk:short', short.ends, 1, 17))?.toString(), '{"r":{"id":"1"}}')
  // Ends that say more than is stored (a row cut short), or a chunk gone: absent, never a piece of something else.
  assert.equal(await rows.readByteRange('chunk:short', Int32Array.of(short.bytes.length + 10), short.bytes.length, short.bytes.length + 10), undefined)
  await rows.delete(['chunk:long'])
  assert.equal(await rows.readByteRange('chunk:long', long.ends, 0, 10), undefined)
})
