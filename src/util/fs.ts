/**
 * The one owner of the file operations every part of flickrfs needs: writing a file so that its
 * final name only ever holds a whole version (atomic write), making a rename durable (fsync of the
 * directory), reading a range of an open file completely, asking whether a path exists, and
 * listing a big folder without holding its names.
 * Nothing here knows about Flickr, the layout or the store.
 *
 * These functions follow symlinks on the way to `path`: they are for files outside any root (the
 * config folder). Everything written under a cache root or DEST goes through confine.ts's
 * `Confined`, whose writeFileAtomic and symlinkAtomic are the same steps with every folder on the
 * way checked and the last name never followed.
 */
import { randomBytes } from 'node:crypto'
import { readSync, writeSync } from 'node:fs'
import { lstat, lutimes, mkdir, open, opendir, rename, rm, stat, symlink, utimes, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { errnoCode } from './fs-errors.js'

/**
 * This process's part of every temp name: random bytes drawn once (a later process with the same
 * pid draws others) and a counter. Drawing random bytes for each name cost a pin of 700 items
 * 20–40 ms of CPU (one per sidecar); the names are as unique.
 */
const tempTag = `${process.pid}.${randomBytes(6).toString('hex')}`
let tempCount = 0

/** A temp name for `name` no other writer (this process or another) can pick: pid, this process's random tag, a counter. */
export function tempName(name: string): string {
  return `.${name}.${tempTag}.${(tempCount++).toString(36)}.tmp`
}

function tempPathFor(path: string, tmpDir?: string): string {
  return join(tmpDir ?? dirname(path), tempName(basename(path)))
}

export interface AtomicWriteOptions {
  /** File mode, set explicitly so the umask does not change it. Default 0o644. */
  mode?: number
  /** Modification (and access) time of the new file, in ms since the epoch, set before the rename. */
  mtimeMs?: number
  /**
   * Where the temp file lives; default the folder of `path`. Must be on the same filesystem.
   * pin uses DEST/.flickrfs/tmp so that a crash never leaves temp files in the user's tree.
   */
  tmpDir?: string
  /**
   * fsync the folder after the rename, so the new name survives a power cut. Default true. Callers
   * that write many files which the next run rewrites anyway may turn it off: the write stays
   * atomic, only the durability of the rename is left to the filesystem.
   */
  syncDir?: boolean
}

/**
 * Writes `data` under `path` atomically: a unique temp file, write, fsync the file, rename over
 * `path`, fsync the folder. `path` holds either the old or the new content, never a part; on
 * failure the temp file is removed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o644
  await replaceVia(path, opts, async (tmp) => {
    const fh = await open(tmp, 'wx', mode)
    try {
      await fh.chmod(mode)
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (opts.mtimeMs !== undefined) await utimes(tmp, opts.mtimeMs / 1000, opts.mtimeMs / 1000)
  })
}

/**
 * Makes `path` a symlink to `target`, replacing whatever file or link is there in one rename.
 * Same options as writeFileAtomic except `mode` (a symlink has none).
 */
export async function symlinkAtomic(path: string, target: string, opts: Omit<AtomicWriteOptions, 'mode'> = {}): Promise<void> {
  await replaceVia(path, opts, async (tmp) => {
    await symlink(target, tmp)
    if (opts.mtimeMs !== undefined) await lutimes(tmp, opts.mtimeMs / 1000, opts.mtimeMs / 1000)
  })
}

/** `create` makes the new entry under a temp name; it then replaces `path` in one rename. */
async function replaceVia(path: string, opts: AtomicWriteOptions, create: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(path, opts.tmpDir)
  try {
    await create(tmp)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {})
    throw err
  }
  if (opts.syncDir !== false) await fsyncDir(dirname(path))
}

/**
 * Writes of up to this many bytes into a local file are made at once (into the page cache) rather
 * than through libuv's thread pool, whose round trip costs more CPU than copying that much: most
 * photos and every sidecar are one such write. The one value for the store's .part files
 * (store/download.ts) and Confined.writeFileAtomic; never for files on a FUSE mount.
 */
export const SYNC_WRITE_MAX = 1 << 17

/** Errors by which a filesystem says it does not fsync directories; the rename is atomic anyway. */
const NO_DIR_FSYNC = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF'])

/** Whether `err` of a folder's fsync only says the filesystem does not fsync folders (not a failure). */
export function isNoDirFsync(err: unknown): boolean {
  return NO_DIR_FSYNC.has(errnoCode(err) ?? '')
}

/** fsync a folder, so that renames and unlinks in it are on disk. Opening the folder must succeed. */
export async function fsyncDir(dir: string): Promise<void> {
  await fsyncDirHandle(await open(dir, 'r'))
}

/** fsyncs an open folder and closes it; a filesystem that cannot fsync folders is not an error. */
export async function fsyncDirHandle(fh: FileHandle): Promise<void> {
  try {
    await fh.sync()
  } catch (err) {
    if (!isNoDirFsync(err)) throw err
  } finally {
    await fh.close()
  }
}

/**
 * Writes all of `bytes` to `fd` on this thread (one writeSync may write fewer than asked): at
 * `position`, or at the file's offset when none is given.
 */
export function writeFullySync(fd: number, bytes: Uint8Array, position?: number): void {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, position === undefined ? null : position + done)
}

/**
 * Reads `into.length` bytes (or `length`) of `fd` at `position` into `into` on this thread (one
 * readSync may read fewer than asked): the bytes read, fewer only at end of file.
 */
export function readFullySync(fd: number, into: Uint8Array, position: number, length = into.byteLength): number {
  let got = 0
  while (got < length) {
    const n = readSync(fd, into, got, length - got, position + got)
    if (n === 0) break
    got += n
  }
  return got
}

/** Reads `length` bytes at `position` into a new Buffer; fewer only at end of file. */
export async function readFully(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done === length ? buf : buf.subarray(0, done)
}

/** Whether `path` exists (following symlinks). Any failure to stat it counts as "no". */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

/** Entries read per call when a folder's listing is streamed (opendir's buffer). */
const LISTING_BATCH = 1024

/**
 * The names in the folder `path`, streamed: a batch of LISTING_BATCH at a time, so that none is
 * held once looked at (a big mirror's photostream/ is 2,000,000 names; a readdir held them all).
 */
export async function* streamedNames(path: string): AsyncGenerator<string> {
  for await (const entry of await opendir(path, { bufferSize: LISTING_BATCH })) yield entry.name
}

/**
 * `mkdir -p`, each missing level made on its own, top first; resolves with the first folder it
 * made, as Node's recursive mkdir does (undefined when `dir` was there). That mkdir spins forever at
 * full CPU where a parent exists but refuses the child with ENOENT (/proc/foo), and reports ENOENT
 * for EROFS; here the failing level's own error comes back, with its path.
 */
export async function mkdirLevels(dir: string, mode?: number): Promise<string | undefined> {
  const missing: string[] = []
  for (let at = resolve(dir); !(await lstat(at).then(() => true, () => false));) {
    missing.unshift(at)
    const parent = dirname(at)
    if (parent === at) break
    at = parent
  }
  let first: string | undefined
  for (const level of missing) {
    try {
      await mkdir(level, mode === undefined ? undefined : { mode })
      first ??= level
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err
    }
  }
  return first
}
