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
 * A body read chunk by chunk. `read` gives the next chunk, undefined at the end (or once cancelled),
 * and throws what broke the body (a MediaBodyError, an errno error, an abort's reason); `cancel`
 * lets go of it (a read waiting then ends). One reader at a time.
 */
export interface BodyChunks {
  read(): Promise<Uint8Array | undefined>
  cancel(reason?: unknown): void
}

/**
 * The body of `src` (a response, or its decoder), read chunk by chunk and checked against `opts`;
 * `cancel` lets go of the source (media-http.ts: a body read to its end gives its connection back).
 * No web stream: the store reads one body per original, and a ReadableStream, its reader and a
 * promise per pull cost a pin of 700 items tens of milliseconds of CPU.
 */
export function guardedChunks(src: Readable, cancel: () => void, opts: GuardOptions): BodyChunks {
  return new BodyGuard(src, cancel, opts)
}

/** `chunks` as a web stream: each pull one read; cancelling the stream cancels them. */
export function chunksAsStream(chunks: BodyChunks): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | undefined
      try {
        chunk = await chunks.read()
      } catch (err) {
        controller.error(err)
        return
      }
      if (chunk === undefined) controller.close()
      else controller.enqueue(chunk)
    },
    cancel(reason) {
      chunks.cancel(reason)
    },
  }, { highWaterMark: 0 })
}

/**
 * What `src` holds at each read (read in paused mode, no copy of a single chunk), checked for
 * idleness, length and rate. One object between the socket and the reader.
 */
class BodyGuard implements BodyChunks {
  readonly #src: Readable
  readonly #release: () => void
  readonly #opts: GuardOptions
  #received = 0
  #windowWaitMs = 0
  #windowBytes = 0
  #ended = false
  #failed: { err: unknown } | undefined
  /** Wakes a read waiting for data, the end, a failure or a cancel. */
  #wake: (() => void) | undefined
  #done = false
  /** How the body ended for its reader: read to its end or cancelled ('done'), or failed. */
  #over: 'done' | { err: unknown } | undefined

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

  async read(): Promise<Uint8Array | undefined> {
    if (this.#over !== undefined) return this.#overAgain()
    let chunk = this.#src.read() as Buffer | null
    // Only a wait is timed: a chunk already here took none (and a clock read per chunk is not free).
    let waitedMs = 0
    if (chunk === null) {
      const started = performance.now()
      while (chunk === null) {
        if (this.#over !== undefined) return this.#overAgain()
        if (this.#ended) return this.#end()
        if (this.#failed !== undefined) return this.#error(this.#failed.err)
        if (!(await this.#wait())) {
          return this.#fail('stalled', false,
            `The media server stopped sending ${this.#shown()} (nothing for ${this.#opts.limits.idleMs / 1000} s after ${this.#received} bytes).`)
        }
        if (this.#over !== undefined) return this.#overAgain()
        chunk = this.#src.read() as Buffer | null
      }
      waitedMs = performance.now() - started
    }
    const { expected } = this.#opts
    this.#received += chunk.byteLength
    if (expected >= 0 && this.#received > expected) {
      return this.#fail('length', true, `The media server sent more than the ${expected} bytes it announced for ${this.#shown()}.`)
    }
    this.#checkRate(waitedMs, chunk.byteLength)
    return chunk
  }

  cancel(): void {
    this.#over ??= 'done'
    this.#finish()
    this.#wake?.()
  }

  /** A read after the end, a cancel or a failure: the same answer again. */
  #overAgain(): undefined {
    if (typeof this.#over !== 'object') return undefined
    // What broke the body, as the first read got it (an abort's reason may be any value).
    throw this.#over.err
  }

  /** True when something happened (data, the end, a failure, a cancel); false after `idleMs` of nothing. */
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

  #end(): undefined {
    const { expected } = this.#opts
    if (expected >= 0 && this.#received < expected) {
      return this.#fail('length', false, `The body of ${this.#shown()} ended after ${this.#received} of the ${expected} bytes announced.`)
    }
    this.#done = true
    this.#over = 'done'
    return undefined
  }

  /** A broken connection, an abort: passed on as it is. */
  #error(err: unknown): never {
    this.#finish()
    this.#over = { err }
    throw err
  }

  /** Counts a chunk into the rate window; fails the body when a full window was too slow. */
  #checkRate(waitedMs: number, bytes: number): void {
    const { minBytesPerSec, windowMs } = this.#opts.limits
    this.#windowWaitMs += waitedMs
    this.#windowBytes += bytes
    if (this.#windowWaitMs < windowMs) return
    const rate = this.#windowBytes / (this.#windowWaitMs / 1000)
    if (minBytesPerSec > 0 && rate < minBytesPerSec) {
      this.#fail('stalled', false, `The media server sends ${this.#shown()} too slowly (${Math.round(rate)} bytes/s, below ${minBytesPerSec}).`)
    }
    this.#windowWaitMs = 0
    this.#windowBytes = 0
  }

  #fail(reason: 'stalled' | 'length', permanent: boolean, message: string): never {
    return this.#error(new MediaBodyError(reason, permanent, this.#opts.url, message))
  }
}
