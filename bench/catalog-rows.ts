/**
 * Schema 3, measured before it is chosen (issue 11 item 4, 1,000,000 items): the same account saved
 * twice, once by today's catalog (schema 1: JSON chunks of ~2,000 records in keyv, every record
 * decoded at load) and once as one sqlite row per photo with the listing's columns beside the
 * record (the plan in RESULTS "What is left, and the plan for 1,000,000 items"). Each is then
 * loaded in a fresh process, as a mount starts:
 *
 *   node --import tsx bench/catalog-rows.ts [--items 1000000] [--sets 20000] [--runs 3] [--dir DIR]
 *
 *   first names      the first 1,000 photostream names (id + extension) in order, from spawn's start
 *                    of the load (schema 1: Catalog.open, then the snapshot; rows: one page by `pos`)
 *   listing columns  every photo's id, size, mtime, sidecar size and extension, in order, in memory
 *                    (schema 1: the whole snapshot; rows: typed arrays filled by pages of 50,000)
 *   peak RSS         VmHWM of the loading process, and its heap after a GC
 *   sidecar reads    10,000 photos' record and comments by id, at random and in photostream order
 *                    (schema 1: map lookups in the loaded snapshot; rows: one SELECT each)
 *
 * The rows side is a prototype in this file, not flickrfs code: it writes what schema 3 would hold,
 * so the figures say what that design costs and buys before src/ is changed for it. Its database
 * is filled with json_each() over batches of 2,000 rows (one statement each, not one per row).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sqlite3 from 'sqlite3'
import { Catalog } from '../src/catalog/index.js'
import { CatalogStore } from '../src/catalog/persist.js'
import type { CatalogState } from '../src/catalog/state.js'
import { mediaKey, type MediaEntry, type PhotoEntry } from '../src/catalog/types.js'
import { benchArgs, median, ownRss } from './measure.js'
import { stateOf } from './catalog-state.js'

const self = fileURLToPath(import.meta.url)
const { args, number, text } = benchArgs()
const ROWS_DB = 'rows.sqlite'
const PAGE = 50_000
const LOOKUPS = 10_000
const EXT_CODES = ['jpg', 'png', 'gif', 'mp4', 'mov', 'avi', 'webm', 'mkv']

// ---------- the account, saved both ways ----------

function exec(db: sqlite3.Database, sql: string, ...params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, ...params, (err: Error | null) => (err ? reject(err) : resolve())))
}

function all<T>(db: sqlite3.Database, sql: string, ...params: unknown[]): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, ...params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows))))
}

function openDb(path: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (err) => (err ? reject(err) : resolve(db)))
  })
}

function closeDb(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())))
}

async function photoCount(db: sqlite3.Database): Promise<number> {
  return (await all<{ n: number }>(db, 'SELECT max(pos) + 1 AS n FROM photo'))[0]?.n ?? 0
}

interface ListingRow { id: number; pos: number; size: number; changed_ms: number; sidecar_size: number; ext: number }

/** The listing's columns of the PAGE photos from photostream position `from`, in order. */
function listingPage(db: sqlite3.Database, from: number): Promise<ListingRow[]> {
  return all<ListingRow>(db, 'SELECT id, pos, size, changed_ms, sidecar_size, ext FROM photo WHERE pos >= ? AND pos < ? ORDER BY pos', from, from + PAGE)
}

async function saveRows(path: string, state: CatalogState): Promise<void> {
  const db = await openDb(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE)
  await exec(db, 'PRAGMA journal_mode=WAL')
  await exec(db, `CREATE TABLE photo (id INTEGER PRIMARY KEY, pos INTEGER NOT NULL, secret TEXT, ext INTEGER, size INTEGER,
    changed_ms INTEGER, sidecar_size INTEGER, raw TEXT, comments TEXT, media TEXT)`)
  await exec(db, 'CREATE UNIQUE INDEX photo_pos ON photo(pos)')
  await exec(db, 'CREATE TABLE album_member (album_id TEXT, idx INTEGER, photo_id INTEGER, PRIMARY KEY (album_id, idx)) WITHOUT ROWID')
  await exec(db, 'CREATE INDEX member_photo ON album_member(photo_id)')
  const snap = state.snap
  const insertPhotos = `INSERT INTO photo SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5,
    j.value->>6, j.value->>7, j.value->>8, j.value->>9 FROM json_each(?) j`
  for (let from = 0; from < snap.photostream.length; from += 2000) {
    const batch = snap.photostream.slice(from, from + 2000).map((id, i) => {
      const p = snap.photos.get(id) as PhotoEntry
      const m = snap.media.get(mediaKey(id, p.secret)) as MediaEntry
      const raw = JSON.stringify(p.raw)
      const c = snap.comments.get(id)
      // A sidecar's size is known at save in schema 3; here the record's own length stands for it.
      return [Number(id), from + i, p.secret, EXT_CODES.indexOf(m.ext), m.size, p.changedAtMs, raw.length + 64, raw, c === undefined ? null : JSON.stringify(c), JSON.stringify(m)]
    })
    await exec(db, 'BEGIN')
    await exec(db, insertPhotos, JSON.stringify(batch))
    await exec(db, 'COMMIT')
  }
  await exec(db, 'BEGIN')
  for (const s of snap.sets) {
    const rows = s.photoIds.map((pid, idx) => [s.id, idx, Number(pid)])
    await exec(db, 'INSERT INTO album_member SELECT j.value->>0, j.value->>1, j.value->>2 FROM json_each(?) j', JSON.stringify(rows))
  }
  await exec(db, 'COMMIT')
  await exec(db, 'PRAGMA wal_checkpoint(TRUNCATE)')
  await closeDb(db)
}

