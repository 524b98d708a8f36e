/**
 * The elements of a JSON array of objects, found in its UTF-8 bytes without parsing it: a lazily
 * read photo bucket (persist.ts StoredBucket) parses the one row asked for (~1 KB) instead of all of
 * its up to 128 rows (~100 KB, ~0.8 ms), and decodes only that row's UTF-8.
 *
 * The scan visits the bytes outside strings and jumps over each string with indexOf, so it costs a
 * fraction of a parse. JSON's structural characters are ASCII, and no byte of a multi-byte UTF-8
 * character is below 0x80, so a scan of the bytes finds what a scan of the text would. It proves
 * only where the elements begin and end; what a caller takes from an element is parsed
 * (JSON.parse) and checked by the caller.
 */
export class JsonRows {
  private constructor(
    readonly bytes: Buffer,
    /** Element i is bytes[bounds[2i], bounds[2i + 1]). */
    readonly bounds: Int32Array,
  ) {}

  /**
   * The rows of the UTF-8 text `bytes`; undefined when it is not an array whose elements are all
   * objects (parse it whole). `known`: the bounds a scan of the very same bytes found (a chunk read
   * again: its key is its content's hash), taken without scanning again.
   */
  static of(bytes: Buffer, known?: Int32Array): JsonRows | undefined {
    const bounds = known ?? objectBounds(bytes)
    return bounds === undefined ? undefined : new JsonRows(bytes, bounds)
  }

  get length(): number {
    return this.bounds.length / 2
  }

  /**
   * The text of each element holding `needle` (JSON text, such as `"id":"42"`), in order, each
   * once. A needle that starts with a quote is never found inside a string: in a string every
   * quote is escaped.
   */
  *holding(needle: string): Generator<string> {
    const sought = Buffer.from(needle)
    let last = -1
    for (let at = this.bytes.indexOf(sought); at >= 0; at = this.bytes.indexOf(sought, at + 1)) {
      const i = this.#elementAt(at)
      if (i < 0 || i === last) continue
      last = i
      yield this.bytes.toString('utf8', this.bounds[2 * i], this.bounds[2 * i + 1])
    }
  }

  /** The element whose text holds position `at`, or -1 (between elements). */
  #elementAt(at: number): number {
    let lo = 0
    let hi = this.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (at < (this.bounds[2 * mid] as number)) hi = mid - 1
      else if (at >= (this.bounds[2 * mid + 1] as number)) lo = mid + 1
      else return mid
    }
    return -1
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/** Start and end of each top-level element of the array `text`, or undefined (see JsonRows.of). */
function objectBounds(text: Buffer): Int32Array | undefined {
  let i = 0
  while (isSpace(text[i])) i++
  if (text[i] !== OPEN_ARRAY) return undefined
  const out: number[] = []
  let depth = 0
  let start = -1
  for (; i < text.length; i++) {
    const c = text[i] as number
    if (c === QUOTE) {
      i = closingQuote(text, i)
      if (i < 0) return undefined
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === 1) {
        if (c !== OPEN_OBJECT) return undefined
        start = i
      }
      depth++
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
      if (depth === 1) out.push(start, i + 1)
      else if (depth === 0) break
      else if (depth < 0) return undefined
    } else if (depth === 1 && c !== 0x2c && !isSpace(c)) {
      // Anything but a comma or a space between elements: an element that is not an object.
      return undefined
    }
  }
  if (depth !== 0) return undefined
  // Only spaces after the array, as JSON.parse allows.
  for (i++; i < text.length; i++) if (!isSpace(text[i])) return undefined
  return Int32Array.from(out)
}

/** The position of the quote closing the string opened at `open`, or -1. */
function closingQuote(text: Buffer, open: number): number {
  for (let q = text.indexOf(QUOTE, open + 1); q >= 0; q = text.indexOf(QUOTE, q + 1)) {
    let slashes = 0
    while (text[q - 1 - slashes] === BACKSLASH) slashes++
    if (slashes % 2 === 0) return q
  }
  return -1
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}
