/**
 * Flickr's JSON drifts between numbers and numeric strings (`total` was `"4559"` for years and is
 * `487` now; widths mix `75` and `"150"`), text comes as plain strings or `{_content}`, and an empty
 * list may be a missing key, `[]` or a lone object. Every read of Flickr data goes through these.
 */

/** An integer from a number or a numeric string; `fallback` for anything else (including NaN). */
export function toInt(value: unknown, fallback: number): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : fallback
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (!/^[-+]?\d+(\.\d+)?$/.test(trimmed)) return fallback
    const n = Number(trimmed)
    return Number.isFinite(n) ? Math.trunc(n) : fallback
  }
  return fallback
}

/** A string from a string or a number (ids arrive as both); `fallback` otherwise. */
export function toStr(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return fallback
}

/** The text of a Flickr text element: a plain string, or `{"_content": "…"}`. */
export function textOf(value: unknown, fallback = ''): string {
  if (value !== null && typeof value === 'object' && '_content' in value) {
    return toStr(value._content, fallback)
  }
  return toStr(value, fallback)
}

/** A list from an array, a lone object (XML-shaped single child), or nothing. */
export function asArray<T = Record<string, unknown>>(value: unknown): T[] {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined) as T[]
  if (value !== null && typeof value === 'object') return [value as T]
  return []
}

/** A plain object, or an empty one for anything else (Flickr drops empty envelopes to `[]` or ""). */
export function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}
