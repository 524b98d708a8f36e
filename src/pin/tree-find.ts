/**
 * The lstat numbers of every entry of one big folder from a single GNU find process, for the tree
 * check (tree-check.ts): photostream/ of 50,000 items holds ~100,000 files whose bytes can change in
 * place, so each is checked by its own ctime, and ~45% of an lstatSync in Node 20 is Node's side
 * (its Stats object, four Dates). find makes the same lstat (fstatat, AT_SYMLINK_NOFOLLOW) in C and
 * runs on its own core, from the moment the record is read, while this process opens the catalog
 * and waits on the refresh's calls.
 *
 * What it prints is parsed back into the very numbers Node's lstat gives, which the record holds:
 * ino and size as decimal integers, the mode from its type letter (%y) and its permission bits (%m,
 * octal, with setuid, setgid and sticky), mtimeMs and ctimeMs from %T@ and %C@: GNU find prints a
 * timespec as `tv_sec.tv_nsec` followed by a 0 (tv_sec as is, negative before 1970, with tv_nsec
 * after it: 1969-12-31 23:59:59.5 is `-1.5000000000`), from which Node's sec * 1e3 + nsec / 1e6 is
 * computed the same way. Entries end with a NUL, the name last, so a name with a space, a newline
 * or any byte but NUL and '/' cannot be mistaken for another.
 *
 * Anything else is "no listing" (undefined), and the caller lstats that folder itself, as before:
 * find missing or not GNU's (no -printf), a failure to start, a nonzero exit, anything on its
 * stderr, a line that does not parse, a name seen twice, or the folder's own numbers (find prints
 * the folder first, `%P` empty) not those of Node's lstat of it right after. LC_ALL=C: no locale
 * changes how numbers are printed.
 */
import { spawn } from 'node:child_process'
import { lstatSync, constants as fsConstants } from 'node:fs'

/** ino, size, mode, mtimeMs, ctimeMs: as tree-check.ts NUMBERS_PER_ENTRY. */
const NUMBERS = 5

/** What find prints of each entry: the five numbers (mode as type and permissions), then the name. */
const FORMAT = '%i %s %y %m %T@ %C@ %P\\0'

const { S_IFREG, S_IFDIR, S_IFLNK, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } = fsConstants

/** find's %y letters as the S_IF* bits of a mode. */
const TYPE_BITS: Record<string, number> = { f: S_IFREG, d: S_IFDIR, l: S_IFLNK, b: S_IFBLK, c: S_IFCHR, p: S_IFIFO, s: S_IFSOCK }

/** The entries of a folder as find listed them: `numbers` from `NUMBERS * index`. */
export interface FolderListing {
  /** Each name's index. */
  index: Map<string, number>
  numbers: Float64Array
}

/** A running find of one folder: `listing` resolves to its entries, or undefined when they cannot be trusted (see the top). */
export interface FolderFind {
  listing: Promise<FolderListing | undefined>
  /** Stops it (the answer is no longer wanted); `listing` then resolves to undefined. */
  stop(): void
}

