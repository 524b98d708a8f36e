/**
 * Builds a FakeAccount from a seed: same seed, same account, byte for byte. Shapes are chosen to
 * exercise what a mirror gets wrong: photos in several sets and in none, sets with videos, sets
 * over 500 members, collections nested three deep holding both sets and collections, comments,
 * videos in different container formats, and (with `oddTitles`) hostile titles and dates.
 */
import { createHash } from 'node:crypto'
import { FakeAccount, flickrLongId, formatDateTaken, type CollectionInit, type FakeComment, type FakeGeo, type FakePhoto } from './account.js'

export interface GenerateOptions {
  seed?: number
  photos?: number
  videos?: number
  sets?: number
  /** Top-level collections; some get child collections. */
  collections?: number
  commentedFraction?: number
  oddTitles?: boolean
  meanPhotoBytes?: number
  meanVideoBytes?: number
  userId?: string
  username?: string
}

/** mulberry32: tiny, fast and good enough to make varied but reproducible accounts (and test runs). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['sunset', 'harbour', 'mountain', 'river', 'street', 'family', 'birthday', 'snow', 'forest',
  'bridge', 'market', 'cat', 'garden', 'beach', 'train', 'night', 'autumn', 'city', 'lake', 'portrait']

/** Titles that break naive path building (LAYOUT.md's naming rules exist for these). */
export const ODD_TITLES: readonly string[] = [
  'a/b/c',
  '..',
  '.',
  '',
  '   ',
  'tab\there\nnewline\u0001bell\u007f',
  'Zürich – café 東京 🌸📷',
  '🎉'.repeat(70),
  'é'.repeat(140),
  'x'.repeat(300),
  '../../etc/passwd',
  ' leading and trailing ',
]

const PHOTO_FORMATS = ['jpg', 'jpg', 'jpg', 'jpg', 'jpg', 'jpg', 'png', 'gif', 'jpg', 'tif'] as const
const VIDEO_FORMATS = ['mov', 'mp4', 'avi', 'm4v', 'mov', 'mp4'] as const
const START_UPLOAD_SEC = 1262304000 // 2010-01-01
const SPAN_SEC = 14 * 365 * 86400

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function hex(rand: () => number, len: number): string {
  let s = ''
  for (let i = 0; i < len; i += 2) s += HEX_BYTES[Math.floor(rand() * 256)] ?? '00'
  return s.slice(0, len)
}

function pick<T>(rand: () => number, arr: readonly T[]): T {
  return arr[Math.floor(rand() * arr.length)] as T
}

function spread(rand: () => number, mean: number): number {
  return Math.max(256, Math.round(mean * (0.5 + rand())))
}

/** The options with their defaults, and the one random stream every step draws from in turn. */
interface Generation {
  rand: () => number
  total: number
  nVideos: number
  commentedFraction: number
  meanPhotoBytes: number
  meanVideoBytes: number
  userId: string
}

export function generateAccount(opts: GenerateOptions = {}): FakeAccount {
  const rand = prng(opts.seed ?? 1)
  const nVideos = opts.videos ?? 4
  const total = (opts.photos ?? 40) + nVideos
  const nSets = opts.sets ?? 6
  const userId = opts.userId ?? '12345678@N00'
  const username = opts.username ?? 'fakeuser'
  const odd = opts.oddTitles === true
  const account = new FakeAccount(
    { id: userId, username, fullname: 'Fake User', pathAlias: username.replace(/[^a-z0-9]/gi, ''), iconserver: '65535', iconfarm: 66 },
    { photo: 50_000_000_000 + total + 1, set: nSets + 1, collection: 1000 },
  )
  const oldestFirst = generateItems({
    rand,
    total,
    nVideos,
    commentedFraction: opts.commentedFraction ?? 0.1,
    meanPhotoBytes: opts.meanPhotoBytes ?? 70_000,
    meanVideoBytes: opts.meanVideoBytes ?? 200_000,
    userId,
  })
  if (odd) applyOddTitles(oldestFirst)

  for (const p of oldestFirst) account.photos.set(p.id, p)
  account.photostream = oldestFirst.map((p) => p.id).reverse()

  buildSets(account, oldestFirst, { count: nSets, rand, odd })
  buildCollections(account, opts.collections ?? 2, rand, odd)
  return account
}

