/**
 * The real flickr-sdk, pointed at the fake by a transport that only swaps protocol and host: the
 * SDK signs over the canonical https://…flickr.com URL, so the fake accepting these calls proves it
 * verifies signatures the way Flickr does.
 */
import { createFlickr, FetchTransport } from 'flickr-sdk'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'

export class RewritingTransport extends FetchTransport {
  constructor(private readonly origin: string) {
    super()
  }

  override async fetch(url: string, init: RequestInit): Promise<Response> {
    const u = new URL(url)
    return super.fetch(this.origin + u.pathname + u.search, init)
  }
}

export function sdkFor(fake: FakeFlickr, token?: { oauthToken: string | false; oauthTokenSecret: string | false }) {
  const c = fake.credentials
  return createFlickr(
    {
      consumerKey: c.apiKey,
      consumerSecret: c.apiSecret,
      oauthToken: token === undefined ? c.oauthToken : token.oauthToken,
      oauthTokenSecret: token === undefined ? c.oauthTokenSecret : token.oauthTokenSecret,
    },
    new RewritingTransport(fake.origin),
  )
}

/** The stat-fail JSON that flickr-sdk attaches as `cause`, or undefined. */
export async function failureOf(p: Promise<unknown>): Promise<{ code: number; message: string } | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    const cause = (err as Error).cause as { code?: number; message?: string } | undefined
    if (cause !== undefined && typeof cause.code === 'number') return { code: cause.code, message: cause.message ?? '' }
    throw err
  }
}

/** The HTTP status of a non-2xx response that flickr-sdk attaches as `cause`. */
export async function httpStatusOf(p: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await p
  } catch (err) {
    const cause = (err as Error).cause
    if (cause instanceof Response) return { status: cause.status, body: await cause.text() }
    throw err
  }
  throw new Error('expected the call to fail with an HTTP error')
}
