/**
 * Hostile items and hostile listings (faults.ts says what each switch does): the API answers are
 * rewritten after the normal handler built them, and media answers for a hostile item are served
 * here instead of by the normal path. Everything else about the fake stays as faithful as before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FaultSettings, HostileKind } from './faults.js'
import { waitWritable, type MediaFile } from './media.js'
import { mediaChunks } from './media-bytes.js'

/** A format of 17 characters: more than any file name extension flickrfs accepts. */
export const LONG_FORMAT = 'extendedjpegimage'
/** How far a lying Content-Length is off (at most a quarter of the file). */
export const LIE_BYTES = 1000

const LIST_KEYS: ReadonlyArray<[string, string]> = [['photos', 'photo'], ['photoset', 'photo'], ['photosets', 'photoset']]

/** The photo id a media or play URL path is about, if any. */
export function mediaItemId(path: string): string | undefined {
  return /^\/media\/video\/(\d+)\//.exec(path)?.[1] ??
    /^\/media\/\d+\/(\d+)_/.exec(path)?.[1] ??
    /^\/photos\/[^/]+\/(\d+)\/play\//.exec(path)?.[1]
}

/** A list method's envelope and item key in `body`, if `body` is a paged list. */
function listOf(body: Record<string, unknown>): { env: Record<string, unknown>; key: string } | undefined {
  for (const [envelope, key] of LIST_KEYS) {
    const env = body[envelope]
    if (env !== null && typeof env === 'object' && 'total' in env) return { env: env, key }
  }
  return undefined
}

/** The URL the API gives for a hostile item's original, as that item's switches want it. */
function hostileUrl(url: string, id: string, faults: FaultSettings, playUrl = false): string {
  let out = url
  // A video's play URL stays put: its Content-Disposition and its redirect carry those two.
  if (!playUrl && faults.isHostile(id, 'longExt')) out = out.replace(/\.[a-z0-9]+$/i, `.${LONG_FORMAT}`)
  if (!playUrl && faults.isHostile(id, 'otherHost')) out = out.replace(/^(https?:\/\/)127\.0\.0\.1(?=[:/])/, '$1localhost')
  if (faults.isHostile(id, 'badScheme')) out = out.replace(/^https?:/, 'ftp:')
  if (faults.isHostile(id, 'fileScheme')) out = 'file:///etc/passwd'
  return out
}

function rewritePhoto(r: Record<string, unknown>, faults: FaultSettings): void {
  const id = typeof r.id === 'string' ? r.id : ''
  if (!Object.hasOwn(faults.hostile, id)) return
  if (faults.isHostile(id, 'longExt') && typeof r.originalformat === 'string') r.originalformat = LONG_FORMAT
  if (typeof r.url_o === 'string') r.url_o = hostileUrl(r.url_o, id, faults)
}

/** The REST call a hostile rewrite is about; `again(page)` builds the same method's answer for another page. */
export interface RestCall {
  method: string
  params: ReadonlyMap<string, string>
  faults: FaultSettings
  again: (page: number) => Record<string, unknown>
}

/** Applies the listing faults and the hostile items' URLs to a REST answer (endlessPages repeats page 1). */
export function hostileRest(body: Record<string, unknown>, call: RestCall): Record<string, unknown> {
  const { params, faults } = call
  let out = body
  let list = listOf(out)
  const area = { area: 'rest' as const, name: call.method }
  if (list !== undefined && faults.take('endlessPages', area)) {
    out = call.again(1)
    list = listOf(out)
    if (list !== undefined) {
      list.env.page = Number.parseInt(params.get('page') ?? '1', 10) || 1
      list.env.pages = 1_000_000_000
    }
  }
  if (list !== undefined && faults.take('dropList', area)) delete list.env[list.key]
  if (list !== undefined && list.key === 'photo' && Array.isArray(list.env.photo)) {
    for (const r of list.env.photo) rewritePhoto(r as Record<string, unknown>, faults)
  }
  rewriteSizes(out, params.get('photo_id') ?? '', faults)
  return out
}

/** getSizes of a hostile item: its Original and Video Original sources as its switches want them. */
function rewriteSizes(out: Record<string, unknown>, id: string, faults: FaultSettings): void {
  const sizes = (out.sizes as { size?: unknown } | undefined)?.size
  if (!Array.isArray(sizes) || !Object.hasOwn(faults.hostile, id)) return
  for (const s of sizes as Array<Record<string, unknown>>) {
    if ((s.label === 'Original' || s.label === 'Video Original') && typeof s.source === 'string') {
      s.source = hostileUrl(s.source, id, faults, s.label === 'Video Original')
    }
  }
}

