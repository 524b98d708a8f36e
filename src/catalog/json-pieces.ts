/**
 * A value's JSON text in pieces: exactly `JSON.stringify(value)` once joined, but never made whole.
 *
 * Why: a save stores each chunk in parts of at most 32 K units (chunk-rows.ts). Made whole first, a
 * photo bucket's text (~3.3 MB at 100,000 items) or a listing page's (~2.5 MB) was one string in
 * V8's large-object space, plus the ~16 K-unit pieces JSON.stringify builds it from (a cons string,
 * flattened again when cut): old-generation garbage at every chunk, which held the first sync's save
 * at its GC limit. The pieces here are small and die young (bench/RESULTS.md "sync-290").
 *
 * The containers at the top and one level down are walked (a bucket's rows, a page's columns);
 * anything deeper is one `JSON.stringify` (a row's record), and a long string anywhere walked is cut
 * into pieces, never inside a surrogate pair (a lone half would be escaped, changing the text).
 */

/** Walked containers: the value itself (depth 0) and its items or fields (depth 1). */
const WALKED_DEPTH = 2

/** Strings longer than this are given in pieces of at most this many units. */
const STRING_PIECE = 16 * 1024

/** Joined, the pieces are `JSON.stringify(value)` (for a value JSON can write: not undefined, a function or a symbol). */
export function* jsonPieces(value: unknown): Generator<string> {
  yield* piecesOf(value, 0)
}

function* piecesOf(value: unknown, depth: number): Generator<string> {
  if (typeof value === 'string' && value.length > STRING_PIECE) yield* stringPieces(value)
  else if (depth >= WALKED_DEPTH || !walkable(value)) yield JSON.stringify(value)
  else if (Array.isArray(value)) yield* arrayPieces(value, depth)
  else yield* fieldPieces(value, depth)
}

function* arrayPieces(items: readonly unknown[], depth: number): Generator<string> {
  yield '['
  for (let i = 0; i < items.length; i++) {
    if (i > 0) yield ','
    // An item JSON cannot write is null in an array, as JSON.stringify writes it.
    if (writable(items[i])) yield* piecesOf(items[i], depth + 1)
    else yield 'null'
  }
  yield ']'
}

function* fieldPieces(fields: Record<string, unknown>, depth: number): Generator<string> {
  let first = true
  yield '{'
  for (const key of Object.keys(fields)) {
    const field = fields[key]
    // A field JSON cannot write is left out, as JSON.stringify leaves it out.
    if (!writable(field)) continue
    yield `${first ? '' : ','}${JSON.stringify(key)}:`
    first = false
    yield* piecesOf(field, depth + 1)
  }
  yield '}'
}

/** An array or a plain object without toJSON: JSON.stringify writes it field by field, as piecesOf does. */
function walkable(value: unknown): value is unknown[] | Record<string, unknown> {
  if (typeof value !== 'object' || value === null || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false
  if (Array.isArray(value)) return true
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** What JSON.stringify writes something for (it gives undefined for the rest). */
function writable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol'
}

/** A long string's JSON in pieces: each cut of the text escaped on its own, which is the same text as escaped whole. */
function* stringPieces(text: string): Generator<string> {
  yield '"'
  for (let from = 0; from < text.length; ) {
    let to = Math.min(from + STRING_PIECE, text.length)
    const last = text.charCodeAt(to - 1)
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to--
    const escaped = JSON.stringify(text.slice(from, to))
    yield escaped.slice(1, -1)
    from = to
  }
  yield '"'
}
