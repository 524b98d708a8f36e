import type { FsDir, FsNode } from './types.js'

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000

/** cat, cp and rsync size their buffers from st_blksize; libfuse 2.9 reads at most 128 KiB at once. */
export const BLKSIZE = 128 * 1024

export interface Owner {
  uid: number
  gid: number
}

/** The stat object fuse-native turns into `struct stat` (times in ms). */
export interface FuseStat {
  mode: number
  uid: number
  gid: number
  size: number
  nlink: number
  ino: number
  blksize: number
  blocks: number
  atime: number
  mtime: number
  ctime: number
}

export function modeOf(node: Pick<FsNode, 'kind'>): number {
  switch (node.kind) {
    // The modes pin writes into DEST, so `rsync -a` of the mount and of DEST agree (LAYOUT.md).
    // Writes are refused by the `ro` mount option, not by these bits.
    case 'dir':
      return S_IFDIR | 0o755
    case 'file':
      return S_IFREG | 0o644
    case 'link':
      return S_IFLNK | 0o777
  }
}

export function sizeOf(node: FsNode): number {
  switch (node.kind) {
    case 'dir':
      return 4096
    case 'file':
      return node.size
    case 'link':
      return Buffer.byteLength(node.target)
  }
}

// find and fts trust nlink - 2 as the count of subdirectories, so it has to be true.
const dirLinks = new WeakMap<FsDir, number>()
function nlinkOf(dir: FsDir): number {
  let n = dirLinks.get(dir)
  if (n === undefined) {
    n = 2
    // A directory that makes its children on demand says how many are directories instead.
    if (dir.subdirCount !== undefined) n += dir.subdirCount
    else for (const child of dir.children.values()) if (child.kind === 'dir') n++
    dirLinks.set(dir, n)
  }
  return n
}

export function statOf(node: FsNode, owner: Owner): FuseStat {
  const size = sizeOf(node)
  return {
    mode: modeOf(node),
    uid: owner.uid,
    gid: owner.gid,
    size,
    nlink: node.kind === 'dir' ? nlinkOf(node) : 1,
    ino: node.ino,
    blksize: BLKSIZE,
    // fuse-native defaults blocks to 0, and then du says 0 and tar --sparse stores holes.
    blocks: Math.ceil(size / 512),
    atime: node.mtimeMs,
    mtime: node.mtimeMs,
    // ctime is the mtime: when this node's content last changed (the layout's whole-second times,
    // no invented fraction), which stays put while the content is the same. restic and borg
    // compare ctime from run to run and tar --listed-incremental dumps what is newer than its last
    // run, so a ctime of "now" would have them re-read everything; and borg 1.2 never caches the
    // files that share the newest ctime it saw, so one time shared by many files costs re-reads.
    ctime: node.mtimeMs,
  }
}
