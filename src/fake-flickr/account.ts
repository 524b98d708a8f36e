/**
 * The fake account: plain data plus the mutations a test needs to imitate every kind of change a
 * user can make on Flickr. The server reads it live on every request, so a change made here is what
 * the very next API call sees. Media bytes are not stored (see media-bytes.ts) unless a test
 * overrides them for one item.
 */
import { createHash } from 'node:crypto'
import { mediaBytes } from './media-bytes.js'

export interface FakeUser {
  id: string
  username: string
  fullname: string
  pathAlias: string
  iconserver: string
  iconfarm: number
}

export interface FakeComment {
  id: string
  author: string
  authorname: string
  realname: string
  datecreate: number
  text: string
}

export interface FakeGeo {
  latitude: number
  longitude: number
  accuracy: number
  placeId: string
  woeid: string
}

export interface FakePhoto {
  id: string
  media: 'photo' | 'video'
  /** Secret of the resized images. */
  secret: string
  server: string
  farm: number
  /** Capability of the original; changes when the original is replaced. */
  originalsecret: string
  /** `originalformat`: for a video this is the poster frame's format (Flickr never states the video's). */
  originalformat: string
  /** The video file's extension, revealed only by Content-Disposition on the play URL. */
  videoFormat?: string
  title: string
  description: string
  tags: string[]
  machineTags: string[]
  license: string
  dateupload: number
  lastupdate: number
  /** `YYYY-MM-DD hh:mm:ss`, camera local time (may be `0000-00-00 00:00:00`). */
  datetaken: string
  datetakenunknown: boolean
  width: number
  height: number
  /** Size of the original file: the image for photos, the video file for videos. */
  bytes: number
  /** Test override of the original's content (bytes then equals its length). */
  override?: Buffer
  durationSec?: number
  views: number
  faves: number
  geo?: FakeGeo
  comments: FakeComment[]
}

export interface FakeSet {
  id: string
  title: string
  description: string
  photoIds: string[]
  primary: string
  dateCreate: number
  dateUpdate: number
  views: number
  comments: number
}

export interface FakeCollection {
  id: string
  title: string
  description: string
  setIds: string[]
  children: FakeCollection[]
}

/** What `setCollections` takes: ids are generated where absent. */
export interface CollectionInit {
  id?: string
  title: string
  description?: string
  setIds?: string[]
  children?: CollectionInit[]
}

export interface PhotoInit {
  id?: string
  media?: 'photo' | 'video'
  title?: string
  description?: string
  tags?: string[]
  originalformat?: string
  videoFormat?: string
  bytes?: number | Buffer
  datetaken?: string
  dateupload?: number
}

export type Clock = () => number

function hex(seed: string, len: number): string {
  return createHash('sha1').update(seed).digest('hex').slice(0, len)
}

/** Flickr's 17-digit set/collection ids exceed 2^53, so they are built as strings. */
export function flickrLongId(n: number): string {
  return `72157${String(700000000000 + n)}`
}

