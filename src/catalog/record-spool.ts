/**
 * A first sync's records on disk instead of on the heap.
 *
 * A first sync holds every photo's getPhotos record until its save: at 1,000,000 items ~0.8 GB of
 * heap in the objects JSON.parse made (bench/RESULTS.md, "Where the memory is"), the most of its
 * peak. Yet a record is read only a few times in a first sync: for its listing page's hash, its
 * sidecar's size, its bucket row at the save, and the sidecar a reader or a pin asks for. So each
 * record past the first few thousand goes to a spool file as its listing page comes in, and its
 * entry (a `SpooledPhoto`) keeps every field the sync works with but reads `raw` back from the
 * file when asked (a pread and a JSON.parse, ~10 µs).
 *
 * The file is made in ROOT/.flickrfs/tmp and unlinked at once: it is this process's alone, a kill
 * leaves nothing behind, and its disk space goes back when the last entry holding it is collected
 * (a FinalizationRegistry closes the descriptor) or when `close` is called. It takes the records'
 * size as JSON (what the checkpoint's listing takes again); a full disk fails the sync with
 * NO_SPACE, and the sync resumes from its checkpoint once there is room.
 */
import { closeSync, mkdirSync, openSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { errorMessage } from '../util/abort.js'
import { destWriteError } from '../util/fs-errors.js'
import { readFullySync, writeFullySync } from '../util/fs.js'
import type { ListedPhoto } from './changes.js'
import type { MediaKind, PhotoEntry, RawRecord } from './types.js'

/** A first sync spools its records from this many photos on (the first ones stay on the heap). */
export const SPOOL_RECORDS_FROM_PHOTOS = 10_000

const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd)
  } catch {
    // Already closed: nothing held.
  }
})

export class RecordSpool {
  readonly #dir: string
  #fd: number | undefined
  #end = 0
  #count = 0
  #offsets = new Float64Array(4096)
  #lengths = new Uint32Array(4096)
  /** The record read last: asked again at once (a sidecar's size reads it twice), it is parsed once. */
  #lastOrd = -1
  #lastRecord: RawRecord | undefined

  private constructor(dir: string, fd: number) {
    this.#dir = dir
    this.#fd = fd
    closer.register(this, fd, this)
  }

  /** A new spool in `dir` (made if missing), its file already unlinked. */
  static open(dir: string): RecordSpool {
    const path = join(dir, `records-${process.pid}-${randomBytes(4).toString('hex')}.spool`)
    try {
      mkdirSync(dir, { recursive: true })
      const fd = openSync(path, 'w+', 0o600)
      unlinkSync(path)
      return new RecordSpool(dir, fd)
    } catch (err) {
      throw destWriteError(err, path)
    }
  }

  /** How many records are in. */
  get size(): number {
    return this.#count
  }

