import createDebug from 'debug'
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
}

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
 */
export async function paginate(
  fetchPage: (page: number) => Promise<unknown>,
  envelope: PageEnvelope,
  item: PageItem,
  opts: PaginateOptions,
): Promise<Record<string, unknown>[]> {
  const shortPageRetries = opts.shortPageRetries ?? 2
  const maxPages = opts.maxPages ?? 10_000
  const seen = new Set<string>()
  const out: Record<string, unknown>[] = []
  let pages = Number.NaN
  let total = -1
  let shortRetries = 0
  // What the server says it serves per page, never more than we asked for: the page cap's divisor.
  let servedPerPage = opts.perPage

  for (let page = 1; page <= pageCap(total, servedPerPage, pages, maxPages); ) {
    const answer = asRecord(await fetchPage(page))
    if (answer[envelope] === null || typeof answer[envelope] !== 'object') {
      throw new ListingIncomplete(envelope, out.length, total, `page ${page} came without its "${envelope}" envelope`)
    }
    const env = asRecord(answer[envelope])
    total = toInt(env.total, total)
    if (env[item] === undefined && total > 0) {
      throw new ListingIncomplete(envelope, out.length, total, `page ${page} has no "${item}" array while total says ${total}`)
    }
    const items = asArray(env[item])
    const perPage = toInt(env.perpage ?? env.per_page, opts.perPage)
    if (perPage > 0) servedPerPage = Math.min(opts.perPage, perPage)
    const stated = toInt(env.pages, Number.NaN)
    if (Number.isFinite(stated)) pages = stated
    else if (!Number.isFinite(pages) && total >= 0 && perPage > 0) pages = Math.ceil(total / perPage)

    const fresh = items.filter((it) => {
      const id = toStr(it.id)
      return id !== '' && !seen.has(id)
    })
    // A page that adds nothing is the server repeating itself, whatever `pages` says: stop.
    if (page > 1 && fresh.length === 0) {
      log('%s page %d/%s brought no new id: end of the list', envelope, page, pages)
      break
    }
    // Every item the total counts is in, on as many pages as it takes: done, whatever `pages` says.
    const complete = total >= 0 && seen.size + fresh.length >= total && page >= Math.ceil(total / servedPerPage)
    // Without a usable `pages`, a short page is the best sign of the end.
    const isLast = complete || (Number.isFinite(pages) ? page >= pages : items.length < perPage)
    if (!isLast && items.length < perPage && shortRetries < shortPageRetries) {
      shortRetries++
      log('%s page %d/%s came back with %d of %d items; asking again', envelope, page, pages, items.length, perPage)
      continue
    }
    shortRetries = 0

    for (const it of fresh) {
      const id = toStr(it.id)
      if (seen.has(id)) continue
      seen.add(id)
      out.push(it)
    }
    if (isLast) break
    page++
  }
  if (total >= 0 && out.length < total) {
    throw new ListingIncomplete(envelope, out.length, total, `got ${out.length} distinct items, the listing says total ${total}`)
  }
  if (total >= 0 && out.length !== total) {
    log('%s: got %d distinct items, envelope said total %d', envelope, out.length, total)
  }
  return out
}

/**
 * The last page number worth asking for: ceil(total / per_page) + 2 once `total` is known (a
 * listing that needs more is lying, or shifting under us), else `pages`, else `maxPages`.
 */
function pageCap(total: number, perPage: number, pages: number, maxPages: number): number {
  if (total >= 0 && perPage > 0) return Math.min(maxPages, Math.ceil(total / perPage) + 2)
  return Number.isFinite(pages) ? Math.min(maxPages, Math.max(1, pages)) : maxPages
}