export function formatDateTaken(unixSec: number): string {
  return new Date(unixSec * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

export class FakeAccount {
  user: FakeUser
  readonly photos = new Map<string, FakePhoto>()
  /** Photo ids, newest upload first. */
  photostream: string[] = []
  /** The user's own set order. */
  sets: FakeSet[] = []
  /** Top-level collections in Flickr's order. */
  collections: FakeCollection[] = []
  /** Unix seconds; tests may replace it to control `lastupdate`. */
  clock: Clock = () => Math.floor(Date.now() / 1000)
  private nextPhotoId: number
  private nextSetId: number
  private nextCollectionId: number
  private nextCommentId = 1
  private replaceCount = 0

  constructor(user: FakeUser, firstIds: { photo: number; set: number; collection: number }) {
    this.user = user
    this.nextPhotoId = firstIds.photo
    this.nextSetId = firstIds.set
    this.nextCollectionId = firstIds.collection
  }

  // ---- lookups -----------------------------------------------------------

  getPhoto(id: string): FakePhoto | undefined {
    return this.photos.get(id)
  }

  requirePhoto(id: string): FakePhoto {
    const p = this.photos.get(id)
    if (p === undefined) throw new Error(`fake-flickr: no photo ${id}`)
    return p
  }

  getSet(id: string): FakeSet | undefined {
    return this.sets.find((s) => s.id === id)
  }

  requireSet(id: string): FakeSet {
    const s = this.getSet(id)
    if (s === undefined) throw new Error(`fake-flickr: no set ${id}`)
    return s
  }

  findCollection(id: string, within: FakeCollection[] = this.collections): FakeCollection | undefined {
    for (const c of within) {
      if (c.id === id) return c
      const found = this.findCollection(id, c.children)
      if (found !== undefined) return found
    }
    return undefined
  }

  /** Ids of the sets containing a photo, in set order. */
  setsContaining(photoId: string): string[] {
    return this.sets.filter((s) => s.photoIds.includes(photoId)).map((s) => s.id)
  }

  /** Photostream ids (newest first) that are in no set. */
  notInSet(): string[] {
    const inSet = new Set<string>()
    for (const s of this.sets) for (const id of s.photoIds) inSet.add(id)
    return this.photostream.filter((id) => !inSet.has(id))
  }

  /** Every comment-carrying photo id. */
  commented(): string[] {
    return this.photostream.filter((id) => (this.photos.get(id)?.comments.length ?? 0) > 0)
  }

  /** The exact bytes of a photo's current original (materialized: for tests, keep it small). */
  originalBytes(id: string): Buffer {
    const p = this.requirePhoto(id)
    return p.override ?? mediaBytes(originalIdentity(p), p.bytes)
  }

  // ---- mutations ---------------------------------------------------------

  /** Moves lastupdate forward, strictly, even twice within one second. */
  touch(p: FakePhoto): void {
    p.lastupdate = Math.max(this.clock(), p.lastupdate + 1)
  }

  editPhoto(id: string, patch: { title?: string; description?: string; tags?: string[]; datetaken?: string }): FakePhoto {
    const p = this.requirePhoto(id)
    if (patch.title !== undefined) p.title = patch.title
    if (patch.description !== undefined) p.description = patch.description
    if (patch.tags !== undefined) p.tags = [...patch.tags]
    if (patch.datetaken !== undefined) {
      p.datetaken = patch.datetaken
      p.datetakenunknown = false
    }
    this.touch(p)
    return p
  }

  /** A new original: new originalsecret and lastupdate, possibly a new format or exact bytes. */
  replaceOriginal(id: string, opts: { format?: string; bytes?: number | Buffer } = {}): FakePhoto {
    const p = this.requirePhoto(id)
    this.replaceCount += 1
    p.originalsecret = hex(`${p.id}:${p.originalsecret}:${this.replaceCount}`, 10)
    if (opts.format !== undefined) {
      if (p.media === 'video') p.videoFormat = opts.format
      else p.originalformat = opts.format
    }
    if (Buffer.isBuffer(opts.bytes)) {
      p.override = opts.bytes
      p.bytes = opts.bytes.length
    } else {
      delete p.override
      if (typeof opts.bytes === 'number') p.bytes = opts.bytes
    }
    this.touch(p)
    return p
  }

  /** Overrides one item's original bytes without changing its secret (a test fixture, not a Flickr event). */
  setBytes(id: string, bytes: Buffer): void {
    const p = this.requirePhoto(id)
    p.override = bytes
    p.bytes = bytes.length
  }

  /** Deletes a photo everywhere; like Flickr, a set left empty is deleted too. */
  deletePhoto(id: string): void {
    this.requirePhoto(id)
    this.photos.delete(id)
    this.photostream = this.photostream.filter((x) => x !== id)
    for (const s of [...this.sets]) {
      if (!s.photoIds.includes(id)) continue
      s.photoIds = s.photoIds.filter((x) => x !== id)
      if (s.photoIds.length === 0) this.deleteSet(s.id)
      else {
        if (s.primary === id) s.primary = s.photoIds[0] ?? ''
        s.dateUpdate = this.clock()
      }
    }
  }

  /** A new upload, at the head of the photostream. */
  addPhoto(init: PhotoInit = {}): FakePhoto {
    const now = this.clock()
    const id = init.id ?? String(this.nextPhotoId++)
    if (this.photos.has(id)) throw new Error(`fake-flickr: photo ${id} exists`)
    const media = init.media ?? 'photo'
    const upload = init.dateupload ?? Math.max(now, this.newestUpload() + 1)
    const p: FakePhoto = {
      id,
      media,
      secret: hex(`s:${id}`, 10),
      server: String(65535 - (Number(id) % 1000)),
      farm: 66,
      originalsecret: hex(`o:${id}`, 10),
      originalformat: init.originalformat ?? 'jpg',
      title: init.title ?? `Upload ${id}`,
      description: init.description ?? '',
      tags: init.tags ?? [],
      machineTags: [],
      license: '0',
      dateupload: upload,
      // An upload dated back (init.dateupload) is still a change made now.
      lastupdate: Math.max(now, upload),
      datetaken: init.datetaken ?? formatDateTaken(upload),
      datetakenunknown: init.datetaken === undefined,
      width: 4000,
      height: 3000,
      bytes: 70_000,
      views: 0,
      faves: 0,
      comments: [],
    }
    if (media === 'video') {
      p.videoFormat = init.videoFormat ?? 'mov'
      p.durationSec = 12
      p.width = 1920
      p.height = 1080
    }
    if (Buffer.isBuffer(init.bytes)) {
      p.override = init.bytes
      p.bytes = init.bytes.length
    } else if (typeof init.bytes === 'number') p.bytes = init.bytes
    this.photos.set(id, p)
    // Newest upload first (at one date, the later upload first): an upload dated back
    // (init.dateupload) lands where its date puts it.
    const at = this.photostream.findIndex((other) => (this.photos.get(other)?.dateupload ?? 0) <= upload)
    if (at < 0) this.photostream.push(id)
    else this.photostream.splice(at, 0, id)
    return p
  }

  addComment(photoId: string, text: string, author?: { nsid: string; username: string }): FakeComment {
    const p = this.requirePhoto(photoId)
    const last = p.comments[p.comments.length - 1]
    const when = Math.max(this.clock(), last === undefined ? 0 : last.datecreate + 1)
    const who = author ?? { nsid: '98765432@N00', username: 'a friend' }
    const c: FakeComment = {
      id: `${this.user.id.split('@')[0] ?? '1'}-${photoId}-${7215760000000 + this.nextCommentId++}`,
      author: who.nsid,
      authorname: who.username,
      realname: '',
      datecreate: when,
      text,
    }
    p.comments.push(c)
    this.touch(p)
    return c
  }

  addSet(init: { title: string; description?: string; photoIds: string[]; primary?: string; id?: string }): FakeSet {
    if (init.photoIds.length === 0) throw new Error('fake-flickr: a set needs at least one photo')
    for (const id of init.photoIds) this.requirePhoto(id)
    const now = this.clock()
    const s: FakeSet = {
      id: init.id ?? flickrLongId(this.nextSetId++),
      title: init.title,
      description: init.description ?? '',
      photoIds: [...init.photoIds],
      primary: init.primary ?? init.photoIds[0] ?? '',
      dateCreate: now,
      dateUpdate: now,
      views: 0,
      comments: 0,
    }
    // Flickr puts a newly created set first in the user's set order.
    this.sets.unshift(s)
    return s
  }

  renameSet(id: string, title: string, description?: string): FakeSet {
    const s = this.requireSet(id)
    s.title = title
    if (description !== undefined) s.description = description
    s.dateUpdate = this.clock()
    return s
  }

  /** New album order; `ids` may also add or drop members (Flickr's editPhotos). */
  reorderSet(id: string, ids: string[]): FakeSet {
    const s = this.requireSet(id)
    for (const pid of ids) this.requirePhoto(pid)
    s.photoIds = [...ids]
    if (!ids.includes(s.primary)) s.primary = ids[0] ?? ''
    s.dateUpdate = this.clock()
    return s
  }

  addToSet(setId: string, photoId: string): void {
    const s = this.requireSet(setId)
    this.requirePhoto(photoId)
    if (!s.photoIds.includes(photoId)) s.photoIds.push(photoId)
    s.dateUpdate = this.clock()
  }

  removeFromSet(setId: string, photoId: string): void {
    const s = this.requireSet(setId)
    s.photoIds = s.photoIds.filter((x) => x !== photoId)
    if (s.photoIds.length === 0) this.deleteSet(setId)
    else {
      if (s.primary === photoId) s.primary = s.photoIds[0] ?? ''
      // Like every other change of a set's members here (and deletePhoto's), it moves date_update.
      s.dateUpdate = this.clock()
    }
  }

  /** New order of the user's sets (all set ids). */
  orderSets(ids: string[]): void {
    const byId = new Map(this.sets.map((s) => [s.id, s]))
    const ordered = ids.map((id) => byId.get(id)).filter((s): s is FakeSet => s !== undefined)
    const rest = this.sets.filter((s) => !ids.includes(s.id))
    this.sets = [...ordered, ...rest]
  }

  /** Deletes a set (its photos stay) and removes it from every collection. */
  deleteSet(id: string): void {
    this.sets = this.sets.filter((s) => s.id !== id)
    const strip = (cs: FakeCollection[]): void => {
      for (const c of cs) {
        c.setIds = c.setIds.filter((x) => x !== id)
        strip(c.children)
      }
    }
    strip(this.collections)
  }

  /** Replaces the whole collection tree. */
  setCollections(tree: CollectionInit[]): FakeCollection[] {
    const build = (c: CollectionInit): FakeCollection => ({
      id: c.id ?? this.newCollectionId(),
      title: c.title,
      description: c.description ?? '',
      setIds: [...(c.setIds ?? [])],
      children: (c.children ?? []).map(build),
    })
    this.collections = tree.map(build)
    return this.collections
  }

  newCollectionId(): string {
    return `${this.user.id.split('@')[0] ?? '1'}-${flickrLongId(this.nextCollectionId++)}`
  }

  private newestUpload(): number {
    const head = this.photostream[0]
    return head === undefined ? 0 : (this.photos.get(head)?.dateupload ?? 0)
  }
}

/** The identity that seeds an original's bytes: a new secret gives new bytes. */
export function originalIdentity(p: FakePhoto): string {
  return `${p.id}:${p.originalsecret}:${p.media === 'video' ? (p.videoFormat ?? '') : p.originalformat}:o`
}
