/**
 * The store index's records in columns (typed arrays), one row per id, instead of one object per
 * record: at 1,000,000 originals a Map of record objects held ~290 MB of V8 heap (bench/RESULTS.md,
 * "index-cols"), these columns ~90 MB. A StoreRecord is made on demand (`record`), for the caller
 * alone; the columns stay the one copy.
 *
 * Each field has a compact form that fits what flickrfs writes: a numeric id as a float, the sha256
 * as 32 bytes, a secret of up to 15 name characters in 16 bytes, the extension as a code into a
 * table, kind / pinned / evicted as bits. A value outside its compact form (a sha256 not of 64
 * lowercase hex digits, a long secret, a field a newer flickrfs added, a field of an unexpected
 * type) is kept as it was read, in `extras`, and given back as it was: a record reads back and is
 * written again unchanged.
 *
 * Rows are never removed (an evicted original keeps its row, flagged), so the id table is an
 * open-addressing hash of rows with no deletion.
 */
import type { StoreRecord } from './store-index.js'

const TRANSCODE = 1
const PINNED = 2
const EVICTED = 4

/** Ids that are decimal integers a float holds exactly: Flickr's ids. Others go to `otherRows`. */
const NUMERIC_ID = /^[1-9][0-9]{0,14}$/
const SHA256_HEX = /^[0-9a-f]{64}$/
const SHORT_SECRET = /^[A-Za-z0-9_-]{1,15}$/
const SECRET_BYTES = 16

/** The fields held in columns; anything else a row has is an extra. */
const COLUMN_FIELDS = new Set(['id', 'secret', 'ext', 'size', 'sha256', 'kind', 'completedAt', 'pinned', 'lastAccessMs', 'evicted'])

export class RecordColumns {
  #count = 0
  #capacity = 0
  #ids = new Float64Array(0)
  #sha: Buffer = Buffer.alloc(0)
  #secrets: Buffer = Buffer.alloc(0)
  #ext = new Uint16Array(0)
  #size = new Float64Array(0)
  #completedAt = new Float64Array(0)
  #lastAccess = new Float64Array(0)
  #flags = new Uint8Array(0)
  #versions = new Uint32Array(0)
  /** Row + 1 at a slot of the open-addressing table of numeric ids; 0 is an empty slot. */
  #table = new Int32Array(0)
  readonly #otherRows = new Map<string, number>()
  readonly #otherIds = new Map<number, string>()
  readonly #extNames: string[] = []
  readonly #extCodes = new Map<string, number>()
  readonly #extras = new Map<number, Record<string, unknown>>()
  #lastVersion = 0

  constructor(initialRows = 1024) {
    this.grow(initialRows)
  }

