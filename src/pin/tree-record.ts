/**
 * DEST's tree as the last clean pin left it, so that a pin in which nothing changed can prove DEST
 * is still that tree without building the layout (or loading the catalog and the store index).
 *
 * After a pin that wrote the whole layout with no failure, every entry of the layout (DEST itself,
 * photostream/ and each of its files, each set, collection and "Not in any set" folder and each of
 * their entries) and the manifest are recorded with their lstat: ino, size, mode, mtime and ctime;
 * but for the links of those folders, for which their folder's lstat stands (linksVouchedFor).
 * With them goes the key of what that tree was made from: the catalog's content (its chunks,
 * catalog/persist.ts contentKey), the pin options that shape the tree, the sidecar format, this
 * flickrfs's version and the time zone (originals' mtimes are local times).
 *
 * The next pin whose refresh finds nothing to change (catalog/quick-refresh.ts), with the same key,
 * lstats every recorded entry; when all five numbers of every one are the same, DEST is the tree
 * that pin wrote, and the run is over. The ctime is the proof, as for the sidecars (write-tree.ts
 * TreeWriter.#trusted): the kernel sets it to the current time at every change of a file's bytes,
 * times, mode or owner, and no call sets it to a chosen value; a file removed, added or renamed in
 * a folder moves that folder's mtime and ctime, and a file put in place of another has another
 * ino. Only on filesystems that keep such a ctime (tree-check.ts keepsCtime); elsewhere no record
 * is written. Any difference, a missing entry, a record that cannot be read: the whole pin runs, as
 * before, and repairs whatever differs.
 *
 * Every pin that may write into DEST removes the record first (forgetTreeRecord), and only a pin
 * that completed cleanly writes a new one, last: a pin killed at any point leaves no record, and
 * the next one runs whole. The store index is not part of the check (SHA256SUMS is made from it):
 * only pin and a mount serving DEST change it, and both change a file of photostream/ with it.
 *
 * On disk (DEST/.flickrfs/tree-record, written in .flickrfs/tmp and renamed into place): a 4-byte
 * length, a JSON header (key, counts, the entries' names by folder, their number), padding to 8
 * bytes, then 5 float64 per entry.
 */
import { constants, readFileSync, readSync, lstatSync, type Stats } from 'node:fs'
import { readFile, stat, type FileHandle } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import createDebug from '../util/debug.js'
import { Confined } from '../util/confine.js'
import { isEnoent } from '../util/fs-errors.js'
import { writeFullySync } from '../util/fs.js'
import { STATE_DIR_NAME, STATE_REL, treeRecordPath } from '../util/state-paths.js'
import { PHOTO_METADATA_FORMAT } from '../layout/metadata.js'
import { CHUNK_NAMES, keepsCtime, NUMBERS_PER_ENTRY, parseRecordBytes, startCheck, type Chunk, type EntriesCheck } from './tree-check.js'
import { recordFile, type RecordFile } from './early-check.js'

const log = createDebug('flickrfs:pin')

/** Changes whenever what a record means changes: an older record is then not trusted. */
const RECORD_FORMAT = 2

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** What a pin run's tree is made of besides the catalog: the options that shape it. */
export interface TreeOptions {
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  ignoreViews?: boolean
  deleteUnknown?: boolean
  forceDelete?: boolean
}

/** What a no-change pin reports from the record instead of counting it again. */
export interface TreeCounts {
  /** Originals in the tree (already present). */
  originals: number
  /** Sidecars, links, folders and other files of the layout (unchanged). */
  files: number
  ignored: { photos: number; videos: number }
}

export interface TreeRecord {
  key: string
  counts: TreeCounts
  /** Paths relative to DEST, folder by folder ('' is DEST; '.' in it is DEST itself). */
  chunks: Chunk[]
  /** NUMBERS_PER_ENTRY for each entry of `chunks`, in order. */
  numbers: Float64Array
}

/** The key of a tree made from the catalog of `contentKey` with `opts` by this flickrfs. */
export function treeKey(contentKey: string, opts: TreeOptions): string {
  const options = [opts.ignorePhotos, opts.ignoreVideos, opts.ignoreViews, opts.deleteUnknown, opts.forceDelete].map((o) => o === true)
  return JSON.stringify([RECORD_FORMAT, VERSION, PHOTO_METADATA_FORMAT, contentKey, options, timeZoneKey()])
}