async function make(dir: string, items: number, sets: number): Promise<void> {
  let t0 = performance.now()
  const state = stateOf(items, sets)
  const genS = (performance.now() - t0) / 1000
  t0 = performance.now()
  const store = await CatalogStore.open(dir)
  await store.save(state, Date.now())
  await store.close()
  const chunksS = (performance.now() - t0) / 1000
  t0 = performance.now()
  await saveRows(join(dir, ROWS_DB), state)
  const rowsS = (performance.now() - t0) / 1000
  process.stdout.write(JSON.stringify({ genS, chunksS, rowsS }))
}

/**
 * The listing's columns packed: one row per PAGE photos in `pos` order, each column the bytes of a
 * typed array. Made from the photo rows, as a save would write it beside them.
 */
async function packListing(dir: string): Promise<number> {
  const t0 = performance.now()
  const db = await openDb(join(dir, ROWS_DB), sqlite3.OPEN_READWRITE)
  await exec(db, 'DROP TABLE IF EXISTS listing')
  await exec(db, 'CREATE TABLE listing (page INTEGER PRIMARY KEY, ids BLOB, sizes BLOB, mtimes BLOB, sidecars BLOB, exts BLOB)')
  const n = await photoCount(db)
  for (let from = 0; from < n; from += PAGE) {
    const rows = await listingPage(db, from)
    const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    await exec(db, 'INSERT INTO listing VALUES (?, ?, ?, ?, ?, ?)', from / PAGE,
      bytes(Float64Array.from(rows, (r) => r.id)), bytes(Float64Array.from(rows, (r) => r.size)),
      bytes(Float64Array.from(rows, (r) => r.changed_ms)), bytes(Uint32Array.from(rows, (r) => r.sidecar_size)), bytes(Uint8Array.from(rows, (r) => r.ext)))
  }
  await exec(db, 'PRAGMA wal_checkpoint(TRUNCATE)')
  await closeDb(db)
  return (performance.now() - t0) / 1000
}

/** The packed listing loaded whole: every photo's columns in typed arrays, copied out of the blobs. */
async function loadPacked(dir: string): Promise<void> {
  const t0 = performance.now()
  const db = await openDb(join(dir, ROWS_DB), sqlite3.OPEN_READONLY)
  const pages = await all<{ ids: Buffer; sizes: Buffer; mtimes: Buffer; sidecars: Buffer; exts: Buffer }>(db, 'SELECT ids, sizes, mtimes, sidecars, exts FROM listing ORDER BY page')
  const n = pages.reduce((sum, p) => sum + p.exts.length, 0)
  const ids = new Float64Array(n)
  const sizes = new Float64Array(n)
  const mtimes = new Float64Array(n)
  const sidecars = new Uint32Array(n)
  const exts = new Uint8Array(n)
  let at = 0
  for (const p of pages) {
    const count = p.exts.length
    new Uint8Array(ids.buffer, at * 8, count * 8).set(p.ids)
    new Uint8Array(sizes.buffer, at * 8, count * 8).set(p.sizes)
    new Uint8Array(mtimes.buffer, at * 8, count * 8).set(p.mtimes)
    new Uint8Array(sidecars.buffer, at * 4, count * 4).set(p.sidecars)
    exts.set(p.exts, at)
    at += count
  }
  pages.length = 0
  const names: string[] = []
  for (let i = 0; i < Math.min(1000, n); i++) names.push(`${ids[i]}.${EXT_CODES[exts[i] ?? 0] ?? ''}`)
  const listingS = (performance.now() - t0) / 1000
  const heapMB = heapAfterGcMB()
  await closeDb(db)
  if (sizes[n - 1] === 0 || mtimes[n - 1] === 0 || sidecars[n - 1] === 0) throw new Error('packed listing not filled')
  process.stdout.write(JSON.stringify({ firstNamesS: listingS, listingS, heapMB, hwmMB: ownRss().hwm / 1024 / 1024, randomMs: NaN, orderMs: NaN, photos: n, names: names.length }))
}

