/**
 * The JSON shapes of Flickr records, with the type drift real responses have: ids and most counts
 * are strings, farm and o-dimensions are numbers, list titles are plain strings while getInfo and set
 * titles are `{_content}`. Keep these shapes exactly: flickrfs stores photo records verbatim.
 */
import type { FakeAccount, FakeCollection, FakeGeo, FakePhoto, FakeSet } from './account.js'

export type Json = Record<string, unknown>

export function mediaServerPath(p: FakePhoto): string {
  return `/media/${p.server}/${p.id}_${p.originalsecret}_o.${p.originalformat}`
}

export function sizedPath(p: FakePhoto, suffix: string): string {
  return `/media/${p.server}/${p.id}_${p.secret}_${suffix}.jpg`
}

export function playPath(account: FakeAccount, p: FakePhoto, kind: 'orig' | 'hd' | 'site'): string {
  const secret = kind === 'orig' ? p.originalsecret : p.secret
  return `/photos/${account.user.pathAlias}/${p.id}/play/${kind}/${secret}/`
}

/** Parses `extras` the way Flickr does: comma separated, unknown names ignored. */
export function parseExtras(s: string | undefined): Set<string> {
  return new Set((s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== ''))
}

/** What a photo list's records are built from: the account, the asked `extras`, the server's origin. */
export interface ListContext {
  account: FakeAccount
  extras: Set<string>
  origin: string
}

type ExtraFields = (r: Json, p: FakePhoto, ctx: ListContext) => void

/** A photo as photo-list methods (people.getPhotos, photosets.getPhotos, …) return it. */
export function listPhoto(p: FakePhoto, ctx: ListContext): Json {
  const r: Json = {
    id: p.id,
    owner: ctx.account.user.id,
    secret: p.secret,
    server: p.server,
    farm: p.farm,
    title: p.title,
    ispublic: 1,
    isfriend: 0,
    isfamily: 0,
  }
  for (const [extra, addFields] of LIST_EXTRAS) if (ctx.extras.has(extra)) addFields(r, p, ctx)
  return r
}

function geoFields(r: Json, p: FakePhoto): void {
  if (p.geo === undefined) {
    r.latitude = 0
    r.longitude = 0
    r.accuracy = 0
    r.context = 0
    return
  }
  r.latitude = String(p.geo.latitude)
  r.longitude = String(p.geo.longitude)
  r.accuracy = String(p.geo.accuracy)
  r.context = 0
  r.place_id = p.geo.placeId
  r.woeid = p.geo.woeid
  r.geo_is_family = 0
  r.geo_is_friend = 0
  r.geo_is_contact = 0
  r.geo_is_public = 1
}

/** The fields each extra adds, in the order list records carry them (the stored JSON depends on it). */
const LIST_EXTRAS: ReadonlyArray<readonly [string, ExtraFields]> = [
  ['description', (r, p) => { r.description = { _content: p.description } }],
  ['license', (r, p) => { r.license = p.license }],
  ['date_upload', (r, p) => { r.dateupload = String(p.dateupload) }],
  ['date_taken', (r, p) => {
    r.datetaken = p.datetaken
    r.datetakengranularity = 0
    r.datetakenunknown = p.datetakenunknown ? '1' : '0'
  }],
  ['owner_name', (r, _p, { account }) => { r.ownername = account.user.username }],
  ['icon_server', (r, _p, { account }) => {
    r.iconserver = account.user.iconserver
    r.iconfarm = account.user.iconfarm
  }],
  ['original_format', (r, p) => {
    r.originalsecret = p.originalsecret
    r.originalformat = p.originalformat
  }],
  ['last_update', (r, p) => { r.lastupdate = String(p.lastupdate) }],
  ['geo', geoFields],
  ['tags', (r, p) => { r.tags = p.tags.join(' ') }],
  ['machine_tags', (r, p) => { r.machine_tags = p.machineTags.join(' ') }],
  ['o_dims', (r, p) => {
    r.o_width = String(p.width)
    r.o_height = String(p.height)
  }],
  ['views', (r, p) => { r.views = String(p.views) }],
  ['media', (r, p) => {
    r.media = p.media
    r.media_status = 'ready'
  }],
  ['path_alias', (r, _p, { account }) => { r.pathalias = account.user.pathAlias }],
  ['url_o', (r, p, { origin }) => {
    r.url_o = origin + mediaServerPath(p)
    r.height_o = p.height
    r.width_o = p.width
  }],
  ['count_comments', (r, p) => { r.count_comments = String(p.comments.length) }],
  ['count_faves', (r, p) => { r.count_faves = String(p.faves) }],
]

