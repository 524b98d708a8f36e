/* eslint-disable @typescript-eslint/no-explicit-any -- Flickr's JSON is untyped; the contract (ARCHITECTURE.md) returns any and callers read it through lenient.ts */
import { createFlickr } from 'flickr-sdk'
import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { redact } from '../util/redact.js'
import { realClock, type Clock } from './clock.js'
import { classify, discardBody, isTransient, toFlickrfsError } from './failure.js'
import { asArray, asRecord, textOf, toInt, toStr } from './lenient.js'
import { Semaphore } from '../util/semaphore.js'
import { DEFAULT_BURST, DEFAULT_RATE_PER_SEC, TokenBucket, type RateLimiter } from './limiter.js'
import { OriginTransport } from './origin-transport.js'
import { ListingIncomplete, paginate, type PaginateOptions } from './paginate.js'
import { backoffMs, DEFAULT_RETRY, retryAfterMs } from './retry.js'
import { RequestTries, unreachableWhy, type OutageWatch } from './outage.js'
import type { PageEnvelope, PageItem, RawCollection, RawComment, RawPhoto, RawSet, RawSize } from './types.js'

const log = createDebug('flickrfs:flickr')

export interface FlickrClientOptions {
  apiKey: string
  apiSecret: string
  oauthToken: string
  oauthTokenSecret: string
  /** FLICKRFS_API_ORIGIN: api/www/up.flickr.com requests go here instead (same path and query). */
  apiOrigin?: string
  /** Token bucket refill, calls per second (default 0.8): FLICKRFS_API_RATE / --api-rate. */
  ratePerSec?: number
  /** Token bucket size (default 600). See limiter.ts for why these two keep a key under 3,600 an hour. */
  burst?: number
  /** A limiter shared with other processes (openFlickr's); else a bucket of this process only from ratePerSec/burst. */
  limiter?: RateLimiter
  /** API calls in flight at once (default DEFAULT_API_CONCURRENCY). */
  concurrency?: number
  /** Per request, headers and body (default 30000). */
  timeoutMs?: number
  /** Retries after the first attempt of a transiently failing call (default 5). */
  maxRetries?: number
  /** First backoff cap (default 1000 ms), doubling per retry up to `retryMaxDelayMs` (default 60000). */
  retryBaseDelayMs?: number
  retryMaxDelayMs?: number
  /**
   * How long a call answered "too many requests" (HTTP 429, or Flickr's own words) keeps being
   * tried again, from its first such answer, past `maxRetries` (default RATE_LIMIT_PATIENCE_MS).
   */
  rateLimitPatienceMs?: number
  /** Extra reads of a whole listing that does not add up (fewer items than its total, no item array) (default 2). */
  listingRetries?: number
  /** Pages of a listing asked before their turn (paginate.ts DEFAULT_PAGES_AHEAD; 0: one page at a time). */
  pagesAhead?: number
  clock?: Clock
  /** A pin's: a call that cannot reach Flickr while nothing else can goes on trying past its retries (outage.ts). */
  outage?: OutageWatch
  /** [0, 1) for the backoff jitter. */
  random?: () => number
}

export interface FlickrStats {
  /** HTTP requests made to the API, retries included. */
  apiCalls: number
  /** Of those, how many were retries. */
  retries: number
}

const PER_PAGE = 500

/**
 * API calls in flight at once, by default. Flickr limits a key by rate (limiter.ts), not by
 * connections, so this only bounds how much latency overlaps: on a first pin (one comment list per
 * commented photo, one call per set) at 50 ms per call, 4 in flight left the comment lists alone at
 * ~1.3 s for 700 items; 16 bring the calls of that pin under 0.5 s, and 32 measured no better once
 * downloads share the two cores (bench/pin.ts --floor-api).
 */
export const DEFAULT_API_CONCURRENCY = 16

/** A listing that goes on from pages an interrupted run read, and tells each page as it is read (see paginate.ts). */
export type ListingResume = Pick<PaginateOptions, 'from' | 'onPage'>

/**
 * A call Flickr answers "too many requests" is tried again, with the backoff (up to a minute
 * apart), for this long from its first such answer before it fails: a storm of 429s (another tool
 * on the same key, Flickr throttling for a while) would otherwise end a sync hours long after half
 * a minute. The limiter slows down meanwhile (RateLimiter.slowDown); `onThrottled` tells the user.
 */
export const RATE_LIMIT_PATIENCE_MS = 15 * 60_000