// ---------- loading, each in a fresh process ----------

function heapAfterGcMB(): number {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

/** n ids of the photostream: at random (fixed seed) or a run in order from the middle. */
function pick(order: ArrayLike<number | string>, n: number, random: boolean): number[] {
  let a = 7
  const out: number[] = []
  const start = Math.floor(order.length / 2)
  for (let i = 0; i < n; i++) {
    if (!random) out.push((start + i) % order.length)
    else {
      a = (a * 1103515245 + 12345) >>> 0
      out.push(a % order.length)
    }
  }
  return out
}

async function loadChunks(dir: string): Promise<void> {
  const t0 = performance.now()
  const catalog = await Catalog.open(dir, { readOnly: true })
  const snap = catalog.snapshot()
  const names: string[] = []
  for (const id of snap.photostream.slice(0, 1000)) {
    const p = snap.photos.get(id) as PhotoEntry
    names.push(`${id}.${snap.media.get(mediaKey(id, p.secret))?.ext ?? ''}`)
  }
  const firstNamesS = (performance.now() - t0) / 1000
  const listingS = firstNamesS
  const heapMB = heapAfterGcMB()
  const reads = (random: boolean): number => {
    const t = performance.now()
    let bytes = 0
    for (const i of pick(snap.photostream, LOOKUPS, random)) {
      const id = snap.photostream[i] as string
      bytes += JSON.stringify(snap.photos.get(id)?.raw).length + JSON.stringify(snap.comments.get(id) ?? []).length
    }
    if (bytes === 0) throw new Error('no record read')
    return (performance.now() - t) / LOOKUPS
  }
  const randomMs = reads(true)
  const orderMs = reads(false)
  process.stdout.write(JSON.stringify({ firstNamesS, listingS, heapMB, hwmMB: ownRss().hwm / 1024 / 1024, randomMs, orderMs, photos: snap.photos.size, names: names.length }))
  await catalog.close()
}

async function loadRows(dir: string): Promise<void> {
  const t0 = performance.now()
  const db = await openDb(join(dir, ROWS_DB), sqlite3.OPEN_READONLY)
  const first = await all<{ id: number; ext: number }>(db, 'SELECT id, ext FROM photo WHERE pos < 1000 ORDER BY pos')
  const names = first.map((r) => `${r.id}.${EXT_CODES[r.ext] ?? ''}`)
  const firstNamesS = (performance.now() - t0) / 1000
  const n = await photoCount(db)
  const ids = new Float64Array(n)
  const sizes = new Float64Array(n)
  const mtimes = new Float64Array(n)
  const sidecars = new Uint32Array(n)
  const exts = new Uint8Array(n)
  for (let from = 0; from < n; from += PAGE) {
    const rows = await listingPage(db, from)
    for (const r of rows) {
      ids[r.pos] = r.id
      sizes[r.pos] = r.size
      mtimes[r.pos] = r.changed_ms
      sidecars[r.pos] = r.sidecar_size
      exts[r.pos] = r.ext
    }
  }
  const listingS = (performance.now() - t0) / 1000
  const heapMB = heapAfterGcMB()
  const byId = await new Promise<sqlite3.Statement>((resolve, reject) => {
    const st = db.prepare('SELECT raw, comments FROM photo WHERE id = ?', (err) => (err ? reject(err) : resolve(st)))
  })
  const reads = async (random: boolean): Promise<number> => {
    const t = performance.now()
    let bytes = 0
    for (const i of pick(ids, LOOKUPS, random)) {
      const row = await new Promise<{ raw: string; comments: string | null }>((resolve, reject) => byId.get(ids[i], (err: Error | null, r: { raw: string; comments: string | null }) => (err ? reject(err) : resolve(r))))
      bytes += JSON.stringify(JSON.parse(row.raw)).length + JSON.stringify(row.comments === null ? [] : JSON.parse(row.comments)).length
    }
    if (bytes === 0) throw new Error('no record read')
    return (performance.now() - t) / LOOKUPS
  }
  const randomMs = await reads(true)
  const orderMs = await reads(false)
  await new Promise<void>((resolve) => byId.finalize(() => resolve()))
  await closeDb(db)
  process.stdout.write(JSON.stringify({ firstNamesS, listingS, heapMB, hwmMB: ownRss().hwm / 1024 / 1024, randomMs, orderMs, photos: n, names: names.length }))
}

// ---------- the parent ----------

function child<T>(extra: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', self, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`child ${extra.join(' ')} exited ${code}`))))
  })
}

