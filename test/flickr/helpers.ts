import { createServer } from 'node:net'
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