/** What pin and mount say when Flickr starts (`on`) and stops answering "too many requests" (FlickrClient.onThrottled). */
export function throttleNote(on: boolean, who: 'the pin' | 'the refresh'): string {
  const min = Math.round(RATE_LIMIT_PATIENCE_MS / 60_000)
  return on
    ? `Flickr is rate-limiting this API key (too many requests): ${who} slows down and tries again for up to ${min} min` +
      (who === 'the pin' ? '; Ctrl-C stops it, and the next pin goes on from there.' : '.')
    : `Flickr takes calls again; ${who} goes on.`
}

/** HTTP 429, or a Flickr error whose message says the key is over its limit. */
function isTooManyRequests(f: ReturnType<typeof classify>): boolean {
  return (f.kind === 'http' && f.status === 429) || (f.kind === 'stat' && /too many requests|rate limit/i.test(f.message))
}

/**
 * Every Flickr API call flickrfs makes: rate-limited, bounded in concurrency, retried on transient
 * failure and translated into one FlickrfsError when it fails for good. The only user of flickr-sdk's
 * REST service; a retry calls `flickr()` again so each attempt is signed with a fresh nonce.
 */
export class FlickrClient {
  readonly stats: FlickrStats = { apiCalls: 0, retries: 0 }
  private readonly flickr: (method: string, params: Record<string, string>) => Promise<any>
  private readonly bucket: RateLimiter
  private readonly slots: Semaphore
  private readonly clock: Clock
  private readonly random: () => number
  private readonly timeoutMs: number
  private readonly maxRetries: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly apiOrigin: string | undefined
  private readonly listingRetries: number
  private readonly pagesAhead: number | undefined
  private readonly patienceMs: number
  private readonly outage: OutageWatch | undefined
  /** Calls waiting to try again after "too many requests"; a storm is on while any is. */
  private throttledCalls = 0
  private readonly throttleListeners: Array<(on: boolean) => void> = []
  /** The set list prefetchSetList started, until getSetList takes it. */
  private prefetchedSets: Promise<RawSet[]> | undefined

  constructor(opts: FlickrClientOptions) {
    for (const key of ['apiKey', 'apiSecret', 'oauthToken', 'oauthTokenSecret'] as const) {
      if (!opts[key]) throw new FlickrfsError('AUTH_MISSING', `FlickrClient needs ${key}; none was given.`)
    }
    this.clock = opts.clock ?? realClock
    this.random = opts.random ?? Math.random
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.maxRetries = opts.maxRetries ?? DEFAULT_RETRY.maxRetries
    this.baseDelayMs = opts.retryBaseDelayMs ?? DEFAULT_RETRY.baseDelayMs
    this.maxDelayMs = opts.retryMaxDelayMs ?? DEFAULT_RETRY.maxDelayMs
    this.apiOrigin = opts.apiOrigin || undefined
    this.listingRetries = opts.listingRetries ?? 2
    this.patienceMs = opts.rateLimitPatienceMs ?? RATE_LIMIT_PATIENCE_MS
    this.outage = opts.outage
    this.pagesAhead = opts.pagesAhead
    this.bucket = opts.limiter ?? new TokenBucket(opts.ratePerSec ?? DEFAULT_RATE_PER_SEC, opts.burst ?? DEFAULT_BURST, this.clock)
    this.slots = new Semaphore(opts.concurrency ?? DEFAULT_API_CONCURRENCY)
    const transport = new OriginTransport({ apiOrigin: this.apiOrigin, timeoutMs: this.timeoutMs })
    const { flickr } = createFlickr(
      {
        consumerKey: opts.apiKey,
        consumerSecret: opts.apiSecret,
        oauthToken: opts.oauthToken,
        oauthTokenSecret: opts.oauthTokenSecret,
      },
      transport,
    )
    this.flickr = flickr as (method: string, params: Record<string, string>) => Promise<any>
  }

  /** Calls are about to be made: the limiter gets ready to answer the first at once (RateLimiter.prepare). */
  prepareCalls(): void {
    void this.bucket.prepare?.()
  }

  /**
   * `listener(true)` when calls start waiting out Flickr's "too many requests" (the first of a
   * storm), `listener(false)` once none is waiting any more (answered, or failed for good).
   */
  onThrottled(listener: (on: boolean) => void): void {
    this.throttleListeners.push(listener)
  }

