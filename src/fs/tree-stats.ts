import type { FsDir } from './types.js'

export interface StatfsResult {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  fsid: number
  flag: number
  namemax: number
}

const ST_RDONLY = 1
const UINT32_MAX = 0xffff_ffff
const totals = new WeakMap<FsDir, { bytes: number; nodes: number }>()

/** Totals of a tree, walked once per tree (trees are immutable). */
function totalsOf(root: FsDir): { bytes: number; nodes: number } {
  let t = totals.get(root)
  if (!t) {
    let bytes = 0
    let nodes = 0
    const stack: FsDir[] = [root]
    for (let dir = stack.pop(); dir; dir = stack.pop()) {
      nodes++
      for (const child of dir.children.values()) {
        if (child.kind === 'dir') stack.push(child)
        else {
          nodes++
          if (child.kind === 'file') bytes += child.size
        }
      }
    }
    t = { bytes, nodes }
    totals.set(root, t)
  }
  return t
}

/** df shows the account's size as used and nothing free: it is read-only. Never asks the network. */
export function statfsOf(root: FsDir): StatfsResult {
  const { bytes, nodes } = totalsOf(root)
  // fuse-native passes these as uint32: grow the fragment size until the block count fits.
  let frsize = 4096
  while (Math.ceil(bytes / frsize) > UINT32_MAX) frsize *= 2
  return {
    bsize: 128 * 1024,
    frsize,
    blocks: Math.ceil(bytes / frsize),
    bfree: 0,
    bavail: 0,
    files: Math.min(nodes, UINT32_MAX),
    ffree: 0,
    favail: 0,
    fsid: 0,
    flag: ST_RDONLY,
    namemax: 255,
  }
}
