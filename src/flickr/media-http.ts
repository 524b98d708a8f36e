/**
 * The media client's HTTP exchanges, on node:http and node:https rather than fetch: a pin makes one
 * GET per original, and through fetch each cost about 0.9 ms of CPU (Request, Headers and Response
 * objects, a WHATWG body stream, undici's parser in wasm) against about 0.5 ms here.
 *
 * Only what the media client needs: one request without a body, its answer's head, and the answer's
 * body as the Node stream it is (media-body.ts guards it). Redirects are not followed here (the
 * client follows them hop by hop, checking each host); nothing is decompressed but what the server
 * encoded although asked not to (Accept-Encoding: identity), as fetch would.
 *
 * Sockets: one keep-alive agent per scheme, at most MAX_SOCKETS per host, idle ones closed after
 * IDLE_SOCKET_MS (below the 5 s that node's server, and most CDNs, keep an idle connection) and never
 * keeping the process alive.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Readable } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'

/** Sockets per host: pin keeps 32 downloads in flight, a mount's readers a few more. */
const MAX_SOCKETS = 64
const IDLE_SOCKET_MS = 4000

export interface MediaAgents {
  http: HttpAgent
  https: HttpsAgent
}

/** A pair of agents; `ca`: certificates to trust instead of the system's (tests). */
export function mediaAgents(opts: { maxSockets?: number; ca?: string | Buffer } = {}): MediaAgents {
  const maxSockets = opts.maxSockets ?? MAX_SOCKETS
  const o = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const }
  return { http: new HttpAgent(o), https: new HttpsAgent(opts.ca === undefined ? o : { ...o, ca: opts.ca }) }
}

/** The agents every MediaClient shares unless given its own. */
let shared: MediaAgents | undefined
export function sharedMediaAgents(): MediaAgents {
  shared ??= mediaAgents()
  return shared
}

const ignore = (): void => undefined

/** The head of an answer, and its body not read yet. */
export class MediaAnswer {
  readonly status: number
  readonly statusText: string
  /** As on a fetch Response: `get(name)` with a lower-case name, null when absent. */
  readonly headers: { get(name: string): string | null }

  constructor(readonly message: IncomingMessage) {
    // A connection may break before anyone reads the body: its error must not go unheard (the body's
    // reader still learns of it, media-body.ts).
    message.on('error', ignore)
    this.status = message.statusCode ?? 0
    this.statusText = message.statusMessage ?? ''
    const h = message.headers
    this.headers = {
      get(name: string): string | null {
        const v = h[name]
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v
      },
    }
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  /**
   * The body as sent, decoded when the server encoded it anyway (gzip, deflate, br; another
   * encoding is passed as it is, as fetch does); `encoded` says whether Content-Length counts
   * other bytes than these.
   */
  body(): { stream: Readable; encoded: boolean; cancel: () => void } {
    const msg = this.message
    const encoding = this.headers.get('content-encoding')?.trim().toLowerCase() ?? ''
    const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip()
      : encoding === 'deflate' ? createInflate()
        : encoding === 'br' ? createBrotliDecompress() : undefined
    if (decoder === undefined) return { stream: msg, encoded: encoding !== '' && encoding !== 'identity', cancel: () => release(msg) }
    msg.on('error', (err) => decoder.destroy(err))
    msg.pipe(decoder)
    return { stream: decoder, encoded: true, cancel: () => { decoder.destroy(); msg.destroy() } }
  }

  /** Drops the body: a short one is read to its end so the connection serves again (within a bound), any other closes it. */
  discard(): void {
    const msg = this.message
    if (msg.destroyed || msg.readableEnded) return
    const length = Number(this.headers.get('content-length') ?? NaN)
    if (!msg.complete && !(length <= 64 * 1024)) {
      msg.destroy()
      return
    }
    if (!msg.complete) {
      const timer = setTimeout(() => msg.destroy(), 5000)
      timer.unref()
      msg.once('close', () => clearTimeout(timer))
    }
    msg.resume()
  }
}

/**
 * Lets go of a body: one the parser has read to its end (its bytes are all here, or dropped now)
 * gives its connection back to the agent; one still arriving closes it, as nothing bounds how long
 * it could take.
 */
function release(msg: IncomingMessage): void {
  if (msg.destroyed || msg.readableEnded) return
  if (!msg.complete) {
    msg.destroy()
    return
  }
  // resume() does nothing while a 'readable' listener (the body guard's) is there.
  msg.removeAllListeners('readable')
  msg.resume()
}

/** One request in flight: `answer` resolves with its head; `abort(reason)` fails it with `reason` (before or after the head). */
export interface Exchange {
  answer: Promise<MediaAnswer>
  abort(reason: unknown): void
}

/**
 * Sends `method url` with `headers` (and no body) through the agent of its scheme. `answer`
 * rejects with what broke (an errno error, ECONNREFUSED, ECONNRESET…) or with the reason given to
 * `abort`. A request on a kept-alive connection that the server had closed meanwhile (ECONNRESET
 * or EPIPE before any answer) is sent once more at once on a fresh one: it never reached the server.
 */
export function send(url: URL, method: 'GET' | 'HEAD', headers: OutgoingHttpHeaders, agents: MediaAgents): Exchange {
  let req: ClientRequest | undefined
  let aborted: { reason: unknown } | undefined
  const answer = new Promise<MediaAnswer>((resolve, reject) => {
    const go = (retried: boolean): void => {
      const https = url.protocol === 'https:'
      const r = (https ? httpsRequest : httpRequest)({
        protocol: url.protocol,
        // [::1] → ::1
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: url.pathname + url.search,
        method,
        headers,
        agent: https ? agents.https : agents.http,
      })
      req = r
      let answered = false
      r.on('response', (msg: IncomingMessage) => {
        answered = true
        resolve(new MediaAnswer(msg))
      })
      // Always listened to: a socket error after the answer is also emitted here (the body's own
      // stream fails with it too).
      r.on('error', (err: NodeJS.ErrnoException) => {
        if (answered) return
        // What the caller gave to abort (a TimeoutError, its own reason) is what fails, as with fetch.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        if (aborted !== undefined) return reject(aborted.reason)
        const code = err.code
        if (!retried && r.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) return go(true)
        reject(err)
      })
      r.end()
    }
    go(false)
  })
  return {
    answer,
    abort(reason) {
      aborted ??= { reason }
      req?.destroy(reason instanceof Error ? reason : new Error(String(reason)))
    },
  }
}