/**
 * The local time zone as originals' mtimes see it: TZ, the tz database's version, and the offset
 * from UTC in January and July of every fifth year from 1970 to 2040 (Intl's zone name costs 20 ms
 * of ICU start-up, a tenth of a no-change pin of 700 items).
 */
function timeZoneKey(): string {
  const offsets: number[] = []
  for (let year = 1970; year <= 2040; year += 5) for (const month of [0, 6]) offsets.push(new Date(year, month, 1).getTimezoneOffset())
  return `${process.env.TZ ?? ''} ${process.versions.tz ?? ''} ${offsets.join(',')}`
}

/** Set in a chunk's first length (its folder's, far below it) for a chunk of links (TreeEntries). */
const LINKS_BIT = 0x8000_0000

/** Names held in memory before they go to the entries' part file as chunks (see TreeEntries). */
const PENDING_NAMES = 65_536

/**
 * The entries of a tree as a pin writes them (write-tree.ts `onEntry`), kept as the record keeps
 * them, CHUNK_NAMES names of a folder joined in one string, but on disk: in
 * .flickrfs/tmp/tree-entries.part, a chunk at a time, read back by eachChunk. A million photos
 * make 3.3 million entries, which held in memory to the end of the tree's write (where a pin's
 * memory peaks) cost ~350 MB of RSS; here at most PENDING_NAMES names are held, those of the
 * folders being written. Past that, every folder's names so far are written as a chunk of their
 * own (write-tree writes several folders at once): a folder may so have several short chunks,
 * which the record and its check take as they come. A folder's links (write-tree says which
 * entries are) go in chunks of their own, which linksVouchedFor takes whole. Other chunks carry
 * each entry's lstat as write-tree checked it (NUMBERS_PER_ENTRY numbers; NaN when it gave none),
 * which the record takes instead of an lstat of its own: nothing writes such an entry after its
 * check (a pin after a small change at 200,000 items lstat'ed its 200,000 trusted sidecars twice).
 */
export class TreeEntries {
  readonly #dest: Confined
  readonly #file: PartFile
  readonly #pending = new Map<string, { names: string[]; numbers: number[] }>()
  /** The same, of links (no numbers: their folder vouches for them). */
  readonly #pendingLinks = new Map<string, { names: string[]; numbers: number[] }>()
  /** Every folder an entry was added in (one per set and collection: ~20,000 at 1,000,000 items), so that no pass over the file is made for them. */
  readonly #dirs = new Set<string>()
  #pendingNames = 0
  #finished = false

  private constructor(dest: Confined, file: PartFile) {
    this.#dest = dest
    this.#file = file
  }

  /** Entries kept in DEST's temp folder (a part file left by a killed run is overwritten). */
  static async open(dest: string): Promise<TreeEntries> {
    const confined = await Confined.open(dest)
    return new TreeEntries(confined, new PartFile(await confined.openForWrite(STATE_REL.treeEntriesPart, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC)))
  }

