/**
 * What pin and mount check about their folder before touching it.
 *
 * - An empty DEST (`flickrfs pin "$DEST"` with DEST unset, in cron) is a usage error: it would
 *   otherwise pin into the working directory.
 * - A folder pin cannot write (a backup disk mounted read-only) is refused in one line, before
 *   anything is created; status, verify and `mount --offline` read it as it is.
 * - A non-empty folder with no .flickrfs/ is most likely a typo or the wrong disk: pin would fill
 *   it with the account's tree (and --delete-unknown would prune in it), so it is refused unless
 *   --force is given, or it is a mirror made by flickrmirrorer, which flickrfs takes over.
 * The same holds for `mount --cache DIR`: a cache is flickrfs's own folder, so a non-empty folder
 * that is neither a flickrfs folder nor a flickrmirrorer mirror is refused there too.
 * - A DEST on a filesystem without symbolic links (an exFAT or FAT backup drive) is refused before
 *   anything is downloaded: a mirror's set and collection folders are symlinks into photostream/,
 *   and a pin would otherwise download every original, then fail writing the first link, at every run.
 */
import { randomBytes } from 'node:crypto'
import { lstat, readdir, stat, symlink, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { destWriteError, errnoCode, isEnoent } from '../util/fs-errors.js'
import { unwritableReason } from '../util/read-only.js'
import { STATE_DIR_NAME, STATE_REL } from '../util/state-paths.js'

/** What a fresh filesystem may hold before anyone wrote to it. */
const IGNORABLE = new Set(['lost+found'])

export interface FolderCheck {
  /** The flag that named the folder, for the messages: `DEST` or `--cache`. */
  what: 'DEST' | '--cache'
  /** What to tell the user to add to use a foreign folder anyway. */
  force?: boolean
  /** The folder will be written (pin, an online mount); a read-only one is refused. */
  writes: boolean
  /** The folder will hold a mirror's tree, whose set folders are symlinks (pin): a filesystem without them is refused. */
  links?: boolean
}

/** Checks the folder named `arg` (see the top of this file) and returns its absolute path. */
export async function checkFolder(arg: string, opts: FolderCheck): Promise<string> {
  if (arg.trim() === '') {
    throw new FlickrfsError('USAGE', `${opts.what} is empty (an unset variable?). Give the folder to use, e.g. ${opts.what === 'DEST' ? 'flickrfs pin ~/flickr-mirror' : 'flickrfs mount --cache ~/flickr-mirror MNT'}.`)
  }
  const dir = resolve(arg)
  let names: string[]
  try {
    if (!(await stat(dir)).isDirectory()) {
      throw new FlickrfsError('DEST', `${dir} exists and is not a directory. Give ${opts.what} a directory (it is created when missing).`)
    }
    names = await readdir(dir)
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    if (!isEnoent(err)) throw destWriteError(err, dir)
    names = []
  }
  if (opts.writes) {
    const reason = (await unwritableReason(dir)) ?? (names.includes(STATE_DIR_NAME) ? await unwritableReason(join(dir, STATE_DIR_NAME)) : undefined)
    if (reason !== undefined) {
      const why = reason === 'EROFS' ? 'on a read-only filesystem' : 'not writable by this user'
      throw new FlickrfsError('DEST', `${opts.what} is read-only: ${dir} is ${why} (${reason}). ` +
        (opts.what === 'DEST' ? 'status, verify and `mount --cache DEST --offline` still read it; pin needs it writable.' : 'Add --offline to serve what it holds.'))
    }
  }
  const foreign = names.filter((n) => !IGNORABLE.has(n))
  // Last: a folder refused above is left exactly as it was (the probe moves its mtime).
  if (foreign.length === 0 || names.includes(STATE_DIR_NAME) || opts.force === true || await isFlickrmirrorerMirror(dir, names)) {
    if (opts.links === true) await refuseWithoutLinks(dir, opts.what)
    return dir
  }
  const shown = foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(', ') + (foreign.length > 3 ? ', …' : '')
  throw new FlickrfsError('DEST', `${dir} is not empty (${shown}) and is not a flickrfs folder (no ${STATE_DIR_NAME}/ in it): a typo, or the wrong disk? ` +
    `Choose an empty or new folder, or add --force to use this one anyway.`)
}

/**
 * A mirror the original flickrmirrorer made: photostream/ holds `<id>.<ext>` originals with their
 * `<id>.<ext>.metadata`, next to its album folders: `Set <id> - …` and `Not in any set` (older
 * versions), or `Albums/`, `Collections/` and `Not in any album/` (later ones).
 */
export async function isFlickrmirrorerMirror(dir: string, names?: readonly string[]): Promise<boolean> {
  const top = names ?? (await readdir(dir).catch(() => [] as string[]))
  if (!top.includes('photostream')) return false
  const albums = top.some((n) => /^Set \d+( - |$)/.test(n) || ['Not in any set', 'Albums', 'Collections', 'Not in any album'].includes(n))
  if (!albums) return false
  let inside: string[]
  try {
    inside = await readdir(join(dir, 'photostream'))
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR' || isEnoent(err)) return false
    throw destWriteError(err, join(dir, 'photostream'))
  }
  const present = new Set(inside)
  return inside.some((n) => /^\d+\.[A-Za-z0-9]{1,8}$/.test(n) && present.has(`${n}.metadata`))
}

/** Refuses `dir` when its filesystem cannot hold symbolic links (see the top of this file). */
async function refuseWithoutLinks(dir: string, what: FolderCheck['what']): Promise<void> {
  const code = await symlinksRefused(dir)
  if (code === undefined) return
  throw new FlickrfsError('DEST', `${what} cannot hold symbolic links: ${dir} is on a filesystem without them (${code}; exFAT and FAT drives have none), ` +
    `and a mirror's set and collection folders are symlinks into photostream/. Choose a folder on a filesystem that has them ` +
    `(ext4, XFS, Btrfs, APFS, NTFS through ntfs-3g), or format the drive with one. Nothing was downloaded.`)
}

/** What a filesystem without symbolic links answers symlink(2) with: vfat EPERM, a FUSE one without the call (exfat-fuse) ENOSYS. */
const NO_SYMLINKS = new Set(['EPERM', 'ENOSYS', 'EOPNOTSUPP', 'ENOTSUP'])

/**
 * The error a symlink made under `dir` fails with when the filesystem has none; undefined when one
 * can be made, or the answer says nothing about links (the probe is removed at once). Made in
 * .flickrfs/tmp when DEST has one: a link made and removed in DEST itself would move DEST's mtime,
 * which the last pin's tree record holds, and every no-change pin would then check the whole tree.
 * Otherwise in DEST, or, when it does not exist yet, in its nearest existing parent (where it is
 * about to be made).
 */
async function symlinksRefused(dir: string): Promise<string | undefined> {
  const isDir = (p: string): Promise<boolean> => stat(p).then((st) => st.isDirectory(), () => false)
  // Below DEST, only a real folder: never through a link planted as .flickrfs or .flickrfs/tmp
  // (pin refuses those later, and writes nothing through them; nor does this).
  const realDir = (p: string): Promise<boolean> => lstat(p).then((st) => st.isDirectory(), () => false)
  const state = join(dir, STATE_DIR_NAME)
  const tmp = join(dir, STATE_REL.tmp)
  let at = (await realDir(state)) && (await realDir(tmp)) ? tmp : (await realDir(state)) ? state : dir
  while (!(await isDir(at))) {
    if (dirname(at) === at) return undefined
    at = dirname(at)
  }
  const probe = join(at, `.flickrfs-link-check-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    await symlink('photostream', probe)
  } catch (err) {
    const code = errnoCode(err)
    return code !== undefined && NO_SYMLINKS.has(code) ? code : undefined
  }
  await unlink(probe).catch(() => undefined)
  return undefined
}
