/**
 * The REST methods flickrfs uses, answered from the live FakeAccount. Paging behaves like Flickr's:
 * a page past the end repeats the last page (getNotInSet: an empty page), and under `faults.shortPages`
 * a non-last page may come back short the first time it is asked.
 */
import type { FakeAccount, FakeComment, FakePhoto } from './account.js'
import { collectionNode, commentRecord, infoRecord, listPhoto, parseExtras, setRecord, sizesRecord, type Json } from './records.js'

export class ApiFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
  }
}

export interface MethodContext {
  account: FakeAccount
  params: ReadonlyMap<string, string>
  origin: string
  shortPages: boolean
  /** Pages already shortened once (so the retry gets them whole). */
  shortened: Set<string>
}

interface Page<T> {
  items: T[]
  page: number
  pages: number
  perPage: number
  total: number
}

function intParam(v: string | undefined, fallback: number): number {
  const n = Number.parseInt(v ?? '', 10)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

/** `pastEnd: 'empty'`: a page past the end is empty instead of a repeat of the last one. */
function paginate<T>(ctx: MethodContext, all: readonly T[], defaultPerPage: number, key: string, pastEnd: 'repeat' | 'empty' = 'repeat'): Page<T> {
  const perPage = Math.min(500, intParam(ctx.params.get('per_page'), defaultPerPage))
  const total = all.length
  // Flickr says pages 0 for an empty list; past the end it repeats the last page.
  const pages = Math.ceil(total / perPage)
  const page = intParam(ctx.params.get('page'), 1)
  const effective = Math.max(1, Math.min(page, pages))
  if (pastEnd === 'empty' && page > pages) return { items: [], page, pages, perPage, total }
  let items = all.slice((effective - 1) * perPage, effective * perPage)
  if (ctx.shortPages && effective < pages && effective % 2 === 1) {
    const k = `${key}|${effective}|${perPage}`
    if (!ctx.shortened.has(k)) {
      ctx.shortened.add(k)
      items = items.slice(0, Math.max(1, items.length - Math.max(1, Math.floor(perPage / 10))))
    }
  }
  return { items, page, pages, perPage, total }
}

function photo(ctx: MethodContext): FakePhoto {
  const id = ctx.params.get('photo_id') ?? ''
  const p = ctx.account.photos.get(id)
  if (p === undefined) throw new ApiFailure(1, 'Photo not found')
  return p
}

function checkUser(ctx: MethodContext): void {
  const u = ctx.params.get('user_id')
  if (u !== undefined && u !== 'me' && u !== ctx.account.user.id) throw new ApiFailure(2, 'Unknown user')
}

function photoIds(ctx: MethodContext, ids: readonly string[]): FakePhoto[] {
  const out: FakePhoto[] = []
  for (const id of ids) {
    const p = ctx.account.photos.get(id)
    if (p !== undefined) out.push(p)
  }
  return out
}

function photoList(ctx: MethodContext, pg: Page<FakePhoto>, totalAsString: boolean): Json {
  const extras = parseExtras(ctx.params.get('extras'))
  return {
    page: pg.page,
    pages: pg.pages,
    perpage: pg.perPage,
    total: totalAsString ? String(pg.total) : pg.total,
    photo: pg.items.map((p) => listPhoto(p, { account: ctx.account, extras, origin: ctx.origin })),
  }
}

/** `2d` or `4h` (activity.userPhotos); without it Flickr means "since the last session": a day here. */
function timeframeSec(raw: string | undefined): number {
  const m = /^(\d+)([dh])$/.exec(raw ?? '')
  if (m === null) return 86_400
  return Number(m[1]) * (m[2] === 'd' ? 86_400 : 3_600)
}

function lastEvent(events: readonly FakeComment[]): number {
  return events.reduce((n, c) => Math.max(n, c.datecreate), 0)
}

function activityItem(ctx: MethodContext, p: FakePhoto, events: readonly FakeComment[]): Json {
  return {
    type: 'photo',
    id: p.id,
    owner: ctx.account.user.id,
    ownername: ctx.account.user.username,
    secret: p.secret,
    server: p.server,
    farm: p.farm,
    comments: String(p.comments.length),
    notes: '0',
    views: String(p.views),
    faves: String(p.faves),
    media: p.media,
    title: { _content: p.title },
    activity: {
      event: events.map((c) => ({ type: 'comment', commentid: c.id, user: c.author, username: c.authorname, dateadded: String(c.datecreate), _content: c.text })),
    },
  }
}

type Handler = (ctx: MethodContext) => Json

export const METHODS: Record<string, Handler> = {
  'flickr.test.login': (ctx) => ({
    user: { id: ctx.account.user.id, username: { _content: ctx.account.user.username }, path_alias: ctx.account.user.pathAlias },
  }),

  // What Python's flickrapi asks before every run (token_valid()); every token of this fake reads.
  'flickr.auth.oauth.checkToken': (ctx) => ({
    oauth: {
      token: { _content: ctx.params.get('oauth_token') ?? '' },
      perms: { _content: 'read' },
      user: { nsid: ctx.account.user.id, username: ctx.account.user.username, fullname: ctx.account.user.fullname },
    },
  }),

  'flickr.test.echo': (ctx) => Object.fromEntries([...ctx.params].filter(([k]) => !k.startsWith('oauth_')).map(([k, v]) => [k, { _content: v }])),

  'flickr.people.getPhotos': (ctx) => {
    checkUser(ctx)
    const pg = paginate(ctx, ctx.account.photostream, 100, 'people.getPhotos')
    return { photos: photoList(ctx, { ...pg, items: photoIds(ctx, pg.items) }, false) }
  },

  'flickr.photos.getNotInSet': (ctx) => {
    // Past the end this listing is empty: the original flickrmirrorer pages it until an empty page
    // and would link the last page twice (and crash on the existing symlink) if it repeated.
    const pg = paginate(ctx, ctx.account.notInSet(), 100, 'getNotInSet', 'empty')
    return { photos: photoList(ctx, { ...pg, items: photoIds(ctx, pg.items) }, true) }
  },

  'flickr.photos.recentlyUpdated': (ctx) => {
    const raw = ctx.params.get('min_date')
    if (raw === undefined || raw === '') throw new ApiFailure(1, 'Required parameter missing')
    const min = Number.parseInt(raw, 10)
    const changed = photoIds(ctx, ctx.account.photostream)
      .filter((p) => p.lastupdate >= min)
      .sort((a, b) => b.lastupdate - a.lastupdate || Number(b.id) - Number(a.id))
    const pg = paginate(ctx, changed, 100, `recentlyUpdated|${raw}`)
    return { photos: photoList(ctx, pg, true) }
  },

  // Unverified beyond the API documentation (see docs/FLICKR.md): recent comments by anyone on the
  // user's photos within `timeframe`, most recent first, at most 50 items a page.
  'flickr.activity.userPhotos': (ctx) => {
    const sinceSec = ctx.account.clock() - timeframeSec(ctx.params.get('timeframe'))
    const items = ctx.account.photostream
      .map((id) => ctx.account.photos.get(id))
      .filter((p): p is FakePhoto => p !== undefined)
      .map((p) => ({ p, events: p.comments.filter((c) => c.datecreate >= sinceSec) }))
      .filter((x) => x.events.length > 0)
      .sort((a, b) => lastEvent(b.events) - lastEvent(a.events) || Number(b.p.id) - Number(a.p.id))
    const perPage = Math.min(50, intParam(ctx.params.get('per_page'), 10))
    const pg = paginate({ ...ctx, params: new Map([...ctx.params, ['per_page', String(perPage)]]) }, items, 10, `activity|${ctx.params.get('timeframe') ?? ''}`)
    return {
      items: {
        page: pg.page,
        pages: pg.pages,
        perpage: pg.perPage,
        total: pg.total,
        item: pg.items.map(({ p, events }) => activityItem(ctx, p, events)),
      },
    }
  },

  'flickr.photosets.getList': (ctx) => {
    checkUser(ctx)
    const sets = ctx.account.sets
    // Without page or per_page Flickr returns every set in one page.
    const all = !ctx.params.has('page') && !ctx.params.has('per_page')
    const pg = all
      ? { items: [...sets], page: 1, pages: 1, perPage: sets.length, total: sets.length }
      : paginate(ctx, sets, 500, 'photosets.getList')
    return {
      photosets: {
        page: pg.page,
        pages: pg.pages,
        perpage: pg.perPage,
        total: pg.total,
        cancreate: 1,
        photoset: pg.items.map((s) => setRecord(ctx.account, s)),
      },
    }
  },

  'flickr.photosets.getPhotos': (ctx) => {
    const id = ctx.params.get('photoset_id') ?? ''
    const s = ctx.account.getSet(id)
    if (s === undefined) throw new ApiFailure(1, 'Photoset not found')
    checkUser(ctx)
    const mediaFilter = ctx.params.get('media') ?? 'all'
    const members = photoIds(ctx, s.photoIds).filter(
      (p) => mediaFilter === 'all' || (mediaFilter === 'photos' ? p.media === 'photo' : p.media === 'video'),
    )
    const pg = paginate(ctx, members, 500, `photosets.getPhotos|${id}|${mediaFilter}`)
    const extras = parseExtras(ctx.params.get('extras'))
    return {
      photoset: {
        id: s.id,
        primary: s.primary,
        owner: ctx.account.user.id,
        ownername: ctx.account.user.username,
        photo: pg.items.map((p) => ({ ...listPhoto(p, { account: ctx.account, extras, origin: ctx.origin }), isprimary: p.id === s.primary ? '1' : '0' })),
        page: pg.page,
        per_page: String(pg.perPage),
        perpage: pg.perPage,
        pages: pg.pages,
        title: s.title,
        total: String(pg.total),
      },
    }
  },

  'flickr.collections.getTree': (ctx) => {
    const wanted = ctx.params.get('collection_id')
    let roots = ctx.account.collections
    if (wanted !== undefined && wanted !== '' && wanted !== '0') {
      const c = ctx.account.findCollection(wanted)
      if (c === undefined) throw new ApiFailure(1, 'Collection not found')
      roots = [c]
    }
    if (roots.length === 0) return { collections: {} }
    return { collections: { collection: roots.map((c) => collectionNode(ctx.account, c)) } }
  },

  'flickr.photos.comments.getList': (ctx) => {
    const p = photo(ctx)
    const out: Json = { photo_id: p.id }
    if (p.comments.length > 0) out.comment = p.comments.map((c) => commentRecord(ctx.account, p, c, ctx.origin))
    return { comments: out }
  },

  'flickr.photos.getSizes': (ctx) => ({ sizes: sizesRecord(ctx.account, photo(ctx), ctx.origin) }),

  'flickr.photos.getInfo': (ctx) => ({ photo: infoRecord(ctx.account, photo(ctx), ctx.origin) }),
}