  /** Writes `records` in one write; the first one's number is returned, the others follow it. */
  add(records: readonly RawRecord[]): number {
    const fd = this.#openFd()
    const first = this.#count
    this.#grow(first + records.length)
    // Each record encoded once: its bytes give its length, and the write is them end to end.
    const parts = records.map((r) => Buffer.from(JSON.stringify(r), 'utf8'))
    let at = this.#end
    parts.forEach((part, i) => {
      this.#offsets[first + i] = at
      this.#lengths[first + i] = part.byteLength
      at += part.byteLength
    })
    try {
      writeFullySync(fd, Buffer.concat(parts), this.#end)
    } catch (err) {
      // A full disk, most likely: the sync needs about its records' size free in the state folder.
      throw destWriteError(err, `a first sync's record spool in ${this.#dir}`)
    }
    this.#end = at
    this.#count += records.length
    return first
  }

  /** Record `ord`, parsed anew (a fresh object each time but for one asked twice in a row). */
  get(ord: number): RawRecord {
    if (ord === this.#lastOrd && this.#lastRecord !== undefined) return this.#lastRecord
    if (!Number.isInteger(ord) || ord < 0 || ord >= this.#count) throw new FlickrfsError('INTERNAL', `No spooled record ${ord} (${this.#count} spooled).`)
    const fd = this.#openFd()
    const length = this.#lengths[ord] as number
    const position = this.#offsets[ord] as number
    const buf = Buffer.allocUnsafe(length)
    let got: number
    try {
      got = readFullySync(fd, buf, position)
    } catch (err) {
      throw new FlickrfsError('CATALOG', `Could not read a record back from a first sync's spool in ${this.#dir}: ${errorMessage(err)}. Run the same command again; the sync resumes where it stopped.`, { cause: err })
    }
    if (got < length) throw new FlickrfsError('INTERNAL', `The record spool ended at ${position + got} bytes, before record ${ord}'s end.`)
    const record = JSON.parse(buf.toString('utf8')) as RawRecord
    this.#lastOrd = ord
    this.#lastRecord = record
    return record
  }

  /** Gives the file's space back now; a record asked for afterwards is an error. */
  close(): void {
    const fd = this.#fd
    if (fd === undefined) return
    this.#fd = undefined
    this.#lastRecord = undefined
    closer.unregister(this)
    closeSync(fd)
  }

  #openFd(): number {
    if (this.#fd === undefined) throw new FlickrfsError('INTERNAL', 'The record spool was closed while its records were still in use.')
    return this.#fd
  }

  #grow(needed: number): void {
    if (needed <= this.#offsets.length) return
    let size = this.#offsets.length
    while (size < needed) size *= 2
    const offsets = new Float64Array(size)
    offsets.set(this.#offsets)
    const lengths = new Uint32Array(size)
    lengths.set(this.#lengths)
    this.#offsets = offsets
    this.#lengths = lengths
  }
}

/**
 * A photo entry whose record is in a spool: the same fields as photoFields makes (records.ts), in
 * the same order, and `raw` read back when asked. Copy one with `entryAt` (records.ts), never with
 * a spread: a spread keeps own fields only, and `raw` is not one.
 */
export class SpooledPhoto implements PhotoEntry {
  id: string
  media: MediaKind
  secret: string
  format: string
  lastUpdate: number
  dateUpload: number
  dateTaken: string | null
  countComments: number
  urlO: string | null
  changedAtMs: number
  changedAtMsIgnoringViews: number | undefined
  readonly #spool: RecordSpool
  readonly #ord: number

  constructor(p: Omit<ListedPhoto, 'raw'> & { changedAtMs?: number }, spool: RecordSpool, ord: number) {
    this.id = p.id
    this.media = p.media
    this.secret = p.secret
    this.format = p.format
    this.lastUpdate = p.lastUpdate
    this.dateUpload = p.dateUpload
    this.dateTaken = p.dateTaken
    this.countComments = p.countComments
    this.urlO = p.urlO
    this.changedAtMs = p.changedAtMs ?? 0
    this.changedAtMsIgnoringViews = p.changedAtMsIgnoringViews
    this.#spool = spool
    this.#ord = ord
  }

  get raw(): RawRecord {
    return this.#spool.get(this.#ord)
  }

  /** This photo with other change times (what a spread would give; the record stays where it is). */
  withChangedAt(changedAtMs: number, changedAtMsIgnoringViews = this.changedAtMsIgnoringViews): SpooledPhoto {
    return new SpooledPhoto({ ...this, changedAtMs, changedAtMsIgnoringViews }, this.#spool, this.#ord)
  }

  /** Writes the records of `photos` not yet spooled to `spool`, and puts each such photo's SpooledPhoto in its place. */
  static spoolAll(photos: ListedPhoto[], spool: RecordSpool): void {
    const fresh: number[] = []
    for (let i = 0; i < photos.length; i++) if (!(photos[i] instanceof SpooledPhoto)) fresh.push(i)
    if (fresh.length === 0) return
    const first = spool.add(fresh.map((i) => (photos[i] as ListedPhoto).raw))
    fresh.forEach((i, k) => {
      photos[i] = new SpooledPhoto(photos[i] as ListedPhoto, spool, first + k)
    })
  }
}
