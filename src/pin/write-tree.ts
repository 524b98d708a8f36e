/**
 * Makes DEST's tree match a Layout: metadata files, numbered symlinks, set, collection and
 * "Not in any set" directories, and their mtimes. Originals are placed by the store; this only
 * checks that they are there. Every write goes through DEST's guard (util/confine.ts: a link or a
 * file planted where a folder of the tree belongs is refused, never followed), and is temp file +
 * fsync + rename inside DEST, an entry whose
 * bytes are already right is left alone (its mtime too), and only entries flickrfs itself wrote
 * (recorded in the manifest) are ever removed.
 */
import { createHash } from 'node:crypto'
import { lstat, readlink, lutimes, opendir, readdir } from 'node:fs/promises'
import { closeSync, lstatSync, lutimesSync, openSync, readSync, readlinkSync, constants as fsConstants, type Dir, type Stats } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { destWriteError, errnoCode, isEnoent } from '../util/fs-errors.js'
import { eachLimit } from '../util/pool.js'
import { streamedNames } from '../util/fs.js'
import { Confined } from '../util/confine.js'
import { sameItems, sameJson } from '../catalog/same-json.js'
import { idOfName, ManifestWriter, type CheckedFile, type FolderSeal, type Manifest, type ManifestEntry } from './manifest.js'
import { keepsCtime } from './tree-check.js'
import { isSafeFileName, METADATA_SUFFIX, parseCollectionDirName, parseSetDirName } from '../layout/names.js'

const log = createDebug('flickrfs:pin')

/** The part of the layout contract this module reads (see docs/ARCHITECTURE.md). */
export interface TreeNode {
  kind: 'dir' | 'file' | 'link'
  name: string
  mtimeMs: number
  children?: ReadonlyMap<string, TreeNode>
  /**
   * Lets go of what was made on demand: a folder's children (LayoutDir.release), a file's bytes
   * (HashListNode.release). Called once the folder or the file is written.
   */
  release?(): void
  target?: string
  size?: number
  /** A bytes file with `load` (a sidecar) is read through it: its bytes may come as a promise. */
  content?: { type: 'bytes'; data: Buffer | (() => Buffer); load?(): Buffer | Promise<Buffer>; chunks?(): Iterable<Buffer> } | { type: 'original' }
}

export interface WriteTreeOptions {
  /** Remove entries of photos, sets and collections that no longer exist on Flickr. */
  deleteUnknown: boolean
  /** What the previous run wrote; only these entries may be removed. */
  previous: Manifest
  /**
   * Where this run's manifest goes, entry by entry as the tree is walked (pin-run.ts commits it
   * unless `manifestUnchanged`). Absent: one kept in memory, for a caller that only wants the tree.
   */
  next?: ManifestWriter
  /** Ids that still exist on Flickr, by kind: a moved entry of a living id is always removed. */
  alive: { photo: Lookup; set: Lookup; collection: Lookup }
  /** photostream/ names never removed although absent from this layout (media left out by --ignore-*); asked only about such names. */
  photostreamKeep?: Lookup
  /** Folder for temp files, relative to DEST (DEST/.flickrfs/tmp). */
  tmpDir: string
  concurrency?: number
  /**
   * Take a folder of links that is as its seal in `previous` says as it is (#syncManagedDir);
   * false or absent: every link is checked. Folders are sealed for the next run either way.
   */
  trustSeals?: boolean
  /**
   * photostream/ names of originals whose file the store checked (size, or a download) in this run:
   * not looked at again. Any other original the layout names is checked here.
   */
  checkedOriginals?: Lookup
  /**
   * The version of the content of a photostream/ sidecar, by name (the photo's catalog row, see
   * pin.ts): a sidecar the manifest records with the same version and the same lstat (ino, size,
   * mtime, ctime) is not read (see TreeWriter.#trusted). Absent or undefined: always read.
   */
  sidecarVersion?: (name: string) => string | undefined
  /**
   * An earlier version of a sidecar's content known to be the same content as its version now (a
   * merged catalog rewrote its photo's bucket, not its row: pin-run.ts sidecarSameAs): a sidecar
   * the manifest records with that version is trusted as with the version now, and recorded with it.
   */
  sidecarSameAs?: (name: string) => string | undefined
  /**
   * Told of every entry of the layout (folder relative to DEST, '' for DEST; name, '.' for DEST
   * itself) as it is checked or written: what pin records of a clean run (tree-record.ts).
   * `link`: the layout's entry is a symlink, which a run that completes leaves there as a symlink
   * (written, checked, or in a sealed folder). `st`: the entry's lstat when it was checked and
   * found as it should be, so that nothing writes it in this run (tree-record.ts takes it instead
   * of an lstat of its own); absent for one written, and for folders, whose times are set last.
   */
  onEntry?: (dir: string, name: string, link?: boolean, st?: Stats) => void
  /** Told of each entry removed (relative to DEST): pin -v says it. */
  onRemoved?: (rel: string) => void
}