/** Starts `find DIR -maxdepth 1` (DIR absolute, so never taken for an option) at once. */
export function findFolder(dir: string, program = 'find'): FolderFind {
  let stopped = false
  let kill = (): void => {}
  const listing = new Promise<FolderListing | undefined>((resolve) => {
    const out: Buffer[] = []
    let failed = false
    let child
    try {
      child = spawn(program, [dir, '-maxdepth', '1', '-printf', FORMAT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
    } catch {
      resolve(undefined)
      return
    }
    kill = () => child.kill()
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', () => (failed = true))
    child.once('error', () => (failed = true))
    child.once('close', (code: number | null) => {
      resolve(failed || stopped || code !== 0 ? undefined : trusted(dir, parseListing(Buffer.concat(out).toString('utf8'))))
    })
  })
  return {
    listing,
    stop() {
      stopped = true
      kill()
    },
  }
}

/** `listing` when it holds the folder itself (name '') with the numbers Node's lstat gives it now. */
function trusted(dir: string, listing: FolderListing | undefined): FolderListing | undefined {
  const self = listing?.index.get('')
  if (listing === undefined || self === undefined) return undefined
  let st
  try {
    st = lstatSync(dir)
  } catch {
    return undefined
  }
  const n = listing.numbers
  const at = self * NUMBERS
  const same = n[at] === st.ino && n[at + 1] === st.size && n[at + 2] === st.mode && n[at + 3] === st.mtimeMs && n[at + 4] === st.ctimeMs
  return same ? listing : undefined
}

/**
 * find's output (FORMAT), decoded as UTF-8 in one piece (bytes that are not UTF-8 become U+FFFD;
 * a NUL stays a NUL), as a listing; undefined when any entry does not parse or a name comes twice.
 */
export function parseListing(text: string): FolderListing | undefined {
  const index = new Map<string, number>()
  // At least ~40 characters an entry: room enough, cut to size at the end.
  const numbers = new Float64Array(Math.ceil(text.length / 16) * NUMBERS)
  const p = { at: 0 }
  let n = 0
  while (p.at < text.length) {
    const ino = integer(text, p)
    const size = integer(text, p)
    const typeBits = TYPE_BITS[text.charAt(p.at)]
    if (typeBits === undefined || text.charCodeAt(p.at + 1) !== SPACE) return undefined
    p.at += 2
    const perms = octal(text, p)
    const mtimeMs = timeMs(text, p)
    const ctimeMs = timeMs(text, p)
    const end = text.indexOf('\0', p.at)
    if (ino === undefined || size === undefined || perms === undefined || mtimeMs === undefined || ctimeMs === undefined || end === -1) return undefined
    const name = text.slice(p.at, end)
    // Two names the same once decoded (bytes that are not UTF-8): not a listing to trust.
    if (index.has(name)) return undefined
    index.set(name, n)
    const at = n++ * NUMBERS
    numbers[at] = ino
    numbers[at + 1] = size
    numbers[at + 2] = typeBits | perms
    numbers[at + 3] = mtimeMs
    numbers[at + 4] = ctimeMs
    p.at = end + 1
  }
  return { index, numbers: numbers.subarray(0, n * NUMBERS) }
}

const SPACE = 0x20
const ZERO = 0x30

/** Decimal digits and a space, from `p.at` (moved past the space). Up to 15 digits are exact in a double; more go through Number, rounded as Node rounds a 64-bit ino. */
function integer(text: string, p: { at: number }): number | undefined {
  const from = p.at
  let value = 0
  let c = text.charCodeAt(p.at)
  while (c >= ZERO && c <= ZERO + 9) {
    value = value * 10 + (c - ZERO)
    c = text.charCodeAt(++p.at)
  }
  const digits = p.at - from
  if (digits === 0 || c !== SPACE) return undefined
  p.at++
  return digits <= 15 ? value : Number(text.slice(from, from + digits))
}

/** 1 to 4 octal digits and a space (%m: permissions with setuid, setgid, sticky). */
function octal(text: string, p: { at: number }): number | undefined {
  const from = p.at
  let value = 0
  let c = text.charCodeAt(p.at)
  while (c >= ZERO && c <= ZERO + 7) {
    value = value * 8 + (c - ZERO)
    c = text.charCodeAt(++p.at)
  }
  if (p.at === from || p.at - from > 4 || c !== SPACE) return undefined
  p.at++
  return value
}

/**
 * %T@ / %C@ and a space: `tv_sec.tv_nsec` (an optional '-', up to 15 digits, '.', exactly 9 digits)
 * then the 0 GNU find adds, as Node's mtimeMs / ctimeMs: sec * 1e3 + nsec / 1e6, computed as Node
 * 20 computes them (lib/internal/fs/utils.js msFromTimeSpec), so equal to the bit.
 */
function timeMs(text: string, p: { at: number }): number | undefined {
  const negative = text.charCodeAt(p.at) === 0x2d
  if (negative) p.at++
  const from = p.at
  let sec = 0
  let c = text.charCodeAt(p.at)
  while (c >= ZERO && c <= ZERO + 9) {
    sec = sec * 10 + (c - ZERO)
    c = text.charCodeAt(++p.at)
  }
  if (p.at === from || p.at - from > 15 || c !== 0x2e) return undefined
  p.at++
  let nsec = 0
  for (let i = 0; i < 9; i++) {
    c = text.charCodeAt(p.at++)
    if (!(c >= ZERO && c <= ZERO + 9)) return undefined
    nsec = nsec * 10 + (c - ZERO)
  }
  if (text.charCodeAt(p.at) !== ZERO || text.charCodeAt(p.at + 1) !== SPACE) return undefined
  p.at += 2
  return (negative ? -sec : sec) * 1e3 + nsec / 1e6
}