  /**
   * Entry `name` of folder `dir`; `link`: a symlink, as the tree's writer made or found it; `st`:
   * its lstat as the writer checked it, when nothing writes it after (write-tree.ts onEntry).
   */
  add(dir: string, name: string, link = false, st?: Stats): void {
    if (this.#finished) throw new FlickrfsError('INTERNAL', 'an entry added to tree entries already read')
    const pending = link ? this.#pendingLinks : this.#pending
    let chunk = pending.get(dir)
    if (chunk === undefined) {
      pending.set(dir, (chunk = { names: [], numbers: [] }))
      this.#dirs.add(dir)
    }
    chunk.names.push(name)
    if (!link) {
      if (st === undefined) chunk.numbers.push(NaN, NaN, NaN, NaN, NaN)
      else chunk.numbers.push(st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs)
    }
    this.#pendingNames++
    if (chunk.names.length === CHUNK_NAMES) {
      this.#putChunk(dir, chunk, link)
      pending.delete(dir)
      this.#pendingNames -= CHUNK_NAMES
    } else if (this.#pendingNames >= PENDING_NAMES) {
      this.#putPending()
    }
  }

  /**
   * Every entry added, chunk by chunk ([dir, names joined by '/', whether they are links, and for
   * other names their NUMBERS_PER_ENTRY numbers each as `add` was given them]), in the order they
   * were written. The numbers are copied out only when asked for (`numbers()`, during `fn` only):
   * of the record's three passes, one wants them. No entry can be added once they are read.
   */
  eachChunk(fn: (dir: string, joined: string, links: boolean, numbers: (() => Float64Array) | undefined) => void): void {
    if (!this.#finished) {
      this.#putPending()
      this.#file.flushNow()
      this.#finished = true
    }
    const fd = this.#file.fd
    let buffer = Buffer.allocUnsafe(WRITE_CHUNK)
    let have = 0
    let position = 0
    let at = 0
    // Each chunk: its folder's and its names' byte lengths (uint32 each; the first's top bit set
    // for a chunk of links), then both in UTF-8, then (but for links) NUMBERS_PER_ENTRY float64
    // per name.
    const need = (n: number): boolean => {
      if (have - at >= n) return true
      if (n > buffer.length) {
        const bigger = Buffer.allocUnsafe(n)
        buffer.copy(bigger, 0, at, have)
        buffer = bigger
      } else {
        buffer.copy(buffer, 0, at, have)
      }
      have -= at
      at = 0
      while (have < n) {
        const read = readSync(fd, buffer, have, buffer.length - have, position)
        if (read === 0) return false
        have += read
        position += read
      }
      return true
    }
    while (need(8)) {
      const first = buffer.readUInt32LE(at)
      const links = first >= LINKS_BIT
      const dirBytes = links ? first - LINKS_BIT : first
      const namesBytes = buffer.readUInt32LE(at + 4)
      at += 8
      if (!need(dirBytes + namesBytes)) throw new FlickrfsError('INTERNAL', 'the tree entries\' part file is cut short')
      const dir = buffer.toString('utf8', at, at + dirBytes)
      const joined = buffer.toString('utf8', at + dirBytes, at + dirBytes + namesBytes)
      at += dirBytes + namesBytes
      let numbers: (() => Float64Array) | undefined
      if (!links) {
        let count = 1
        for (let i = joined.indexOf('/'); i !== -1; i = joined.indexOf('/', i + 1)) count++
        const bytes = count * NUMBERS_PER_ENTRY * 8
        if (!need(bytes)) throw new FlickrfsError('INTERNAL', 'the tree entries\' part file is cut short')
        // Where they are now: the buffer is not read into again until `fn` returns.
        const held = buffer.subarray(at, at + bytes)
        numbers = () => {
          const out = new Float64Array(count * NUMBERS_PER_ENTRY)
          new Uint8Array(out.buffer).set(held)
          return out
        }
        at += bytes
      }
      fn(dir, joined, links, numbers)
    }
  }

  /** The folders entries were added in. */
  get dirs(): ReadonlySet<string> {
    return this.#dirs
  }

  /** Removes the part file (after the record is written, or when none will be). */
  async discard(): Promise<void> {
    await this.#file.close().catch(() => undefined)
    await this.#dest.unlink(STATE_REL.treeEntriesPart)
  }

  #putPending(): void {
    for (const [dir, chunk] of this.#pending) this.#putChunk(dir, chunk, false)
    for (const [dir, chunk] of this.#pendingLinks) this.#putChunk(dir, chunk, true)
    this.#pending.clear()
    this.#pendingLinks.clear()
    this.#pendingNames = 0
  }

  #putChunk(dir: string, chunk: { names: string[]; numbers: number[] }, links: boolean): void {
    const joined = chunk.names.join('/')
    const lengths = Buffer.allocUnsafe(8)
    lengths.writeUInt32LE(Buffer.byteLength(dir) + (links ? LINKS_BIT : 0), 0)
    lengths.writeUInt32LE(Buffer.byteLength(joined), 4)
    this.#file.put(lengths)
    this.#file.put(dir)
    this.#file.put(joined)
    if (!links) this.#file.put(new Uint8Array(Float64Array.from(chunk.numbers).buffer))
  }
}

/** Removes DEST's record: called before a pin writes anything into DEST. */
export async function forgetTreeRecord(dest: string): Promise<void> {
  await (await Confined.open(dest)).unlink(STATE_REL.treeRecord)
}

/** Bytes gathered before they are written to the record's part file. */
const WRITE_CHUNK = 1 << 20

/**
 * Records `entries` (and the manifest) with their lstat now, under `key`, but for the links that
 * their folder vouches for (linksVouchedFor), which are not lstat'ed at all. Nothing is recorded
 * when an entry cannot be lstat'ed (the next pin then runs whole).
 *
 * Written in pieces into .flickrfs/tmp, then renamed into place: at the end of a first pin of a
 * million photos the record holds ~2 million entries, and building it whole (every name in an
 * array, 5 numbers an entry in another, the header's text, then the file in one buffer) cost
 * several hundred megabytes on top of the catalog and the store index. Two passes over the
 * entries instead: the first writes the header (which names are recorded depends only on the
 * folders' links, not on an lstat), the second lstats each entry and writes its numbers. The
 * header's length, which the file starts with, is written last, in its place.
 */
export async function writeTreeRecord(dest: string, key: string, entries: TreeEntries, counts: TreeCounts): Promise<void> {
  if (!keepsCtime(dest)) return
  entries.add('.flickrfs', 'manifest')
  const vouched = linksVouchedFor(entries)
  /** `fn` of each recorded name of a chunk, with its index in the chunk. */
  const recorded = (dir: string, links: boolean, fn: (name: string, k: number) => void) => (joined: string): void => {
    if (links && vouched.has(dir)) return
    for (let at = 0, k = 0; at <= joined.length; k++) {
      let end = joined.indexOf('/', at)
      if (end === -1) end = joined.length
      fn(joined.slice(at, end), k)
      at = end + 1
    }
  }
  const confined = await Confined.open(dest)
  const file = new PartFile(await confined.openForWrite(STATE_REL.treeRecordPart))
  let done = false
  try {
    // The header, field by field as JSON.stringify would write it, but the entries' count last.
    file.put(Buffer.alloc(4))
    file.put(`{"key":${JSON.stringify(key)},"counts":${JSON.stringify(counts)},"chunks":[`)
    let total = 0
    let first = true
    entries.eachChunk((dir, joined, links) => {
      const names: string[] = []
      recorded(dir, links, (name) => names.push(name))(joined)
      if (names.length === 0) return
      file.put(`${first ? '' : ','}${JSON.stringify([dir, names.join('/')])}`)
      first = false
      total += names.length
    })
    file.put(`],"entries":${total}}`)
    const headerLength = file.written - 4
    file.put(Buffer.alloc(align8(file.written) - file.written))
    // The numbers, in the header's order.
    const numbers = new Float64Array(WRITE_CHUNK / 8)
    const bytes = Buffer.from(numbers.buffer)
    let used = 0
    let missing: string | undefined
    const folders = new Set<string>()
    entries.eachChunk((dir, joined, links, numbersOf) => {
      if (missing !== undefined) return
      const checked = numbersOf?.()
      const base = dir === '' ? `${dest}/` : `${dest}/${dir}/`
      recorded(dir, links, (name, k) => {
        if (missing !== undefined) return
        // As write-tree checked it (nothing wrote it since), or lstat'ed now.
        const at = k * NUMBERS_PER_ENTRY
        if (checked !== undefined && !Number.isNaN(checked[at])) {
          for (let n = 0; n < NUMBERS_PER_ENTRY; n++) numbers[used++] = checked[at + n] as number
          if (((checked[at + 2] as number) & constants.S_IFMT) === constants.S_IFDIR) folders.add(name === '.' && dir === '' ? '' : entryPath(dir, name))
        } else {
          const st = lstatOrUndefined(base + name)
          if (st === undefined) {
            missing = base + name
            return
          }
          if (st.isDirectory()) folders.add(name === '.' && dir === '' ? '' : entryPath(dir, name))
          numbers[used++] = st.ino
          numbers[used++] = st.size
          numbers[used++] = st.mode
          numbers[used++] = st.mtimeMs
          numbers[used++] = st.ctimeMs
        }
        if (used + NUMBERS_PER_ENTRY > numbers.length) {
          file.put(bytes.subarray(0, used * 8))
          used = 0
        }
      })(joined)
    })
    if (missing !== undefined) {
      log('tree record not written: %s cannot be read', missing)
      return
    }
    file.put(bytes.subarray(0, used * 8))
    // A folder's lstat stands for its links only when it is a folder (not, say, a link to one).
    for (const dir of vouched) {
      if (!folders.has(dir)) {
        log('tree record not written: %s is not a folder', dir)
        return
      }
    }
    const length = Buffer.alloc(4)
    length.writeUInt32LE(headerLength)
    file.putAt(length, 0)
    await file.finish()
    await confined.rename(STATE_REL.treeRecordPart, STATE_REL.treeRecord)
    await confined.fsyncDir(STATE_DIR_NAME)
    done = true
  } finally {
    if (!done) {
      await file.close()
      await confined.unlink(STATE_REL.treeRecordPart)
    }
  }
}

/**
 * A file written at once (as write-tree's checks and ManifestWriter: a megabyte into the page cache
 * costs less than a thread-pool round trip), a megabyte at a time, from its start.
 */
class PartFile {
  readonly #handle: FileHandle
  readonly #chunk = Buffer.allocUnsafe(WRITE_CHUNK)
  #used = 0
  #flushed = 0
  #closed = false

