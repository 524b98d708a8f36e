import type { CatalogSnapshot, CollectionEntry, MediaEntry, PhotoEntry, SetEntry } from '../catalog/types.js'
import { mediaKey } from '../catalog/types.js'
import { fnvUpdate, inoFromState, ROOT_INO, settleCollisions } from './inodes.js'
import { collectionMetadata, photostreamMetadata, setMetadata } from './metadata.js'
import {
  collectionDirName,
  isSafeExt,
  isSafeId,
  isSafeSecret,
  mediaFileName,
  METADATA_SUFFIX,
  NAME_MAX_BYTES,
  numberedName,
  numberPrefix,
  setDirName,
} from './names.js'
import { DirNode, LinkNode, MetadataFileNode, OriginalFileNode, PhotoSidecarNode } from './nodes.js'
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
  /** `../photostream/<file>`, shared by the photo's set links and Not-in-any-set link. */
  target: string
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
  const ignoreViews = opts.ignoreViews === true
  // Under --ignore-views a sidecar does not show views, so a views-only change must not move its mtime.
  const photoChangedMs = (p: PhotoEntry): number =>
    wholeSecondsMs(ignoreViews ? (p.changedAtMsIgnoringViews ?? p.changedAtMs) : p.changedAtMs)
  const stats: LayoutStats = { photos: 0, sets: 0, collections: 0, photosWithoutMedia: 0, unsafeRecords: 0 }
  const nodes: LayoutNode[] = []
  const parents: DirNode[] = []
  // Each node's FNV state extends its directory's, so no path string is built per node; a typed
  // array because half of all int32 states would be boxed numbers in a plain one.
  let states = new Int32Array(4096)
  // Names are unique by construction (ids are deduplicated, numbers are unique, and a safe id
  // has no '.' or ' ', so `<id>.<ext>`, `<id>.<ext>.metadata`, `metadata`, `Set <id>…` cannot meet),
  // so there is no has() check here: on a 200k-entry Map it cost as much as the insert.
  const add = (dir: DirNode, node: LayoutNode): void => {
    dir.children.set(node.name, node)
    if (nodes.length === states.length) {
      const grown = new Int32Array(states.length * 2)
      grown.set(states)
      states = grown
    }
    states[nodes.length] = fnvUpdate(fnvUpdate(dir.fnv, '/'), node.name)
    nodes.push(node)
    parents.push(dir)
  }
  const subdir = (parent: DirNode, name: string): DirNode => {
    const path = `${parent.path}/${name}`
    return new DirNode(name, path, fnvUpdate(fnvUpdate(parent.fnv, '/'), name))
  }
  const root = new DirNode('', '')
  const hourCache = new Map<number, number>()

  // photostream/
  const shown = new Map<string, ShownPhoto>()
  const photostream = subdir(root, PHOTOSTREAM_DIR)
  add(root, photostream)
  let psMtime = wholeSecondsMs(snap.photostreamChangedAtMs)
  add(photostream, new MetadataFileNode(METADATA_FILE, psMtime, () => photostreamMetadata(snap.photostream)))
  for (const id of snap.photostream) {
    if (shown.has(id)) continue
    const photo = snap.photos.get(id)
    if (photo === undefined) continue
    // The store refuses to write an unsafe id or secret: such a file must not be listed.
    if (!isSafeId(id) || !isSafeSecret(photo.secret)) {
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
    const mtimeMs = mediaMtimeMs(photo, hourCache)
    shown.set(id, { photo, media, fileName, target: `../${PHOTOSTREAM_DIR}/${fileName}`, mtimeMs })
    add(photostream, new OriginalFileNode(fileName, mtimeMs, media))
    const comments = snap.comments.get(id)
    const sidecarMtimeMs = photoChangedMs(photo)
    add(photostream, new PhotoSidecarNode(fileName + METADATA_SUFFIX, sidecarMtimeMs, photo, media, comments, opts.hashes, ignoreViews))
    psMtime = Math.max(psMtime, photoChangedMs(photo))
  }
  photostream.mtimeMs = psMtime
  stats.photos = shown.size

  // Not in any set/ comes before the sets in readdir order but depends on them, so fill it last.
  const notInSet = subdir(root, NOT_IN_ANY_SET_DIR)
  add(root, notInSet)

  // Set …/
  const sets = new Map<string, ShownSet>()
  const inSomeSet = new Set<string>()
  for (const set of snap.sets) {
    if (!isSafeId(set.id)) {
      stats.unsafeRecords++
      continue
    }
    if (sets.has(set.id)) continue
    const dir = subdir(root, setDirName(set.id, set.title))
    add(root, dir)
    add(dir, new MetadataFileNode(METADATA_FILE, wholeSecondsMs(set.changedAtMs), () => setMetadata(set)))
    const members: ShownPhoto[] = []
    for (const photoId of set.photoIds) {
      inSomeSet.add(photoId)
      const member = shown.get(photoId)
      if (member !== undefined) members.push(member)
    }
    let mtimeMs = wholeSecondsMs(set.changedAtMs)
    members.forEach((member, i) => {
      const name = numberedName(i + 1, members.length, member.fileName)
      add(dir, new LinkNode(name, member.mtimeMs, member.target))
      mtimeMs = Math.max(mtimeMs, photoChangedMs(member.photo))
    })
    dir.mtimeMs = mtimeMs
    sets.set(set.id, { set, name: dir.name, mtimeMs })
  }
  stats.sets = sets.size

  let notInSetMtime = wholeSecondsMs(snap.photostreamChangedAtMs)
  for (const { set } of sets.values()) notInSetMtime = Math.max(notInSetMtime, wholeSecondsMs(set.changedAtMs))
  for (const [id, item] of shown) {
    if (inSomeSet.has(id)) continue
    add(notInSet, new LinkNode(item.fileName, item.mtimeMs, item.target))
    notInSetMtime = Math.max(notInSetMtime, photoChangedMs(item.photo))
  }
  notInSet.mtimeMs = notInSetMtime

  // Collection …/ (nested); sets inside are links back to the root's set directories.
  const buildCollection = (c: CollectionEntry, dir: DirNode, depth: number, ancestors: Set<string>): DirNode => {
    stats.collections++
    add(dir, new MetadataFileNode(METADATA_FILE, wholeSecondsMs(c.changedAtMs), () => collectionMetadata(c)))
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
      add(dir, new LinkNode(linkName, member.mtimeMs, up + member.name))
      mtimeMs = Math.max(mtimeMs, member.mtimeMs)
    }
    for (const child of children) {
      const prefix = numberPrefix(++n, count)
      const childName = prefix + collectionDirName(child.id, child.title, NAME_MAX_BYTES - prefix.length)
      ancestors.add(child.id)
      const childDir = subdir(dir, childName)
      add(dir, childDir)
      buildCollection(child, childDir, depth + 1, ancestors)
      ancestors.delete(child.id)
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
    const dir = subdir(root, name)
    add(root, dir)
    buildCollection(c, dir, 1, new Set([c.id]))
  }

  let rootMtime = 0
  for (const child of root.children.values()) rootMtime = Math.max(rootMtime, child.mtimeMs)
  root.mtimeMs = rootMtime
  root.ino = ROOT_INO
  const inos = new Uint32Array(nodes.length)
  for (let i = 0; i < nodes.length; i++) inos[i] = inoFromState(states[i] as number)
  settleCollisions(inos, (i) => `${(parents[i] as DirNode).path}/${(nodes[i] as LayoutNode).name}`)
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
