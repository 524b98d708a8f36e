import createDebug from 'debug'
import { asArray, asRecord, toInt, toStr } from './lenient.js'
import type { PageEnvelope, PageItem } from './types.js'

const log = createDebug('flickrfs:flickr:paginate')

export interface PaginateOptions {
  /** The per_page we asked for; a page shorter than this before the last one is re-asked. */
  perPage: number
  /** Re-asks of one short page before accepting it as it is. */
  shortPageRetries?: number
  /** Guard against an envelope with no usable `pages` and a server that never runs dry. */
  maxPages?: number
}

/**
 * Reads every page of a Flickr list. Flickr's lists are unreliable in known ways: pages shorter
 * than `per_page` before the last one, the last page repeated when asked for one past the end,
 * and counts as strings or numbers. So: trust `pages`, never ask past it, de-duplicate by id
 * (first occurrence wins, keeping Flickr's order), and re-ask a short page once or twice.
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

  for (let page = 1; page <= maxPages; ) {
    const env = asRecord(asRecord(await fetchPage(page))[envelope])
    const items = asArray(env[item])
    const perPage = toInt(env.perpage ?? env.per_page, opts.perPage)
    total = toInt(env.total, total)
    const stated = toInt(env.pages, Number.NaN)
    if (Number.isFinite(stated)) pages = stated
    else if (!Number.isFinite(pages) && total >= 0 && perPage > 0) pages = Math.ceil(total / perPage)

    // Without a usable `pages`, a short page is the best sign of the end.
    const isLast = Number.isFinite(pages) ? page >= pages : items.length < perPage
    if (!isLast && items.length < perPage && shortRetries < shortPageRetries) {
      shortRetries++
      log('%s page %d/%s came back with %d of %d items; asking again', envelope, page, pages, items.length, perPage)
      continue
    }
    shortRetries = 0

    let fresh = 0
    for (const it of items) {
      const id = toStr(it.id)
      if (id === '' || seen.has(id)) continue
      seen.add(id)
      out.push(it)
      fresh++
    }
    // Without a usable `pages`, a page that adds nothing is the server repeating itself: stop.
    if (isLast || (!Number.isFinite(pages) && fresh === 0)) break
    page++
  }
  if (total >= 0 && out.length !== total) {
    log('%s: got %d distinct items, envelope said total %d', envelope, out.length, total)
  }
  return out
}
