/**
 * What the store tests share: the real fake Flickr over loopback HTTP, the real MediaClient, real
 * temp dirs. `observed()` wraps the client to record which ranges were asked for, to slow bodies
 * down (a slow network, so "before the whole download" is measurable) and to look at the disk at
 * the moment a request goes out.
 */
import { mkdir, rm } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { MediaEntry } from '../../src/catalog/types.js'
import { generateAccount, startFakeFlickr, type FakeFlickr, type FakePhoto } from '../../src/fake-flickr/index.js'
import { MediaClient } from '../../src/flickr/index.js'
import type { MediaResponse, MediaSource } from '../../src/store/index.js'
import { tempDir } from '../support/repo.js'

export interface World {
  fake: FakeFlickr
  client: MediaClient
  tmp: string
  /** A fresh, empty store root under `tmp`. */
  newRoot(): Promise<string>
  /** A new photo on the fake account, as the catalog would describe it. */
  addPhoto(bytes: number | Buffer, format?: string): MediaEntry
  entryOf(p: FakePhoto, origin?: string): MediaEntry
  bytesOf(id: string): Buffer
  close(): Promise<void>
}

export async function startWorld(): Promise<World> {
  const fake = await startFakeFlickr({ account: generateAccount({ seed: 7, photos: 1, videos: 0, sets: 0, collections: 0 }) })
  const client = new MediaClient({ origins: [fake.origin], retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
  const tmp = await tempDir('flickrfs-store-')
  const entryOf = (p: FakePhoto, origin = fake.origin): MediaEntry => ({
    id: p.id,
    secret: p.originalsecret,
    size: p.bytes,
    ext: p.originalformat,
    url: `${origin}/media/${p.server}/${p.id}_${p.originalsecret}_o.${p.originalformat}`,
    kind: 'original',
  })
  let roots = 0
  return {
    fake,
    client,
    tmp,
    newRoot: async () => {
      const root = join(tmp, `root${roots++}`)
      await mkdir(root)
      return root
    },
    entryOf,
    addPhoto: (bytes, format = 'jpg') => entryOf(fake.account.addPhoto({ bytes, originalformat: format })),
    bytesOf: (id) => fake.account.originalBytes(id),
    close: async () => {
      await fake.close()
      await rm(tmp, { recursive: true, force: true })
    },
  }
}


export interface Observed extends MediaSource {
  starts: number[]
}

/** The real client, watched: records each request's start, runs `beforeGet` first, delays each body chunk by `chunkDelayMs`. */
export function observed(inner: MediaSource, opts: { chunkDelayMs?: number; beforeGet?: (url: string, start: number) => Promise<void> } = {}): Observed {
  const starts: number[] = []
  return {
    starts,
    async get(url, o) {
      const start = o?.start ?? 0
      starts.push(start)
      await opts.beforeGet?.(url, start)
      const res: MediaResponse = await inner.get(url, o)
      const delay = opts.chunkDelayMs ?? 0
      if (delay <= 0) return res
      const slowed = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, controller) {
          await new Promise((r) => setTimeout(r, delay))
          controller.enqueue(chunk)
        },
      }))
      // Without the client's chunks: the store would read them instead of the slowed body.
      const { chunks: _direct, ...rest } = res
      return { ...rest, body: slowed }
    },
  }
}

/** A real HTTP proxy in front of the fake that drops Range headers: a server that always answers 200. */
export async function startRangeIgnoringProxy(target: string): Promise<{ origin: string; close(): Promise<void> }> {
  const to = new URL(target)
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers }
    delete headers.range
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
