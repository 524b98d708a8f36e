import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FlickrClient, VirtualClock, type FlickrClientOptions } from '../../src/flickr/index.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'

/** A client for the fake, with a virtual clock so backoff costs no real time. */
export function clientFor(fake: FakeFlickr, opts: Partial<FlickrClientOptions> = {}): FlickrClient {
  return new FlickrClient({
    ...fake.credentials,
    apiOrigin: fake.origin,
    clock: new VirtualClock(),
    ...opts,
  })
}

export async function tempDir(prefix = 'flickrfs-flickr-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** An origin nothing listens on: a port that was free a moment ago. */
export async function closedOrigin(): Promise<string> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

export async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  try {
    await p
  } catch (err) {
    const e = err as Error & { code: string }
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`, { cause: err })
    return e
  }
  throw new Error(`expected a ${code} rejection, but it resolved`)
}