  /** The row of `id`, or -1. */
  rowOf(id: string): number {
    if (!NUMERIC_ID.test(id)) return this.#otherRows.get(id) ?? -1
    const n = Number(id)
    const mask = this.#table.length - 1
    for (let slot = hashOf(n) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#table[slot] as number
      if (entry === 0) return -1
      if (this.#ids[entry - 1] === n) return entry - 1
    }
  }

  /** The row of `id`, made (empty) when there is none. */
  rowFor(id: string): number {
    const found = this.rowOf(id)
    if (found !== -1) return found
    if (this.#count === this.#capacity) this.grow(this.#capacity * 2)
    const row = this.#count++
    if (NUMERIC_ID.test(id)) {
      this.#ids[row] = Number(id)
      this.placeInTable(row)
    } else {
      this.#ids[row] = NaN
      this.#otherRows.set(id, row)
      this.#otherIds.set(row, id)
    }
    return row
  }

  get rows(): number {
    return this.#count
  }

  /** Rows in use, whether evicted or not. */
  isEvicted(row: number): boolean {
    return ((this.#flags[row] as number) & EVICTED) !== 0
  }

  isPinned(row: number): boolean {
    return ((this.#flags[row] as number) & PINNED) !== 0
  }

  setPinned(row: number, pinned: boolean): void {
    this.#flags[row] = pinned ? (this.#flags[row] as number) | PINNED : (this.#flags[row] as number) & ~PINNED
  }

  lastAccessMs(row: number): number {
    const extra = this.#extras.get(row)
    return extra !== undefined && 'lastAccessMs' in extra ? (extra.lastAccessMs as number) : (this.#lastAccess[row] as number)
  }

  setLastAccessMs(row: number, ms: number): void {
    this.#lastAccess[row] = ms
    const extra = this.#extras.get(row)
    if (extra !== undefined && 'lastAccessMs' in extra) this.setExtra(row, 'lastAccessMs', undefined)
  }

  /** Moves each time the row is written whole (`set`) or evicted: a file's version (OpenFiles, read-path). */
  version(row: number): number {
    return this.#versions[row] as number
  }

  /**
   * Writes `value` (a record as read from sqlite, or given to putMany) to `row`, as evicted or not.
   * Pinned is a boolean and an access time defaults to 0, as the index always read them.
   */
  set(row: number, value: Record<string, unknown>, evicted: boolean): void {
    this.#extras.delete(row)
    let flags = evicted ? EVICTED : 0
    if (value.pinned === true) flags |= PINNED
    if (value.kind === 'transcode') flags |= TRANSCODE
    else if (value.kind !== 'original') this.setExtra(row, 'kind', value.kind)
    this.#flags[row] = flags
    this.#size[row] = value.size as number
    this.setSha256(row, value.sha256 as string)
    this.setSecret(row, value.secret as string)
    this.#ext[row] = this.extCode(value.ext as string)
    this.#completedAt[row] = typeof value.completedAt === 'number' ? value.completedAt : 0
    if (typeof value.completedAt !== 'number') this.setExtra(row, 'completedAt', value.completedAt)
    const access = value.lastAccessMs ?? 0
    this.#lastAccess[row] = typeof access === 'number' ? access : 0
    if (typeof access !== 'number') this.setExtra(row, 'lastAccessMs', access)
    for (const key in value) {
      if (!COLUMN_FIELDS.has(key)) this.setExtra(row, key, value[key])
    }
    this.#versions[row] = ++this.#lastVersion
  }

  markEvicted(row: number): void {
    this.#flags[row] = ((this.#flags[row] as number) & ~PINNED) | EVICTED
    this.#versions[row] = ++this.#lastVersion
  }

  /** A record of `row` of its own: changing it changes nothing here. `id`: the row's, when the caller has it (no number to spell). */
  record(row: number, id = this.idOf(row)): StoreRecord {
    const flags = this.#flags[row] as number
    const record: StoreRecord = {
      id,
      secret: this.#secrets.toString('latin1', row * SECRET_BYTES + 1, row * SECRET_BYTES + 1 + (this.#secrets[row * SECRET_BYTES] as number)),
      ext: this.#extNames[this.#ext[row] as number] as string,
      size: this.#size[row] as number,
      sha256: this.#sha.toString('hex', row * 32, row * 32 + 32),
      kind: (flags & TRANSCODE) !== 0 ? 'transcode' : 'original',
      completedAt: this.#completedAt[row] as number,
      pinned: (flags & PINNED) !== 0,
      lastAccessMs: this.#lastAccess[row] as number,
    }
    if ((flags & EVICTED) !== 0) (record as StoreRecord & { evicted?: true }).evicted = true
    const extra = this.#extras.get(row)
    return extra === undefined ? record : Object.assign(record, extra)
  }

  idOf(row: number): string {
    const n = this.#ids[row] as number
    return Number.isNaN(n) ? (this.#otherIds.get(row) as string) : String(n)
  }

  private setSha256(row: number, sha256: string): void {
    if (SHA256_HEX.test(sha256)) this.#sha.write(sha256, row * 32, 32, 'hex')
    else {
      this.#sha.fill(0, row * 32, row * 32 + 32)
      this.setExtra(row, 'sha256', sha256)
    }
  }

  private setSecret(row: number, secret: string): void {
    const at = row * SECRET_BYTES
    if (SHORT_SECRET.test(secret)) {
      this.#secrets[at] = secret.length
      this.#secrets.write(secret, at + 1, SECRET_BYTES - 1, 'latin1')
    } else {
      this.#secrets[at] = 0
      this.setExtra(row, 'secret', secret)
    }
  }

  private extCode(ext: string): number {
    let code = this.#extCodes.get(ext)
    if (code === undefined) {
      code = this.#extNames.length
      if (code > 0xffff) throw new Error('store index: more than 65,536 distinct extensions')
      this.#extNames.push(ext)
      this.#extCodes.set(ext, code)
    }
    return code
  }

  /** `value` undefined removes the extra `key`. */
  private setExtra(row: number, key: string, value: unknown): void {
    let extra = this.#extras.get(row)
    if (value === undefined) {
      if (extra === undefined) return
      delete extra[key]
      if (Object.keys(extra).length === 0) this.#extras.delete(row)
      return
    }
    if (extra === undefined) this.#extras.set(row, (extra = {}))
    extra[key] = value
  }

  private placeInTable(row: number): void {
    const mask = this.#table.length - 1
    let slot = hashOf(this.#ids[row] as number) & mask
    while (this.#table[slot] !== 0) slot = (slot + 1) & mask
    this.#table[slot] = row + 1
  }

  /** Room for `rows` rows: every column copied into arrays that size, the id table (twice as many slots) made again. */
  private grow(rows: number): void {
    const copy = <T extends Float64Array | Uint16Array | Uint8Array | Uint32Array>(from: T, make: new (n: number) => T): T => {
      const to = new make(rows)
      to.set(from)
      return to
    }
    this.#ids = copy(this.#ids, Float64Array)
    this.#sha = copyBytes(this.#sha, rows * 32)
    this.#secrets = copyBytes(this.#secrets, rows * SECRET_BYTES)
    this.#ext = copy(this.#ext, Uint16Array)
    this.#size = copy(this.#size, Float64Array)
    this.#completedAt = copy(this.#completedAt, Float64Array)
    this.#lastAccess = copy(this.#lastAccess, Float64Array)
    this.#flags = copy(this.#flags, Uint8Array)
    this.#versions = copy(this.#versions, Uint32Array)
    this.#capacity = rows
    this.#table = new Int32Array(rows * 2)
    for (let row = 0; row < this.#count; row++) if (!Number.isNaN(this.#ids[row])) this.placeInTable(row)
  }
}

function copyBytes(from: Buffer, bytes: number): Buffer {
  const to = Buffer.alloc(bytes)
  from.copy(to)
  return to
}

/** A slot for a numeric id (the table's size is a power of two: the low bits of a good mix). */
function hashOf(n: number): number {
  const low = n % 0x100000000
  const high = (n - low) / 0x100000000
  return Math.imul((low ^ Math.imul(high, 0x85ebca6b)) >>> 0, 0x9e3779b1) >>> 7
}