  constructor(handle: FileHandle) {
    this.#handle = handle
  }

  /** Bytes put so far. */
  get written(): number {
    return this.#flushed + this.#used
  }

  put(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (this.#used + bytes.length > this.#chunk.length) {
      this.#flush()
      if (bytes.length > this.#chunk.length) return this.#write(bytes, this.#flushed)
    }
    this.#chunk.set(bytes, this.#used)
    this.#used += bytes.length
  }

  /** Overwrites bytes already put at `position`. */
  putAt(bytes: Uint8Array, position: number): void {
    this.#flush()
    writeFullySync(this.#handle.fd, bytes, position)
  }

  get fd(): number {
    return this.#handle.fd
  }

  /** Writes out what is gathered. */
  flushNow(): void {
    this.#flush()
  }

  async finish(): Promise<void> {
    this.#flush()
    await this.#handle.sync()
    await this.close()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#handle.close()
  }

  #flush(): void {
    this.#write(this.#chunk.subarray(0, this.#used), this.#flushed)
    this.#used = 0
  }

  #write(bytes: Uint8Array, position: number): void {
    writeFullySync(this.#handle.fd, bytes, position)
    this.#flushed = position + bytes.length
  }
}

/**
 * The folders of `entries` whose links their own lstat vouches for: those that are themselves an
 * entry of `entries` and hold links (the entries the tree's writer said are links, which a clean
 * run left there as links), so that neither the record nor the check of a no-change pin of 50,000
 * items lstats them (~64,000 of ~166,000; set and collection folders hold relative links,
 * docs/LAYOUT.md). A link's target cannot be changed in place: no call rewrites it, so another
 * target (or a link removed, renamed, replaced by a file or a folder, or a new entry beside it) is
 * a change of its folder's entries, which moves the folder's mtime and ctime, and the ctime cannot
 * be set back (tree-check.ts keepsCtime). What a folder does not see is a call on the link itself:
 * lutimes (`touch -h`) moves only the link's own times, lchown its owner (which no record holds). A
 * no-change pin then leaves such a link as it is, and so does a whole run from what changed on
 * Flickr, which takes a folder still as it sealed it (write-tree.ts #syncManagedDir); the next run
 * with a full listing (weekly by default) sets its mtime back, as it checks every link. Its target
 * and name, all that a link is to a reader or to `sha256sum -c`, stay proven; only rsync -a of DEST
 * would carry that one link's time. (Each such folder was listed here until session 25: 0.6 s of a
 * pin after a small change at 200,000 items, photostream/'s 400,000 names included, to find links
 * the writer had just written or checked.)
 */
function linksVouchedFor(entries: TreeEntries): Set<string> {
  // The folders whose entries are recorded, by parent, to find which of them are entries too.
  const byParent = new Map<string, Set<string>>()
  for (const dir of entries.dirs) {
    if (dir === '') continue
    const slash = dir.lastIndexOf('/')
    const parent = slash === -1 ? '' : dir.slice(0, slash)
    let names = byParent.get(parent)
    if (names === undefined) byParent.set(parent, (names = new Set()))
    names.add(dir.slice(slash + 1))
  }
  const recorded = new Set<string>()
  const withLinks = new Set<string>()
  entries.eachChunk((dir, joined, links) => {
    if (links) withLinks.add(dir)
    const names = byParent.get(dir)
    if (names === undefined || links) return
    for (const name of joined.split('/')) if (names.has(name)) recorded.add(entryPath(dir, name))
  })
  return new Set([...withLinks].filter((dir) => recorded.has(dir)))
}

/** The path relative to DEST of entry `name` of chunk folder `dir` ('' is DEST itself). */
function entryPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`
}

/** DEST's record, or undefined when there is none or it cannot be read as one. */
export async function readTreeRecord(dest: string): Promise<TreeRecord | undefined> {
  try {
    return parseTreeRecord(await readFile(treeRecordPath(dest)))
  } catch (err) {
    if (!isEnoent(err)) log('tree record unreadable: %O', err)
    return undefined
  }
}

/**
 * DEST's record file as stat'ed (its size, and which file it is: early-check.ts), undefined when
 * there is none: a no-change pin looks for it first, and its check's worker reads it (startTreeCheck).
 */
export async function statTreeRecord(dest: string): Promise<RecordFile | undefined> {
  try {
    return recordFile(await stat(treeRecordPath(dest)))
  } catch (err) {
    if (!isEnoent(err)) log('tree record unreadable: %O', err)
    return undefined
  }
}

/** The record in `file` (a record file's bytes), or undefined when it cannot be read as one. */
export function parseTreeRecord(file: Buffer): TreeRecord | undefined {
  const record = parseRecordBytes(file)
  const fields = record === undefined ? undefined : recordFields(record.fields)
  if (record === undefined || fields === undefined) {
    log('tree record unreadable')
    return undefined
  }
  return { ...fields, chunks: [...record.chunks], numbers: record.numbers }
}

/** The key and counts of a parsed header, or undefined when they are not a record's. */
function recordFields(header: Record<string, unknown>): { key: string; counts: TreeCounts } | undefined {
  const { key, counts } = header
  if (typeof key !== 'string' || typeof counts !== 'object' || counts === null) return undefined
  return { key, counts: counts as TreeCounts }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/** A tree check under way: `finish` answers whether every entry is as recorded; `cancel` stops it (tree-check.ts EntriesCheck). */
export interface TreeCheck {
  /** The record's key and counts (parsed by a worker), undefined when the file is not a record. */
  readonly record: Promise<{ key: string; counts: TreeCounts } | undefined>
  /** The workers may start their lstats (they start at once without `gated`). */
  go: () => void
  finish: () => Promise<boolean>
  cancel: () => Promise<void>
  /** Worker threads checking (none: only `finish()` checks, on this thread). */
  readonly workers: number
  /** Settles once the workers have stopped (their answer is `finish()`'s). */
  readonly worker: Promise<unknown>
}

/**
 * Starts checking that every entry of DEST's record has the lstat recorded (tree-check.ts: in
 * worker threads, which read and parse the record themselves, and here from `finish()`, which
 * answers whether all are). `size`: the record file's size (statTreeRecord). `gated`: the workers
 * wait for go().
 */
export function startTreeCheck(dest: string, size: number, opts: { gated?: boolean } = {}): TreeCheck {
  return treeCheckOf(startCheck(dest, { file: treeRecordPath(dest), size }, { gated: opts.gated }))
}

/** A check of DEST's record started already (startTreeCheck, or early-check.ts) as a TreeCheck. */
export function treeCheckOf(check: EntriesCheck): TreeCheck {
  const record = check.fields.then((f) => (f === undefined ? undefined : recordFields(f)))
  return {
    record,
    workers: check.workers,
    worker: check.worker,
    go: () => check.go(),
    finish: async () => {
      const differs = await check.finish()
      if (differs !== '') log('tree check: %s is not as the last pin left it', differs)
      const fields = await record
      if (fields === undefined) log('tree record unreadable')
      return differs === '' && fields !== undefined
    },
    cancel: () => check.cancel(),
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8
}
