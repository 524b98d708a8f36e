/**
 * The listing's columns of every photo, packed in pages saved beside the photo buckets (schema 3
 * step 2 over schema 1's chunks; README "Next: schema 3"): what a `CatalogView` answers at once
 * (id, secret, kind, change times, dates, the current original, the sidecar's sizes), so that a
 * read-only opener lists and stats without decoding a record (lazy-view.ts).
 *
 * A page holds PAGE_PHOTOS photos in `photoOrder` (the photostream's, then the photos it does not
 * list), each column one string: numbers as the base64 of a typed array (little-endian, as every
 * machine Node runs on), strings joined with their lengths beside them, repeating values (the
 * original's extension, kind and label, the URL with its id and secret cut out) as a small
 * dictionary and a code per photo. A page decoded keeps those arrays and strings as they are:
 * ~60 bytes a photo in memory, and an answer is made when asked for.
 */
import { decimalValue } from './decimal-id.js'
import type { SidecarSizer } from './ports.js'
import type { CatalogSnapshot, MediaEntry, PhotoEntry, RawRecord } from './types.js'
import type { PhotoColumns, StreamRow } from './view.js'
import { mediaKey } from './types.js'

/** Photos per page: a page is one chunk of ~4 MB, rewritten when one of its photos changes. */
export const PAGE_PHOTOS = 50_000

/** A sidecar size that is not stored: the photo has no current original, so no sidecar is shown. */
const NO_SIZE = 0xffffffff

/** A string column as stored: the strings joined, and the length of each. */
interface StoredStrings {
  t: string
  l: string
  /** Bytes per length (1, 2 or 4). */
  w: number
}

/** A column of repeating strings as stored: the distinct values, and a code per photo. */
interface StoredCodes {
  d: string[]
  c: string
  w: number
}

/** One page as stored (JSON). */
export interface StoredPage {
  n: number
  id: StoredStrings
  secret: StoredStrings
  /** dateTaken, '' for null (a known date is never empty: records.ts knownDateTaken). */
  taken: StoredStrings
  /** 1 for a video. */
  video: string
  changed: string
  changedNv: string
  upload: string
  /** 1 when the photo has an original for its current secret (the columns below then hold it). */
  has: string
  size: string
  ext: StoredCodes
  /** The URL with the photo's id as \x01 and its secret as \x02 (urlTemplate). */
  url: StoredCodes
  /** 1 for a transcode. */
  transcode: string
  /** '' for none, else \x00 + the label. */
  label: StoredCodes
  sidecar: string
  sidecarNv: string
  /**
   * recordHash of each photo's record (Float64, NaN where unknown): what a full listing compares
   * its records with, without decoding the buckets (full-merge.ts). Absent in pages saved before it.
   */
  rh?: string
}

/** The order of the pages: the photostream (each id once, photos only), then the photos it does not list. */
export function photoOrder(snap: Pick<CatalogSnapshot, 'photostream' | 'photos'>): { ids: string[]; streamInOrder: boolean } {
  const seen = new Set<string>()
  // Sized once for the photostream (not grown by push: ~1 MB of grown-out copies at 100,000), cut to what it takes.
  const ids = new Array<string>(snap.photostream.length)
  let listed = 0
  for (const id of snap.photostream) {
    if (!snap.photos.has(id) || seen.has(id)) continue
    seen.add(id)
    ids[listed++] = id
  }
  ids.length = listed
  // The pages start with the whole photostream only when it lists each id once, every one a photo.
  const streamInOrder = ids.length === snap.photostream.length
  if (seen.size < snap.photos.size) {
    for (const id of snap.photos.keys()) if (!seen.has(id)) ids.push(id)
  }
  return { ids, streamInOrder }
}

/** The listing columns of `ids` (one page), with the sidecar sizes `sizer` answers. */
export function packPage(ids: readonly string[], snap: CatalogSnapshot, sizer: SidecarSizer): StoredPage {
  const page = new PageBuilder(ids.length)
  for (const id of ids) {
    const p = snap.photos.get(id) as PhotoEntry
    page.add(pageRowOf(p, snap.media.get(mediaKey(id, p.secret)), snap.comments.get(id), sizer))
  }
  return page.stored()
}