/** Every photo and video, oldest upload first. */
function generateItems(g: Generation): FakePhoto[] {
  const { rand, total } = g
  // Selection sampling: exactly nVideos videos, spread through the stream.
  let videosLeft = g.nVideos
  let videoIndex = 0
  // Uploads stay within SPAN_SEC (all in the past), however many items there are.
  const step = Math.max(1, Math.floor(SPAN_SEC / Math.max(1, total)))
  let upload = START_UPLOAD_SEC
  const oldestFirst: FakePhoto[] = []
  for (let i = 0; i < total; i++) {
    const isVideo = rand() * (total - i) < videosLeft
    if (isVideo) videosLeft--
    upload += 1 + Math.floor(rand() * step)
    const p = newItem(g, { index: i, isVideo, upload })
    if (isVideo) {
      makeVideo(p, rand, videoIndex)
      videoIndex++
    }
    if (rand() < 0.3) p.geo = randomGeo(rand)
    if (rand() < g.commentedFraction) addComments(p, rand, g.userId)
    oldestFirst.push(p)
  }
  return oldestFirst
}

/** One item's own fields; the draws happen in the order of the fields. */
function newItem(g: Generation, at: { index: number, isVideo: boolean, upload: number }): FakePhoto {
  const { rand } = g
  const { index: i, isVideo, upload } = at
  const unknown = rand() < 0.03
  const taken = upload - Math.floor(rand() * 30 * 86400)
  const portrait = rand() < 0.3
  return {
    id: String(50_000_000_000 + i + 1),
    media: isVideo ? 'video' : 'photo',
    secret: hex(rand, 10),
    server: String(1000 + Math.floor(rand() * 64535)),
    farm: 66,
    originalsecret: hex(rand, 10),
    originalformat: isVideo ? 'jpg' : pick(rand, PHOTO_FORMATS),
    title: rand() < 0.5 ? `IMG_${String(1000 + i)}` : `${pick(rand, WORDS)} ${pick(rand, WORDS)} ${i}`,
    description: rand() < 0.3 ? `About ${pick(rand, WORDS)} & <${pick(rand, WORDS)}>` : '',
    tags: Array.from({ length: Math.floor(rand() * 4) }, () => pick(rand, WORDS)),
    machineTags: rand() < 0.1 ? ['camera:make=fakecam'] : [],
    license: String(Math.floor(rand() * 4)),
    dateupload: upload,
    lastupdate: upload + Math.floor(rand() * 86400),
    datetaken: unknown ? formatDateTaken(upload) : formatDateTaken(taken),
    datetakenunknown: unknown,
    width: portrait ? 3000 : 4000,
    height: portrait ? 4000 : 3000,
    bytes: spread(rand, isVideo ? g.meanVideoBytes : g.meanPhotoBytes),
    views: Math.floor(rand() * 500),
    faves: Math.floor(rand() * 10),
    comments: [],
  }
}

function makeVideo(p: FakePhoto, rand: () => number, videoIndex: number): void {
  // The first videos cycle through every container, so each format is present in small accounts.
  p.videoFormat = VIDEO_FORMATS[videoIndex % VIDEO_FORMATS.length] ?? 'mov'
  p.durationSec = 3 + Math.floor(rand() * 120)
  p.width = 1920
  p.height = 1080
}

function randomGeo(rand: () => number): FakeGeo {
  return {
    latitude: Math.round((rand() * 140 - 70) * 1e6) / 1e6,
    longitude: Math.round((rand() * 360 - 180) * 1e6) / 1e6,
    accuracy: 16,
    placeId: hex(rand, 12),
    woeid: String(100000 + Math.floor(rand() * 900000)),
  }
}

/** One to four comments, each after the one before; the photo's lastupdate follows the last. */
function addComments(p: FakePhoto, rand: () => number, userId: string): void {
  const n = 1 + Math.floor(rand() * 4)
  let when = p.dateupload
  for (let c = 0; c < n; c++) {
    when += 1 + Math.floor(rand() * 86400 * 10)
    const comment: FakeComment = {
      id: `${userId.split('@')[0] ?? '1'}-${p.id}-${72157600000 + c}`,
      author: `${10000000 + Math.floor(rand() * 89999999)}@N0${Math.floor(rand() * 8)}`,
      authorname: pick(rand, WORDS) + String(c),
      realname: '',
      datecreate: when,
      text: c % 2 === 0 ? `Lovely ${pick(rand, WORDS)}!` : `Where was this? <a href="https://example.com">link</a> 👍`,
    }
    p.comments.push(comment)
  }
  p.lastupdate = Math.max(p.lastupdate, when)
}

function applyOddTitles(items: FakePhoto[]): void {
  ODD_TITLES.forEach((title, i) => {
    const p = items[i]
    if (p !== undefined) p.title = title
  })
  const zero = items[ODD_TITLES.length] ?? items[0]
  if (zero !== undefined) {
    zero.datetaken = '0000-00-00 00:00:00'
    zero.datetakenunknown = false
  }
}