/**
 * A set of names or ids as these options read it: only `has`. A Set does; pin passes lookups into
 * its catalog instead of building 50,000-entry sets of names at the peak of its memory.
 */
export interface Lookup {
  has(key: string): boolean
}

export interface WriteTreeReport {
  written: number
  unchanged: number
  /** Of `unchanged`: sidecars taken as unchanged from their lstat and the manifest's record, unread. */
  trusted: number
  /** Of `unchanged`: links taken as unchanged from their folder's seal (#syncManagedDir), neither lstat'ed nor read. */
  sealed: number
  removed: number
  /** Originals named by the layout that are not on disk (their downloads failed). */
  missingOriginals: string[]
  /** The next manifest says exactly what the previous one said (nothing to write); false when not known so cheaply. */
  manifestUnchanged: boolean
}

/** The chunks of `node`'s bytes, when it gives its bytes so (a big file: photostream/SHA256SUMS), and its size. */
function chunksOf(node: TreeNode): { size: number; chunks: () => Iterable<Buffer> } | undefined {
  const c = node.content
  if (c?.type !== 'bytes' || c.chunks === undefined || node.size === undefined) return undefined
  return { size: node.size, chunks: () => (c.chunks as () => Iterable<Buffer>).call(c) }
}

/** The bytes of `node`: at once, or a promise of them (a sidecar whose record is read from disk). */
function bytesOf(node: TreeNode): Buffer | Promise<Buffer> {
  const c = node.content
  if (c === undefined || c.type !== 'bytes') throw new FlickrfsError('INTERNAL', `layout node ${node.name} has no bytes`)
  if (c.load) return c.load()
  return typeof c.data === 'function' ? c.data() : c.data
}

const seconds = (ms: number): number => Math.floor(ms / 1000)

/**
 * Entries of a directory checked synchronously before the event loop gets a turn (see
 * TreeWriter.#toWrite): a few milliseconds of lstats, so a pin run inside a mount (cli/pin-handoff.ts)
 * never holds up the mount's own callbacks for long.
 */
const SYNC_CHECKS_PER_TURN = 256

/** The names that may be in a folder: its listing, or MAYBE_PRESENT when it was not read. */
type Presence = Pick<ReadonlySet<string>, 'has'>

/** Any name may be there: each is looked at by its own lstat. */
const MAYBE_PRESENT: Presence = { has: () => true }

/** A folder just made: nothing is there. */
const NOTHING_PRESENT: Presence = { has: () => false }

/** photostream/ nodes checked and written per page (#writePhotostream). */
const PHOTOSTREAM_PAGE = 2048


/** One buffer for every synchronous read of a file already there (its size is known from its lstat). */
let readBuffer = Buffer.alloc(64 * 1024)

function lstatSyncOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * The lstat of the file or link at the absolute `path` when it is exactly what `node` says, its
 * mtime too (then nothing is written); undefined otherwise, and when the bytes to compare are not
 * in hand at once: their promise is then left in `loading`, for the write path to compare.
 */
function unchangedSync(path: string, node: TreeNode, loading: Map<TreeNode, Promise<Buffer>>): Stats | undefined {
  const st = lstatSyncOrUndefined(path)
  if (st === undefined || Math.floor(st.mtimeMs / 1000) !== seconds(node.mtimeMs)) return undefined
  try {
    if (node.kind === 'link') return st.isSymbolicLink() && readlinkSync(path) === (node.target ?? '') ? st : undefined
    if (!st.isFile()) return undefined
    const chunked = chunksOf(node)
    if (chunked !== undefined) return st.size === chunked.size && sameChunksSync(path, chunked.chunks()) ? st : undefined
    const data = bytesOf(node)
    if (!Buffer.isBuffer(data)) {
      // Awaited by #ensureFile in this page; until then a rejection must not go unhandled.
      data.catch(() => undefined)
      loading.set(node, data)
      return undefined
    }
    return st.size === data.length && sameChunksSync(path, [data]) ? st : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the regular file at `path`, of the chunks' length by its lstat, holds these bytes: one
 * open (never following a link, never blocking on a FIFO), reads into a reused buffer a chunk at a
 * time (neither the bytes nor the file are held whole: a big file's chunks), one close.
 */
function sameChunksSync(path: string, chunks: Iterable<Buffer>): boolean {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK)
  try {
    for (const chunk of chunks) {
      if (readBuffer.length < chunk.length) readBuffer = Buffer.alloc(chunk.length)
      let got = 0
      for (let n = -1; n !== 0 && got < chunk.length; got += n) n = readSync(fd, readBuffer, got, chunk.length - got, null)
      if (got !== chunk.length || !readBuffer.subarray(0, got).equals(chunk)) return false
    }
    // Nothing more: a file that grew since its lstat is not the same.
    return readSync(fd, readBuffer, 0, 1, null) === 0
  } finally {
    closeSync(fd)
  }
}

/** The names in a directory; none when it does not exist. One readdir spares an lstat per new entry. */
async function namesIn(path: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(path))
  } catch (err) {
    if (isEnoent(err)) return new Set()
    throw err
  }
}