  #throttled(on: boolean): void {
    this.throttledCalls += on ? 1 : -1
    if (this.throttledCalls === (on ? 1 : 0)) for (const listener of this.throttleListeners) listener(on)
  }

  /** One API call, with the limiter, retries and error mapping. Resolves to Flickr's parsed JSON. */
  async call(method: string, params: Record<string, string> = {}): Promise<any> {
    /** When this call was first answered "too many requests" (the clock's time), if it was. */
    let throttledAt: number | undefined
    const tries = new RequestTries(this.outage, this.clock)
    try {
      for (let attempt = 0; ; attempt++) {
        await this.bucket.take()
        const release = await this.slots.acquire()
        let err: unknown
        tries.begin()
        try {
          this.stats.apiCalls++
          if (attempt > 0) this.stats.retries++
          const answer: unknown = await this.flickr(method, params)
          tries.answered()
          return answer
        } catch (e) {
          err = e
        } finally {
          release()
        }
        const failure = classify(err)
        await discardBody(failure)
        const tooMany = isTooManyRequests(failure)
        if (tooMany) await this.bucket.slowDown()
        const now = this.clock.now()
        if (tooMany && throttledAt === undefined) {
          throttledAt = now
          this.#throttled(true)
        }
        const patient = tooMany && throttledAt !== undefined && now - throttledAt < this.patienceMs
        const unreachable = unreachableWhy(failure)
        const counted = tries.failed(attempt, unreachable === undefined)
        const spent = counted >= this.maxRetries
        const outage = unreachable !== undefined && spent && tries.keepTrying(unreachable)
        if (!isTransient(failure) || (spent && !patient && !outage)) {
          log('%s failed for good after %d attempt(s): %s', method, attempt + 1, failure.kind)
          throw toFlickrfsError(failure, {
            what: method, attempts: attempt + 1, timeoutMs: this.timeoutMs, apiOrigin: this.apiOrigin,
          }, err)
        }
        const jittered = backoffMs(counted, { baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs, random: this.random })
        const asked = failure.kind === 'http' ? retryAfterMs(failure.response, this.maxDelayMs) : undefined
        const delay = Math.max(jittered, asked ?? 0)
        log('%s attempt %d failed (%s: %s); retrying in %d ms', method, attempt + 1, failure.kind,
          failure.kind === 'http' ? failure.status : failure.kind === 'stat' ? failure.code : redact(
            'message' in failure ? failure.message : ''), delay)
        // Past an outage the call tries again as soon as anything reaches Flickr, through the limiter as ever.
        await tries.backoff(delay, unreachable !== undefined)
      }
    } finally {
      if (throttledAt !== undefined) this.#throttled(false)
    }
  }

  /**
   * Every item of a paged list, de-duplicated by id, in Flickr's order. A listing that does not add
   * up (fewer items than its own total, a page without its item array) is read again from page 1;
   * if it still does not, this fails with ListingIncomplete rather than hand back a list with holes.
   */
  async paginate(method: string, params: Record<string, string>, envelope: PageEnvelope, item: PageItem, resume: ListingResume = {}, expectedPages?: number): Promise<any[]> {
    const perPage = params.per_page ?? String(PER_PAGE)
    return this.readListing(method, (attempt) => paginate(
      (page) => this.call(method, { ...params, per_page: perPage, page: String(page) }),
      envelope,
      item,
      // A listing read again because it did not add up starts over from page 1, not from where an earlier run was.
      {
        perPage: Number(perPage),
        onPage: resume.onPage,
        from: attempt === 0 ? resume.from : undefined,
        ...(this.pagesAhead !== undefined ? { pagesAhead: this.pagesAhead } : {}),
        // A listing read again because it did not add up says nothing more about its length.
        ...(attempt === 0 && expectedPages !== undefined ? { expectedPages } : {}),
      },
    ))
  }

  /** Runs `read` again while it throws ListingIncomplete, up to `listingRetries` times, then fails with what to do. */
  private async readListing<T>(method: string, read: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read(attempt)
      } catch (err) {
        if (!(err instanceof ListingIncomplete)) throw err
        if (attempt >= this.listingRetries) {
          throw new ListingIncomplete(err.envelope, err.got, err.total, err.detail,
            `Flickr answered ${method} with a listing that does not add up (${err.detail}; ${attempt + 1} attempts). ` +
            'Nothing was changed; try again later.', { cause: err })
        }
        log('%s: %s; reading the listing again', method, err.detail)
        const delay = backoffMs(attempt, { baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs, random: this.random })
        await this.clock.sleep(delay)
      }
    }
  }

  /** Who the token belongs to. */
  async testLogin(): Promise<{ id: string; username: string }> {
    const res = asRecord(await this.call('flickr.test.login'))
    const user = asRecord(res.user)
    return { id: toStr(user.id), username: textOf(user.username) }
  }

  /** The whole photostream (user_id=me), newest first; `resume` goes on from pages read before and reports each page. */
  getPhotostream(extras: string[], resume?: ListingResume): Promise<RawPhoto[]> {
    return this.paginate('flickr.people.getPhotos', { user_id: 'me', extras: extras.join(',') }, 'photos', 'photo', resume)
  }

  /**
   * Every set, in the user's own order: the list prefetchSetList started, once, else asked now.
   * `expectedSets`, the count the last listing had: its pages are asked with the first.
   */
  getSetList(expectedSets?: number): Promise<RawSet[]> {
    const started = this.prefetchedSets
    this.prefetchedSets = undefined
    return started ?? this.readSetList(expectedSets)
  }

  private readSetList(expectedSets: number | undefined): Promise<RawSet[]> {
    const pages = expectedSets !== undefined && expectedSets > 0 ? Math.ceil(expectedSets / PER_PAGE) : undefined
    return this.paginate('flickr.photosets.getList', {}, 'photosets', 'photoset', {}, pages)
  }

  /**
   * Starts reading the set list now, for the next getSetList() to take. Every refresh lists the
   * sets first thing (a no-change pin of 1,714 sets: 4 pages, then the sets that moved): the run's
   * longest chain of calls, which a pin starts before the modules that do not make calls are loaded
   * (cli/early-pin.ts). `expectedSets`, the count the last listing had: its pages are asked with the
   * first (paginate.ts expectedPages), else they follow the first. A failure is the taker's (none is
   * left unhandled when there is no taker).
   */
  prefetchSetList(expectedSets?: number): void {
    const list = this.readSetList(expectedSets)
    list.catch(() => undefined)
    this.prefetchedSets = list
  }

  /** A set's members in album order; paged by this call's own `pages` (getList's counts omit videos). */
  getSetPhotos(setId: string, userId: string, extras: string[] = []): Promise<RawPhoto[]> {
    const params: Record<string, string> = { photoset_id: setId, user_id: userId }
    if (extras.length > 0) params.extras = extras.join(',')
    return this.paginate('flickr.photosets.getPhotos', params, 'photoset', 'photo')
  }

  /** Photos changed since `minDate` (unix seconds), newest change first. Does not report deletions. */
  getRecentlyUpdated(minDateSec: number, extras: string[] = []): Promise<RawPhoto[]> {
    const params: Record<string, string> = { min_date: String(Math.floor(minDateSec)) }
    if (extras.length > 0) params.extras = extras.join(',')
    return this.paginate('flickr.photos.recentlyUpdated', params, 'photos', 'photo')
  }

  /**
   * One page of the photostream (user_id=me) and the listing's `total` (-1 when absent): one call
   * that tells whether a catalog kept up to date from recentlyUpdated still adds up.
   */
  async getPhotostreamPage(page: number, perPage: number, extras: string[] = []): Promise<{ total: number; photos: RawPhoto[] }> {
    const params: Record<string, string> = { user_id: 'me', page: String(page), per_page: String(perPage) }
    if (extras.length > 0) params.extras = extras.join(',')
    return this.readListing('flickr.people.getPhotos', async () => {
      const answer = asRecord(await this.call('flickr.people.getPhotos', params))
      if (answer.photos === null || typeof answer.photos !== 'object') {
        throw new ListingIncomplete('photos', 0, -1, `page ${page} came without its "photos" envelope`)
      }
      const envelope = asRecord(answer.photos)
      const total = toInt(envelope.total, -1)
      // Believing it would make the catalog's check pass on nothing at all.
      if (envelope.photo === undefined && total > 0) throw new ListingIncomplete('photos', 0, total, `page ${page} has no "photo" array while total says ${total}`)
      return { total, photos: asArray<RawPhoto>(envelope.photo) }
    })
  }

  /** The top-level collections ([] when there are none: Flickr may then send an empty object). */
  async getCollectionTree(): Promise<RawCollection[]> {
    const res = asRecord(await this.call('flickr.collections.getTree'))
    return asArray<RawCollection>(asRecord(res.collections).collection)
  }

  /** A photo's comments, oldest first ([] when there are none: Flickr then drops the key). */
  async getComments(photoId: string): Promise<RawComment[]> {
    const res = asRecord(await this.call('flickr.photos.comments.getList', { photo_id: photoId }))
    return asArray<RawComment>(asRecord(res.comments).comment)
  }

  async getSizes(photoId: string): Promise<RawSize[]> {
    const res = asRecord(await this.call('flickr.photos.getSizes', { photo_id: photoId }))
    return asArray<RawSize>(asRecord(res.sizes).size)
  }

  /** The `photo` object of flickr.photos.getInfo. */
  async getInfo(photoId: string): Promise<Record<string, unknown>> {
    const res = asRecord(await this.call('flickr.photos.getInfo', { photo_id: photoId }))
    return asRecord(res.photo)
  }
}
