/**
 * The one guard of every write under a cache root or DEST. Nothing flickrfs writes may land
 * outside its root, whatever the user (or a stray `ln -s`) left inside it: a symlink or a
 * non-directory at any folder component below the root is refused with one line naming it, before
 * a byte is written. The root itself may be a symlink (`ln -s /mnt/disk/flickr ~/FlickrBackup`): it
 * is resolved once, with realpath, and every path below it is checked component by component.
 *
 * Errors: a refusal is a FlickrfsError (code DEST) naming the path; a folder that cannot be made
 * is destWriteError's one line; any other failure of the operation itself is the errno error it
 * is, for the caller to judge (EEXIST of an O_EXCL open, ENOENT of an unlink) or to turn into
 * destWriteError with the path it knows.
 *
 * How each operation stays inside:
 *   - every folder on the way is lstat-ed (or created here, as a real folder);
 *   - the last component is never followed: files are opened with O_NOFOLLOW, times and modes are
 *     set through that handle, and rename, unlink, symlink and rm act on the name itself.
 *
 * Folders created or verified are remembered for `recheckMs` (default 1 s), so a pin writing
 * thousands of files checks each folder about once a second, not once a file, and a long-running
 * mount still notices a link planted hours after it started.
 *
 * What remains (TOCTOU): between the lstat of a folder and the syscall that uses it, another
 * process of the same user could swap the folder for a link. Node has no openat(), so that race
 * cannot be closed here; a process with the user's uid can write those files itself anyway, so it
 * is out of scope. A link planted before the run, or between two runs, is always caught.
 */
import { constants, link, lstat, lutimes, mkdir, open, realpath, rm, stat, unlink, type FileHandle } from 'node:fs/promises'
import { closeSync, fchmodSync, fsync as fsyncCb, futimesSync, open as openCb, renameSync, symlinkSync, write as writeCb } from 'node:fs'
import { isAbsolute, join, normalize, sep } from 'node:path'
import { promisify } from 'node:util'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { destWriteError, errnoCode, isEnoent } from './fs-errors.js'
import { isNoDirFsync, mkdirLevels, SYNC_WRITE_MAX, tempName, writeFullySync } from './fs.js'
import { CATALOG_FILE_NAME, STATE_DIR_NAME } from './state-paths.js'

/** Options of an atomic write inside a confined root; paths relative to it. */
export interface ConfinedAtomicOptions {
  /** File mode, set explicitly so the umask does not change it. Default 0o644. */
  mode?: number
  /** Modification (and access) time of the new entry, ms since the epoch, set before the rename. */
  mtimeMs?: number
  /** Folder (relative to the root) for the temp file; default the folder of the target. */
  tmpDir?: string
  /** fsync the folder after the rename (default true). */
  syncDir?: boolean
}

const openFd = promisify(openCb)
const fsyncFd = promisify(fsyncCb)
const writeFd = promisify(writeCb)

async function writeFdFully(fd: number, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) done += (await writeFd(fd, bytes, done, bytes.byteLength - done)).bytesWritten
}

/** A `.` or `..` component anywhere in a path. */
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/

/**
 * A relative path already in normal form: no leading, trailing or doubled separator, no `.` or
 * `..` component. normalize() and the filter below would give back exactly its split; skipping
 * them matters because every write calls this several times (a pin of 700 items ~6,000 times,
 * ~0.1 s of its first, interpreted runs in a CPU profile).
 */
function isNormalRelative(rel: string): boolean {
  return sep === '/' && rel[0] !== '/' && rel[rel.length - 1] !== '/' && !rel.includes('//') && !DOT_COMPONENT.test(rel)
}

/** Splits a relative path into its components, refusing anything that could climb out. */
function components(rel: string): string[] {
  if (rel === '' || rel === '.') return []
  if (isNormalRelative(rel)) return rel.split(sep)
  if (isAbsolute(rel)) throw new FlickrfsError('INTERNAL', `confined path ${JSON.stringify(rel)} is absolute`)
  const parts = normalize(rel).split(sep).filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw new FlickrfsError('INTERNAL', `confined path ${JSON.stringify(rel)} climbs out of its root`)
  return parts
}

