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
 * On disk (DEST/.flickrfs/tree-record, written atomically): a 4-byte length, a JSON header (key,
 * counts, the entries' names by folder), padding to 8 bytes, then 5 float64 per entry.
 */
import { readFileSync, readdirSync, lstatSync, type Stats } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import createDebug from '../util/debug.js'
import { Confined } from '../util/confine.js'
import { isEnoent } from '../util/fs-errors.js'
import { STATE_REL, treeRecordPath } from '../util/state-paths.js'
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

/**
 * The entries of a tree as a pin writes them (write-tree.ts `onEntry`), kept as the record keeps
 * them: CHUNK_NAMES names of a folder joined in one string (a million photos' two million names as
 * strings of their own would hold several times more memory at the end of a big first pin).
 */
export class TreeEntries {
  readonly #chunks: Chunk[] = []
  readonly #pending = new Map<string, string[]>()

  add(dir: string, name: string): void {
    let names = this.#pending.get(dir)
    if (names === undefined) this.#pending.set(dir, (names = []))
    names.push(name)
    if (names.length === CHUNK_NAMES) {
      this.#chunks.push([dir, names.join('/')])
      this.#pending.delete(dir)
    }
  }

  /** Every entry added, in chunks. */
  get chunks(): Chunk[] {
    for (const [dir, names] of this.#pending) this.#chunks.push([dir, names.join('/')])
    this.#pending.clear()
    return this.#chunks
  }
}

/** Removes DEST's record: called before a pin writes anything into DEST. */
export async function forgetTreeRecord(dest: string): Promise<void> {
  await (await Confined.open(dest)).unlink(STATE_REL.treeRecord)
}

/**
 * Records `entries` (and the manifest) with their lstat now, under `key`, but for the links that
 * their folder vouches for (linksVouchedFor), which are not lstat'ed at all. Nothing is recorded
 * when an entry cannot be lstat'ed (the next pin then runs whole).
 */
export async function writeTreeRecord(dest: string, key: string, entries: TreeEntries, counts: TreeCounts): Promise<void> {
  if (!keepsCtime(dest)) return
  const all = entries.chunks
  all.push(['.flickrfs', 'manifest'])
  const vouched = linksVouchedFor(dest, all)
  const chunks: Chunk[] = []
  const stats: number[] = []
  const folders = new Set<string>()
  for (const [dir, joined] of all) {
    const base = dir === '' ? `${dest}/` : `${dest}/${dir}/`
    const left = vouched.get(dir)
    const names: string[] = []
    for (const name of joined.split('/')) {
      if (left?.has(name) === true) continue
      const st = lstatOrUndefined(base + name)
      if (st === undefined) {
        log('tree record not written: %s%s cannot be read', base, name)
        return
      }
      if (st.isDirectory()) folders.add(name === '.' && dir === '' ? '' : entryPath(dir, name))
      names.push(name)
      stats.push(st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs)
    }
    if (names.length > 0) chunks.push([dir, names.join('/')])
  }
  // A folder's lstat stands for its links only when it is a folder (not, say, a link to one).
  for (const dir of vouched.keys()) {
    if (!folders.has(dir)) {
      log('tree record not written: %s is not a folder', dir)
      return
    }
  }
  const numbers = Float64Array.from(stats)
  const total = numbers.length / NUMBERS_PER_ENTRY
  const header = Buffer.from(JSON.stringify({ key, counts, entries: total, chunks }))
  const start = align8(4 + header.length)
  const file = Buffer.alloc(start + numbers.byteLength)
  file.writeUInt32LE(header.length, 0)
  header.copy(file, 4)
  Buffer.from(numbers.buffer).copy(file, start)
  await (await Confined.open(dest)).writeFileAtomic(STATE_REL.treeRecord, file)
}

/**
 * The symlinks of `chunks` whose folder is itself an entry of them, by folder, found from each such
 * folder's listing (its entries' types, one getdents for a folder rather than an lstat a link): the
 * folder's lstat vouches for them, so neither the record nor the check of a no-change pin of
 * 50,000 items lstats them (~64,000 of ~166,000; set and collection folders hold relative links,
 * docs/LAYOUT.md). A link's target cannot be changed in place: no call rewrites it, so another
 * target (or a link removed, renamed, replaced by a file or a folder, or a new entry beside it) is
 * a change of its folder's entries, which moves the folder's mtime and ctime, and the ctime cannot
 * be set back (tree-check.ts keepsCtime). What a folder does not see is a call on the link itself:
 * lutimes (`touch -h`) moves only the link's own times, lchown its owner (which no record holds). A
 * no-change pin then leaves such a link as it is; the next whole run (a change on Flickr, other
 * options) sets its mtime back, as it checks every link. Its target and name, all that a link is to
 * a reader or to `sha256sum -c`, stay proven; only rsync -a of DEST would carry that one link's
 * time. A folder that cannot be listed vouches for nothing (its entries are lstat'ed); one whose
 * type the filesystem does not give in a listing is not taken for a link.
 */
function linksVouchedFor(dest: string, chunks: readonly Chunk[]): Map<string, Set<string>> {
  // The folders whose entries are recorded, by parent, to find which of them are entries too.
  const byParent = new Map<string, Set<string>>()
  for (const [dir] of chunks) {
    if (dir === '') continue
    const slash = dir.lastIndexOf('/')
    const parent = slash === -1 ? '' : dir.slice(0, slash)
    let names = byParent.get(parent)
    if (names === undefined) byParent.set(parent, (names = new Set()))
    names.add(dir.slice(slash + 1))
  }
  const recorded = new Set<string>()
  for (const [dir, joined] of chunks) {
    const names = byParent.get(dir)
    if (names === undefined) continue
    for (const name of joined.split('/')) if (names.has(name)) recorded.add(entryPath(dir, name))
  }
  const vouched = new Map<string, Set<string>>()
  for (const dir of recorded) {
    let listed
    try {
      listed = readdirSync(`${dest}/${dir}`, { withFileTypes: true })
    } catch {
      continue
    }
    const links = new Set(listed.filter((e) => e.isSymbolicLink()).map((e) => e.name))
    if (links.size > 0) vouched.set(dir, links)
  }
  return vouched
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
