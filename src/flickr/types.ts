/**
 * The shapes of the Flickr JSON we read. Every field is optional and `unknown`-tolerant on purpose:
 * numbers drift between strings and numbers, text may be `{_content}`, lists may be missing. Read
 * them through `lenient.ts`; these types only say which keys exist so typos are caught.
 */

export type Numeric = number | string
export type Text = string | { _content?: string }

export interface RawPhoto {
  id?: string
  owner?: string
  secret?: string
  server?: string
  farm?: Numeric
  title?: Text
  ispublic?: Numeric
  isfriend?: Numeric
  isfamily?: Numeric
  isprimary?: Numeric
  description?: Text
  license?: Numeric
  dateupload?: Numeric
  lastupdate?: Numeric
  datetaken?: string
  datetakengranularity?: Numeric
  datetakenunknown?: Numeric
  ownername?: string
  iconserver?: string
  iconfarm?: Numeric
  originalsecret?: string
  originalformat?: string
  /** `photo` or `video` */
  media?: string
  media_status?: string
  tags?: string
  machine_tags?: string
  views?: Numeric
  latitude?: Numeric
  longitude?: Numeric
  accuracy?: Numeric
  pathalias?: string | null
  url_o?: string
  width_o?: Numeric
  height_o?: Numeric
  o_width?: Numeric
  o_height?: Numeric
  count_comments?: Numeric
  count_faves?: Numeric
  [key: string]: unknown
}

/** `{"photos": {...}}`, `{"photoset": {...}}`, `{"photosets": {...}}`: one page of a list. */
export interface RawPageEnvelope {
  page?: Numeric
  pages?: Numeric
  perpage?: Numeric
  per_page?: Numeric
  total?: Numeric
  [key: string]: unknown
}

export interface RawPhotoPage extends RawPageEnvelope {
  photo?: RawPhoto[] | RawPhoto
}

export interface RawSet {
  id?: string
  owner?: string
  username?: string
  primary?: string
  secret?: string
  server?: string
  farm?: Numeric
  title?: Text
  description?: Text
  photos?: Numeric
  videos?: Numeric
  count_photos?: Numeric
  count_videos?: Numeric
  count_views?: Numeric
  count_comments?: Numeric
  date_create?: Numeric
  date_update?: Numeric
  [key: string]: unknown
}

export interface RawSetListPage extends RawPageEnvelope {
  photoset?: RawSet[] | RawSet
}

export interface RawCollection {
  id?: string
  title?: Text
  description?: Text
  iconlarge?: string
  iconsmall?: string
  set?: Array<{ id?: string; title?: Text; description?: Text; [key: string]: unknown }>
  collection?: RawCollection[]
  [key: string]: unknown
}

export interface RawComment {
  id?: string
  author?: string
  author_is_deleted?: Numeric
  authorname?: string
  realname?: string
  datecreate?: Numeric
  permalink?: string
  path_alias?: string | null
  _content?: string
  [key: string]: unknown
}

export interface RawSize {
  label?: string
  width?: Numeric
  height?: Numeric
  source?: string
  url?: string
  /** `photo` or `video` */
  media?: string
  [key: string]: unknown
}

export interface RawTestLogin {
  user?: { id?: string; username?: Text; path_alias?: string | null }
}

/** Which list envelope and item key a paginated method answers with. */
export type PageEnvelope = 'photos' | 'photoset' | 'photosets'
export type PageItem = 'photo' | 'photoset'
