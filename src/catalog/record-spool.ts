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
import { urlOf, urlTemplate } from './listing-pages.js'
import type { MediaEntry, MediaKind, PhotoEntry, RawRecord } from './types.js'

/** A first sync spools its records from this many photos on (the first ones stay on the heap). */
export const SPOOL_RECORDS_FROM_PHOTOS = 10_000

/** A spool shares at most this many URL templates (one per media server and extension on Flickr); others are kept as they are. */
const MAX_SHARED_TEMPLATES = 65_536

const DATE_TAKEN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

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
  /**
   * Each record's date taken, its 14 digits as one number (NaN: none): a `YYYY-MM-DD hh:mm:ss`
   * string of its own was 32 bytes a photo, 8 here. One that is not of that form (never, from
   * records.ts knownDateTaken) is kept as it is in `#oddTaken`.
   */
  #taken = new Float64Array(4096).fill(NaN)
  #oddTaken = new Map<number, string>()
  /** The URL templates (listing-pages.ts urlTemplate) the spool's photos hold, each string once. */
  readonly #templates = new Map<string, string>()
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

  /** Keeps `text` as record `ord`'s date taken (dateTaken). */
  keepDateTaken(ord: number, text: string | null): void {
    this.#grow(ord + 1)
    const m = text === null ? null : DATE_TAKEN.exec(text)
    this.#taken[ord] = m === null ? NaN : Number(m.slice(1).join(''))
    if (text !== null && m === null) this.#oddTaken.set(ord, text)
    else this.#oddTaken.delete(ord)
  }

  /** Record `ord`'s date taken as keepDateTaken was given it (a new string each time). */
  dateTaken(ord: number): string | null {
    const n = this.#taken[ord] as number
    if (Number.isNaN(n)) return this.#oddTaken.get(ord) ?? null
    const d = String(n).padStart(14, '0')
    return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)} ${d.slice(8, 10)}:${d.slice(10, 12)}:${d.slice(12, 14)}`
  }

  /**
   * `url` with `id` and `secret` cut out (urlTemplate), one string for every photo of the same
   * template: the photos of one media server and extension share it. A URL urlOf would not give
   * back exactly is kept whole (behind \0, as urlTemplate keeps one).
   */
  template(url: string, id: string, secret: string): string {
    let t = urlTemplate(url, id, secret)
    if (urlOf(t, id, secret) !== url) t = `\0${url}`
    const shared = this.#templates.get(t)
    if (shared !== undefined) return shared
    if (this.#templates.size < MAX_SHARED_TEMPLATES) this.#templates.set(t, t)
    return t
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
    const taken = new Float64Array(size)
    taken.fill(NaN, this.#taken.length)
    taken.set(this.#taken)
    this.#offsets = offsets
    this.#lengths = lengths
    this.#taken = taken
  }
}

/**
 * A photo entry whose record is in a spool: the same fields as photoFields makes (records.ts), in
 * the same order, and `raw` read back when asked. Its date taken is kept by the spool, and its
 * `urlO` as the spool's shared template (`template`): each made anew when asked, since at 1,000,000
 * photos those strings were ~110 MB of a first sync's heap. Copy one with `entryAt` (records.ts),
 * never with a spread: a spread keeps own fields only, and `raw`, `urlO` and `dateTaken` are not.
 */
export class SpooledPhoto implements PhotoEntry {
  id: string
  media: MediaKind
  secret: string
  format: string
  lastUpdate: number
  dateUpload: number
  countComments: number
  changedAtMs: number
  changedAtMsIgnoringViews: number | undefined
  readonly #spool: RecordSpool
  readonly #ord: number
  /** urlO's template (RecordSpool.template), null when the record has no url_o. */
  readonly #urlTemplate: string | null

  /** `kept`: the template of the photo this one copies (withChangedAt); its date taken is in the spool already. */
  constructor(p: Omit<ListedPhoto, 'raw'> & { changedAtMs?: number }, spool: RecordSpool, ord: number, kept?: { urlTemplate: string | null }) {
    this.id = p.id
    this.media = p.media
    this.secret = p.secret
    this.format = p.format
    this.lastUpdate = p.lastUpdate
    this.dateUpload = p.dateUpload
    this.countComments = p.countComments
    this.changedAtMs = p.changedAtMs ?? 0
    this.changedAtMsIgnoringViews = p.changedAtMsIgnoringViews
    this.#spool = spool
    this.#ord = ord
    if (kept !== undefined) {
      this.#urlTemplate = kept.urlTemplate
    } else {
      spool.keepDateTaken(ord, p.dateTaken)
      this.#urlTemplate = p.urlO === null ? null : spool.template(p.urlO, p.id, p.secret)
    }
  }

  get raw(): RawRecord {
    return this.#spool.get(this.#ord)
  }

  get dateTaken(): string | null {
    return this.#spool.dateTaken(this.#ord)
  }

  get urlO(): string | null {
    return this.#urlTemplate === null ? null : urlOf(this.#urlTemplate, this.id, this.secret)
  }

  /** This photo with other change times (what a spread would give; the record stays where it is). */
  withChangedAt(changedAtMs: number, changedAtMsIgnoringViews = this.changedAtMsIgnoringViews): SpooledPhoto {
    return new SpooledPhoto({ ...this, dateTaken: null, urlO: null, changedAtMs, changedAtMsIgnoringViews }, this.#spool, this.#ord, { urlTemplate: this.#urlTemplate })
  }

  /**
   * The MediaEntry of this photo's original at its `urlO` (resolve-media.ts), holding the URL as
   * this photo does: by its template.
   */
  originalAtUrlO(size: number, ext: string): MediaEntry {
    if (this.#urlTemplate === null) throw new FlickrfsError('INTERNAL', `Photo ${this.id} has no url_o to take its original from.`)
    return new TemplatedOriginal(this.id, this.secret, size, ext, this.#urlTemplate)
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

/**
 * An original at its photo's url_o, the URL held as a template (the photo's, shared): the same
 * fields as resolve-media.ts makes, in the same order for JSON.stringify (`toJSON`) and for
 * `for…in` (sameJson: `url` is an enumerable getter of the prototype).
 */
class TemplatedOriginal implements MediaEntry {
  id: string
  secret: string
  size: number
  ext: string
  kind: 'original'
  readonly #urlTemplate: string

  constructor(id: string, secret: string, size: number, ext: string, urlTemplate: string) {
    this.id = id
    this.secret = secret
    this.size = size
    this.ext = ext
    this.kind = 'original'
    this.#urlTemplate = urlTemplate
  }

  get url(): string {
    return urlOf(this.#urlTemplate, this.id, this.secret)
  }

  toJSON(): MediaEntry {
    return { id: this.id, secret: this.secret, size: this.size, ext: this.ext, url: this.url, kind: this.kind }
  }
}

for (const [cls, names] of [[SpooledPhoto, ['dateTaken', 'urlO']], [TemplatedOriginal, ['url']]] as const) {
  for (const name of names) Object.defineProperty(cls.prototype, name, { ...Object.getOwnPropertyDescriptor(cls.prototype, name), enumerable: true })
}
