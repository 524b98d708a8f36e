/**
 * A media body that cannot hang or lie for long: it fails when the server sends nothing for
 * `idleMs`, when it sends fewer than `minBytesPerSec` over a window of `windowMs`, and when it sends
 * more bytes than it announced or ends before them.
 *
 * Time counts only while the reader waits for the network (a slow consumer is not the server's
 * fault). The errors are MediaBodyError, deliberately not a FlickrfsError: a consumer that keeps a
 * partial file (the store) resumes a body that broke off and gives up on a FlickrfsError.
 */
import type { Readable } from 'node:stream'
import type { UnderlyingSource } from 'node:stream/web'
import type { MediaFailureReason } from './media-hosts.js'
import { redact } from '../util/redact.js'

/** A body that broke off: stalled, too slow, or shorter or longer than announced. */
export class MediaBodyError extends Error {
  readonly code: 'TIMEOUT' | 'MEDIA'
  readonly reason: Extract<MediaFailureReason, 'stalled' | 'length'>
  /** A body longer than announced will be so again; a stall or an early end may not. */
  readonly permanent: boolean
  readonly url: string

  constructor(reason: 'stalled' | 'length', permanent: boolean, url: string, message: string) {
    super(message)
    this.name = 'MediaBodyError'
    this.code = reason === 'stalled' ? 'TIMEOUT' : 'MEDIA'
    this.reason = reason
    this.permanent = permanent
    this.url = url
  }
}

export interface BodyLimits {
  /** No byte for this long fails the body. */
  idleMs: number
  /** Fewer bytes per second than this, measured over `windowMs` of waiting, fails the body (0: no minimum). */
  minBytesPerSec: number
  windowMs: number
}

export interface GuardOptions {
  /** The bytes this response announced (Content-Length), or -1 when unknown. */
  expected: number
  url: string
  limits: BodyLimits
}

/**
 * The body of `src` (a response, or its decoder) as a web stream that enforces `opts`; `cancel`
 * lets go of the source (media-http.ts: a body read to its end gives its connection back).
 */
export function guardBody(src: Readable, cancel: () => void, opts: GuardOptions): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(new BodyGuard(src, cancel, opts), { highWaterMark: 0 })
}

type Controller = ReadableStreamDefaultController<Uint8Array>

/**
 * The underlying source: what `src` holds at each pull (read in paused mode, no copy of a single
 * chunk), checked for idleness, length and rate. One stream between the socket and the reader.
 */
class BodyGuard implements UnderlyingSource<Uint8Array> {
  readonly #src: Readable
  readonly #release: () => void
  readonly #opts: GuardOptions
  #received = 0
  #windowWaitMs = 0
  #windowBytes = 0
  #ended = false
  #failed: { err: unknown } | undefined
  /** Wakes a pull waiting for data, the end or a failure. */
  #wake: (() => void) | undefined
  #done = false

  constructor(src: Readable, release: () => void, opts: GuardOptions) {
    this.#src = src
    this.#release = release
    this.#opts = opts
    const wake = (): void => this.#wake?.()
    src.on('readable', wake)
    src.on('end', () => {
      this.#ended = true
      wake()
    })
    src.on('error', (err: unknown) => {
      this.#failed ??= { err }
      wake()
    })
    const closed = (): void => {
      // Closed before its end without an error of its own (destroyed under us): a broken body.
      if (!this.#ended) this.#failed ??= { err: Object.assign(new Error('the connection closed before the body ended'), { code: 'ECONNRESET' }) }
      wake()
    }
    src.on('close', closed)
    // Broken before this guard was made (between the answer's head and this).
    if (src.errored !== null) this.#failed = { err: src.errored }
    else if (src.destroyed) closed()
  }

  async pull(controller: Controller): Promise<void> {
    const started = performance.now()
    let chunk = this.#src.read() as Buffer | null
    while (chunk === null) {
      if (this.#ended) return this.#end(controller)
      if (this.#failed !== undefined) return this.#error(controller, this.#failed.err)
      if (!(await this.#wait())) {
        return this.#fail(controller, 'stalled', false,
          `The media server stopped sending ${this.#shown()} (nothing for ${this.#opts.limits.idleMs / 1000} s after ${this.#received} bytes).`)
      }
      chunk = this.#src.read() as Buffer | null
    }
    const { expected } = this.#opts
    this.#received += chunk.byteLength
    if (expected >= 0 && this.#received > expected) {
      return this.#fail(controller, 'length', true, `The media server sent more than the ${expected} bytes it announced for ${this.#shown()}.`)
    }
    if (this.#tooSlow(performance.now() - started, chunk.byteLength, controller)) return
    controller.enqueue(chunk)
  }

  cancel(): void {
    this.#finish()
  }

  /** True when something happened (data, the end, a failure); false after `idleMs` of nothing. */
  #wait(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined
        resolve(false)
      }, this.#opts.limits.idleMs)
      this.#wake = () => {
        this.#wake = undefined
        clearTimeout(timer)
        resolve(true)
      }
    })
  }

  #shown(): string {
    return redact(this.#opts.url)
  }

  #finish(): void {
    if (this.#done) return
    this.#done = true
    this.#release()
  }

  #end(controller: Controller): void {
    const { expected } = this.#opts
    if (expected >= 0 && this.#received < expected) {
      this.#fail(controller, 'length', false, `The body of ${this.#shown()} ended after ${this.#received} of the ${expected} bytes announced.`)
    } else {
      this.#done = true
      controller.close()
    }
  }

  /** A broken connection, an abort: passed on as it is. */
  #error(controller: Controller, err: unknown): void {
    this.#finish()
    controller.error(err)
  }

  /** Counts a chunk into the rate window; true (and the body failed) when a full window was too slow. */
  #tooSlow(waitedMs: number, bytes: number, controller: Controller): boolean {
    const { minBytesPerSec, windowMs } = this.#opts.limits
    this.#windowWaitMs += waitedMs
    this.#windowBytes += bytes
    if (this.#windowWaitMs < windowMs) return false
    const rate = this.#windowBytes / (this.#windowWaitMs / 1000)
    if (minBytesPerSec > 0 && rate < minBytesPerSec) {
      this.#fail(controller, 'stalled', false,
        `The media server sends ${this.#shown()} too slowly (${Math.round(rate)} bytes/s, below ${minBytesPerSec}).`)
      return true
    }
    this.#windowWaitMs = 0
    this.#windowBytes = 0
    return false
  }

  #fail(controller: Controller, reason: 'stalled' | 'length', permanent: boolean, message: string): void {
    this.#finish()
    controller.error(new MediaBodyError(reason, permanent, this.#opts.url, message))
  }
}