/** A set as flickr.photosets.getList returns it. */
export function setRecord(account: FakeAccount, s: FakeSet): Json {
  let photos = 0
  let videos = 0
  for (const id of s.photoIds) {
    if (account.photos.get(id)?.media === 'video') videos++
    else photos++
  }
  const primary = account.photos.get(s.primary)
  return {
    id: s.id,
    owner: account.user.id,
    username: account.user.username,
    primary: s.primary,
    secret: primary?.secret ?? '',
    server: primary?.server ?? '',
    farm: primary?.farm ?? 0,
    count_views: String(s.views),
    count_comments: String(s.comments),
    count_photos: photos,
    count_videos: videos,
    title: { _content: s.title },
    description: { _content: s.description },
    can_comment: 0,
    date_create: String(s.dateCreate),
    date_update: String(s.dateUpdate),
    photos,
    videos,
    visibility_can_see_set: 1,
    needs_interstitial: 0,
  }
}

/** A getTree node: `set` and `collection` keys are absent when empty. */
export function collectionNode(account: FakeAccount, c: FakeCollection): Json {
  const node: Json = {
    id: c.id,
    title: c.title,
    description: c.description,
    iconlarge: '/images/collection_default_l.gif',
    iconsmall: '/images/collection_default_s.gif',
  }
  const sets = c.setIds
    .map((id) => account.getSet(id))
    .filter((s): s is FakeSet => s !== undefined)
    .map((s) => ({ id: s.id, title: s.title, description: s.description }))
  if (sets.length > 0) node.set = sets
  if (c.children.length > 0) node.collection = c.children.map((child) => collectionNode(account, child))
  return node
}

export function commentRecord(account: FakeAccount, p: FakePhoto, c: FakePhoto['comments'][number], origin: string): Json {
  return {
    id: c.id,
    author: c.author,
    author_is_deleted: 0,
    authorname: c.authorname,
    iconserver: '0',
    iconfarm: 0,
    datecreate: String(c.datecreate),
    permalink: `${origin}/photos/${account.user.pathAlias}/${p.id}/#comment${c.id.split('-').pop() ?? ''}`,
    path_alias: '',
    realname: c.realname,
    _content: c.text,
  }
}

/** A photo as flickr.photos.getInfo returns it. */
export function infoRecord(account: FakeAccount, p: FakePhoto, origin: string): Json {
  const r: Json = {
    id: p.id,
    secret: p.secret,
    server: p.server,
    farm: p.farm,
    dateuploaded: String(p.dateupload),
    isfavorite: 0,
    license: p.license,
    safety_level: '0',
    rotation: 0,
    originalsecret: p.originalsecret,
    originalformat: p.originalformat,
    owner: ownerRecord(account),
    title: { _content: p.title },
    description: { _content: p.description },
    visibility: { ispublic: 1, isfriend: 0, isfamily: 0 },
    dates: datesRecord(p),
    views: String(p.views),
    editability: { cancomment: 1, canaddmeta: 1 },
    publiceditability: { cancomment: 1, canaddmeta: 0 },
    usage: { candownload: 1, canblog: 1, canprint: 1, canshare: 1 },
    comments: { _content: String(p.comments.length) },
    notes: { note: [] },
    people: { haspeople: 0 },
    tags: { tag: tagRecords(account, p) },
    urls: { url: [{ type: 'photopage', _content: `${origin}/photos/${account.user.pathAlias}/${p.id}/` }] },
    media: p.media,
  }
  if (p.geo !== undefined) r.location = locationRecord(p.geo)
  if (p.media === 'video') {
    r.video = { ready: 1, failed: 0, pending: 0, duration: String(p.durationSec ?? 0), width: p.width, height: p.height }
  }
  return r
}

