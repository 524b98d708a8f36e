/**
 * What the store knows about the originals it holds, persisted in keyv (namespace "store" of
 * ROOT/.flickrfs/catalog.sqlite) and mirrored in memory, because the layout asks for size and
 * sha256 of every file synchronously while it builds the tree.
 *
 * A record is written only after its file is in place under its final name, so a record always
 * describes a complete file (unless something outside flickrfs changed it, which verify finds).
 * Access times change on every read; they are kept in memory and written in batches.
 */
import { join } from 'node:path'
import Keyv from 'keyv'
import KeyvSqlite from '@keyv/sqlite'
import createDebug from 'debug'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { makeDir } from './make-dir.js'

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

function isRecord(v: unknown): v is StoreRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Partial<StoreRecord>
  return typeof r.id === 'string' && typeof r.secret === 'string' && typeof r.ext === 'string' &&
    typeof r.size === 'number' && typeof r.sha256 === 'string'
}

/** Opens the store's namespace in ROOT/.flickrfs/catalog.sqlite. */
export async function openStoreKeyv(root: string): Promise<Keyv> {
  const dir = join(root, '.flickrfs')
  await makeDir(dir)
  // A large iteration page: the index is read whole at open, and small pages make that quadratic.
  const adapter = new KeyvSqlite({ uri: `sqlite://${join(dir, 'catalog.sqlite')}`, busyTimeout: 10_000, iterationLimit: 2000 })
  return new Keyv({ store: adapter, namespace: 'store' })
}

export class StoreIndex {
  private readonly records = new Map<string, StoreRecord>()
  private readonly dirtyAccess = new Set<string>()

  constructor(private readonly keyv: Keyv) {}

  async load(): Promise<void> {
    if (!this.keyv.iterator) throw new FlickrfsError('INTERNAL', 'The store index needs an iterable keyv store (such as @keyv/sqlite).')
    this.records.clear()
    for await (const [key, value] of this.keyv.iterator(this.keyv.namespace)) {
      if (isRecord(value)) this.records.set(value.id, { ...value, pinned: value.pinned === true, lastAccessMs: value.lastAccessMs ?? 0 })
      else debug('ignoring malformed index entry %s', key)
    }
    debug('index loaded: %d records', this.records.size)
  }

  get(id: string): StoreRecord | undefined {
    return this.records.get(id)
  }

  all(): IterableIterator<StoreRecord> {
    return this.records.values()
  }

  get count(): number {
    return this.records.size
  }

  async put(record: StoreRecord): Promise<void> {
    await this.keyv.set(record.id, record)
    this.records.set(record.id, record)
    this.dirtyAccess.delete(record.id)
  }

  async remove(id: string): Promise<void> {
    this.records.delete(id)
    this.dirtyAccess.delete(id)
    await this.keyv.delete(id)
  }

  /** Cheap: memory only; `flush()` persists. */
  touch(id: string, nowMs: number): void {
    const r = this.records.get(id)
    if (!r || r.lastAccessMs === nowMs) return
    r.lastAccessMs = nowMs
    this.dirtyAccess.add(id)
  }

  async setPinned(id: string, pinned: boolean): Promise<void> {
    const r = this.records.get(id)
    if (!r || r.pinned === pinned) return
    r.pinned = pinned
    await this.keyv.set(id, r)
    this.dirtyAccess.delete(id)
  }

  async flush(): Promise<void> {
    if (this.dirtyAccess.size === 0) return
    const ids = [...this.dirtyAccess]
    this.dirtyAccess.clear()
    for (const id of ids) {
      const r = this.records.get(id)
      if (r) await this.keyv.set(id, r)
    }
  }
}
