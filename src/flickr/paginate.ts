import createDebug from '../util/debug.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { asArray, asRecord, toInt, toStr } from './lenient.js'
import type { PageEnvelope, PageItem } from './types.js'

const log = createDebug('flickrfs:flickr:paginate')

export interface PaginateOptions {
  /** The per_page we asked for; a page shorter than this before the last one is re-asked. */
  perPage: number
  /** Re-asks of one short page before accepting it as it is. */
  shortPageRetries?: number
  /** Guard against an envelope with neither a usable `total` nor `pages` and a server that never runs dry. */
  maxPages?: number
  /** Go on from a listing read before (a sync that was interrupted): its distinct items so far and the next page to ask. */
  from?: { page: number; items: readonly Record<string, unknown>[] }
  /**
   * Each page's new distinct items once taken, in order (page 1 again means the listing starts
   * over). The hook may replace an item in `items` by an equal one (a record already held), or by
   * any stand-in when the caller keeps what it needs of the page itself (a full listing merged
   * into a stored catalog: src/catalog/full-merge.ts): the listing keeps what it leaves there, and
   * reads nothing of it after the hook. A hook that returns a promise holds the listing until it
   * settles (pages asked ahead still come in, but none is taken nor asked): a caller whose work on
   * the pages falls behind (a first sync's checkpoint writing them) slows the listing down instead
   * of piling pages up in memory.
   */
  onPage?: (page: number, items: Record<string, unknown>[]) => void | Promise<void>
  /**
   * Pages asked before their turn, once a page has been taken and the envelope says how many there
   * are (DEFAULT_PAGES_AHEAD; 0 asks one page at a time). Never past the last page the envelope
   * names. They are still taken in order, so every rule below reads them as if asked one by one.
   */
  pagesAhead?: number
  /**
   * How many pages the caller expects (the last listing of the same list had that many): pages 2
   * to this are asked with page 1, up to `pagesAhead` of them, before any envelope is in. A guess too
   * high costs the pages past the end (Flickr repeats its last page there; they are never taken), one
   * too low only the round trip it would have saved.
   */
  expectedPages?: number
}

/**
 * Pages of one listing asked at once, beyond the one being read. A listing's pages used to be asked
 * one after another, so its time was its page count times a round trip: a 20,000-set account's set
 * list is 40 pages, a 1,000,000-item photostream 2,000. The calls are the same ones (the rate
 * limiter counts them as before); only the waits overlap. 8 pages of 500 records are ~4,000 records
 * held at once at most, and the client's own bound on calls in flight (16) leaves room beside them.
 */
export const DEFAULT_PAGES_AHEAD = 8

/**
 * A listing that does not add up: fewer distinct items than its own `total`, or a page without its
 * item array while `total` says there are items. Believing it would make a mirror "lose" items
 * that are still on Flickr, so the caller asks again, and if it stays so, fails.
 */
export class ListingIncomplete extends FlickrfsError {
  constructor(
    readonly envelope: PageEnvelope,
    readonly got: number,
    readonly total: number,
    readonly detail: string,
    message = `Flickr's ${envelope} listing is incomplete: ${detail}.`,
    options?: { cause?: unknown },
  ) {
    super('FLICKR_UNAVAILABLE', message, options)
    this.name = 'ListingIncomplete'
  }
}

/**
 * Reads every page of a Flickr list. Flickr's lists are unreliable in known ways: pages shorter
 * than `per_page` before the last one, the last page repeated when asked for one past the end,
 * and counts as strings or numbers. So: trust `pages`, never ask past it, de-duplicate by id
 * (first occurrence wins, keeping Flickr's order), and re-ask a short page once or twice.
 *
 * And distrust it where it would cost data or time: a page that brings no new id ends the list,
 * no more than ceil(total / per_page) + 2 pages are ever asked for whatever `pages` says, and a
 * list that ends with fewer distinct items than its `total`, or a page with items due but no item
 * array at all, throws ListingIncomplete.
 *
 * Once a page is taken, the next few the envelope names are asked at once (`pagesAhead`) and read
 * in order as they come; a listing that ends sooner leaves at most that many answers unread.
 */