function chunksOf(file: MediaFile, start: number, end: number): Iterable<Buffer> {
  if (end <= start) return []
  return file.override !== undefined ? [file.override.subarray(start, end)] : mediaChunks(file.identity, start, end)
}

/** Writes bytes [start, end) of the real file; returns how many. */
async function writeBytes(res: ServerResponse, file: MediaFile, start: number, end: number, pace?: { bytes: number; everyMs: number }): Promise<number> {
  let sent = 0
  for (const chunk of chunksOf(file, start, end)) {
    for (let at = 0; at < chunk.length; ) {
      if (res.destroyed) return sent
      const piece = pace === undefined ? chunk.subarray(at) : chunk.subarray(at, at + pace.bytes)
      at += piece.length
      sent += piece.length
      if (!res.write(piece)) await waitWritable(res)
      if (pace !== undefined) await new Promise((r) => setTimeout(r, pace.everyMs))
    }
  }
  return sent
}

/** Keeps the connection open, sending nothing, until the client (or the server's close) ends it. */
function hold(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) resolve()
    else res.once('close', () => resolve())
  })
}

/** Parses a single `bytes=a-` or `bytes=a-b` range against `size`; undefined: whole file; 'invalid': 416. */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header?.trim() ?? '')
  if (m === null) return undefined
  const start = Number(m[1])
  const end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  return start >= size || end <= start ? 'invalid' : { start, end }
}

/** One media answer for a hostile item: the request, its response, the file and the normal headers. */
export interface HostileTransfer {
  req: IncomingMessage
  res: ServerResponse
  file: MediaFile
  headers: Record<string, string>
  /** Whether the item has this hostile switch on. */
  has: (k: HostileKind) => boolean
}

/** The switches that touch the transfer itself (sizes, ranges, bodies). */
const TRANSFER_KINDS: readonly HostileKind[] = ['ignoreRange', 'truncate', 'contentLengthTooBig', 'contentLengthTooSmall', 'stallMidBody', 'trickle']

/**
 * Serves a media file for a hostile item whose switches touch the transfer itself. Returns the
 * body bytes sent, or undefined when none of those switches is set (the normal path serves it).
 */
export async function serveHostileFile(t: HostileTransfer): Promise<number | undefined> {
  if (!TRANSFER_KINDS.some(t.has)) return undefined
  const span = writeHostileHead(t)
  if (span === undefined) return 0
  // Headers go out now, even when no body byte ever follows.
  t.res.flushHeaders()
  return sendHostileBody(t, span)
}

/** Status and headers, lying as the switches want; undefined when no body follows (416 or HEAD). */
function writeHostileHead({ req, res, file, headers, has }: HostileTransfer): { start: number; end: number } | undefined {
  const lie = Math.min(LIE_BYTES, Math.floor(file.size / 4))
  // What the server claims the file's size is.
  const stated = has('contentLengthTooBig') ? file.size + lie : file.size
  const range = has('ignoreRange') ? undefined : rangeOf(req.headers.range, stated)
  if (range === 'invalid') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${stated}` }).end()
    return undefined
  }
  const start = range?.start ?? 0
  const end = range?.end ?? stated
  let length = end - start
  if (range === undefined && has('contentLengthTooSmall')) length -= lie
  const out: Record<string, string> = { ...headers, 'content-length': String(length) }
  if (range !== undefined) out['content-range'] = `bytes ${start}-${end - 1}/${stated}`
  res.strictContentLength = false
  res.writeHead(range === undefined ? 200 : 206, out)
  if (req.method === 'HEAD') {
    res.end()
    return undefined
  }
  return { start, end }
}

/** The body of [start, end) as the switches spoil it: cut, stalled, short, or trickled. */
async function sendHostileBody({ res, file, has }: HostileTransfer, { start, end }: { start: number; end: number }): Promise<number> {
  if (has('truncate')) {
    const sent = await writeBytes(res, file, start, Math.min(file.size, start + Math.floor((end - start) / 2)))
    await new Promise<void>((resolve) => (res.socket === null ? resolve() : res.socket.write('', () => resolve())))
    res.socket?.destroy()
    return sent
  }
  if (has('stallMidBody')) {
    const sent = await writeBytes(res, file, start, Math.min(end, Math.floor(file.size / 2)))
    await hold(res)
    return sent
  }
  if (has('contentLengthTooBig')) {
    const sent = await writeBytes(res, file, start, Math.min(end, file.size))
    await hold(res)
    return sent
  }
  // contentLengthTooSmall sends the whole real file whatever it announced.
  const realEnd = has('contentLengthTooSmall') ? file.size : end
  const sent = await writeBytes(res, file, start, realEnd, has('trickle') ? { bytes: 64, everyMs: 250 } : undefined)
  res.end()
  return sent
}
