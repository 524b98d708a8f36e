/**
 * What the store knows about the originals it holds, persisted in keyv (namespace "store" of
 * ROOT/.flickrfs/catalog.sqlite) and mirrored in memory (in columns, record-columns.ts), so the size
 * and sha256 of any original are answered synchronously, without I/O.
 *
 * A record is written only after its file is in place under its final name, so a record always
 * describes a complete file (unless something outside flickrfs changed it, which verify finds).
 * Access times change on every read; they are kept in memory and written in batches.
 */
import Keyv from 'keyv'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { confineState } from '../util/confine.js'
import { catalogPath } from '../util/state-paths.js'
import { openSqliteAdapter } from '../util/sqlite.js'
import { RecordColumns } from './record-columns.js'

const debug = createDebug('flickrfs:store')

export interface StoreRecord {
  id: string
  secret: string
  ext: string
  size: number
  sha256: string
  kind: 'original' | 'transcode'
  /** When the download was recorded complete, ms. */
  completedAt: number
  /** Pinned originals are never evicted. */
  pinned: boolean
  lastAccessMs: number
}

/**
 * What the index keeps of an evicted original: its size and sha256 stay known, but the file is
 * gone, so nothing else treats it as stored.
 */
type EvictedRecord = StoreRecord & { evicted: true }

function isRecord(v: unknown): v is StoreRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Partial<StoreRecord>
  return typeof r.id === 'string' && typeof r.secret === 'string' && typeof r.ext === 'string' &&
    typeof r.size === 'number' && typeof r.sha256 === 'string'
}

/**
 * Opens the store's namespace in ROOT/.flickrfs/catalog.sqlite. `readOnly` creates nothing and
 * writes nothing (a read-only DEST); the file must then exist.
 */
export async function openStoreKeyv(root: string, opts: { readOnly?: boolean } = {}): Promise<Keyv> {
  if (opts.readOnly !== true) await confineState(root)
  // A large iteration page: the index is read whole at open, and small pages make that quadratic.
  const adapter = openSqliteAdapter(catalogPath(root), { busyTimeout: 10_000, iterationLimit: 2000, readOnly: opts.readOnly === true })
  return new Keyv({ store: adapter, namespace: 'store' })
}

/**
 * Rows read at once while loading. Each page's strings (~240 bytes a row) are garbage once parsed,
 * but a big page leaves its mark on RSS: at 1,000,000 rows, pages of 20,000 left a peak ~65 MB
 * higher than pages of 1,000 (295-320 against 228-238 MB), in no less time (bench/RESULTS.md,
 * session 18). The pages follow the primary key (eachPage), so smaller ones cost no rescan.
 */
const INDEX_PAGE_ROWS = 1_000

/** Rows per INSERT: 2 parameters each, well within sqlite's 32,766. */
const MAX_ROWS_PER_STATEMENT = 1000

export class StoreIndex {
  #columns = new RecordColumns()
  /** Rows whose access time changed since the last flush. */
  private readonly dirtyAccess = new Set<number>()
  #generation = 0

  /** `pageRows`: rows read from sqlite at once while loading (tests make it small). */
  constructor(
    private readonly keyv: Keyv,
    private readonly pageRows = INDEX_PAGE_ROWS,
  ) {}

  /** Moves whenever a record is added, replaced or evicted: what `known()` answers may have changed. */
  get generation(): number {
    return this.#generation
  }

