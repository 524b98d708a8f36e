/**
 * Far reads: a range well ahead of the shared download is fetched on its own, by ranged GETs of
 * fixed-size chunks (1 MiB by default), kept in memory up to a byte bound (32 MiB by default),
 * least recently used out first.
 *
 * lru-cache's `fetch` makes the one GET per chunk however many readers want it: a second reader
 * joins the GET in flight. A reader that gives up only stops waiting; the GET goes on for the
 * others (`ignoreFetchAbort`) and ends only with `close()`. A chunk that cannot be fetched is
 * undefined, never an error: the caller then waits for the shared download, which reports real
 * failures.
 */
import { LRUCache } from 'lru-cache'
import createDebug from '../util/debug.js'
import { abortable } from '../util/abort.js'
import type { MediaSource } from './media-source.js'

const debug = createDebug('flickrfs:store')

export interface RangeChunksOptions {
  /** Size of the ranged GETs (default 1 MiB). */
  rangeChunkBytes?: number
  /** How many bytes of them to keep in memory (default 32 MiB). */
  rangeCacheBytes?: number
  /** Web session cookies for video originals, passed to the media source. */
  cookies?: string
}

/** One original: its download key (for logs and cache keys), URL and whole size. */
export interface RangedOriginal {
  key: string
  url: string
  size: number
}

interface ChunkRequest {
  original: RangedOriginal
  start: number
  length: number
}

export class RangeChunks {
  private readonly chunkBytes: number
  private readonly cache: LRUCache<string, Buffer, ChunkRequest>
  private readonly closed = new AbortController()

  constructor(private readonly media: MediaSource, private readonly counts: { rangedGets: number }, private readonly options: RangeChunksOptions = {}) {
    this.chunkBytes = options.rangeChunkBytes ?? 1 << 20
    this.cache = new LRUCache<string, Buffer, ChunkRequest>({
      maxSize: options.rangeCacheBytes ?? 32 << 20,
      sizeCalculation: (b) => Math.max(1, b.length),
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { context }) => this.fetchChunk(context),
    })
  }

  /** Bytes [position, end) of `o` in a Buffer of our own; undefined when a chunk could not be fetched. */
  async read(o: RangedOriginal, position: number, end: number, signal?: AbortSignal): Promise<Buffer | undefined> {
    const chunk = this.chunkBytes
    const first = Math.floor(position / chunk)
    const last = Math.floor((end - 1) / chunk)
    const parts: Buffer[] = []
    for (let i = first; i <= last; i++) {
      const start = i * chunk
      const fetching = this.cache.fetch(`${o.key}:${chunk}:${i}`, { context: { original: o, start, length: Math.min(chunk, o.size - start) } })
      // A fetch the cache dropped while in flight rejects: it is as good as not fetched.
      const b = await abortable(fetching.catch(() => undefined), signal)
      if (!b) return undefined
      parts.push(b)
    }
    const all = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)
    const from = position - first * chunk
    // A copy, so the cached chunk is never handed out to be written into.
    return Buffer.from(all.subarray(from, from + (end - position)))
  }

  /** Ends the GETs in flight. */
  close(): void {
    this.closed.abort(new Error('store closed'))
  }

  private async fetchChunk({ original: o, start, length }: ChunkRequest): Promise<Buffer | undefined> {
    try {
      this.counts.rangedGets += 1
      const res = await this.media.get(o.url, {
        start,
        signal: this.closed.signal,
        ...(this.options.cookies !== undefined ? { cookies: this.options.cookies } : {}),
      })
      if (res.status !== 206 || res.start !== start || res.size !== o.size) {
        await res.body.cancel().catch(() => {})
        return undefined
      }
      return await readExactly(res.body, length)
    } catch (err) {
      debug('%s: ranged read at %d failed: %O', o.key, start, err)
      return undefined
    }
  }
}

async function readExactly(body: ReadableStream<Uint8Array>, length: number): Promise<Buffer | undefined> {
  const reader = body.getReader()
  const out = Buffer.allocUnsafe(length)
  let got = 0
  try {
    while (got < length) {
      const { done, value } = await reader.read()
      if (done) return undefined
      const n = Math.min(value.byteLength, length - got)
      out.set(value.subarray(0, n), got)
      got += n
    }
    return out
  } finally {
    void reader.cancel().catch(() => {})
  }
}
