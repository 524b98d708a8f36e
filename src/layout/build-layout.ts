import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, SetEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { assignInodes, ROOT_INO } from './inodes.js'
import { collectionMetadata, photoMetadata, photostreamMetadata, setMetadata } from './metadata.js'
import {
  collectionDirName,
  isSafeExt,
  isSafeId,
  mediaFileName,
  METADATA_SUFFIX,
  NAME_MAX_BYTES,
  numberedName,
  numberPrefix,
  setDirName,
} from './names.js'
import { DirNode, LinkNode, MetadataFileNode, OriginalFileNode } from './nodes.js'
import { mediaMtimeMs, wholeSecondsMs } from './times.js'
import type { Layout, LayoutDir, LayoutNode, LayoutOptions, LayoutStats } from './types.js'

export const PHOTOSTREAM_DIR = 'photostream'
export const NOT_IN_ANY_SET_DIR = 'Not in any set'
export const METADATA_FILE = 'metadata'
/** Flickr nests collections only a few levels deep; this only stops a malformed tree. */
const MAX_COLLECTION_DEPTH = 32

interface ShownPhoto {
  photo: PhotoEntry
  media: MediaEntry
  fileName: string
  mtimeMs: number
}

interface ShownSet {
  set: SetEntry
  name: string
  mtimeMs: number
}

/**
 * The LAYOUT.md tree for one catalog snapshot. Pure: the same snapshot and options always give the
 * same names, targets, sizes, times and inode numbers.
 *
 * A photo is shown only once its MediaEntry is known, because until then neither its exact size
 * nor (for a video) its extension is; its set links and Not-in-any-set link wait with it. Records
 * whose id (or media extension) is not a safe file-name part are skipped, never rewritten.
 * Metadata files record what Flickr says (a set's metadata lists all its member ids, shown or not);
 * directories list only what exists.
 */
