/**
 * How a chunk's text is kept in catalog.sqlite's rows (persist.ts owns what the chunks are).
 *
 * A text of up to PART_CHARS UTF-16 units is one row under its key, as it always was. A longer one
 * is cut into parts of at most PART_CHARS, stored under `<key>:<i>`, and its key holds a marker
 * naming how many there are; the parts and the marker are one transaction: a crash leaves all of
 * them or none. Catalogs saved before (one row per chunk, however long) read the same.
 *
 * Why: sqlite and its driver copy a value whole into a block of malloc'd memory (the driver's copy
 * on the main thread, sqlite's bound copy and record in a libuv pool thread; a read likewise), and
 * glibc raises its mmap threshold to the largest such block freed (up to 32 MB), after which it
 * keeps up to twice that in each thread's arena instead of giving it back. Rows of 3–5 MB left a
 * first sync of 100,000 items with ~60 MB more RSS than the same run with the threshold fixed at
 * 128 KB (bench/RESULTS.md "sync-mem"). A part is at most 96 KB of UTF-8: under that threshold,
 * so it never moves it. The sha1 of a chunk is taken over the same parts, for the same reason.
 */
import { createHash } from 'node:crypto'
import type KeyvSqlite from '@keyv/sqlite'

/** The longest text one row holds: at most 3 UTF-8 bytes a unit, so ≤ 96 KB, under glibc's 128 KB. */
export const PART_CHARS = 32 * 1024

/** The start of a parted chunk's own row; no JSON text starts with a NUL. */
const MARKER = '\0parts:'

/**
 * Parts inserted per statement: ~0.5 MB bound at once (1.5 MB at most). Each statement is a few
 * round trips to the pool thread: 4 a statement cost a first save of 100,000 items ~1 s more CPU.
 */
const PARTS_PER_INSERT = 16

/**
 * The text of the small chunks gathered for one statement (PendingRows): as much as a full
 * statement of parts binds (PARTS_PER_INSERT parts). A 1,000,000-photo save writes 8,192 buckets of
 * ~110 KB: written one statement (a WAL commit) each, they took ~1 ms more a bucket than the 512
 * buckets of 2,000 photos before (bench/RESULTS.md, "Session 23").
 */
const PENDING_CHARS = PARTS_PER_INSERT * PART_CHARS

/** The rows of small chunks not written yet (ChunkRows.writePieces given it; written by flush). */
export class PendingRows {
  rows: Array<[string, string]> = []
  chars = 0
}

/** Pieces of chunks read by one statement (ChunkRows.readByteRange): four parameters each, a compound SELECT of as many (sqlite takes up to 500). */
const RANGES_PER_READ = 64

/** A piece of a stored row readByteRange waits for: `length` bytes from `at` (1-based) of row `key`. */
interface WaitingRange {
  key: string
  at: number
  length: number
  resolve: (bytes: Buffer | undefined) => void
  reject: (err: unknown) => void
}

/** Keys deleted per statement (three parameters each), far under sqlite's limit of 32,766. */
const KEYS_PER_DELETE = 500

interface Row<V> {
  key: string
  value: V
}

/**
 * How a row's value is read as a text (TEXT) or as its UTF-8 bytes (BYTE_PARTS): a parted chunk's
 * marker, and its parts joined (`whole`: a chunk stored in one row).
 */
interface Joiner<V, J = V> {
  /** The number of parts the marker `value` names; undefined when `value` is no marker (the chunk itself). */
  parts(value: V): number | undefined
  join(parts: V[]): J
  whole(value: V): J
}

const TEXT: Joiner<string> = {
  parts: (value) => (value.startsWith(MARKER) ? Number(value.slice(MARKER.length)) : undefined),
  join: (parts) => parts.join(''),
  whole: (value) => value,
}

const MARKER_BYTES = Buffer.from(MARKER, 'latin1')

/** Each stored row of a chunk's text as its UTF-8 bytes, in order: one for a chunk stored whole. */
const BYTE_PARTS: Joiner<Buffer, Buffer[]> = {
  parts: (value) => (value.subarray(0, MARKER_BYTES.length).equals(MARKER_BYTES) ? Number(value.toString('latin1', MARKER_BYTES.length)) : undefined),
  join: (parts) => parts,
  whole: (value) => [value],
}

/**
 * Where a chunk's text is in its rows (ChunkRows.readByteParts): the end of each stored row's
 * bytes in the whole text's UTF-8, in order (one for a chunk stored whole).
 */
export type PartEnds = Int32Array