export async function paginate(
  fetchPage: (page: number) => Promise<unknown>,
  envelope: PageEnvelope,
  item: PageItem,
  opts: PaginateOptions,
): Promise<Record<string, unknown>[]> {
  return new Pagination(envelope, item, opts).run(fetchPage)
}

/** What one page means: ask the next, ask this one again (it came back short), or stop. */
type PageStep = 'next' | 'again' | 'end'

/** One listing read page by page: what the envelopes said so far, and the distinct items in order. */
class Pagination {
  readonly #envelope: PageEnvelope
  readonly #item: PageItem
  readonly #perPage: number
  readonly #shortPageRetries: number
  readonly #maxPages: number
  readonly #from: PaginateOptions['from']
  readonly #onPage: PaginateOptions['onPage']
  readonly #pagesAhead: number
  readonly #expectedPages: number
  readonly #seen = new Set<string>()
  readonly #out: Record<string, unknown>[] = []
  /** What the last page's hook asked to wait for (onPage). */
  #hookDone: Promise<void> | undefined
  #pages = Number.NaN
  #total = -1
  #shortRetries = 0
  // What the server says it serves per page, never more than we asked for: the page cap's divisor.
  #servedPerPage: number

  constructor(envelope: PageEnvelope, item: PageItem, opts: PaginateOptions) {
    this.#envelope = envelope
    this.#item = item
    this.#perPage = opts.perPage
    this.#servedPerPage = opts.perPage
    this.#shortPageRetries = opts.shortPageRetries ?? 2
    this.#maxPages = opts.maxPages ?? 10_000
    this.#from = opts.from
    this.#onPage = opts.onPage
    this.#pagesAhead = Math.max(0, opts.pagesAhead ?? DEFAULT_PAGES_AHEAD)
    this.#expectedPages = Math.min(this.#maxPages, Math.floor(opts.expectedPages ?? 1))
  }

