/**
 * A media body that cannot hang or lie for long: it fails when the server sends nothing for
 * `idleMs`, when it sends fewer than `minBytesPerSec` over a window of `windowMs`, and when it sends
 * more bytes than it announced or ends before them.
 *
 * Time counts only while the reader waits for the network (a slow consumer is not the server's
 * fault). The errors are MediaBodyError, deliberately not a FlickrfsError: a consumer that keeps a
 * partial file (the store) resumes a body that broke off and gives up on a FlickrfsError.
 */
import type { ReadableStreamReadResult, UnderlyingSource } from 'node:stream/web'
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

export function guardBody(src: ReadableStream<Uint8Array>, opts: GuardOptions): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(new BodyGuard(src, opts), { highWaterMark: 0 })
}

type Controller = ReadableStreamDefaultController<Uint8Array>

/** The underlying source: one chunk of `src` per pull, checked for idleness, length and rate. */
class BodyGuard implements UnderlyingSource<Uint8Array> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #opts: GuardOptions
  readonly #shown: string
  #received = 0
  #windowWaitMs = 0
  #windowBytes = 0

  constructor(src: ReadableStream<Uint8Array>, opts: GuardOptions) {
    this.#reader = src.getReader()
    this.#opts = opts
    this.#shown = redact(opts.url)
  }

  async pull(controller: Controller): Promise<void> {
    const started = performance.now()
    const r = await this.#readOrIdle(controller)
    if (r === undefined) return
    if (r === 'idle') {
      return this.#fail(controller, 'stalled', false,
        `The media server stopped sending ${this.#shown} (nothing for ${this.#opts.limits.idleMs / 1000} s after ${this.#received} bytes).`)
    }
    if (r.done) return this.#end(controller)
    const { expected } = this.#opts
    this.#received += r.value.byteLength
    if (expected >= 0 && this.#received > expected) {
      return this.#fail(controller, 'length', true, `The media server sent more than the ${expected} bytes it announced for ${this.#shown}.`)
    }
    if (this.#tooSlow(performance.now() - started, r.value.byteLength, controller)) return
    controller.enqueue(r.value)
  }

  cancel(reason: unknown): Promise<void> {
    return this.#reader.cancel(reason)
  }

  /** The next chunk, 'idle' after `idleMs` of nothing, or undefined once the read failed (passed on as it is). */
  async #readOrIdle(controller: Controller): Promise<ReadableStreamReadResult<Uint8Array> | 'idle' | undefined> {
    let timer: NodeJS.Timeout | undefined
    const idle = new Promise<'idle'>((resolve) => {
      timer = setTimeout(() => resolve('idle'), this.#opts.limits.idleMs)
    })
    try {
      return await Promise.race([this.#reader.read(), idle])
    } catch (err) {
      // A broken connection, an abort: pass it on as it is.
      controller.error(err)
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  #end(controller: Controller): void {
    const { expected } = this.#opts
    if (expected >= 0 && this.#received < expected) {
      this.#fail(controller, 'length', false, `The body of ${this.#shown} ended after ${this.#received} of the ${expected} bytes announced.`)
    } else {
      controller.close()
    }
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
        `The media server sends ${this.#shown} too slowly (${Math.round(rate)} bytes/s, below ${minBytesPerSec}).`)
      return true
    }
    this.#windowWaitMs = 0
    this.#windowBytes = 0
    return false
  }

  #fail(controller: Controller, reason: 'stalled' | 'length', permanent: boolean, message: string): void {
    const err = new MediaBodyError(reason, permanent, this.#opts.url, message)
    controller.error(err)
    void this.#reader.cancel(err).catch(() => undefined)
  }
}
