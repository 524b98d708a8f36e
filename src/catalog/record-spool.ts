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
import { toStr } from '../flickr/lenient.js'
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

/** A media server as template cuts it out: a decimal number as Flickr writes one, that an Int32 holds. */
const SERVER = /^(0|[1-9]\d{0,8})$/

const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd)
  } catch {
    // Already closed: nothing held.
  }
})

/** What a SpooledPhoto reads from its spool: the fields of its record that no copy of it changes. */
type RecordFields = Pick<PhotoEntry, 'media' | 'format' | 'lastUpdate' | 'dateUpload' | 'dateTaken' | 'countComments'>

export class RecordSpool {
  readonly #dir: string
  #fd: number | undefined
  #end = 0
  #count = 0
  #offsets = new Float64Array(4096)
  #lengths = new Uint32Array(4096)
  /*
   * The fields of each record its photo reads (keepFields), as columns instead of the photo's own
   * properties: 8 bytes each on Node's heap (no pointer compression), and a string of its own for
   * a date taken (40 bytes). lastupdate, dateupload and count_comments as what toInt made of
   * Flickr's; the kind and the extension as one code (`#formats`); the date taken as its 14
   * digits (NaN: none). A record whose values do not fit keeps them in `#odd` (never, from Flickr).
   */
  #lastUpdate = new Uint32Array(4096)
  #dateUpload = new Uint32Array(4096)
  #countComments = new Uint32Array(4096)
  #taken = new Float64Array(4096)
  /** An index into `#formats` times 2, plus 1 for a video. */
  #kindFormat = new Uint32Array(4096)
  /** The media server cut out of the record's URL template (`template`), -1 when none was. */
  #server = new Int32Array(4096)
  readonly #formats: string[] = []
  readonly #formatCodes = new Map<string, number>()
  readonly #odd = new Map<number, RecordFields>()
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

  /** Keeps the fields of record `ord` its photo reads (RecordFields). */
  keepFields(ord: number, p: RecordFields): void {
    this.#grow(ord + 1)
    const taken = p.dateTaken === null ? null : DATE_TAKEN.exec(p.dateTaken)
    if (!isUint32(p.lastUpdate) || !isUint32(p.dateUpload) || !isUint32(p.countComments) || (p.dateTaken !== null && taken === null)) {
      const { media, format, lastUpdate, dateUpload, dateTaken, countComments } = p
      this.#odd.set(ord, { media, format, lastUpdate, dateUpload, dateTaken, countComments })
      return
    }
    this.#odd.delete(ord)
    this.#lastUpdate[ord] = p.lastUpdate
    this.#dateUpload[ord] = p.dateUpload
    this.#countComments[ord] = p.countComments
    this.#taken[ord] = taken === null ? NaN : Number(taken.slice(1).join(''))
    let code = this.#formatCodes.get(p.format)
    if (code === undefined) {
      code = this.#formats.push(p.format) - 1
      this.#formatCodes.set(p.format, code)
    }
    this.#kindFormat[ord] = code * 2 + (p.media === 'video' ? 1 : 0)
  }

  /** Record `ord`'s fields as keepFields was given them (the date taken a new string each time). */
  media(ord: number): MediaKind {
    return this.#oddOf(ord)?.media ?? ((this.#kindFormat[ord] as number) % 2 === 1 ? 'video' : 'photo')
  }

  format(ord: number): string {
    return this.#oddOf(ord)?.format ?? (this.#formats[Math.floor((this.#kindFormat[ord] as number) / 2)] as string)
  }

  lastUpdate(ord: number): number {
    return this.#oddOf(ord)?.lastUpdate ?? (this.#lastUpdate[ord] as number)
  }

  dateUpload(ord: number): number {
    return this.#oddOf(ord)?.dateUpload ?? (this.#dateUpload[ord] as number)
  }

  countComments(ord: number): number {
    return this.#oddOf(ord)?.countComments ?? (this.#countComments[ord] as number)
  }