/** One photo's columns as a page holds them (the strings of the dictionary columns as coded). */
export interface PageRow {
  id: string
  secret: string
  /** dateTaken, '' for null. */
  taken: string
  video: boolean
  changed: number
  changedNv: number
  upload: number
  /** recordHash of its record; NaN when not known (a row of a page saved before the column). */
  hash: number
  /** Its current original, absent when it has none. */
  original?: {
    size: number
    ext: string
    /** urlTemplate of its URL. */
    url: string
    transcode: boolean
    /** '' for none, else \x00 + the label. */
    label: string
    sidecar: number
    sidecarNv: number
  }
}

/** A photo's page row, made from its entry, current original and comments (the sizes from `sizer`). */
export function pageRowOf(p: PhotoEntry, m: MediaEntry | undefined, comments: readonly RawRecord[] | undefined, sizer: SidecarSizer): PageRow {
  const row: PageRow = {
    id: p.id, secret: p.secret, taken: p.dateTaken ?? '', video: p.media === 'video',
    changed: p.changedAtMs, changedNv: p.changedAtMsIgnoringViews ?? p.changedAtMs, upload: p.dateUpload, hash: recordHash(p.raw),
  }
  if (m === undefined) return row
  const [sidecar, sidecarNv] = sizer.sizes(p, m, comments)
  row.original = {
    size: m.size, ext: m.ext, url: urlTemplate(m.url, p.id, p.secret), transcode: m.kind === 'transcode',
    label: m.label === undefined ? '' : `\0${m.label}`, sidecar, sidecarNv,
  }
  return row
}

/**
 * A page packed row by row, in order: the one packing rule for a page made from a snapshot
 * (packPage) and for one made of an older page's rows and changed photos (lazy-merge.ts), so that
 * both give the very same chunk for the same photos.
 */
export class PageBuilder {
  readonly #n: number
  #i = 0
  readonly #video: Uint8Array
  readonly #changed: Float64Array
  readonly #changedNv: Float64Array
  readonly #upload: Float64Array
  readonly #has: Uint8Array
  readonly #size: Float64Array
  readonly #transcode: Uint8Array
  readonly #sidecar: Uint32Array
  readonly #sidecarNv: Uint32Array
  readonly #hash: Float64Array
  // Every column sized once, for its n photos: filled by push, a page's six arrays of 50,000 values
  // left ~7 MB of grown-out copies in V8's large-object space at each page a save packs (bench/RESULTS.md "sync-290").
  readonly #ids: string[]
  readonly #secrets: string[]
  readonly #taken: string[]
  readonly #ext: CodeBook
  readonly #url: CodeBook
  readonly #label: CodeBook

  constructor(n: number) {
    this.#n = n
    this.#video = new Uint8Array(n)
    this.#changed = new Float64Array(n)
    this.#changedNv = new Float64Array(n)
    this.#upload = new Float64Array(n)
    this.#has = new Uint8Array(n)
    this.#size = new Float64Array(n)
    this.#transcode = new Uint8Array(n)
    this.#sidecar = new Uint32Array(n).fill(NO_SIZE)
    this.#sidecarNv = new Uint32Array(n).fill(NO_SIZE)
    this.#hash = new Float64Array(n)
    this.#ids = new Array<string>(n)
    this.#secrets = new Array<string>(n)
    this.#taken = new Array<string>(n)
    this.#ext = new CodeBook(n)
    this.#url = new CodeBook(n)
    this.#label = new CodeBook(n)
  }