/**
 * The names in a directory that `keep` keeps; none when it does not exist. Read a batch of entries
 * at a time, never listed whole: a folder of a million files is not a million strings at once.
 */
async function namesKept(path: string, keep: (name: string) => boolean): Promise<Set<string>> {
  const kept = new Set<string>()
  let dir: Dir
  try {
    dir = await opendir(path, { bufferSize: 256 })
  } catch (err) {
    if (isEnoent(err)) return kept
    throw err
  }
  // The iterator closes the directory, also when it throws.
  for await (const entry of dir) if (keep(entry.name)) kept.add(entry.name)
  return kept
}

/** Runs `fn`; a raw filesystem failure becomes the one DEST write error naming `path`. */
async function guard<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    throw destWriteError(err, path)
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path)
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
  }
}

export async function writeTree(dest: string, root: TreeNode, opts: WriteTreeOptions): Promise<WriteTreeReport> {
  return new TreeWriter(await Confined.open(dest), opts).write(root)
}

/** The last line of defence before a name from the layout touches the disk (see isSafeFileName). */
function assertSafeName(name: string): void {
  if (!isSafeFileName(name)) throw new FlickrfsError('INTERNAL', `refusing unsafe file name ${JSON.stringify(name.slice(0, 80))}`)
}

/** One writeTree run: DEST, its options and the report every step adds to. Used once. */
class TreeWriter {
  /** Every write under DEST goes through it; paths below are relative to DEST ('' is DEST). */
  readonly #dest: Confined
  readonly #opts: WriteTreeOptions
  readonly #limit: number
  // Temp files go to DEST/.flickrfs/tmp, never into the user's tree. No fsync of each folder: the
  // next pin rewrites anything a crash lost, and thousands of directory fsyncs would slow every pin.
  readonly #atomic: { tmpDir: string; syncDir: false }
  readonly #report: WriteTreeReport = {
    written: 0, unchanged: 0, trusted: 0, sealed: 0, removed: 0, missingOriginals: [], manifestUnchanged: false,
  }
  /** This run's manifest, written as the tree is (#recordPage). */
  readonly #next: ManifestWriter
  /** Whether DEST's filesystem keeps a ctime no user can set (keepsCtime): only then is a sidecar's lstat trusted. */
  #trustCtime = false
  /** The same of DEST's folders: only then are folders sealed, and seals taken (#syncManagedDir). */
  #sealing = false
  /**
   * photostream/ sidecars of the page being written, as written or read (or trusted) by this run,
   * with their versions: the next run's records (ManifestEntry.c). One page at a time (#recordPage).
   */
  readonly #checked = new Map<string, { version: string; stat?: [ino: number, size: number, mtimeMs: number, ctimeMs: number] }>()
  /** This run's photostream/ entries recorded exactly as the previous manifest records them. */
  #same = 0
  /** The last run's photostream/ entries this layout does not have, kept, by index (#writePhotostream). */
  readonly #kept: number[] = []
  /** Bytes that #toWrite asked for and did not have at once, by node: #ensureFile awaits them. */
  readonly #loading = new Map<TreeNode, Promise<Buffer>>()
  /**
   * The last manifest's entries this layout has (1 at their index), found by #recordPage as the
   * pages are recorded: the pass over the last manifest after the walk (#writePhotostream) asks the
   * layout only of the others, the few gone or kept, not again of every name (100,000 lookups at
   * 50,000 photos, each parsing its name and looking its photo up in the catalog).
   */
  #inLayout: Uint8Array = new Uint8Array(0)

  constructor(dest: Confined, opts: WriteTreeOptions) {
    this.#dest = dest
    this.#opts = opts
    this.#limit = opts.concurrency ?? 16
    this.#atomic = { tmpDir: opts.tmpDir, syncDir: false }
    this.#next = opts.next ?? new ManifestWriter(undefined)
  }

  async write(root: TreeNode): Promise<WriteTreeReport> {
    const photostream = root.children?.get('photostream')
    const psPath = 'photostream'
    this.#opts.onEntry?.('', '.')
    this.#opts.onEntry?.('', psPath)
    await this.#guard(psPath, () => this.#ensureDir(psPath))
    this.#trustCtime = this.#opts.sidecarVersion !== undefined && keepsCtime(this.#abs(psPath))
    this.#sealing = keepsCtime(this.#abs(''))
    // photostream/ is flickrfs's own (the store may have made it under any umask); DEST itself is the
    // user's folder and keeps the mode they gave it.
    await this.#guard(psPath, () => this.#dest.chmod(psPath, 0o755))
    await this.#writePhotostream(psPath, photostream)
    await this.#writeTop(root)
    this.#keepPhotostreamEntries()
    if (photostream) await this.#setDirTime(psPath, photostream)
    await this.#setDirTime('', root)
    const report = this.#report
    report.manifestUnchanged = this.#manifestUnchanged()
    return report
  }

  /** Runs `fn`; a raw filesystem failure becomes the one DEST write error naming `rel`. */
  #guard<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    return guard(this.#dest.display(rel), fn)
  }

  /** The absolute path of `rel`, for reads (lstat, readdir, readlink, the compare of a file's bytes). */
  #abs(rel: string): string {
    return this.#dest.abs(rel)
  }

  /** photostream/: sidecars and the order file are ours to write; originals come from the store. */
  async #writePhotostream(psPath: string, photostream: TreeNode | undefined): Promise<void> {
    const report = this.#report
    const previous = this.#opts.previous
    this.#inLayout = new Uint8Array(previous.size)
    if (photostream?.children) {
      const existing = await this.#photostreamNames(psPath)
      const base = `${this.#abs(psPath)}/`
      // In pages: the layout makes photostream/'s nodes as it is walked (2 a photo), so holding
      // them all at once would be 2,000,000 nodes at a million photos; a page's are let go once written.
      for (const children of inPages(photostream.children.values(), PHOTOSTREAM_PAGE)) {
        const todo = await this.#toWrite(psPath, children, existing, true)
        await eachLimit(todo, this.#limit, async (child) => {
          const p = join(psPath, child.name)
          const present = existing.has(child.name)
          await this.#guard(p, () => (child.kind === 'link' ? this.#ensureLink(p, child, present) : this.#ensureFile(p, child, present)))
          const version = this.#sidecarVersion(child)
          const st = version === undefined ? undefined : lstatSyncOrUndefined(base + child.name)
          if (version !== undefined && st?.isFile() === true) this.#remember(child.name, version, st)
        })
        this.#recordPage(children)
        for (const child of children) child.release?.()
      }
    }
    for (let i = 0; i < previous.size; i++) {
      if (this.#inLayout[i] === 1) continue
      const name = previous.name(i)
      if (photostream?.children?.has(name)) continue
      if (!this.#removable(previous.kind(i), previous.id(i)) || this.#opts.photostreamKeep?.has(name)) {
        this.#kept.push(i)
        continue
      }
      await this.#guard(join(psPath, name), () => this.#dest.unlink(join(psPath, name)))
      report.removed++
      this.#opts.onRemoved?.(join(psPath, name))
    }
  }

  /**
   * What is known to be in photostream/ before it is written. A first pin (no manifest: nothing of
   * ours yet, maybe a foreign mirror's files) lists it, so that each new name costs nothing. A
   * mirror pinned before is not listed: every entry it keeps is lstat'd by #toWrite anyway, and its
   * listing, two names a photo, was ~105 MB held through the whole write at 1,000,000 photos, where
   * a pin's memory peaks (bench/RESULTS.md, "Session 21, lead"). Every name then may be there, and
   * a new one costs one lstat that finds nothing.
   *
   * The listing keeps only names that are not originals the store checked in this run: those are
   * there by its account, as #toWrite takes them (`checkedOriginals`), and a first pin's
   * photostream/ holds little else (a million names, ~70 MB held through the write, and the whole
   * listing at once besides, at the start of a first pin's tree write: `namesKept`).
   */
  async #photostreamNames(psPath: string): Promise<Presence> {
    if (this.#opts.previous.size > 0) return MAYBE_PRESENT
    const checked = this.#opts.checkedOriginals
    if (checked === undefined) return this.#guard(psPath, () => namesIn(this.#abs(psPath)))
    const others = await this.#guard(psPath, () => namesKept(this.#abs(psPath), (name) => !checked.has(name)))
    return { has: (name) => others.has(name) || checked.has(name) }
  }

  /**
   * The manifest's entries of a page of photostream/ once it is written, each with its sidecar
   * record (#remember) if any; a trusted sidecar keeps the lstat of its previous record. Counts
   * those recorded exactly as before: a no-change pin finds the manifest the same and writes none.
   */
  #recordPage(children: readonly TreeNode[]): void {
    const previous = this.#opts.previous
    for (const { name } of children) {
      const i = previous.find(name)
      // previous.name(i) is `name`, a name of this layout: never one to remove.
      if (i !== -1) this.#inLayout[i] = 1
      const before = i === -1 ? undefined : previous.record(i)
      const rec = this.#checked.get(name)
      let c: CheckedFile | undefined
      if (rec !== undefined) {
        const stat = rec.stat ?? (before as CheckedFile).slice(1)
        c = [this.#next.versionIndex(rec.version), stat[0] as number, stat[1] as number, stat[2] as number, stat[3] as number]
      }
      const photo = i !== -1 && previous.kind(i) === 'photo'
      if (photo && (c === undefined ? before === undefined : before !== undefined && sameItems(before, c))) this.#same++
      this.#next.add(name, 'photo', photo ? previous.id(i) : idOfName(name), c)
    }
    this.#checked.clear()
  }

  /** Whether this run's manifest says exactly what the last one said (then it is not written). */
  #manifestUnchanged(): boolean {
    const previous = this.#opts.previous
    const next = this.#next
    return !previous.rewrite && this.#kept.length === 0 && this.#same === next.size && next.size === previous.size
      && sameItems(next.sidecarVersions, previous.sidecarVersions) && sameJson(next.top, previous.top) && sameJson(next.seals, previous.seals)
  }

  /** Top-level set, collection and Not-in-any-set directories; stale ones of ours removed. */
  async #writeTop(root: TreeNode): Promise<void> {
    const report = this.#report
    // Several at once: most set directories are small, and one at a time each waits on its slowest write.
    const top = [...(root.children?.values() ?? [])].filter((n) => n.name !== 'photostream')
    top.forEach((node) => assertSafeName(node.name))
    for (const node of top) this.#opts.onEntry?.('', node.name)
    await eachLimit(top, 4, (node) => this.#syncManagedDir(node.name, node, true))
    for (const node of top) this.#next.top[node.name] = topEntry(node.name)
    for (const [name, entry] of Object.entries(this.#opts.previous.top)) {
      if (root.children?.has(name) || !this.#removable(entry.kind, entry.id)) {
        if (!root.children?.has(name)) this.#next.top[name] = entry // kept: still ours to remove later
        continue
      }
      log('removing %s', name)
      await this.#guard(name, () => this.#dest.rmTree(name))
      report.removed++
      this.#opts.onRemoved?.(name)
    }
  }

  /** Photostream entries kept (deleted on Flickr, no --delete-unknown) stay ours too (without a sidecar record: not checked this run). */
  #keepPhotostreamEntries(): void {
    const previous = this.#opts.previous
    for (const i of this.#kept) this.#next.add(previous.name(i), previous.kind(i), previous.id(i))
  }

  #removable(kind: ManifestEntry['kind'], id: string): boolean {
    // id '' is "Not in any set": derived from the sets, never deleted on Flickr.
    return this.#opts.deleteUnknown || id === '' || this.#opts.alive[kind].has(id)
  }

  /**
   * The entries of `children` (of the directory `dir`, with `existing` what may be in it) that need
   * writing; the rest are counted unchanged. Each entry already there is checked as the write path
   * would check it (its kind, mtime, size and bytes, or link target), but synchronously: DEST is a
   * plain local folder, never a FUSE mount, and a no-change pin checks every file, where a
   * promise and a thread-pool round trip per lstat, open, read and close cost far more than the
   * calls themselves. Originals are the store's: one named here but not on disk with its size is
   * reported missing, never written. Anything unexpected (an error, a changed entry) goes to the
   * write path, which reports errors as ever.
   */
  async #toWrite(dir: string, children: readonly TreeNode[], existing: Presence, sidecars = false): Promise<TreeNode[]> {
    const todo: TreeNode[] = []
    // The folder's absolute path once; each name below is checked safe (no '/', never '.' or '..').
    const base = `${this.#abs(dir)}/`
    for (let i = 0; i < children.length; i++) {
      if (i > 0 && i % SYNC_CHECKS_PER_TURN === 0) await nextTurn()
      const child = children[i] as TreeNode
      assertSafeName(child.name)
      const link = child.kind === 'link'
      const present = existing.has(child.name)
      if (child.kind === 'file' && child.content?.type === 'original') {
        this.#opts.onEntry?.(dir, child.name, false)
        if (present && this.#opts.checkedOriginals?.has(child.name) === true) continue
        const st = present ? lstatSyncOrUndefined(base + child.name) : undefined
        if (!st?.isFile() || st.size !== child.size) this.#report.missingOriginals.push(child.name)
      } else if (present && child.kind !== 'dir') {
        const version = sidecars ? this.#sidecarVersion(child) : undefined
        const trusted = version === undefined ? undefined : this.#trusted(base + child.name, child, version)
        if (trusted !== undefined) {
          this.#opts.onEntry?.(dir, child.name, link, trusted)
          this.#report.unchanged++
          this.#report.trusted++
          continue
        }
        const st = unchangedSync(base + child.name, child, this.#loading)
        this.#opts.onEntry?.(dir, child.name, link, st)
        if (st === undefined) {
          todo.push(child)
          continue
        }
        this.#report.unchanged++
        if (version !== undefined) this.#remember(child.name, version, st)
      } else {
        this.#opts.onEntry?.(dir, child.name, link)
        todo.push(child)
      }
    }
    return todo
  }

  /** The version of a photostream/ sidecar's content (WriteTreeOptions.sidecarVersion); undefined for anything else. */
  #sidecarVersion(node: TreeNode): string | undefined {
    if (node.kind !== 'file' || node.content?.type !== 'bytes' || !node.name.endsWith(METADATA_SUFFIX)) return undefined
    return this.#opts.sidecarVersion?.(node.name)
  }

  /**
   * The sidecar at the absolute `path` holds the bytes of `node` without reading them: the
   * manifest records that pin wrote or read exactly the content of `version` there, and the file
   * still has the ino, size, mtime and ctime it had then. The ctime is the proof: the kernel sets it
   * to the current time at every change of the file's bytes or times (utimes included), and no
   * call sets it to a chosen value, so an edit with its size and mtime put back still moves it; so
   * does a file put in its place. Only on filesystems that keep such a ctime (keepsCtime). Its
   * lstat when trusted; undefined when not.
   */
  #trusted(path: string, node: TreeNode, version: string): Stats | undefined {
    if (!this.#trustCtime) return undefined
    const previous = this.#opts.previous
    const versions = previous.sidecarVersions
    const at = previous.find(node.name)
    const rec = at === -1 ? undefined : previous.record(at)
    if (rec === undefined) return undefined
    const [v, ino, size, mtimeMs, ctimeMs] = rec
    if (versions[v] !== version && (versions[v] === undefined || versions[v] !== this.#opts.sidecarSameAs?.(node.name))) return undefined
    const st = lstatSyncOrUndefined(path)
    if (st === undefined || !st.isFile() || st.ino !== ino || st.size !== size || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) return undefined
    if (Math.floor(st.mtimeMs / 1000) !== seconds(node.mtimeMs)) return undefined
    // Its record stays the previous one (#photostreamEntries).
    this.#checked.set(node.name, { version })
    return st
  }

  /** Records that the sidecar `name`, with lstat `st`, holds the content of `version` (for the next run's #trusted). */
  #remember(name: string, version: string, st: Stats): void {
    this.#checked.set(name, { version, stat: [st.ino, st.size, st.mtimeMs, st.ctimeMs] })
  }

  /**
   * A real directory at `rel`: its lstat when it was there, undefined when made now. Anything else
   * there is refused by the guard (never followed, never removed: it is not ours), except with
   * `replaceOurs`: inside a folder of ours, a link or file under a name the layout now wants as a
   * folder is a stale entry of ours.
   */
  async #ensureDir(rel: string, replaceOurs = false): Promise<Stats | undefined> {
    const st = await lstatOrUndefined(this.#abs(rel))
    if (st?.isDirectory()) {
      // Checked by the guard (its parents too), and remembered for the writes into it.
      await this.#dest.mkdirp(rel)
      return st
    }
    if (st !== undefined && replaceOurs) await this.#dest.rmTree(rel)
    await this.#dest.mkdirp(rel)
    // The modes the mount shows, whatever the umask: rsync -a of DEST and of the mount must agree.
    await this.#dest.chmod(rel, 0o755)
    this.#report.written++
    return undefined
  }

  /** `present`: the entry may be there (false: it is known not to exist, not in its directory's listing). */
  async #ensureFile(path: string, node: TreeNode, present: boolean): Promise<void> {
    const loading = this.#loading.get(node)
    this.#loading.delete(node)
    // The bytes in hand, or in chunks (a big file: chunksOf), compared and written a chunk at a time.
    const bytes = chunksOf(node) ?? (await (loading ?? bytesOf(node)))
    const whole = Buffer.isBuffer(bytes)
    const mtime = seconds(node.mtimeMs)
    const st = present ? await lstatOrUndefined(this.#abs(path)) : undefined
    if (st?.isFile() && st.size === (whole ? bytes.length : bytes.size) && sameChunksSync(this.#abs(path), whole ? [bytes] : bytes.chunks())) {
      if (Math.floor(st.mtimeMs / 1000) !== mtime) await this.#dest.utimes(path, mtime, mtime)
      this.#report.unchanged++
      return
    }
    if (st?.isDirectory()) await this.#dest.rmTree(path)
    await this.#dest.writeFileAtomic(path, whole ? bytes : bytes.chunks(), { ...this.#atomic, mode: 0o644, mtimeMs: mtime * 1000 })
    this.#report.written++
  }

  async #ensureLink(path: string, node: TreeNode, present: boolean): Promise<void> {
    const target = node.target ?? ''
    const mtime = seconds(node.mtimeMs)
    if (!present) {
      // A new name: symlink() creates it whole, so no temp name and rename are needed.
      try {
        await this.#dest.symlink(target, path)
        // lutimes never follows: it sets the times of the link just made (at once: a round trip
        // through the thread pool would cost more than the call).
        lutimesSync(this.#abs(path), mtime, mtime)
        this.#report.written++
        return
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err
      }
    }
    const st = await lstatOrUndefined(this.#abs(path))
    if (st?.isSymbolicLink() && (await readlink(this.#abs(path))) === target) {
      if (Math.floor(st.mtimeMs / 1000) !== mtime) await lutimes(this.#abs(path), mtime, mtime)
      this.#report.unchanged++
      return
    }
    if (st?.isDirectory()) await this.#dest.rmTree(path)
    await this.#dest.symlinkAtomic(path, target, { ...this.#atomic, mtimeMs: mtime * 1000 })
    this.#report.written++
  }

  /**
   * Makes a directory flickrfs owns (a set, a collection, Not in any set) match the layout exactly.
   * `top`: directly in DEST, where whatever is not a real folder under its name is the user's.
   *
   * A folder of links (no subfolder) is sealed once written: its lstat and the digest of the
   * entries it then holds (linksDigest) go into the manifest (FolderSeal). The next whole run finds
   * it with that very lstat and the same digest to write: its links are as they were written, and
   * nothing else is in it, so they are neither lstat'ed nor read (a pin after a small change at
   * 200,000 items lstat'ed and read ~250,000 links, and listed every folder again). The ctime is
   * the proof, as for the tree record's folders (tree-record.ts linksVouchedFor): a link cannot be
   * changed in place, so a link removed, added, retargeted or replaced, or any other entry put
   * into the folder, moves its ctime, which no call sets back (keepsCtime; elsewhere nothing is
   * sealed). A link's own times (lutimes, `touch -h`) are all that escape it, as they escape a
   * no-change pin. The folder's files (metadata) are checked as ever.
   */
  async #syncManagedDir(path: string, node: TreeNode, top = false): Promise<void> {
    const was = await this.#guard(path, () => this.#ensureDir(path, !top))
    // A folder made now is empty. One there before may hold anything: each entry is looked at by its
    // own lstat, and what the layout does not have is found after the writes (#removeStale), its
    // listing streamed: "Not in any set" of a big account holds ~450,000 links, whose names were
    // held as a Set through its writes, at the end of a pin's tree write.
    const existing = was === undefined ? NOTHING_PRESENT : MAYBE_PRESENT
    const all = [...(node.children?.values() ?? [])]
    const digest = this.#sealing ? linksDigest(all) : undefined
    const sealed = this.#opts.trustSeals === true && was !== undefined && digest !== undefined && sameSeal(this.#opts.previous.seals[path], was, digest)
    let checked = all
    if (sealed) {
      checked = []
      for (const child of all) {
        if (child.kind !== 'link') {
          checked.push(child)
          continue
        }
        assertSafeName(child.name)
        this.#opts.onEntry?.(path, child.name, true)
        this.#report.unchanged++
        this.#report.sealed++
      }
    }
    const children = await this.#toWrite(path, checked, existing)
    // Only a write or a removal of one of its own entries moves a folder's mtime (a subfolder's own writes do not).
    let touched = children.some((child) => child.kind !== 'dir')
    await eachLimit(children, this.#limit, async (child) => {
      const p = join(path, child.name)
      const present = existing.has(child.name)
      await this.#guard(p, async () => {
        if (child.kind === 'dir') await this.#syncManagedDir(p, child)
        else if (child.kind === 'link') await this.#ensureLink(p, child, present)
        else await this.#ensureFile(p, child, present)
      })
    })
    // A sealed folder holds the names of its digest, which are the layout's: nothing stale.
    if (was !== undefined && !sealed && (await this.#removeStale(path, node))) touched = true
    // 1,700 set folders of a no-change pin already have their time: an open, a futimes and a close each, spared.
    const timed = touched || was === undefined || Math.floor(was.mtimeMs / 1000) !== seconds(node.mtimeMs)
    if (timed) await this.#setDirTime(path, node)
    if (digest !== undefined) {
      // Untouched, the folder still has the lstat it was found with.
      const st = timed ? lstatSyncOrUndefined(this.#abs(path)) : was
      if (st?.isDirectory() === true) this.#next.seals[path] = [st.ino, st.mtimeMs, st.ctimeMs, digest]
    }
    node.release?.()
  }

  /**
   * Rebuilt to match Flickr exactly: whatever else is in the folder `path` of ours is a stale entry
   * of ours, removed. Whether any was.
   */
  async #removeStale(path: string, node: TreeNode): Promise<boolean> {
    const stale: string[] = []
    // Taken once: a folder of links makes its children on demand into a cache shared with the
    // folders written beside it (link-dir.ts), which may drop them between two reads of the
    // listing; asked per entry, Not in any set's 450,000 links were made again per batch read
    // (11 minutes of a 1,000,000-item pin's tree write).
    const children = node.children
    await this.#guard(path, async () => {
      for await (const name of streamedNames(this.#abs(path))) {
        if (children?.has(name) !== true) stale.push(name)
      }
    })
    for (const name of stale) {
      await this.#guard(join(path, name), () => this.#dest.rmTree(join(path, name)))
      this.#report.removed++
      this.#opts.onRemoved?.(join(path, name))
    }
    return stale.length > 0
  }

  async #setDirTime(path: string, node: TreeNode): Promise<void> {
    const t = seconds(node.mtimeMs)
    await this.#guard(path, () => this.#dest.utimes(path, t, t))
  }
}

export function topEntry(name: string): ManifestEntry {
  const set = parseSetDirName(name)
  if (set !== undefined) return { kind: 'set', id: set }
  const collection = parseCollectionDirName(name)
  if (collection !== undefined) return { kind: 'collection', id: collection }
  // "Not in any set" is derived, never deleted on Flickr: treat it as always alive.
  return { kind: 'set', id: '' }
}

/**
 * The digest of a folder's entries as the layout has them (each one's kind and name, and a link's
 * target and mtime in seconds, in order), undefined when one is a folder: such a folder is not
 * sealed (its subfolder's entries are not in its own ctime).
 */
function linksDigest(children: readonly TreeNode[]): string | undefined {
  const hash = createHash('sha256')
  let text = ''
  for (const child of children) {
    if (child.kind === 'dir') return undefined
    text += `${child.kind}\0${child.name}\0${child.kind === 'link' ? `${child.target ?? ''}\0${seconds(child.mtimeMs)}` : ''}\n`
    // In pieces: "Not in any set" holds ~450,000 links at 1,000,000 items.
    if (text.length > 65536) {
      hash.update(text)
      text = ''
    }
  }
  return hash.update(text).digest('base64')
}

/** The folder, found with lstat `st`, is still the one `seal` was taken of, holding the entries of `digest`. */
function sameSeal(seal: FolderSeal | undefined, st: Stats, digest: string): boolean {
  return seal !== undefined && seal[0] === st.ino && seal[1] === st.mtimeMs && seal[2] === st.ctimeMs && seal[3] === digest
}

/** `items` in arrays of at most `size`, each made only when the one before is done with. */
function* inPages<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let page: T[] = []
  for (const item of items) {
    page.push(item)
    if (page.length === size) {
      yield page
      page = []
    }
  }
  if (page.length > 0) yield page
}