function ownerRecord(account: FakeAccount): Json {
  const u = account.user
  return {
    nsid: u.id,
    username: u.username,
    realname: u.fullname,
    location: '',
    iconserver: u.iconserver,
    iconfarm: u.iconfarm,
    path_alias: u.pathAlias,
  }
}

function datesRecord(p: FakePhoto): Json {
  return {
    posted: String(p.dateupload),
    taken: p.datetaken,
    takengranularity: 0,
    takenunknown: p.datetakenunknown ? '1' : '0',
    lastupdate: String(p.lastupdate),
  }
}

/** Plain tags, then machine tags; `_content` is Flickr's normalised form of `raw`. */
function tagRecords(account: FakeAccount, p: FakePhoto): Json[] {
  return [...p.tags, ...p.machineTags].map((t, i) => ({
    id: `${p.id}-${i}`,
    author: account.user.id,
    authorname: account.user.username,
    raw: t,
    _content: t.toLowerCase().replace(/[^a-z0-9]/g, ''),
    machine_tag: t.includes(':') && t.includes('=') ? 1 : 0,
  }))
}

function locationRecord(geo: FakeGeo): Json {
  return {
    latitude: String(geo.latitude),
    longitude: String(geo.longitude),
    accuracy: String(geo.accuracy),
    context: '0',
    place_id: geo.placeId,
    woeid: geo.woeid,
    locality: { _content: 'Somewhere' },
    country: { _content: 'Nowhere' },
  }
}

/** Image sizes Flickr lists (label, URL suffix, longest edge); widths drift between number and string. */
export const IMAGE_SIZES: ReadonlyArray<{ label: string; suffix: string; edge: number; square?: boolean }> = [
  { label: 'Square', suffix: 's', edge: 75, square: true },
  { label: 'Large Square', suffix: 'q', edge: 150, square: true },
  { label: 'Thumbnail', suffix: 't', edge: 100 },
  { label: 'Small', suffix: 'm', edge: 240 },
  { label: 'Medium', suffix: 'z', edge: 640 },
  { label: 'Large', suffix: 'b', edge: 1024 },
]

export function sizesRecord(account: FakeAccount, p: FakePhoto, origin: string): Json {
  const page = `${origin}/photos/${account.user.pathAlias}/${p.id}/sizes`
  const size: Json[] = IMAGE_SIZES.map((s, i) => {
    const scale = s.edge / Math.max(p.width, p.height)
    const w = s.square === true ? s.edge : Math.round(p.width * scale)
    const h = s.square === true ? s.edge : Math.round(p.height * scale)
    return {
      label: s.label,
      width: i % 2 === 0 ? w : String(w),
      height: i % 2 === 0 ? h : String(h),
      source: origin + sizedPath(p, s.suffix),
      url: `${page}/${s.suffix}/`,
      media: p.media,
    }
  })
  size.push({
    label: 'Original',
    width: String(p.width),
    height: String(p.height),
    source: origin + mediaServerPath(p),
    url: `${page}/o/`,
    media: p.media,
  })
  if (p.media === 'video') {
    const scaled = (edge: number): { width: number; height: number } => ({
      width: Math.round((p.width * edge) / Math.max(p.width, p.height)),
      height: Math.round((p.height * edge) / Math.max(p.width, p.height)),
    })
    size.push(
      { label: 'Video Player', ...scaled(640), source: `${origin}/apps/video/stewart.swf?v=2968162862&photo_id=${p.id}`, url: `${page}/site/`, media: 'video' },
      { label: 'Site MP4', ...scaled(640), source: origin + playPath(account, p, 'site'), url: `${page}/site/`, media: 'video' },
      { label: 'HD MP4', ...scaled(1280), source: origin + playPath(account, p, 'hd'), url: `${page}/hd/`, media: 'video' },
      { label: 'Video Original', width: p.width, height: p.height, source: origin + playPath(account, p, 'orig'), url: `${page}/orig/`, media: 'video' },
    )
  }
  return { canblog: 0, canprint: 0, candownload: 1, size }
}
