/**
 * A photo id as a number, for the lazy view's id index (lazy-view.ts): Flickr's ids are decimal
 * numbers below 2^53. Read character by character, so that the listing pages' joined ids need not
 * be cut into a string per photo to be indexed.
 */

/** The number an id is the decimal form of (no leading zero, at most 16 digits, below 2^53), else undefined. */
export function numericId(id: string): number | undefined {
  return decimalValue(id, 0, id.length)
}

/** numericId of `text.slice(start, end)`, read in place. */
export function decimalValue(text: string, start: number, end: number): number | undefined {
  const digits = end - start
  if (digits < 1 || digits > 16) return undefined
  let n = 0
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9 || (d === 0 && i === start)) return undefined
    n = n * 10 + d
  }
  return Number.isSafeInteger(n) ? n : undefined
}
