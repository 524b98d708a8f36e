/**
 * What an original is on the media host: its exact size, and for videos the file name the server
 * gives it (the API never states a video's extension). Photos: one HEAD on url_o. Videos: getSizes,
 * then a HEAD on the `Video Original` play URL that follows its redirect; when that is refused
 * (Flickr often answers 404 without the web session cookies) the best transcode stands in.
 */
import createDebug from '../util/debug.js'
import { asRecord, toInt, toStr } from '../flickr/lenient.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { CatalogApi, CatalogMedia, SizeOf } from './ports.js'
import { isSafeExt, normalizeExt } from '../layout/names.js'
import { MediaError } from '../flickr/media-hosts.js'
import type { MediaEntry, PhotoEntry } from './types.js'
import { SpooledPhoto } from './record-spool.js'
import { errorMessage } from '../util/abort.js'

const debug = createDebug('flickrfs:catalog')

/** Transcodes by preference when sizes tie; anything else playable comes after these. */
const TRANSCODE_PREFERENCE = ['4K', '2.7K', '1080p', 'HD MP4', '720p', 'Site MP4', '540p', '360p', 'Mobile MP4', '288p']
const NOT_FILES = new Set(['Video Original', 'Video Player'])

/** This one original cannot be had (or sized) now: the refresh goes on without it and retries next time. */
export class OriginalUnavailable extends FlickrfsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MEDIA', message, options)
    this.name = 'OriginalUnavailable'
  }
}

/** Statuses that mean "this URL will not give the file", as opposed to a host that is down. */
export function isUnavailable(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status
  return typeof status === 'number' && (status === 401 || status === 403 || status === 404 || status === 410)
}

/**
 * Whether `err` is about this one original rather than about Flickr as a whole: the refresh records
 * it for the item and goes on. A refused or unusable URL, a redirect loop, an HTML page, a status
 * that retries did not fix, a body that lies: all per item. No connection at all, no answer in
 * time, or 429 (throttled) is about the host, not the item: that fails the refresh, so the last
 * catalog stays.
 */
export function isItemFailure(err: unknown): boolean {
  if (err instanceof OriginalUnavailable || isUnavailable(err)) return true
  if (!(err instanceof MediaError) || err.reason === 'network' || err.reason === 'timeout') return false
  // 429 is the host throttling this client, not a fault of the item: the refresh stops.
  return (err.cause as { status?: unknown } | undefined)?.status !== 429
}

/**
 * Retries of a bad answer (an HTML page, a 5xx) when sizing an original that failed last time,
 * instead of the media client's 5: every run tries it again anyway, and 5 with their backoff took
 * 15–30 s of each run per broken item (bench/RESULTS.md, session 31). A host that cannot be reached
 * or throttles keeps the 5 (flickr/media-client.ts MediaTry).
 */
export const FAILED_BEFORE_RETRIES = 1

/** Where an original is looked up: the API (getSizes), the media host (HEAD), and the web session cookies if any. */
export interface MediaLookup {
  api: CatalogApi
  media: CatalogMedia
  cookies?: string | undefined
  /** Retries of a bad answer per request (FAILED_BEFORE_RETRIES for an item that failed last time; default the client's). */
  retries?: number | undefined
}

/** The options of a HEAD for `photo`'s `kind` of file. */
function headOpts(photo: PhotoEntry, kind: SizeOf['kind'], lookup: MediaLookup, cookies?: string): { cookies?: string; of: SizeOf; retries?: number } {
  return { ...(cookies !== undefined ? { cookies } : {}), of: { photo, kind }, ...(lookup.retries !== undefined ? { retries: lookup.retries } : {}) }
}

export async function resolveMedia(photo: PhotoEntry, lookup: MediaLookup): Promise<MediaEntry> {
  return photo.media === 'video' ? resolveVideo(photo, lookup) : resolvePhoto(photo, lookup)
}

async function resolvePhoto(photo: PhotoEntry, lookup: MediaLookup): Promise<MediaEntry> {
  const { api, media } = lookup
  let url = photo.urlO
  const atUrlO = url !== null
  if (url === null) {
    // url_o is missing when the owner hides originals from the API key; the sizes list may still have it.
    const sizes = (await api.getSizes(photo.id)).map(asRecord)
    url = toStr(sizes.find((s) => s.label === 'Original')?.source) || null
    if (url === null) throw new OriginalUnavailable(`Flickr gives no original for photo ${photo.id} (no url_o and no Original size).`)
  }
  const head = await media.head(url, headOpts(photo, 'original', lookup))
  checkSize(head.size, url, photo.id)
  const ext = nameable(photo.format || extOf(head.filename) || extOf(lastSegment(head.finalUrl)) || extOf(lastSegment(url)) || 'jpg', photo.id)
  // A first sync's spooled photo holds its URL as a template: its original holds it the same way.
  if (atUrlO && photo instanceof SpooledPhoto) return photo.originalAtUrlO(head.size, ext)
  return { id: photo.id, secret: photo.secret, size: head.size, ext, url, kind: 'original' }
}