export class Confined {
  /** Folders (relative, '' is the root) known to be real folders, and when that was last seen. */
  private readonly verified = new Map<string, number>()
  /**
   * The check of a folder under way (its lstat, or its mkdir), by relative path. Writers that find
   * a folder's check expired while one is in flight wait for that one instead of each starting its
   * own: when the pool is busy with fsyncs, every writer arriving before the first lstat returned
   * used to send one more (strace: ~48 per expiry, 1,096 lstats in a slow pin of 700 items), and
   * at a pin's start the 32 downloads each lstat-ed, mkdir-ed and lstat-ed photostream/ again.
   */
  private readonly checking = new Map<string, { create: boolean; done: Promise<void> }>()

  private constructor(
    /** The root as the user named it: used in messages. */
    readonly shown: string,
    /** The root resolved once with realpath: every syscall goes below it. */
    readonly real: string,
    private readonly recheckMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * The guard of `root`. With `create`, a missing root is made (`mkdir -p`, with an error that says
   * what is wrong). A root that is not a folder is refused.
   */
  static async open(root: string, opts: { create?: boolean; recheckMs?: number; now?: () => number } = {}): Promise<Confined> {
    if (opts.create === true) await makeRoot(root)
    let real: string
    try {
      real = await realpath(root)
    } catch (err) {
      throw destWriteError(err, root)
    }
    const st = await lstat(real).catch((err: unknown) => { throw destWriteError(err, root) })
    if (!st.isDirectory()) throw new FlickrfsError('DEST', `${root} is not a folder. Give flickrfs a folder (it is created when missing).`)
    return new Confined(root, real, opts.recheckMs ?? 1000, opts.now ?? Date.now)
  }

  /** The absolute path of `rel` below the real root (for reads; writes go through the methods). */
  abs(rel: string): string {
    return join(this.real, ...components(rel))
  }

  /** `rel` as the user knows it, for messages. */
  display(rel: string): string {
    return join(this.shown, ...components(rel))
  }

  /** Makes `rel` and every folder above it real folders inside the root (creating the missing ones, mode `mode`). */
  async mkdirp(rel: string, mode = 0o755): Promise<string> {
    const parts = components(rel)
    return this.recentlyChecked(parts) ?? (await this.checkDirs(parts, true, mode), join(this.real, ...parts))
  }

  /** Checks that `rel` is a real folder inside the root, without creating anything; false when it is missing. */
  async isDir(rel: string): Promise<boolean> {
    try {
      await this.checkDirs(components(rel), false)
      return true
    } catch (err) {
      if (err instanceof MissingFolder) return false
      throw err
    }
  }

  /**
   * Checks the folders above `rel` (creating missing ones when `create`), and returns its absolute
   * path. The last component itself is not checked: callers act on it without following it.
   */
  async parentOf(rel: string, create = true): Promise<string> {
    const parts = components(rel)
    if (parts.length === 0) throw new FlickrfsError('INTERNAL', 'a confined write needs a name below the root')
    await this.checkDirs(parts.slice(0, -1), create)
    return join(this.real, ...parts)
  }

  /**
   * Opens `rel` for writing, never through a symlink (O_NOFOLLOW: a planted link fails with ELOOP,
   * which is turned into the one-line error). `flags` are node's numeric open flags.
   */
  async openForWrite(rel: string, flags: number = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode = 0o644): Promise<FileHandle> {
    const path = this.recentParentOf(rel) ?? (await this.parentOf(rel))
    try {
      return await open(path, flags | constants.O_NOFOLLOW, mode)
    } catch (err) {
      throw this.lastComponentError(err, rel)
    }
  }

  /**
   * Refuses `rel` when it is a symlink or not a regular file (missing is fine): for files another
   * library opens by name and would follow (sqlite's database and journals).
   */
  async assertPlainFile(rel: string): Promise<void> {
    const path = await this.existingParentOf(rel)
    if (path === undefined) return
    const st = await lstat(path).catch((err: unknown) => {
      if (isEnoent(err)) return undefined
      throw destWriteError(err, this.display(rel))
    })
    if (st !== undefined && !st.isFile()) throw this.refusal(rel, st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file')
  }

  /**
   * Renames `fromRel` to `toRel` (the names themselves; neither is followed). At once, as
   * writeFileAtomic's rename: the store renames one .part per original it downloads.
   */
  async rename(fromRel: string, toRel: string): Promise<void> {
    const from = this.recentParentOf(fromRel) ?? (await this.parentOf(fromRel, false))
    const to = this.recentParentOf(toRel) ?? (await this.parentOf(toRel))
    renameSync(from, to)
  }

  /** Gives the file `fromRel` the second name `toRel` (a hard link; EEXIST when taken). Neither is followed. */
  async link(fromRel: string, toRel: string): Promise<void> {
    const from = await this.parentOf(fromRel, false)
    const to = await this.parentOf(toRel)
    await link(from, to)
  }

  /** Removes the name `rel` (a link is removed, never followed). Missing is fine. */
  async unlink(rel: string): Promise<void> {
    const path = await this.existingParentOf(rel)
    if (path === undefined) return
    try {
      await unlink(path)
    } catch (err) {
      if (!isEnoent(err)) throw err
    }
  }

  /** Removes `rel` and, for a folder, everything in it (links inside are removed, never followed). */
  async rmTree(rel: string): Promise<void> {
    const path = await this.existingParentOf(rel)
    if (path === undefined) return
    const key = components(rel).join(sep)
    for (const dir of [...this.verified.keys()]) if (dir === key || dir.startsWith(key + sep)) this.verified.delete(dir)
    await rm(path, { recursive: true, force: true })
  }

  /**
   * Makes the symlink `rel` → `target` (a new name; EEXIST when taken). At once, as the rename of
   * writeFileAtomic: a pin makes one per set member, and a thread-pool round trip costs more CPU than
   * the call. Roots are local folders, never a FUSE mount of this process.
   */
  async symlink(target: string, rel: string): Promise<void> {
    const parts = components(rel)
    const name = parts.pop()
    if (name === undefined) throw new FlickrfsError('INTERNAL', 'a confined write needs a name below the root')
    const dir = this.recentlyChecked(parts) ?? (await this.checkedFolder(parts))
    symlinkSync(target, join(dir, name))
  }

  /**
   * Sets the times of `rel` through a handle opened with O_NOFOLLOW, so a planted link is never
   * followed to touch a file outside. For a symlink of our own use `lutimes` via `linkTimes`.
   */
  async utimes(rel: string, atime: number | Date, mtime: number | Date): Promise<void> {
    const fd = await this.openNoFollow(rel)
    try {
      futimesSync(fd, atime, mtime)
    } finally {
      closeSync(fd)
    }
  }

  /** Sets the mode of `rel` (file or folder) without following a link. */
  async chmod(rel: string, mode: number): Promise<void> {
    const fd = await this.openNoFollow(rel)
    try {
      fchmodSync(fd, mode)
    } finally {
      closeSync(fd)
    }
  }

  /** fsyncs the folder `rel` (after renames and unlinks in it); a filesystem that cannot fsync folders is not an error. */
  async fsyncDir(rel: string): Promise<void> {
    const fd = await this.openNoFollow(rel)
    try {
      await fsyncFd(fd)
    } catch (err) {
      if (!isNoDirFsync(err)) throw err
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Writes `data` (bytes, or chunks of them in order) under `rel` atomically: a unique temp file
   * (in `tmpDir`), write, fsync, rename over `rel`, fsync the folder. `rel` holds the old or the
   * new content, never a part.
   *
   * Only the open (which creates an inode) and the fsync (which waits for the disk) go through the
   * thread pool; the mode, a small write into the page cache, the times, the close and the rename
   * are made at once on the descriptor. Each round trip through the pool costs more CPU than those
   * calls themselves, and a pin writes one such file per photo. For the same reason the steps are
   * written out here rather than layered (replaceVia, parentOf…): both folders are checked once,
   * at once when they were checked less than `recheckMs` ago, and nothing else awaits. A pin of 700
   * items writes 700 of these, each the first and only run of this code before it is compiled.
   */
  async writeFileAtomic(rel: string, data: string | Uint8Array | Iterable<Uint8Array>, opts: ConfinedAtomicOptions = {}): Promise<void> {
    const mode = opts.mode ?? 0o644
    // Chunks (a big file made as it is written) are written one after the other, none kept.
    const pieces = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data
    const parts = components(rel)
    const name = parts.pop()
    if (name === undefined) throw new FlickrfsError('INTERNAL', 'a confined write needs a name below the root')
    const tmpParts = opts.tmpDir === undefined ? parts : components(opts.tmpDir)
    const dir = this.recentlyChecked(parts) ?? (await this.checkedFolder(parts))
    const tmpDir = tmpParts === parts ? dir : (this.recentlyChecked(tmpParts) ?? (await this.checkedFolder(tmpParts)))
    const tmpName = tempName(name)
    const tmp = join(tmpDir, tmpName)
    let fd: number
    try {
      fd = await openFd(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
    } catch (err) {
      throw this.lastComponentError(err, join(...tmpParts, tmpName))
    }
    try {
      try {
        fchmodSync(fd, mode)
        for (const bytes of pieces) {
          if (bytes.byteLength <= SYNC_WRITE_MAX) writeFullySync(fd, bytes)
          else await writeFdFully(fd, bytes)
        }
        if (opts.mtimeMs !== undefined) futimesSync(fd, opts.mtimeMs / 1000, opts.mtimeMs / 1000)
        await fsyncFd(fd)
      } finally {
        closeSync(fd)
      }
      // Both folders were checked above; rename acts on the names themselves, following neither.
      renameSync(tmp, join(dir, name))
    } catch (err) {
      // Through the guard: a temp folder planted as a link since is never followed to remove anything.
      await this.unlink(join(...tmpParts, tmpName)).catch(() => {})
      throw err
    }
    if (opts.syncDir !== false) await this.fsyncDir(parts.join(sep))
  }

  /** Makes `rel` a symlink to `target`, replacing whatever file or link is there in one rename. */
  async symlinkAtomic(rel: string, target: string, opts: Omit<ConfinedAtomicOptions, 'mode'> = {}): Promise<void> {
    await this.replaceVia(rel, opts, async (tmp) => {
      await this.symlink(target, tmp)
      // lutimes never follows: it sets the times of the link we just made.
      if (opts.mtimeMs !== undefined) await lutimes(this.abs(tmp), opts.mtimeMs / 1000, opts.mtimeMs / 1000)
    })
  }

  private async replaceVia(rel: string, opts: ConfinedAtomicOptions, create: (tmpRel: string) => Promise<void>): Promise<void> {
    const parts = components(rel)
    const name = parts[parts.length - 1] ?? ''
    const dir = parts.slice(0, -1).join(sep)
    const tmp = join(opts.tmpDir ?? dir, tempName(name))
    try {
      await create(tmp)
      await this.rename(tmp, rel)
    } catch (err) {
      // Through the guard too: a temp folder planted as a link is never followed to remove anything.
      await this.unlink(tmp).catch(() => {})
      throw err
    }
    if (opts.syncDir !== false) await this.fsyncDir(dir)
  }

  /**
   * A descriptor of `rel` itself (never a link: O_NOFOLLOW), its folders checked. Only the open
   * goes through the thread pool: the caller's fchmod, futimes and close on it are made at once
   * (a metadata call on an open inode; roots are local folders, never a FUSE mount of this
   * process), 3 round trips through the pool fewer per folder a pin dates.
   */
  private async openNoFollow(rel: string): Promise<number> {
    const parts = components(rel)
    await this.checkDirs(parts.slice(0, -1), false)
    try {
      // O_NONBLOCK: a FIFO planted under the name must not hang the run.
      return await openFd(join(this.real, ...parts), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0)
    } catch (err) {
      throw this.lastComponentError(err, rel)
    }
  }

  /** The absolute path of `rel` when its folders exist (checked); undefined when one is missing. */
  private async existingParentOf(rel: string): Promise<string | undefined> {
    try {
      return await this.parentOf(rel, false)
    } catch (err) {
      if (err instanceof MissingFolder) return undefined
      throw err
    }
  }

  /** A link where the last name should be is refused; any other failure stays the errno error it is. */
  private lastComponentError(err: unknown, rel: string): unknown {
    return errnoCode(err) === 'ELOOP' ? this.refusal(rel, 'a symbolic link') : err
  }

  private refusal(rel: string, what: string): FlickrfsError {
    const path = this.display(rel)
    return new FlickrfsError('DEST', `${path} is ${what}; flickrfs writes only real folders and files inside ${this.shown}. Move it aside and run again.`)
  }

  /**
   * The absolute path of the folder `parts` when it and every folder above it were checked less than
   * `recheckMs` ago; undefined when one needs checking (checkedFolder). Spares a write the promise.
   */
  private recentlyChecked(parts: readonly string[]): string | undefined {
    const now = this.now()
    let rel = ''
    for (const part of parts) {
      rel = rel === '' ? part : rel + sep + part
      const seen = this.verified.get(rel)
      if (seen === undefined || now - seen >= this.recheckMs) return undefined
    }
    return rel === '' ? this.real : join(this.real, rel)
  }

  /** parentOf's answer when its folders were checked less than `recheckMs` ago (no promise); else undefined. */
  private recentParentOf(rel: string): string | undefined {
    const parts = components(rel)
    const name = parts.pop()
    if (name === undefined) return undefined
    const dir = this.recentlyChecked(parts)
    return dir === undefined ? undefined : join(dir, name)
  }

  /** checkDirs (creating missing folders), then the folder's absolute path. */
  private async checkedFolder(parts: string[]): Promise<string> {
    await this.checkDirs(parts, true)
    return join(this.real, ...parts)
  }

  /**
   * lstat-checks (or creates) each folder of `parts`, skipping those verified less than `recheckMs`
   * ago, and joining a check of the same folder already in flight (one that may create it, or any
   * when nothing is to be created): its lstat was made now, its answer (a refusal too) is ours.
   */
  private async checkDirs(parts: string[], create: boolean, mode = 0o755): Promise<void> {
    const now = this.now()
    let rel = ''
    for (const part of parts) {
      rel = rel === '' ? part : rel + sep + part
      const seen = this.verified.get(rel)
      if (seen !== undefined && now - seen < this.recheckMs) continue
      const pending = this.checking.get(rel)
      if (pending !== undefined && (pending.create || !create)) {
        await pending.done
        continue
      }
      const done = this.checkDir(rel, create, mode, now)
      const entry = { create, done }
      this.checking.set(rel, entry)
      try {
        await done
      } finally {
        if (this.checking.get(rel) === entry) this.checking.delete(rel)
      }
    }
  }

  /** lstat-checks (or creates) the one folder `rel`, and remembers it verified at `now`. */
  private async checkDir(rel: string, create: boolean, mode: number, now: number): Promise<void> {
    const path = join(this.real, rel)
    let st
    try {
      st = await lstat(path)
    } catch (err) {
      if (!isEnoent(err)) throw destWriteError(err, this.display(rel))
      if (!create) throw new MissingFolder(this.display(rel))
      try {
        await mkdir(path, mode)
      } catch (mkErr) {
        // Made by a concurrent writer of ours: check what it is like any other.
        if (errnoCode(mkErr) !== 'EEXIST') throw destWriteError(mkErr, this.display(rel))
        st = await lstat(path)
      }
    }
    if (st !== undefined && !st.isDirectory()) throw this.refusal(rel, st.isSymbolicLink() ? 'a symbolic link' : 'not a folder')
    this.verified.set(rel, now)
  }
}

/**
 * The guard of `root` with its state folder (ROOT/.flickrfs) made, and the catalog's sqlite files
 * checked: sqlite opens them by name and would follow a link planted in their place.
 */
export async function confineState(root: string): Promise<Confined> {
  const confined = await Confined.open(root, { create: true })
  await confined.mkdirp(STATE_DIR_NAME)
  for (const suffix of ['', '-journal', '-wal', '-shm']) await confined.assertPlainFile(join(STATE_DIR_NAME, CATALOG_FILE_NAME + suffix))
  return confined
}

/** A folder on the way does not exist (and was not to be created). */
class MissingFolder extends Error {
  readonly code = 'ENOENT'
  constructor(path: string) {
    super(`ENOENT: ${path} does not exist`)
  }
}

/**
 * `mkdir -p` of a root whose error says what is really wrong: util/fs.ts mkdirLevels, which gives
 * the failing level's own errno (Node's recursive mkdir reports ENOENT for EROFS, and spins
 * forever on /proc/foo). Above the root flickrfs does not judge: the user chose the path.
 */
async function makeRoot(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined)
  if (st !== undefined && !st.isDirectory()) {
    throw new FlickrfsError('DEST', `${dir} exists and is not a folder. Give flickrfs a folder (it is created when missing).`)
  }
  if (st !== undefined) return
  try {
    await mkdirLevels(dir)
  } catch (err) {
    throw destWriteError(err, typeof (err as NodeJS.ErrnoException).path === 'string' ? (err as NodeJS.ErrnoException).path as string : dir)
  }
}