const KINDS = ['chunks', 'rows', 'packed'] as const
type Kind = (typeof KINDS)[number]

interface LoadFigures {
  firstNamesS: number
  listingS: number
  heapMB: number
  hwmMB: number
  randomMs: number
  orderMs: number
  photos: number
}

async function main(): Promise<void> {
  const items = number('items', 1_000_000)
  const sets = number('sets', Math.max(1, Math.round(items / 50)))
  const runs = number('runs', 3)
  const given = text('dir') ?? ''
  const dir = given !== '' ? given : await mkdtemp(join(tmpdir(), 'flickrfs-rows-'))
  try {
    const made = given !== '' && (await stat(join(dir, ROWS_DB)).catch(() => undefined)) !== undefined
      ? undefined
      : await child<{ genS: number; chunksS: number; rowsS: number }>(['--make', dir, String(items), String(sets)])
    if (made !== undefined) console.log(`made ${items} items, ${sets} sets: generate ${made.genS.toFixed(1)} s, schema 1 save ${made.chunksS.toFixed(1)} s, rows save ${made.rowsS.toFixed(1)} s`)
    const sizes = {
      chunks: (await stat(join(dir, '.flickrfs', 'catalog.sqlite'))).size / 1e6,
      rows: (await stat(join(dir, ROWS_DB))).size / 1e6,
    }
    console.log(`files: catalog.sqlite ${sizes.chunks.toFixed(0)} MB, ${ROWS_DB} ${sizes.rows.toFixed(0)} MB`)
    const packS = await child<number>(['--pack', dir])
    console.log(`packed listing made from the rows in ${packS.toFixed(1)} s`)
    const results: Record<Kind, LoadFigures[]> = { chunks: [], rows: [], packed: [] }
    for (let r = 0; r < runs; r++) {
      for (const kind of KINDS) {
        const f = await child<LoadFigures>([`--load-${kind}`, dir])
        if (f.photos !== items) throw new Error(`${kind} loaded ${f.photos} photos, expected ${items}`)
        results[kind].push(f)
        console.log(`run ${r + 1} ${kind}: ${JSON.stringify(f)}`)
      }
    }
    const m = (kind: Kind, key: keyof LoadFigures): number => median(results[kind].map((f) => f[key]))
    const row = (label: string, key: keyof LoadFigures, unit: string, digits: number): void => {
      const a = m('chunks', key)
      const cells = (['rows', 'packed'] as const).map((kind) => {
        const b = m(kind, key)
        return Number.isNaN(b) ? '– | –' : `${b.toFixed(digits)} ${unit} | ${(b / a).toFixed(3)}`
      })
      console.log(`| ${label} | ${a.toFixed(digits)} ${unit} | ${cells.join(' | ')} |`)
    }
    console.log(`\n${items} items, ${sets} sets; medians of ${runs} (each load a fresh process)`)
    console.log('| measure | schema 1 (Catalog.open) | rows prototype | rows ÷ schema 1 | packed listing | packed ÷ schema 1 |')
    console.log('|---|---|---|---|---|---|')
    row('first 1,000 names, from the start of the load', 'firstNamesS', 's', 3)
    row('every photo\'s listing columns in memory', 'listingS', 's', 2)
    row('peak RSS (VmHWM)', 'hwmMB', 'MB', 0)
    row('heap after GC, loaded', 'heapMB', 'MB', 0)
    row('one sidecar\'s record + comments, at random', 'randomMs', 'ms', 4)
    row('one sidecar\'s record + comments, in order', 'orderMs', 'ms', 4)
  } finally {
    if (given === '') await rm(dir, { recursive: true, force: true })
  }
}

if (args[0] === '--make') await make(args[1] as string, Number(args[2]), Number(args[3]))
else if (args[0] === '--load-chunks') await loadChunks(args[1] as string)
else if (args[0] === '--load-rows') await loadRows(args[1] as string)
else if (args[0] === '--load-packed') await loadPacked(args[1] as string)
else if (args[0] === '--pack') process.stdout.write(JSON.stringify(await packListing(args[1] as string)))
else await main()