  dateTaken(ord: number): string | null {
    const odd = this.#oddOf(ord)
    if (odd !== undefined) return odd.dateTaken
    const n = this.#taken[ord] as number
    if (Number.isNaN(n)) return null
    const d = String(n).padStart(14, '0')
    return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)} ${d.slice(8, 10)}:${d.slice(10, 12)}:${d.slice(12, 14)}`
  }

  #oddOf(ord: number): RecordFields | undefined {
    return this.#odd.size === 0 ? undefined : this.#odd.get(ord)
  }

  /**
   * Record `ord`'s `url` as a template: `id` and `secret` cut out (urlTemplate), and the record's
   * media `server` too when the URL names it as a path segment (kept in a column, `serverAt`:
   * `urlFrom` puts it back). One string for every photo of the same template: on Flickr a host, a path shape and an
   * extension; without the server, the fake's 64,535 servers made most templates a photo's own. A
   * URL the template would not give back exactly is kept whole (behind \0, as urlTemplate keeps one).
   */
  template(url: string, id: string, secret: string, ord: number, server: string): string {
    this.#grow(ord + 1)
    let t = urlTemplate(url, id, secret)
    let cut = -1
    if (SERVER.test(server) && !t.startsWith('\0') && !url.includes('\x03')) {
      const at = t.indexOf(`/${server}/`)
      if (at !== -1) {
        t = `${t.slice(0, at + 1)}\x03${t.slice(at + 1 + server.length)}`
        cut = Number(server)
      }
    }
    if (urlFrom(t, id, secret, cut) !== url) {
      t = `\0${url}`
      cut = -1
    }
    this.#server[ord] = cut
    const shared = this.#templates.get(t)
    if (shared !== undefined) return shared
    if (this.#templates.size < MAX_SHARED_TEMPLATES) this.#templates.set(t, t)
    return t
  }

  /** The server `template` cut out of record `ord`'s URL (-1: none). */
  serverAt(ord: number): number {
    return this.#server[ord] as number
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
    this.#offsets = grown(this.#offsets, new Float64Array(size))
    this.#lengths = grown(this.#lengths, new Uint32Array(size))
    this.#lastUpdate = grown(this.#lastUpdate, new Uint32Array(size))
    this.#dateUpload = grown(this.#dateUpload, new Uint32Array(size))
    this.#countComments = grown(this.#countComments, new Uint32Array(size))
    this.#taken = grown(this.#taken, new Float64Array(size))
    this.#kindFormat = grown(this.#kindFormat, new Uint32Array(size))
    this.#server = grown(this.#server, new Int32Array(size))
  }
}

/** `into` holding `from` at its start. */
function grown<T extends Float64Array | Uint32Array | Int32Array>(from: T, into: T): T {
  into.set(from)
  return into
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff
}

/** The URL of `template` (RecordSpool.template) for `id`, `secret` and `server` (-1: none cut out). */
function urlFrom(template: string, id: string, secret: string, server: number): string {
  return urlOf(server === -1 ? template : template.replace('\x03', String(server)), id, secret)
}

/**
 * A photo entry whose record is in a spool: the fields photoFields makes (records.ts), `raw` read
 * back when asked, and the record's other fields (its kind, extension, times, comment count, date
 * taken) read from the spool's columns, its `urlO` made from the spool's shared template: each
 * field a photo holds itself is 8 bytes of heap, its own strings 40 to 80 more, and without them
 * a mount's first sync of 1,000,000 photos peaked ~125 MB lower (bench/RESULTS.md "Session 39"). Copy one with `entryAt` (records.ts), never with a
 * spread: a spread keeps own fields only, and those are its id, secret and change times.
 */
export class SpooledPhoto implements PhotoEntry {
  id: string
  secret: string
  changedAtMs: number
  changedAtMsIgnoringViews: number | undefined
  readonly #spool: RecordSpool
  readonly #ord: number
  /** urlO's template (RecordSpool.template), null when the record has no url_o. */
  readonly #urlTemplate: string | null

  /** `server`: the record's `server`, which the URL's template may cut out. */
  constructor(p: Omit<ListedPhoto, 'raw'> & { changedAtMs?: number; server?: string }, spool: RecordSpool, ord: number)
  /** A copy (withChangedAt): the fields in the spool are there already, and `kept` is the template. */
  constructor(p: Pick<SpooledPhoto, 'id' | 'secret' | 'changedAtMs' | 'changedAtMsIgnoringViews'>, spool: RecordSpool, ord: number, kept: { urlTemplate: string | null })
  constructor(p: { id: string; secret: string; changedAtMs?: number; changedAtMsIgnoringViews?: number | undefined }, spool: RecordSpool, ord: number, kept?: { urlTemplate: string | null }) {
    this.id = p.id
    this.secret = p.secret
    this.changedAtMs = p.changedAtMs ?? 0
    this.changedAtMsIgnoringViews = p.changedAtMsIgnoringViews
    this.#spool = spool
    this.#ord = ord
    if (kept !== undefined) {
      this.#urlTemplate = kept.urlTemplate
      return
    }
    const listed = p as Omit<ListedPhoto, 'raw'> & { server?: string }
    spool.keepFields(ord, listed)
    this.#urlTemplate = listed.urlO === null ? null : spool.template(listed.urlO, listed.id, listed.secret, ord, listed.server ?? '')
  }

  get raw(): RawRecord {
    return this.#spool.get(this.#ord)
  }

  get media(): MediaKind {
    return this.#spool.media(this.#ord)
  }

  get format(): string {
    return this.#spool.format(this.#ord)
  }

  get lastUpdate(): number {
    return this.#spool.lastUpdate(this.#ord)
  }

  get dateUpload(): number {
    return this.#spool.dateUpload(this.#ord)
  }

  get dateTaken(): string | null {
    return this.#spool.dateTaken(this.#ord)
  }

  get countComments(): number {
    return this.#spool.countComments(this.#ord)
  }

  get urlO(): string | null {
    return this.#urlTemplate === null ? null : urlFrom(this.#urlTemplate, this.id, this.secret, this.#spool.serverAt(this.#ord))
  }

  /** This photo with other change times (what a spread would give; the record stays where it is). */
  withChangedAt(changedAtMs: number, changedAtMsIgnoringViews = this.changedAtMsIgnoringViews): SpooledPhoto {
    return new SpooledPhoto({ id: this.id, secret: this.secret, changedAtMs, changedAtMsIgnoringViews }, this.#spool, this.#ord, { urlTemplate: this.#urlTemplate })
  }

  /**
   * The MediaEntry of this photo's original at its `urlO` (resolve-media.ts), holding the URL as
   * this photo does: by its template.
   */
  originalAtUrlO(size: number, ext: string): MediaEntry {
    if (this.#urlTemplate === null) throw new FlickrfsError('INTERNAL', `Photo ${this.id} has no url_o to take its original from.`)
    return new TemplatedOriginal(this.id, this.secret, size, ext, this.#urlTemplate, this.#spool.serverAt(this.#ord))
  }

  /** Writes the records of `photos` not yet spooled to `spool`, and puts each such photo's SpooledPhoto in its place. */
  static spoolAll(photos: ListedPhoto[], spool: RecordSpool): void {
    const fresh: number[] = []
    for (let i = 0; i < photos.length; i++) if (!(photos[i] instanceof SpooledPhoto)) fresh.push(i)
    if (fresh.length === 0) return
    const first = spool.add(fresh.map((i) => (photos[i] as ListedPhoto).raw))
    fresh.forEach((i, k) => {
      const p = photos[i] as ListedPhoto
      photos[i] = new SpooledPhoto({ ...p, server: toStr(p.raw.server) }, spool, first + k)
    })
  }
}

/**
 * An original at its photo's url_o, the URL held as a template (the photo's, shared): the fields
 * resolve-media.ts makes, in the same order for JSON.stringify (`toJSON`) and for `for…in`
 * (sameJson: `url` and `kind` are enumerable getters of the prototype).
 */
class TemplatedOriginal implements MediaEntry {
  id: string
  secret: string
  size: number
  ext: string
  readonly #urlTemplate: string
  readonly #server: number

  constructor(id: string, secret: string, size: number, ext: string, urlTemplate: string, server: number) {
    this.id = id
    this.secret = secret
    this.size = size
    this.ext = ext
    this.#urlTemplate = urlTemplate
    this.#server = server
  }

  get url(): string {
    return urlFrom(this.#urlTemplate, this.id, this.secret, this.#server)
  }

  get kind(): 'original' {
    return 'original'
  }

  toJSON(): MediaEntry {
    return { id: this.id, secret: this.secret, size: this.size, ext: this.ext, url: this.url, kind: this.kind }
  }
}

for (const [cls, names] of [[SpooledPhoto, ['media', 'format', 'lastUpdate', 'dateUpload', 'dateTaken', 'countComments', 'urlO']], [TemplatedOriginal, ['url', 'kind']]] as const) {
  for (const name of names) Object.defineProperty(cls.prototype, name, { ...Object.getOwnPropertyDescriptor(cls.prototype, name), enumerable: true })
}