export function buildLayout(snap: CatalogSnapshot, opts: LayoutOptions = {}): Layout {
  const stats: LayoutStats = { photos: 0, sets: 0, collections: 0, photosWithoutMedia: 0, unsafeRecords: 0 }
  const nodes: LayoutNode[] = []
  const paths: string[] = []
  const add = (dir: DirNode, dirPath: string, node: LayoutNode): boolean => {
    if (dir.children.has(node.name)) return false
    dir.children.set(node.name, node)
    nodes.push(node)
    paths.push(`${dirPath}/${node.name}`)
    return true
  }
  const root = new DirNode('')

  // photostream/
  const shown = new Map<string, ShownPhoto>()
  const photostream = new DirNode(PHOTOSTREAM_DIR)
  add(root, '', photostream)
  const psPath = `/${PHOTOSTREAM_DIR}`
  let psMtime = wholeSecondsMs(snap.photostreamChangedAtMs)
  add(photostream, psPath, new MetadataFileNode(METADATA_FILE, psMtime, () => photostreamMetadata(snap.photostream)))
  for (const id of snap.photostream) {
    if (shown.has(id)) continue
    const photo = snap.photos.get(id)
    if (photo === undefined) continue
    if (!isSafeId(id)) {
      stats.unsafeRecords++
      continue
    }
    if ((photo.media === 'video' && opts.ignoreVideos === true) || (photo.media === 'photo' && opts.ignorePhotos === true)) continue
    const media = snap.media.get(mediaKey(id, photo.secret))
    if (media === undefined) {
      stats.photosWithoutMedia++
      continue
    }
    if (!isSafeExt(media.ext)) {
      stats.unsafeRecords++
      continue
    }
    const fileName = mediaFileName(id, media.ext)
    const mtimeMs = mediaMtimeMs(photo)
    shown.set(id, { photo, media, fileName, mtimeMs })
    add(photostream, psPath, new OriginalFileNode(fileName, mtimeMs, media))
    // Captured now, not at first read: the sidecar's size must never disagree with its bytes.
    const comments = snap.comments.get(id)
    const storeInfo = opts.storeInfo?.(id, photo.secret)
    const ignoreViews = opts.ignoreViews === true
    add(
      photostream,
      psPath,
      new MetadataFileNode(fileName + METADATA_SUFFIX, wholeSecondsMs(photo.changedAtMs), () =>
        photoMetadata({ photo, media, comments, storeInfo, ignoreViews }),
      ),
    )
    psMtime = Math.max(psMtime, wholeSecondsMs(photo.changedAtMs))
  }
  photostream.mtimeMs = psMtime
  stats.photos = shown.size

  // Not in any set/ comes before the sets in readdir order but depends on them, so fill it last.
  const notInSet = new DirNode(NOT_IN_ANY_SET_DIR)
  add(root, '', notInSet)

  // Set …/
  const sets = new Map<string, ShownSet>()
  const inSomeSet = new Set<string>()
  for (const set of snap.sets) {
    if (!isSafeId(set.id)) {
      stats.unsafeRecords++
      continue
    }
    if (sets.has(set.id)) continue
    const dir = new DirNode(setDirName(set.id, set.title))
    add(root, '', dir)
    const dirPath = `/${dir.name}`
    add(dir, dirPath, new MetadataFileNode(METADATA_FILE, wholeSecondsMs(set.changedAtMs), () => setMetadata(set)))
    const members: ShownPhoto[] = []
    for (const photoId of set.photoIds) {
      inSomeSet.add(photoId)
      const member = shown.get(photoId)
      if (member !== undefined) members.push(member)
    }
    let mtimeMs = wholeSecondsMs(set.changedAtMs)
    members.forEach((member, i) => {
      const name = numberedName(i + 1, members.length, member.fileName)
      add(dir, dirPath, new LinkNode(name, member.mtimeMs, `../${PHOTOSTREAM_DIR}/${member.fileName}`))
      mtimeMs = Math.max(mtimeMs, wholeSecondsMs(member.photo.changedAtMs))
    })
    dir.mtimeMs = mtimeMs
    sets.set(set.id, { set, name: dir.name, mtimeMs })
  }
  stats.sets = sets.size

  let notInSetMtime = wholeSecondsMs(snap.photostreamChangedAtMs)
  for (const { set } of sets.values()) notInSetMtime = Math.max(notInSetMtime, wholeSecondsMs(set.changedAtMs))
  for (const [id, item] of shown) {
    if (inSomeSet.has(id)) continue
    add(notInSet, `/${NOT_IN_ANY_SET_DIR}`, new LinkNode(item.fileName, item.mtimeMs, `../${PHOTOSTREAM_DIR}/${item.fileName}`))
    notInSetMtime = Math.max(notInSetMtime, wholeSecondsMs(item.photo.changedAtMs))
  }
  notInSet.mtimeMs = notInSetMtime

  // Collection …/ (nested); sets inside are links back to the root's set directories.
  const buildCollection = (c: CollectionEntry, name: string, dirPath: string, depth: number, ancestors: Set<string>): DirNode => {
    const dir = new DirNode(name)
    stats.collections++
    add(dir, dirPath, new MetadataFileNode(METADATA_FILE, wholeSecondsMs(c.changedAtMs), () => collectionMetadata(c)))
    const memberSets = c.setIds.map((id) => sets.get(id)).filter((s): s is ShownSet => s !== undefined)
    const children: CollectionEntry[] = []
    if (depth < MAX_COLLECTION_DEPTH) {
      for (const child of c.children) {
        if (!isSafeId(child.id)) stats.unsafeRecords++
        else if (!ancestors.has(child.id)) children.push(child)
      }
    }
    const count = memberSets.length + children.length
    let mtimeMs = wholeSecondsMs(c.changedAtMs)
    let n = 0
    const up = '../'.repeat(depth)
    for (const member of memberSets) {
      const prefix = numberPrefix(++n, count)
      const linkName = prefix + setDirName(member.set.id, member.set.title, NAME_MAX_BYTES - prefix.length)
      add(dir, dirPath, new LinkNode(linkName, member.mtimeMs, up + member.name))
      mtimeMs = Math.max(mtimeMs, member.mtimeMs)
    }
    for (const child of children) {
      const prefix = numberPrefix(++n, count)
      const childName = prefix + collectionDirName(child.id, child.title, NAME_MAX_BYTES - prefix.length)
      ancestors.add(child.id)
      const childDir = buildCollection(child, childName, `${dirPath}/${childName}`, depth + 1, ancestors)
      ancestors.delete(child.id)
      add(dir, dirPath, childDir)
      mtimeMs = Math.max(mtimeMs, childDir.mtimeMs)
    }
    dir.mtimeMs = mtimeMs
    return dir
  }
  for (const c of snap.collections) {
    if (!isSafeId(c.id)) {
      stats.unsafeRecords++
      continue
    }
    const name = collectionDirName(c.id, c.title)
    if (root.children.has(name)) continue
    add(root, '', buildCollection(c, name, `/${name}`, 1, new Set([c.id])))
  }

  let rootMtime = 0
  for (const child of root.children.values()) rootMtime = Math.max(rootMtime, child.mtimeMs)
  root.mtimeMs = rootMtime
  root.ino = ROOT_INO
  const inos = assignInodes(paths)
  nodes.forEach((node, i) => {
    ;(node as { ino: number }).ino = inos[i] as number
  })

  return { root, lookup: (path) => lookup(root, path), stats }
}

/** Walks '/'-separated names from the root: O(depth). Empty segments (`//`, a trailing `/`) are ignored. */
export function lookup(root: LayoutDir, path: string): LayoutNode | undefined {
  if (!path.startsWith('/')) return undefined
  let node: LayoutNode = root
  for (const part of path.split('/')) {
    if (part === '') continue
    if (node.kind !== 'dir') return undefined
    const next: LayoutNode | undefined = node.children.get(part)
    if (next === undefined) return undefined
    node = next
  }
  return node
}
