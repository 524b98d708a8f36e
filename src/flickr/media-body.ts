/**
 * A media body that cannot hang or lie for long: it fails when the server sends nothing for
 * `idleMs`, when it sends fewer than `minBytesPerSec` over a window of `windowMs`, and when it sends
 * more bytes than it announced or ends before them.
 *
 * Time counts only while the reader waits for the network (a slow consumer is not the server's
 * fault). The errors are MediaBodyError, deliberately not a FlickrfsError: a consumer that keeps a
 * partial file (the store) resumes a body that broke off and gives up on a FlickrfsError.
 */
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

/** `expected`: the bytes this response announced (Content-Length), or -1 when unknown. */
export function guardBody(
  src: ReadableStream<Uint8Array>,
  expected: number,
  url: string,
  limits: BodyLimits,
): ReadableStream<Uint8Array> {
  const reader = src.getReader()
  const shown = redact(url)
  let received = 0
  let windowWaitMs = 0
  let windowBytes = 0

  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, err: MediaBodyError): void => {
    controller.error(err)
    void reader.cancel(err).catch(() => undefined)
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const started = performance.now()
      let timer: NodeJS.Timeout | undefined
      const idle = new Promise<'idle'>((resolve) => {
        timer = setTimeout(() => resolve('idle'), limits.idleMs)
      })
      let r: Awaited<ReturnType<typeof reader.read>> | 'idle'
      try {
        r = await Promise.race([reader.read(), idle])
      } catch (err) {
        // A broken connection, an abort: pass it on as it is.
        controller.error(err)
        return
      } finally {
        clearTimeout(timer)
      }
      if (r === 'idle') {
        fail(controller, new MediaBodyError('stalled', false, url,
          `The media server stopped sending ${shown} (nothing for ${limits.idleMs / 1000} s after ${received} bytes).`))
        return
      }
      if (r.done) {
        if (expected >= 0 && received < expected) {
          fail(controller, new MediaBodyError('length', false, url,
            `The body of ${shown} ended after ${received} of the ${expected} bytes announced.`))
        } else {
          controller.close()
        }
        return
      }
      received += r.value.byteLength
      if (expected >= 0 && received > expected) {
        fail(controller, new MediaBodyError('length', true, url,
          `The media server sent more than the ${expected} bytes it announced for ${shown}.`))
        return
      }
      windowWaitMs += performance.now() - started
      windowBytes += r.value.byteLength
      if (windowWaitMs >= limits.windowMs) {
        const rate = windowBytes / (windowWaitMs / 1000)
        if (limits.minBytesPerSec > 0 && rate < limits.minBytesPerSec) {
          fail(controller, new MediaBodyError('stalled', false, url,
            `The media server sends ${shown} too slowly (${Math.round(rate)} bytes/s, below ${limits.minBytesPerSec}).`))
          return
        }
        windowWaitMs = 0
        windowBytes = 0
      }
      controller.enqueue(r.value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  }, { highWaterMark: 0 })
}
