/**
 * JSON with object keys sorted, so "same content" means the same string whatever key order the
 * server (or a JSON round trip) produced. Used to decide whether a record's content changed.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const src = value as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(src).sort()) {
      const v = src[key]
      if (v !== undefined) out[key] = sortKeys(v)
    }
    return out
  }
  return value
}