  async run(fetchPage: (page: number) => Promise<unknown>): Promise<Record<string, unknown>[]> {
    let page = 1
    if (this.#from !== undefined && this.#from.page > 1) {
      for (const it of this.#from.items) {
        const id = toStr(it.id)
        if (id === '' || this.#seen.has(id)) continue
        this.#seen.add(id)
        this.#out.push(it)
      }
      page = this.#from.page
    }
    // Pages asked and not taken yet, by number: the one being read and up to #pagesAhead after it.
    const asked = new Map<number, Promise<unknown>>()
    const ask = (p: number): Promise<unknown> => {
      let answer = asked.get(p)
      if (answer === undefined) {
        answer = fetchPage(p)
        // Read in its turn; one never read (the list ended sooner) fails nobody.
        answer.catch(() => undefined)
        asked.set(p, answer)
      }
      return answer
    }
    try {
      if (page === 1) for (let p = 1; p <= Math.min(this.#expectedPages, 1 + this.#pagesAhead); p++) void ask(p)
      for (; page <= pageCap(this.#total, this.#servedPerPage, this.#pages, this.#maxPages); ) {
        const answer = ask(page)
        asked.delete(page)
        const step = this.#take(page, await answer)
        if (this.#hookDone !== undefined) {
          await this.#hookDone
          this.#hookDone = undefined
        }
        if (step === 'end') break
        if (step === 'next') {
          page++
          // Only once a page is taken: a page asked again comes first, and the envelope is known.
          const last = Math.min(this.#knownLastPage(), page + this.#pagesAhead)
          for (let p = page; p <= last; p++) void ask(p)
        }
      }
    } finally {
      // No call of this listing goes on after it has returned or failed.
      await Promise.allSettled(asked.values())
    }
    const { length } = this.#out
    if (this.#total >= 0 && length < this.#total) {
      throw new ListingIncomplete(this.#envelope, length, this.#total, `got ${length} distinct items, the listing says total ${this.#total}`)
    }
    if (this.#total >= 0 && length !== this.#total) {
      log('%s: got %d distinct items, envelope said total %d', this.#envelope, length, this.#total)
    }
    return this.#out
  }

  #take(page: number, answer: unknown): PageStep {
    const { items, perPage } = this.#read(page, answer)
    const fresh = items.filter((it) => {
      const id = toStr(it.id)
      return id !== '' && !this.#seen.has(id)
    })
    // A page that adds nothing is the server repeating itself, whatever `pages` says: stop.
    if (page > 1 && fresh.length === 0) {
      log('%s page %d/%s brought no new id: end of the list', this.#envelope, page, this.#pages)
      return 'end'
    }
    const total = this.#total
    // Every item the total counts is in, on as many pages as it takes: done, whatever `pages` says.
    const complete = total >= 0 && this.#seen.size + fresh.length >= total && page >= Math.ceil(total / this.#servedPerPage)
    // Without a usable `pages`, a short page is the best sign of the end.
    const isLast = complete || (Number.isFinite(this.#pages) ? page >= this.#pages : items.length < perPage)
    if (!isLast && items.length < perPage && this.#shortRetries < this.#shortPageRetries) {
      this.#shortRetries++
      log('%s page %d/%s came back with %d of %d items; asking again', this.#envelope, page, this.#pages, items.length, perPage)
      return 'again'
    }
    this.#shortRetries = 0
    const added: Record<string, unknown>[] = []
    for (const it of fresh) {
      const id = toStr(it.id)
      if (this.#seen.has(id)) continue
      this.#seen.add(id)
      added.push(it)
    }
    this.#hookDone = this.#onPage?.(page, added) ?? undefined
    for (const it of added) this.#out.push(it)
    return isLast ? 'end' : 'next'
  }

  /**
   * The last page the envelopes say there is, for asking ahead: the smaller of `pages` and what
   * `total` needs at the served page size; 0 while neither is known (then nothing is asked ahead).
   */
  #knownLastPage(): number {
    const byTotal = this.#total >= 0 && this.#servedPerPage > 0 ? Math.ceil(this.#total / this.#servedPerPage) : Number.POSITIVE_INFINITY
    const last = Math.min(Number.isFinite(this.#pages) ? this.#pages : Number.POSITIVE_INFINITY, byTotal)
    return Number.isFinite(last) ? Math.min(last, this.#maxPages) : 0
  }

  /** Checks one page's envelope and takes in its total, per_page and pages. */
  #read(page: number, answer: unknown): { items: Record<string, unknown>[]; perPage: number } {
    const envelope = this.#envelope
    const record = asRecord(answer)
    if (record[envelope] === null || typeof record[envelope] !== 'object') {
      throw new ListingIncomplete(envelope, this.#out.length, this.#total, `page ${page} came without its "${envelope}" envelope`)
    }
    const env = asRecord(record[envelope])
    this.#total = toInt(env.total, this.#total)
    if (env[this.#item] === undefined && this.#total > 0) {
      throw new ListingIncomplete(envelope, this.#out.length, this.#total, `page ${page} has no "${this.#item}" array while total says ${this.#total}`)
    }
    const perPage = toInt(env.perpage ?? env.per_page, this.#perPage)
    if (perPage > 0) this.#servedPerPage = Math.min(this.#perPage, perPage)
    const stated = toInt(env.pages, Number.NaN)
    if (Number.isFinite(stated)) this.#pages = stated
    else if (!Number.isFinite(this.#pages) && this.#total >= 0 && perPage > 0) this.#pages = Math.ceil(this.#total / perPage)
    return { items: asArray(env[this.#item]), perPage }
  }
}

/**
 * The last page number worth asking for: ceil(total / per_page) + 2 once `total` is known (a
 * listing that needs more is lying, or shifting under us), else `pages`, else `maxPages`.
 */
function pageCap(total: number, perPage: number, pages: number, maxPages: number): number {
  if (total >= 0 && perPage > 0) return Math.min(maxPages, Math.ceil(total / perPage) + 2)
  return Number.isFinite(pages) ? Math.min(maxPages, Math.max(1, pages)) : maxPages
}
