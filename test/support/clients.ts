import { FlickrClient, MediaClient } from '../../src/flickr/index.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'

/** The real clients, pointed at the fake, with a limiter that never waits and retries short enough for tests. */
export function testClients(fake: FakeFlickr, opts: { maxRetries?: number; apiConcurrency?: number; pagesAhead?: number } = {}): { api: FlickrClient; media: MediaClient } {
  const api = new FlickrClient({
    ...fake.credentials,
    apiOrigin: fake.origin,
    ratePerSec: 10_000,
    burst: 10_000,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    maxRetries: opts.maxRetries ?? 2,
    ...(opts.apiConcurrency !== undefined ? { concurrency: opts.apiConcurrency } : {}),
    ...(opts.pagesAhead !== undefined ? { pagesAhead: opts.pagesAhead } : {}),
  })
  const media = new MediaClient({ origins: [fake.origin], retryBaseDelayMs: 1, retryMaxDelayMs: 5, maxRetries: opts.maxRetries ?? 2 })
  return { api, media }
}