export class ChunkRows {
  readonly #adapter: KeyvSqlite
  readonly #table: string
  /** keyv stores a key of namespace N as `N:key`. */
  readonly #prefix: string
  /** readByteRange's pieces not read yet (#readRanges). */
  #waiting: WaitingRange[] = []
  #readingRanges = false

  constructor(adapter: KeyvSqlite, namespace: string) {
    this.#adapter = adapter
    this.#table = adapter.opts.table ?? 'keyv'
    this.#prefix = `${namespace}:`
  }

  /** The text stored under `key`, whole again; undefined when it is not there (or a part is missing). */
  async read(key: string): Promise<string | undefined> {
    return (await this.readMany([key]))[0]
  }

  /**
   * The texts of `keys`, in their order, read in one statement (each key and its parts): a whole
   * load of small chunks (persist.ts PHOTOS_PER_BUCKET) pays one round trip to sqlite's thread per
   * statement, ~0.4 ms, not per chunk.
   */
  readMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    return this.#readMany(keys, 'value', TEXT)
  }

  /**
   * The UTF-8 bytes of `key`'s text, whole again (readMany's rows read as blobs); undefined as for
   * read. For a reader that parses a small piece of a chunk (persist.ts StoredBucket): a parted
   * chunk's text made whole is a string of 100–400 KB, allocated in V8's large-object space at each
   * read (~0.7–1.3 ms), where its bytes are an ordinary buffer (and no UTF-8 is decoded but the piece's).
   */
  async readBytes(key: string): Promise<Buffer | undefined> {
    const read = await this.readByteParts(key)
    return read === undefined ? undefined : read.bytes
  }

  /** readBytes, with where each stored row of it ends (readByteRange reads a piece of it again). */
  async readByteParts(key: string): Promise<{ bytes: Buffer; ends: PartEnds } | undefined> {
    const parts = (await this.#readMany([key], 'CAST(value AS BLOB) AS value', BYTE_PARTS))[0]
    if (parts === undefined) return undefined
    const ends = new Int32Array(parts.length)
    let end = 0
    parts.forEach((part, i) => (ends[i] = end += part.length))
    return { bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, end), ends }
  }

  /**
   * The bytes [from, to) of `key`'s UTF-8 text, read alone (sqlite's substr of the rows holding
   * them: a photo's row of ~1 KB, where its bucket is ~100 KB in 3-4 rows), `ends` being where its
   * rows end (readByteParts of the very same chunk: its key is its content's hash). Undefined when
   * a row is gone or shorter than `ends` says.
   */
  async readByteRange(key: string, ends: PartEnds, from: number, to: number): Promise<Buffer | undefined> {
    const own = this.#prefix + key
    const pieces: Array<{ key: string; at: number; length: number }> = []
    for (let p = 0, start = 0; p < ends.length; start = ends[p] as number, p++) {
      const end = ends[p] as number
      if (end <= from || start >= to) continue
      const a = Math.max(from, start)
      pieces.push({ key: ends.length === 1 ? own : `${own}:${p}`, at: a - start + 1, length: Math.min(to, end) - a })
    }
    const read = await Promise.all(pieces.map((piece) => new Promise<Buffer | undefined>((resolve, reject) => {
      this.#waiting.push({ ...piece, resolve, reject })
      // Once what is asked in this turn is in (a pin asks a page's sidecars at once).
      if (!this.#readingRanges && this.#waiting.length === 1) queueMicrotask(() => void this.#readRanges())
    })))
    const whole = read.filter((b): b is Buffer => b !== undefined)
    if (pieces.length === 0 || whole.length !== pieces.length) return undefined
    return whole.length === 1 ? whole[0] : Buffer.concat(whole)
  }

  /**
   * The pieces waiting, read RANGES_PER_READ to a statement, one statement at a time: the driver
   * runs one statement of a connection at a time anyway, so a reader asking for many rows (a pin
   * writing ~40,000 sidecars after a bulk merge, 16 at once) waited for a round trip to sqlite's
   * thread per row, and those asked meanwhile go together in the next statement.
   */
  async #readRanges(): Promise<void> {
    if (this.#readingRanges) return
    this.#readingRanges = true
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, RANGES_PER_READ)
        try {
          const rows = (await this.#adapter.query(
            batch.map(() => `SELECT ? AS i, substr(CAST(value AS BLOB), ?, ?) AS value FROM ${this.#table} WHERE key = ?`).join(' UNION ALL '),
            ...batch.flatMap((w, i) => [i, w.at, w.length, w.key]),
          )) as Array<{ i: number; value: Buffer | null }>
          const got = new Map(rows.map((r) => [r.i, r.value]))
          batch.forEach((w, i) => {
            const value = got.get(i)
            w.resolve(Buffer.isBuffer(value) && value.length === w.length ? value : undefined)
          })
        } catch (err) {
          for (const w of batch) w.reject(err)
        }
      }
    } finally {
      this.#readingRanges = false
    }
  }

  async #readMany<V, J = V>(keys: readonly string[], column: string, as: Joiner<V, J>): Promise<Array<J | undefined>> {
    const owns = keys.map((key) => this.#prefix + key)
    if (owns.length === 0) return []
    const rows = (await this.#adapter.query(
      `SELECT key, ${column} FROM ${this.#table} WHERE ${owns.map(() => `(${OWN_AND_PARTS})`).join(' OR ')}`,
      ...owns.flatMap(ownAndParts),
    )) as Array<Row<V>>
    const byOwn = new Map<string, Array<Row<V>>>(owns.map((own) => [own, []]))
    for (const r of rows) {
      // Its own row, or a part `<own>:<n>` (an own key holds a ':' too: the namespace's).
      const mine = byOwn.get(r.key) ?? byOwn.get(r.key.slice(0, r.key.lastIndexOf(':')))
      mine?.push(r)
    }
    return owns.map((own) => joinedRows(own, byOwn.get(own) as Array<Row<V>>, as))
  }

  /** The text of `key` whose own row, `value`, was read already (an iteration): itself, or its parts read. */
  async textOf(key: string, value: string): Promise<string | undefined> {
    return value.startsWith(MARKER) ? this.read(key) : value
  }

  /**
   * Stores `text` under `key` (in parts when long), replacing what was there. A parted chunk is one
   * transaction of small statements: a statement binds its values all at once in the pool thread,
   * so the whole chunk in one statement would be one 5 MB allocation again, in 100 blocks.
   */
  write(key: string, text: string): Promise<void> {
    return this.writePieces(key, () => [text])
  }

  /**
   * `write` of the text `pieces` makes (json-pieces.ts), cut and written part by part as it is made:
   * the whole text is never one string. `pieces` is called once. Given `pending`, a chunk that fits
   * one statement is only added to it, to be written with others by one statement (flush: the
   * caller's before it relies on the chunk, as a save before its head); a bigger one is written at
   * once, after what is pending.
   */
  async writePieces(key: string, pieces: Pieces, pending?: PendingRows): Promise<void> {
    const own = this.#prefix + key
    const parts = partsOfPieces(pieces())
    // Up to a statement's worth of parts first: a chunk whose parts and marker fit one statement is
    // written by it alone (sqlite applies a statement whole), without the three round trips of a
    // transaction around it (a 128-photo bucket is ~4 parts: persist.ts PHOTOS_PER_BUCKET).
    const first: string[] = []
    let next = parts.next()
    for (; next.done !== true && first.length < PARTS_PER_INSERT; next = parts.next()) first.push(next.value)
    if (next.done === true && first.length < PARTS_PER_INSERT) {
      const rows: Array<[string, string]> = first.length <= 1
        ? [[own, first[0] ?? '']]
        : [...first.map((part, i): [string, string] => [`${own}:${i}`, part]), [own, `${MARKER}${first.length}`]]
      if (pending === undefined) return this.#insert(rows)
      const chars = rows.reduce((n, [, value]) => n + value.length, 0)
      if (pending.chars + chars > PENDING_CHARS) await this.flush(pending)
      pending.rows.push(...rows)
      pending.chars += chars
      return
    }
    // In order, and no other chunk's statement inside this one's transaction.
    if (pending !== undefined) await this.flush(pending)
    await this.#adapter.query('BEGIN IMMEDIATE')
    try {
      let count = 0
      let batch: Array<[string, string]> = []
      const add = async (part: string): Promise<void> => {
        batch.push([`${own}:${count++}`, part])
        if (batch.length < PARTS_PER_INSERT) return
        const full = batch
        batch = []
        await this.#insert(full)
      }
      for (const part of first.splice(0)) await add(part)
      for (; next.done !== true; next = parts.next()) await add(next.value)
      if (batch.length > 0) await this.#insert(batch)
      await this.#insert([[own, `${MARKER}${count}`]])
      await this.#adapter.query('COMMIT')
    } catch (err) {
      await this.#adapter.query('ROLLBACK').catch(() => undefined)
      throw err
    }
  }

  /** Writes the chunks `pending` holds, in one statement (sqlite applies it whole). */
  async flush(pending: PendingRows): Promise<void> {
    if (pending.rows.length === 0) return
    const rows = pending.rows
    pending.rows = []
    pending.chars = 0
    await this.#insert(rows)
  }

  async #insert(rows: ReadonlyArray<[string, string]>): Promise<void> {
    await this.#adapter.query(
      `INSERT INTO ${this.#table} (key, value) VALUES ${rows.map(() => '(?, ?)').join(', ')} ON CONFLICT(key) DO UPDATE SET value=excluded.value`,
      ...rows.flat(),
    )
  }

  /** The keys stored that start with `start` (their own rows: not a part's), without a value read. */
  async keysStarting(start: string): Promise<string[]> {
    const own = this.#prefix + start
    // Keys compare as text: those from `own` up to the first key past every one that starts with it.
    const rows = (await this.#adapter.query(`SELECT key FROM ${this.#table} WHERE key >= ? AND key < ?`, own, `${own}\uffff`)) as Array<{ key: string }>
    const keys: string[] = []
    for (const { key } of rows) {
      const rest = key.slice(this.#prefix.length)
      // A part is `<key>:<n>`: one ':' more than its chunk's key.
      if (rest.split(':').length === start.split(':').length) keys.push(rest)
    }
    return keys
  }

  /** Deletes `keys` and their parts, without reading them (keyv's deleteMany reads every value first). */
  async delete(keys: readonly string[]): Promise<void> {
    for (let from = 0; from < keys.length; from += KEYS_PER_DELETE) {
      const batch = keys.slice(from, from + KEYS_PER_DELETE).map((k) => this.#prefix + k)
      await this.#adapter.query(`DELETE FROM ${this.#table} WHERE ${batch.map(() => `(${OWN_AND_PARTS})`).join(' OR ')}`, ...batch.flatMap(ownAndParts))
    }
  }
}

/** The text (or bytes) of `own` from its row and its parts' rows (readMany's rows of `own`); undefined when one is missing. */
function joinedRows<V, J>(own: string, rows: ReadonlyArray<Row<V>>, as: Joiner<V, J>): J | undefined {
  const head = rows.find((r) => r.key === own)
  if (head === undefined) return undefined
  const count = as.parts(head.value)
  if (count === undefined) return as.whole(head.value)
  const parts = new Array<V>(count)
  let found = 0
  for (const r of rows) {
    const suffix = r.key.slice(own.length + 1)
    const i = r.key === own || !/^\d+$/.test(suffix) ? -1 : Number(suffix)
    if (i >= 0 && i < count && parts[i] === undefined) {
      parts[i] = r.value
      found++
    }
  }
  return found === count ? as.join(parts) : undefined
}

/**
 * A key and its parts: the key itself, and every key from `<key>:` up to `<key>;` (';' sorts just
 * after ':'), which is exactly the keys starting with `<key>:` (`ps:1:0`, never `ps:10`).
 */
const OWN_AND_PARTS = 'key = ? OR (key >= ? AND key < ?)'

function ownAndParts(own: string): [string, string, string] {
  return [own, `${own}:`, `${own};`]
}

/** A text given in pieces (json-pieces.ts), made anew at each call: joined, they are the text. */
export type Pieces = () => Iterable<string>

/** `chunk:<sha1 of text's UTF-8>`, hashed part by part (the same digest as the whole, with no copy of it whole). */
export function chunkKey(text: string): string {
  return chunkKeyOf(() => [text])
}

/** chunkKey of the text `pieces` makes, without making it whole. */
/** What every chunk's key starts with. */
export const CHUNK_PREFIX = 'chunk:'

export function chunkKeyOf(pieces: Pieces): string {
  const hash = createHash('sha1')
  for (const part of partsOfPieces(pieces())) hash.update(part)
  return `${CHUNK_PREFIX}${hash.digest('hex')}`
}

/**
 * `text` in pieces of at most PART_CHARS, never between the two halves of a surrogate pair: each
 * piece is then valid UTF-16 on its own, and the pieces' UTF-8 is exactly the whole's.
 */
export function partsOf(text: string): string[] {
  return [...partsOfPieces([text])]
}

/**
 * The parts of the text `pieces` join into, as partsOf cuts it: a part is cut once more than
 * PART_CHARS units are in (so a cut is never the text's end, as in partsOf), the rest is the last.
 * Only a part and what came in after it are held at a time.
 */
function* partsOfPieces(pieces: Iterable<string>): Generator<string> {
  let pending = ''
  for (const piece of pieces) {
    pending += piece
    while (pending.length > PART_CHARS) {
      let to = PART_CHARS
      const last = pending.charCodeAt(to - 1)
      if (last >= 0xd800 && last <= 0xdbff) to--
      yield pending.slice(0, to)
      pending = pending.slice(to)
    }
  }
  yield pending
}