  async load(): Promise<void> {
    this.#columns = new RecordColumns()
    this.dirtyAccess.clear()
    this.#generation++
    const t0 = performance.now()
    const add = (key: string, value: unknown): void => {
      if (!isRecord(value)) debug('ignoring malformed index entry %s', key)
      else {
        const evicted = (value as Partial<EvictedRecord>).evicted === true
        this.#columns.set(this.#columns.rowFor(value.id), value as unknown as Record<string, unknown>, evicted)
      }
    }
    const paged = await this.eachPage(async (rows) => {
      for (const row of rows) {
        // Our records hold only plain strings, numbers and booleans, which keyv stores as plain JSON.
        let data: unknown
        try {
          data = JSON.parse(row.value)
        } catch {
          data = await this.keyv.deserialize?.(row.value)
        }
        add(row.key, typeof data === 'object' && data !== null && 'value' in data ? data.value : undefined)
      }
    })
    if (!paged) {
      if (!this.keyv.iterator) throw new FlickrfsError('INTERNAL', 'The store index needs an iterable keyv store (such as @keyv/sqlite).')
      for await (const [key, value] of this.keyv.iterator(this.keyv.namespace)) add(String(key), value)
    }
    debug('index loaded: %d rows in %d ms', this.#columns.rows, Math.round(performance.now() - t0))
  }

  /**
   * The namespace's rows in pages of `pageRows` when the adapter is @keyv/sqlite: its iterator pages
   * with LIMIT/OFFSET, which made opening an index of 100,000 originals take 6 s. A key range
   * (':' < ';') and each page after the last key use the primary key, where LIKE or OFFSET would
   * scan. One page at a time: the rows of 1,000,000 originals at once held ~500 MB beside their
   * records (bench/RESULTS.md, pin-1m). False when the adapter is not @keyv/sqlite (nothing read).
   */
  private async eachPage(take: (rows: Array<{ key: string; value: string }>) => Promise<void>): Promise<boolean> {
    const adapter = this.keyv.store as { query?: unknown; opts?: { table?: unknown } } | undefined
    const ns = this.keyv.namespace
    if (typeof adapter?.query !== 'function' || typeof adapter.opts?.table !== 'string' || !ns || !/^\w+$/.test(ns)) return false
    const query = adapter.query as (sql: string, ...params: unknown[]) => Promise<Array<{ key: string; value: string }>>
    const t0 = performance.now()
    let after = `${ns}:`
    let count = 0
    for (;;) {
      const rows = await query.call(adapter, `SELECT key, value FROM ${adapter.opts.table} WHERE key > ? AND key < ? ORDER BY key LIMIT ${this.pageRows}`, after, `${ns};`)
      await take(rows)
      count += rows.length
      if (rows.length < this.pageRows) break
      after = (rows[rows.length - 1] as { key: string }).key
    }
    debug('index select: %d rows in %d ms', count, Math.round(performance.now() - t0))
    return true
  }

  /** The record of a stored original (made for the caller: changing it changes nothing here). */
  get(id: string): StoreRecord | undefined {
    const row = this.storedRow(id)
    return row === -1 ? undefined : this.#columns.record(row, id)
  }

  /** The record of a stored original, else what is remembered of an evicted one. */
  known(id: string): StoreRecord | undefined {
    const row = this.#columns.rowOf(id)
    return row === -1 ? undefined : this.#columns.record(row, id)
  }

  /**
   * The version of the file of `id`: it moves whenever its record is replaced or evicted (a handle
   * or a read of one version must not serve the next). -1 when there is no row.
   */
  version(id: string): number {
    const row = this.#columns.rowOf(id)
    return row === -1 ? -1 : this.#columns.version(row)
  }

  /** How many originals are stored (not evicted), without making their records. */
  get size(): number {
    let n = 0
    for (const _row of this.#storedRows()) n++
    return n
  }

  /** Every stored original's record, each made as it is reached (~1 µs each: a walk of 1,000,000 makes as many). */
  *all(): IterableIterator<StoreRecord> {
    for (const row of this.#storedRows()) yield this.#columns.record(row)
  }

  /** The records of stored originals not recorded pinned: the evictor's candidates, without making the pinned ones' records. */
  *unpinned(): IterableIterator<StoreRecord> {
    for (const row of this.#storedRows()) if (!this.#columns.isPinned(row)) yield this.#columns.record(row)
  }

  /** The ids of stored originals recorded pinned, without their records. */
  *pinnedIds(): IterableIterator<string> {
    for (const row of this.#storedRows()) if (this.#columns.isPinned(row)) yield this.#columns.idOf(row)
  }

  /** The rows of stored (not evicted) originals, in order. */
  *#storedRows(): IterableIterator<number> {
    const columns = this.#columns
    for (let row = 0; row < columns.rows; row++) if (!columns.isEvicted(row)) yield row
  }

  async put(record: StoreRecord): Promise<void> {
    await this.putMany([record])
  }

  /** Writes `records` in one sqlite statement, so all of them are recorded or none (one commit, one WAL sync). */
  async putMany(records: readonly StoreRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.writeMany(records)
    for (const record of records) {
      const row = this.#columns.rowFor(record.id)
      this.#columns.set(row, record as unknown as Record<string, unknown>, false)
      this.dirtyAccess.delete(row)
    }
    this.#generation++
  }

  /**
   * One multi-row upsert where the adapter is @keyv/sqlite (the same key and value encoding as
   * keyv.set, which StoreIndex.load reads back); one keyv.set each elsewhere.
   */
  private async writeMany(records: readonly StoreRecord[]): Promise<void> {
    const adapter = this.keyv.store as { query?: unknown; opts?: { table?: unknown } } | undefined
    if (typeof adapter?.query !== 'function' || typeof adapter.opts?.table !== 'string' || records.length === 1) {
      for (const r of records) await this.keyv.set(r.id, r)
      return
    }
    const query = adapter.query as (sql: string, ...params: unknown[]) => Promise<unknown>
    for (let i = 0; i < records.length; i += MAX_ROWS_PER_STATEMENT) {
      const chunk = records.slice(i, i + MAX_ROWS_PER_STATEMENT)
      const params: string[] = []
      for (const r of chunk) {
        const value = await this.keyv.serializeData({ value: r, expires: undefined })
        params.push(this.keyv._getKeyPrefix(r.id), typeof value === 'string' ? value : JSON.stringify(value))
      }
      const rows = chunk.map(() => '(?, ?)').join(', ')
      await query.call(adapter, `INSERT INTO ${adapter.opts.table} (key, value) VALUES ${rows} ON CONFLICT(key) DO UPDATE SET value=excluded.value`, ...params)
    }
  }

  /** The file was removed to make room; its size and sha256 are still true of the original. */
  async markEvicted(id: string): Promise<void> {
    const row = this.storedRow(id)
    if (row === -1) return
    const gone: EvictedRecord = { ...this.#columns.record(row), pinned: false, evicted: true }
    await this.keyv.set(id, gone)
    this.#columns.markEvicted(row)
    this.dirtyAccess.delete(row)
    this.#generation++
  }

  /** Cheap: memory only; `flush()` persists. */
  touch(id: string, nowMs: number): void {
    const row = this.storedRow(id)
    if (row === -1 || this.#columns.lastAccessMs(row) === nowMs) return
    this.#columns.setLastAccessMs(row, nowMs)
    this.dirtyAccess.add(row)
  }

  async setPinned(id: string, pinned: boolean): Promise<void> {
    const row = this.storedRow(id)
    if (row === -1 || this.#columns.isPinned(row) === pinned) return
    this.#columns.setPinned(row, pinned)
    await this.keyv.set(id, this.#columns.record(row))
    this.dirtyAccess.delete(row)
  }

  async flush(): Promise<void> {
    if (this.dirtyAccess.size === 0) return
    const rows = [...this.dirtyAccess]
    this.dirtyAccess.clear()
    const columns = this.#columns
    await this.writeMany(rows.flatMap((row) => (columns.isEvicted(row) ? [] : [columns.record(row)])))
  }

  /** The row of a stored (not evicted) original, or -1. */
  private storedRow(id: string): number {
    const row = this.#columns.rowOf(id)
    return row === -1 || this.#columns.isEvicted(row) ? -1 : row
  }
}