  add(row: PageRow): void {
    const i = this.#i++
    if (i >= this.#n) throw new Error(`a listing page of ${this.#n} photos given more`)
    this.#ids[i] = row.id
    this.#secrets[i] = row.secret
    this.#taken[i] = row.taken
    this.#video[i] = row.video ? 1 : 0
    this.#changed[i] = row.changed
    this.#changedNv[i] = row.changedNv
    this.#upload[i] = row.upload
    this.#hash[i] = row.hash
    const o = row.original
    if (o === undefined) {
      this.#ext.add(i, '')
      this.#url.add(i, '')
      this.#label.add(i, '')
      return
    }
    this.#has[i] = 1
    this.#size[i] = o.size
    this.#ext.add(i, o.ext)
    this.#url.add(i, o.url)
    this.#transcode[i] = o.transcode ? 1 : 0
    this.#label.add(i, o.label)
    this.#sidecar[i] = o.sidecar
    this.#sidecarNv[i] = o.sidecarNv
  }

  stored(): StoredPage {
    if (this.#i !== this.#n) throw new Error(`a listing page of ${this.#n} photos given ${this.#i}`)
    return {
      n: this.#n,
      id: strings(this.#ids),
      secret: strings(this.#secrets),
      taken: strings(this.#taken),
      video: base64(this.#video),
      changed: base64(this.#changed),
      changedNv: base64(this.#changedNv),
      upload: base64(this.#upload),
      has: base64(this.#has),
      size: base64(this.#size),
      ext: this.#ext.stored(),
      url: this.#url.stored(),
      transcode: base64(this.#transcode),
      label: this.#label.stored(),
      sidecar: base64(this.#sidecar),
      sidecarNv: base64(this.#sidecarNv),
      rh: base64(this.#hash),
    }
  }
}

/** One decoded page: typed arrays and joined strings; answers are made when asked for. */
export class ListingPage {
  readonly n: number
  readonly #id: Strings
  readonly #secret: Strings
  readonly #taken: Strings
  readonly #video: Uint8Array
  readonly #changed: Float64Array
  readonly #changedNv: Float64Array
  readonly #upload: Float64Array
  readonly #has: Uint8Array
  readonly #size: Float64Array
  readonly #ext: Codes
  readonly #url: Codes
  readonly #transcode: Uint8Array
  readonly #label: Codes
  readonly #sidecar: Uint32Array
  readonly #sidecarNv: Uint32Array
  readonly #hash: Float64Array | undefined

  constructor(page: StoredPage) {
    const n = page.n
    this.n = n
    this.#id = new Strings(page.id, n)
    this.#secret = new Strings(page.secret, n)
    this.#taken = new Strings(page.taken, n)
    this.#video = fromBase64(page.video, Uint8Array, n)
    this.#changed = fromBase64(page.changed, Float64Array, n)
    this.#changedNv = fromBase64(page.changedNv, Float64Array, n)
    this.#upload = fromBase64(page.upload, Float64Array, n)
    this.#has = fromBase64(page.has, Uint8Array, n)
    this.#size = fromBase64(page.size, Float64Array, n)
    this.#ext = new Codes(page.ext, n)
    this.#url = new Codes(page.url, n)
    this.#transcode = fromBase64(page.transcode, Uint8Array, n)
    this.#label = new Codes(page.label, n)
    this.#sidecar = fromBase64(page.sidecar, Uint32Array, n)
    this.#sidecarNv = fromBase64(page.sidecarNv, Uint32Array, n)
    this.#hash = page.rh === undefined ? undefined : fromBase64(page.rh, Float64Array, n)
  }

  id(i: number): string {
    return this.#id.at(i)
  }
  /** The id's value when it is a decimal number below 2^53 (lazy-view.ts numericId), read without making the string. */
  numericId(i: number): number | undefined {
    return this.#id.decimalAt(i)
  }
  secret(i: number): string {
    return this.#secret.at(i)
  }
  /** Whether photo i's secret is `secret`, compared in place (no string cut per question). */
  secretIs(i: number, secret: string): boolean {
    return this.#secret.equals(i, secret)
  }
  /** The photo's listing columns (view.ts PhotoColumns); `id`, when the caller holds photo i's id already. */
  columns(i: number, id: string = this.#id.at(i)): PhotoColumns {
    const taken = this.#taken.at(i)
    return {
      id,
      secret: this.#secret.at(i),
      media: this.#video[i] === 1 ? 'video' : 'photo',
      changedAtMs: this.#changed[i] as number,
      changedAtMsIgnoringViews: this.#changedNv[i],
      dateTaken: taken === '' ? null : taken,
      dateUpload: this.#upload[i] as number,
    }
  }
  /** What view.ts StreamRow holds of photo i, written into `row`. */
  streamRow(i: number, row: StreamRow): void {
    row.id = this.#id.at(i)
    row.secret = this.#secret.at(i)
    row.media = this.#video[i] === 1 ? 'video' : 'photo'
    row.changedAtMs = this.#changed[i] as number
    row.changedAtMsIgnoringViews = this.#changedNv[i]
    row.ext = this.#has[i] === 1 ? this.#ext.at(i) : undefined
  }
  /** The photo's current original, if it has one. */
  media(i: number): MediaEntry | undefined {
    if (this.#has[i] !== 1) return undefined
    const id = this.#id.at(i)
    const secret = this.#secret.at(i)
    const entry: MediaEntry = {
      id,
      secret,
      size: this.#size[i] as number,
      ext: this.#ext.at(i),
      url: urlOf(this.#url.at(i), id, secret),
      kind: this.#transcode[i] === 1 ? 'transcode' : 'original',
    }
    const label = this.#label.at(i)
    if (label !== '') entry.label = label.slice(1)
    return entry
  }
  /** Whether the photo has an original on record for its current secret (media(i) !== undefined, without making it). */
  hasMedia(i: number): boolean {
    return this.#has[i] === 1
  }
  /** Whether that original is a transcode (media(i)?.kind === 'transcode', without making it). */
  isTranscode(i: number): boolean {
    return this.#has[i] === 1 && this.#transcode[i] === 1
  }
  /** The extension of the photo's current original (media(i)?.ext, without making it). */
  ext(i: number): string | undefined {
    return this.#has[i] === 1 ? this.#ext.at(i) : undefined
  }
  sidecarSize(i: number, ignoreViews: boolean): number | undefined {
    const size = (ignoreViews ? this.#sidecarNv : this.#sidecar)[i] as number
    return size === NO_SIZE ? undefined : size
  }
  /** recordHash of photo i's record as saved; undefined when the page does not know it. */
  recordHash(i: number): number | undefined {
    const h = this.#hash?.[i]
    return h === undefined || Number.isNaN(h) ? undefined : h
  }
  /** The upload date of photo i (columns(i).dateUpload, without making them). */
  dateUpload(i: number): number {
    return this.#upload[i] as number
  }
  /** Photo i's columns as stored, for a page packed again (PageBuilder): the same bytes for the same photo. */
  row(i: number): PageRow {
    const taken = this.#taken.at(i)
    const row: PageRow = {
      id: this.#id.at(i), secret: this.#secret.at(i), taken, video: this.#video[i] === 1,
      changed: this.#changed[i] as number, changedNv: this.#changedNv[i] as number, upload: this.#upload[i] as number,
      hash: this.#hash?.[i] ?? Number.NaN,
    }
    if (this.#has[i] !== 1) return row
    row.original = {
      size: this.#size[i] as number, ext: this.#ext.at(i), url: this.#url.at(i), transcode: this.#transcode[i] === 1,
      label: this.#label.at(i), sidecar: this.#sidecar[i] as number, sidecarNv: this.#sidecarNv[i] as number,
    }
    return row
  }
}

/**
 * An original's URL with the photo's id and secret cut out (\x01, \x02), so that the URLs of one
 * host and path shape are one dictionary entry. A URL holding those bytes, or an empty id or secret,
 * is kept whole behind \x00.
 */
export function urlTemplate(url: string, id: string, secret: string): string {
  if (id === '' || secret === '' || url.includes('\0') || url.includes('\x01') || url.includes('\x02')) return `\0${url}`
  return url.split(id).join('\x01').split(secret).join('\x02')
}

/**
 * The URL of `template` (urlTemplate) for `id` and `secret`: the secret put at each \x02, then the
 * id at each \x01 (of the result: a secret holding \x01 gets the id there too, as two split-joins
 * would). In one pass through the template's marks, into one flat string: in a pin after a small
 * change at 200,000 photos the two split-joins were 1.2 s of 23 s of CPU (bench/RESULTS.md).
 */
export function urlOf(template: string, id: string, secret: string): string {
  if (template.startsWith('\0')) return template.slice(1)
  if (secret.includes('\x01')) return template.split('\x02').join(secret).split('\x01').join(id)
  let at1 = template.indexOf('\x01')
  let at2 = template.indexOf('\x02')
  if (at1 === -1 && at2 === -1) return template
  const parts: string[] = []
  let from = 0
  while (at1 !== -1 || at2 !== -1) {
    if (at2 === -1 || (at1 !== -1 && at1 < at2)) {
      parts.push(template.slice(from, at1), id)
      from = at1 + 1
      at1 = template.indexOf('\x01', from)
    } else {
      parts.push(template.slice(from, at2), secret)
      from = at2 + 1
      at2 = template.indexOf('\x02', from)
    }
  }
  parts.push(template.slice(from))
  // join makes one flat string, where += would keep a rope holding the page's whole column text.
  return parts.join('')
}

/**
 * A 53-bit hash of a photo's record as Flickr sent it (its JSON text, two 32-bit FNV-style hashes
 * over its UTF-16 units): a full listing's record with the same hash as the saved one is taken for
 * the same record (a chance of about 1 in 2^53 per changed record of being wrong). Key order
 * counts: a record sent with its keys in another order only looks changed, and is then compared
 * whole (changes.ts), which is blind to key order.
 */
export function recordHash(raw: RawRecord): number {
  const text = JSON.stringify(raw)
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) >>> 11)
}

// ---------- the stored forms ----------

type TypedArrayOf<T> = { new (length: number): T; BYTES_PER_ELEMENT: number }

function base64(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
}

/** A copy (a decoded buffer may sit unaligned in Node's pool) of `n` elements. */
function fromBase64<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(text: string, type: TypedArrayOf<T>, n: number): T {
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length !== n * type.BYTES_PER_ELEMENT) throw new Error(`a listing page's column holds ${bytes.length} bytes, not ${n} values`)
  const out = new type(n)
  new Uint8Array(out.buffer).set(bytes)
  return out
}

/** The narrowest unsigned array for values up to `max`. */
function uintsFor(max: number, n: number): Uint8Array | Uint16Array | Uint32Array {
  return max < 0x100 ? new Uint8Array(n) : max < 0x10000 ? new Uint16Array(n) : new Uint32Array(n)
}

function uintsFrom(text: string, width: number, n: number): Uint8Array | Uint16Array | Uint32Array {
  return width === 1 ? fromBase64(text, Uint8Array, n) : width === 2 ? fromBase64(text, Uint16Array, n) : fromBase64(text, Uint32Array, n)
}

function strings(values: readonly string[]): StoredStrings {
  let max = 0
  for (const v of values) max = Math.max(max, v.length)
  const lengths = uintsFor(max, values.length)
  values.forEach((v, i) => (lengths[i] = v.length))
  return { t: values.join(''), l: base64(lengths), w: lengths.BYTES_PER_ELEMENT }
}

/** A stored string column: the joined text and where each string starts. */
class Strings {
  readonly #text: string
  readonly #starts: Uint32Array
  constructor(stored: StoredStrings, n: number) {
    const lengths = uintsFrom(stored.l, stored.w, n)
    const starts = new Uint32Array(n + 1)
    for (let i = 0; i < n; i++) starts[i + 1] = (starts[i] as number) + (lengths[i] as number)
    if (starts[n] !== stored.t.length) throw new Error('a listing page\'s strings do not add up to their lengths')
    this.#text = stored.t
    this.#starts = starts
  }
  at(i: number): string {
    return this.#text.slice(this.#starts[i], this.#starts[i + 1])
  }
  equals(i: number, value: string): boolean {
    const start = this.#starts[i] as number
    if ((this.#starts[i + 1] as number) - start !== value.length) return false
    return this.#text.startsWith(value, start)
  }
  decimalAt(i: number): number | undefined {
    return decimalValue(this.#text, this.#starts[i] as number, this.#starts[i + 1] as number)
  }
}

/** Builds a dictionary column while packing. */
class CodeBook {
  readonly #codes = new Map<string, number>()
  readonly #values: string[] = []
  /** The code of each of the n photos (narrowed to the fewest bytes when stored). */
  readonly #seq: Uint32Array
  constructor(n: number) {
    this.#seq = new Uint32Array(n)
  }
  /** Photo i's value. */
  add(i: number, value: string): void {
    let code = this.#codes.get(value)
    if (code === undefined) {
      code = this.#values.length
      this.#codes.set(value, code)
      this.#values.push(value)
    }
    this.#seq[i] = code
  }
  stored(): StoredCodes {
    const codes = uintsFor(this.#values.length, this.#seq.length)
    codes.set(this.#seq)
    return { d: this.#values, c: base64(codes), w: codes.BYTES_PER_ELEMENT }
  }
}

class Codes {
  readonly #values: readonly string[]
  readonly #codes: Uint8Array | Uint16Array | Uint32Array
  constructor(stored: StoredCodes, n: number) {
    this.#values = stored.d
    this.#codes = uintsFrom(stored.c, stored.w, n)
  }
  at(i: number): string {
    return this.#values[this.#codes[i] as number] as string
  }
}