async function resolveVideo(photo: PhotoEntry, lookup: MediaLookup): Promise<MediaEntry> {
  const { api, media, cookies } = lookup
  const sizes = (await api.getSizes(photo.id)).map(asRecord)
  const original = toStr(sizes.find((s) => s.label === 'Video Original')?.source)
  let refused: unknown
  if (original !== '') {
    try {
      const head = await media.head(original, headOpts(photo, 'original', lookup, cookies))
      checkSize(head.size, original, photo.id)
      const ext = nameable(extOf(head.filename) || extOf(lastSegment(head.finalUrl)) || photo.format || 'mp4', photo.id)
      return { id: photo.id, secret: photo.secret, size: head.size, ext, url: original, kind: 'original' }
    } catch (err) {
      if (!isItemFailure(err)) throw err
      refused = err
      debug('video %s: original refused (%s); trying transcodes', photo.id, errorMessage(err))
    }
  }
  for (const size of transcodesBestFirst(sizes)) {
    const url = toStr(size.source)
    try {
      const head = await media.head(url, headOpts(photo, 'transcode', lookup))
      checkSize(head.size, url, photo.id)
      return { id: photo.id, secret: photo.secret, size: head.size, ext: 'mp4', url, kind: 'transcode', label: toStr(size.label) }
    } catch (err) {
      if (!isItemFailure(err)) throw err
      refused ??= err
    }
  }
  throw new OriginalUnavailable(
    `Video ${photo.id}: neither the original nor any transcode could be had from Flickr` +
      (cookies === undefined ? ' (the original may need your Flickr web session cookies).' : '.'),
    { cause: refused },
  )
}

function transcodesBestFirst(sizes: Record<string, unknown>[]): Record<string, unknown>[] {
  const rank = (label: string): number => {
    const i = TRANSCODE_PREFERENCE.indexOf(label)
    return i === -1 ? TRANSCODE_PREFERENCE.length : i
  }
  return sizes
    .filter((s) => toStr(s.source) !== '' && isTranscodeLabel(toStr(s.label)))
    .sort((a, b) => {
      const area = toInt(b.width, 0) * toInt(b.height, 0) - toInt(a.width, 0) * toInt(a.height, 0)
      return area !== 0 ? area : rank(toStr(a.label)) - rank(toStr(b.label))
    })
}

/**
 * A video's sizes list also carries its still images (`Original`, `Large`, … all with media
 * "video"), so transcodes are told apart by label: the MP4 renditions and the `<n>p`/`<n>K` ones.
 */
function isTranscodeLabel(label: string): boolean {
  if (NOT_FILES.has(label)) return false
  return TRANSCODE_PREFERENCE.includes(label) || /mp4/i.test(label) || /^\d{3,4}p$/i.test(label) || /^\d+(\.\d+)?K$/.test(label)
}

function checkSize(size: number, url: string, id: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new OriginalUnavailable(`The media host did not state the size of ${id}'s file (${new URL(url).host}); cannot list it with an exact size.`)
  }
}

/**
 * The extension the file will be named with: the store and the layout accept only isSafeExt's, so
 * anything else is refused here, for this item alone, rather than listed and never storable.
 */
function nameable(ext: string, id: string): string {
  if (isSafeExt(ext)) return ext
  throw new OriginalUnavailable(`Flickr names ${id}'s original with the extension "${String(ext).slice(0, 40)}", which is no file name ` +
    'extension flickrfs can use (1 to 8 letters or digits); it is left out.')
}

function lastSegment(url: string): string {
  try {
    const parts = new URL(url).pathname.split('/').filter((p) => p !== '')
    return decodeURIComponent(parts[parts.length - 1] ?? '')
  } catch {
    return ''
  }
}

function extOf(name: string | null): string {
  if (name === null) return ''
  const dot = name.lastIndexOf('.')
  return dot <= 0 ? '' : normalizeExt(name.slice(dot + 1))
}
