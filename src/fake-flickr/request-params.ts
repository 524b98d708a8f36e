/**
 * Request parameters as Flickr reads them: the query string plus, for POST, a urlencoded or
 * multipart/form-data body (flickr-sdk posts FormData, i.e. multipart). Text fields only.
 * OAuth parameters may also come in an `Authorization: OAuth …` header (RFC 5849 §3.5.1), as the
 * Python flickrapi sends them; Flickr accepts that form too.
 */
import type { IncomingMessage } from 'node:http'

const MAX_BODY_BYTES = 4 * 1024 * 1024

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new Error('request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

export function parseMultipart(body: Buffer, boundary: string): Map<string, string> {
  const out = new Map<string, string>()
  const text = body.toString('latin1')
  for (const part of text.split(`--${boundary}`)) {
    const sep = part.indexOf('\r\n\r\n')
    if (sep < 0) continue
    const headers = part.slice(0, sep)
    const name = /name="([^"]*)"/i.exec(headers)?.[1]
    if (name === undefined) continue
    let value = part.slice(sep + 4)
    if (value.endsWith('\r\n')) value = value.slice(0, -2)
    out.set(Buffer.from(name, 'latin1').toString('utf8'), Buffer.from(value, 'latin1').toString('utf8'))
  }
  return out
}

/**
 * The `oauth_*` parameters of an `Authorization: OAuth k="v", …` header, percent-decoded; `realm`
 * is not signed (RFC 5849 §3.4.1.3.1) and is left out. Empty for any other header.
 */
export function oauthHeaderParams(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>()
  const m = /^OAuth\s+(.*)$/is.exec(header?.trim() ?? '')
  if (m === null) return out
  for (const pair of (m[1] ?? '').split(',')) {
    const kv = /^\s*([^=\s]+)\s*=\s*"([^"]*)"\s*$/.exec(pair)
    if (kv === null) continue
    try {
      const key = decodeURIComponent(kv[1] ?? '')
      if (key.startsWith('oauth_')) out.set(key, decodeURIComponent(kv[2] ?? ''))
    } catch {
      // A malformed escape: leave the parameter out, so the signature check fails as on Flickr.
    }
  }
  return out
}

/** Query parameters merged with OAuth header and body parameters (the body wins on a clash). */
export async function requestParams(req: IncomingMessage, url: URL): Promise<Map<string, string>> {
  const params = new Map<string, string>(url.searchParams)
  for (const [k, v] of oauthHeaderParams(req.headers.authorization)) params.set(k, v)
  if (req.method !== 'POST') return params
  const body = await readBody(req)
  const type = req.headers['content-type'] ?? ''
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type)
  if (type.startsWith('multipart/form-data') && boundary !== null) {
    for (const [k, v] of parseMultipart(body, boundary[1] ?? boundary[2] ?? '')) params.set(k, v)
  } else {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v)
  }
  return params
}
