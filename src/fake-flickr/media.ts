/**
 * Media URLs: originals, resized images, video files and the play URLs that redirect to them.
 * The secret in the path is the capability, as on Flickr's CDN: a stale secret is a 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FakeAccount, FakePhoto } from './account.js'
import { originalIdentity } from './account.js'
import { mediaChunks } from './media-bytes.js'
import { IMAGE_SIZES } from './records.js'

export interface MediaFile {
  identity: string
  size: number
  override?: Buffer
  contentType: string
  /** Content-Disposition file name (video files only, as on Flickr). */
  filename?: string
}

const TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  tif: 'image/tiff',
  mov: 'video/quicktime',
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  avi: 'video/x-msvideo',
}

function typeOf(ext: string): string {
  return TYPES[ext.toLowerCase()] ?? 'application/octet-stream'
}

/** Small derived sizes: the poster of a video, resized images, transcodes. */
function derivedSize(p: FakePhoto, variant: string, base: number): number {
  let h = 0
  for (const c of `${p.id}:${variant}`) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return Math.max(64, Math.round(base * (0.75 + (h % 1000) / 2000)))
}

export function transcodeSize(p: FakePhoto, kind: 'hd' | 'site'): number {
  return derivedSize(p, kind, p.bytes * (kind === 'hd' ? 0.6 : 0.3))
}

/** Maps a /media/… path to the file it names, or undefined (404). */
export function resolveMedia(account: FakeAccount, path: string): MediaFile | undefined {
  // The original under its own name (the target of play URLs with `namedVideoPaths`).
  const named = /^\/media\/video\/(\d+)\/([0-9a-f]+)\/(\d+)_([0-9a-f]+)\.([a-z0-9]+)$/.exec(path)
  if (named !== null) {
    const [, id, secret, nameId, nameSecret, ext] = named
    return nameId === id && nameSecret === secret ? resolveMedia(account, `/media/video/${id}/${secret}/orig.${ext}`) : undefined
  }
  const video = /^\/media\/video\/(\d+)\/([0-9a-f]+)\/(orig|hd|site)\.([a-z0-9]+)$/.exec(path)
  if (video !== null) {
    const [, id = '', secret, kind, ext = ''] = video
    const p = account.photos.get(id)
    if (p === undefined || p.media !== 'video') return undefined
    if (kind === 'orig') {
      if (secret !== p.originalsecret || ext !== p.videoFormat) return undefined
      const f: MediaFile = { identity: originalIdentity(p), size: p.bytes, contentType: typeOf(ext), filename: `${p.id}.${ext}` }
      if (p.override !== undefined) f.override = p.override
      return f
    }
    if (secret !== p.secret || ext !== 'mp4') return undefined
    const k = kind === 'hd' ? 'hd' : 'site'
    return { identity: `${p.id}:${p.secret}:${k}`, size: transcodeSize(p, k), contentType: 'video/mp4', filename: `${p.id}.mp4` }
  }
  const image = /^\/media\/(\d+)\/(\d+)_([0-9a-f]+)_([a-z])\.([a-z0-9]+)$/.exec(path)
  if (image === null) return undefined
  const [, server, id = '', secret, suffix = '', ext = ''] = image
  const p = account.photos.get(id)
  if (p === undefined || server !== p.server) return undefined
  if (suffix === 'o') {
    if (secret !== p.originalsecret || ext !== p.originalformat) return undefined
    if (p.media === 'video') {
      return { identity: `${p.id}:${p.originalsecret}:poster`, size: derivedSize(p, 'poster', 60_000), contentType: typeOf(ext) }
    }
    const f: MediaFile = { identity: originalIdentity(p), size: p.bytes, contentType: typeOf(ext) }
    if (p.override !== undefined) f.override = p.override
    return f
  }
  const sized = IMAGE_SIZES.find((s) => s.suffix === suffix)
  if (sized === undefined || secret !== p.secret || ext !== 'jpg') return undefined
  return { identity: `${p.id}:${p.secret}:${suffix}`, size: derivedSize(p, suffix, sized.edge * sized.edge * 0.25), contentType: 'image/jpeg' }
}

/**
 * `/photos/<user>/<id>/play/<kind>/<secret>/` → the /media/video/… path it redirects to; for an
 * original, `named` is the same file under its own name (`<id>_<originalsecret>.<fmt>`).
 */
export function resolvePlay(account: FakeAccount, path: string): { target: string; kind: string; named?: string } | undefined {
  const m = /^\/photos\/([^/]+)\/(\d+)\/play\/(orig|hd|site)\/([0-9a-f]+)\/?$/.exec(path)
  if (m === null) return undefined
  const [, user, id = '', kind = '', secret] = m
  if (user !== account.user.pathAlias && user !== account.user.id) return undefined
  const p = account.photos.get(id)
  if (p === undefined || p.media !== 'video') return undefined
  if (kind === 'orig') {
    if (secret !== p.originalsecret) return undefined
    const ext = p.videoFormat ?? 'mov'
    return { target: `/media/video/${p.id}/${p.originalsecret}/orig.${ext}`, kind, named: `/media/video/${p.id}/${p.originalsecret}/${p.id}_${p.originalsecret}.${ext}` }
  }
  if (secret !== p.secret) return undefined
  return { target: `/media/video/${p.id}/${p.secret}/${kind}.mp4`, kind }
}

export function hasSessionCookies(req: IncomingMessage): boolean {
  const cookie = req.headers.cookie ?? ''
  return /(?:^|;\s*)cookie_accid=[^;]+/.test(cookie) && /(?:^|;\s*)cookie_epass=[^;]+/.test(cookie)
}

/** Parses a single `bytes=` range; 'invalid' means 416, undefined means serve it whole. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return undefined
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return 'invalid'
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'invalid'
    return { start: Math.max(0, size - n), end: size }
  }
  const start = Number(a)
  const end = b === '' ? size : Math.min(size, Number(b) + 1)
  if (start >= size || end <= start) return 'invalid'
  return { start, end }
}

/** Resolves when `res` can take more (or is closed); also used by hostile.ts. */
export function waitWritable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/**
 * Streams [start, end) of a media file. With `cutAfter`, stops after that many bytes and destroys
 * the socket, so the client sees fewer bytes than Content-Length promised. Returns bytes written.
 */
export async function streamMedia(res: ServerResponse, file: MediaFile, start: number, end: number, cutAfter?: number): Promise<number> {
  const stop = cutAfter === undefined ? end : Math.min(end, start + cutAfter)
  const chunks: Iterable<Buffer> = file.override !== undefined ? [file.override.subarray(start, stop)] : mediaChunks(file.identity, start, stop)
  let sent = 0
  for (const chunk of chunks) {
    if (res.destroyed) break
    sent += chunk.length
    if (!res.write(chunk)) await waitWritable(res)
  }
  if (cutAfter !== undefined) {
    // Let the written bytes leave before the connection drops mid-body.
    await new Promise<void>((resolve) => {
      if (res.socket === null) resolve()
      else res.socket.write('', () => resolve())
    })
    res.socket?.destroy()
  } else res.end()
  return sent
}
