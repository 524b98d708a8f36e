/**
 * The JSON shapes of Flickr records, with the type drift real responses have: ids and most counts
 * are strings, farm and o-dimensions are numbers, list titles are plain strings while getInfo and set
 * titles are `{_content}`. Keep these shapes exactly: flickrfs stores photo records verbatim.
 */
import type { FakeAccount, FakeCollection, FakePhoto, FakeSet } from './account.js'

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

/** A photo as photo-list methods (people.getPhotos, photosets.getPhotos, …) return it. */
export function listPhoto(account: FakeAccount, p: FakePhoto, extras: Set<string>, origin: string): Json {
  const r: Json = {
    id: p.id,
    owner: account.user.id,
    secret: p.secret,
    server: p.server,
    farm: p.farm,
    title: p.title,
    ispublic: 1,
    isfriend: 0,
    isfamily: 0,
  }
  if (extras.has('description')) r.description = { _content: p.description }
  if (extras.has('license')) r.license = p.license
  if (extras.has('date_upload')) r.dateupload = String(p.dateupload)
  if (extras.has('date_taken')) {
    r.datetaken = p.datetaken
    r.datetakengranularity = 0
    r.datetakenunknown = p.datetakenunknown ? '1' : '0'
  }
  if (extras.has('owner_name')) r.ownername = account.user.username
  if (extras.has('icon_server')) {
    r.iconserver = account.user.iconserver
    r.iconfarm = account.user.iconfarm
  }
  if (extras.has('original_format')) {
    r.originalsecret = p.originalsecret
    r.originalformat = p.originalformat
  }
  if (extras.has('last_update')) r.lastupdate = String(p.lastupdate)
  if (extras.has('geo')) {
    if (p.geo === undefined) {
      r.latitude = 0
      r.longitude = 0
      r.accuracy = 0
      r.context = 0
    } else {
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
  }
  if (extras.has('tags')) r.tags = p.tags.join(' ')
  if (extras.has('machine_tags')) r.machine_tags = p.machineTags.join(' ')
  if (extras.has('o_dims')) {
    r.o_width = String(p.width)
    r.o_height = String(p.height)
  }
  if (extras.has('views')) r.views = String(p.views)
  if (extras.has('media')) {
    r.media = p.media
    r.media_status = 'ready'
  }
  if (extras.has('path_alias')) r.pathalias = account.user.pathAlias
  if (extras.has('url_o')) {
    r.url_o = origin + mediaServerPath(p)
    r.height_o = p.height
    r.width_o = p.width
  }
  if (extras.has('count_comments')) r.count_comments = String(p.comments.length)
  if (extras.has('count_faves')) r.count_faves = String(p.faves)
  return r
}

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
    owner: {
      nsid: account.user.id,
      username: account.user.username,
      realname: account.user.fullname,
      location: '',
      iconserver: account.user.iconserver,
      iconfarm: account.user.iconfarm,
      path_alias: account.user.pathAlias,
    },
    title: { _content: p.title },
    description: { _content: p.description },
    visibility: { ispublic: 1, isfriend: 0, isfamily: 0 },
    dates: {
      posted: String(p.dateupload),
      taken: p.datetaken,
      takengranularity: 0,
      takenunknown: p.datetakenunknown ? '1' : '0',
      lastupdate: String(p.lastupdate),
    },
    views: String(p.views),
    editability: { cancomment: 1, canaddmeta: 1 },
    publiceditability: { cancomment: 1, canaddmeta: 0 },
    usage: { candownload: 1, canblog: 1, canprint: 1, canshare: 1 },
    comments: { _content: String(p.comments.length) },
    notes: { note: [] },
    people: { haspeople: 0 },
    tags: {
      tag: [...p.tags, ...p.machineTags].map((t, i) => ({
        id: `${p.id}-${i}`,
        author: account.user.id,
        authorname: account.user.username,
        raw: t,
        _content: t.toLowerCase().replace(/[^a-z0-9]/g, ''),
        machine_tag: t.includes(':') && t.includes('=') ? 1 : 0,
      })),
    },
    urls: { url: [{ type: 'photopage', _content: `${origin}/photos/${account.user.pathAlias}/${p.id}/` }] },
    media: p.media,
  }
  if (p.geo !== undefined) {
    r.location = {
      latitude: String(p.geo.latitude),
      longitude: String(p.geo.longitude),
      accuracy: String(p.geo.accuracy),
      context: '0',
      place_id: p.geo.placeId,
      woeid: p.geo.woeid,
      locality: { _content: 'Somewhere' },
      country: { _content: 'Nowhere' },
    }
  }
  if (p.media === 'video') {
    r.video = { ready: 1, failed: 0, pending: 0, duration: String(p.durationSec ?? 0), width: p.width, height: p.height }
  }
  return r
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
