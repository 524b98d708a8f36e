/**
 * One string for each repeated value of a record field. V8's JSON.parse shares values of up to
 * 10 characters but makes a new string for every longer one, so 100,000 records that all say
 * `"owner": "12345678@N00"` hold 100,000 copies of it (3.6 MB of the loaded catalog's heap at
 * 100k photos of the fake account; a real account's long owner name or path alias adds more).
 * Interning at decode makes them one string each.
 *
 * Bounded by design: a field whose values do not repeat (ids, titles, dates) is found out after
 * `MAX_VALUES_PER_KEY` distinct values and left alone from then on, so the tables stay small and a
 * decode pays one Map lookup per field only while it helps. Long values (descriptions, URLs) are
 * unique in practice and never looked at, nor are short ones, which V8 already shares. The tables
 * live as long as the interner: one decode.
 */
import type { RawRecord } from './types.js'

const MAX_VALUES_PER_KEY = 4096
/** V8's JSON.parse already shares values of up to 10 characters (measured: interning them saved nothing). */
const MIN_VALUE_LENGTH = 11
const MAX_VALUE_LENGTH = 48

export class ValueInterner {
  /** By field name: the values seen, or null once the field proved not to repeat. */
  private readonly byKey = new Map<string, Map<string, string> | null>()

  /** Replaces, in place, each short string value of `record`'s own fields by the shared one. */
  record(record: RawRecord): void {
    for (const key in record) {
      const value = record[key]
      if (typeof value !== 'string' || value.length < MIN_VALUE_LENGTH || value.length > MAX_VALUE_LENGTH) continue
      // Always stored back: `!==` on strings compares their text, not which copy they are.
      record[key] = this.value(key, value)
    }
  }

  /** The shared string equal to `value` for field `key` (`value` itself when it is the first or the field does not repeat). */
  value(key: string, value: string): string {
    let table = this.byKey.get(key)
    if (table === null) return value
    if (table === undefined) {
      table = new Map()
      this.byKey.set(key, table)
    }
    const known = table.get(value)
    if (known !== undefined) return known
    if (table.size >= MAX_VALUES_PER_KEY) {
      this.byKey.set(key, null)
      return value
    }
    table.set(value, value)
    return value
  }
}