/** How many sets to make, from which random stream, and whether they take odd titles. */
interface SetPlan {
  count: number
  rand: () => number
  odd: boolean
}

function buildSets(account: FakeAccount, items: FakePhoto[], plan: SetPlan): void {
  const { rand, odd } = plan
  const n = items.length
  if (n === 0 || plan.count === 0) return
  const mean = Math.max(1, Math.round((0.8 * n) / plan.count))
  const firstVideo = items.findIndex((p) => p.media === 'video')
  for (let j = 0; j < plan.count; j++) {
    let size = Math.max(1, Math.min(n, Math.round(mean * (0.3 + 1.4 * rand()))))
    // Big accounts must contain a set larger than one 500-item page.
    if (j === 0 && n > 1000) size = Math.min(n, Math.max(size, 620))
    const ids = pickSetMembers(items, size, rand)
    if (j === 0 && firstVideo >= 0) {
      const vid = items[firstVideo]?.id
      if (vid !== undefined && !ids.includes(vid)) ids.push(vid)
    }
    swapSomeNeighbours(ids, rand)
    const primaryIdx = Math.floor(rand() * ids.length)
    const created = account.photos.get(ids[0] ?? '')?.dateupload ?? START_UPLOAD_SEC
    account.sets.push({
      id: flickrLongId(j + 1),
      title: odd && j < ODD_TITLES.length ? (ODD_TITLES[ODD_TITLES.length - 1 - j] ?? '') : `${pick(rand, WORDS)} ${j + 1}`,
      description: rand() < 0.5 ? `Set about ${pick(rand, WORDS)}` : '',
      photoIds: ids,
      primary: ids[primaryIdx] ?? '',
      dateCreate: created,
      dateUpdate: created + Math.floor(rand() * 86400 * 100),
      views: Math.floor(rand() * 1000),
      comments: Math.floor(rand() * 3),
    })
  }
}

/** Up to `size` distinct members: most from one run of the stream, some strays, so photos end up in several sets. */
function pickSetMembers(items: FakePhoto[], size: number, rand: () => number): string[] {
  const n = items.length
  const start = Math.floor(rand() * Math.max(1, n - size + 1))
  const ids: string[] = []
  const seen = new Set<string>()
  for (let k = 0; k < size; k++) {
    const idx = rand() < 0.9 ? start + k : Math.floor(rand() * n)
    const id = items[Math.min(n - 1, idx)]?.id
    if (id !== undefined && !seen.has(id)) {
      seen.add(id)
      ids.push(id)
    }
  }
  return ids
}

/** A few adjacent swaps: album order is the user's, not the upload order. */
function swapSomeNeighbours(ids: string[], rand: () => number): void {
  for (let k = 0; k + 1 < ids.length; k += 7) {
    if (rand() < 0.5) {
      const a = ids[k] as string
      ids[k] = ids[k + 1] as string
      ids[k + 1] = a
    }
  }
}

function buildCollections(account: FakeAccount, n: number, rand: () => number, odd: boolean): void {
  const setIds = account.sets.map((s) => s.id)
  const someSets = (k: number): string[] => {
    const out: string[] = []
    for (let i = 0; i < k && setIds.length > 0; i++) {
      const id = pick(rand, setIds)
      if (!out.includes(id)) out.push(id)
    }
    return out
  }
  const tree: CollectionInit[] = []
  for (let i = 0; i < n; i++) {
    const c: CollectionInit = {
      title: odd && i === 0 ? 'Travel / Places: 2024 ✈️' : `${pick(rand, WORDS)} collection ${i + 1}`,
      description: rand() < 0.5 ? 'A collection' : '',
      setIds: someSets(1 + Math.floor(rand() * 3)),
    }
    if (i % 2 === 0) {
      // Both sets and child collections in one node; the first one nests three deep.
      c.children = [
        { title: `Child ${i + 1}.1`, setIds: someSets(2), children: i === 0 ? [{ title: `Grandchild ${i + 1}.1.1`, setIds: someSets(1) }] : [] },
        { title: `Child ${i + 1}.2`, setIds: someSets(1) },
      ]
    }
    tree.push(c)
  }
  account.setCollections(tree)
}

/** A stable fingerprint of an account's listing-visible state (for determinism tests). */
export function accountFingerprint(account: FakeAccount): string {
  const h = createHash('sha256')
  for (const id of account.photostream) {
    const p = account.photos.get(id)
    if (p !== undefined) h.update(`${p.id}|${p.originalsecret}|${p.title}|${p.bytes}|${p.lastupdate}\n`)
  }
  for (const s of account.sets) h.update(`${s.id}|${s.title}|${s.photoIds.join(',')}\n`)
  h.update(JSON.stringify(account.collections))
  return h.digest('hex')
}
