import type { PhotoEntry } from '../catalog/types.js'

/**
 * Every time the layout reports is whole seconds inside what every filesystem and fuse-native can
 * store (fuse-native splits ms into two uint32 halves, so nothing before 1970; 32-bit time_t ends
 * in 2038). Whole seconds, so a pin onto a filesystem without sub-second times compares equal.
 */
export const MAX_TIME_MS = (2 ** 31 - 1) * 1000

export function wholeSecondsMs(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return 0
  return Math.min(Math.floor(ms / 1000) * 1000, MAX_TIME_MS)
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysInMonth(year: number, month: number): number {
  if (month === 2 && ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0)) return 29
  return DAYS_IN_MONTH[month - 1] ?? 0
}

/** The decimal number in text[start, start + length), or -1 if any of it is not a digit. */
function digits(text: string, start: number, length: number): number {
  let n = 0
  for (let i = start; i < start + length; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * `YYYY-MM-DD hh:mm:ss` read as local time, or null when it is not a real date in the range we can
 * store. The catalog already nulls unknown dates; this still refuses `0000-00-00 00:00:00`,
 * month 00, Feb 30 and the like instead of letting Date roll them over. Parsed by hand: it runs
 * once per photo on every build.
 */
export function parseDateTakenMs(text: string | null | undefined, hourCache?: Map<number, number>): number | null {
  if (typeof text !== 'string') return null
  const t = text.length === 19 ? text : text.trim()
  if (t.length !== 19 || t[4] !== '-' || t[7] !== '-' || (t[10] !== ' ' && t[10] !== 'T') || t[13] !== ':' || t[16] !== ':') return null
  const year = digits(t, 0, 4)
  const month = digits(t, 5, 2)
  const day = digits(t, 8, 2)
  const hour = digits(t, 11, 2)
  const minute = digits(t, 14, 2)
  const second = digits(t, 17, 2)
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null
  const ms = localTimeMs(year, month, day, hour, minute, second, hourCache)
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) return null
  return ms
}

/** The most hours a cache of localTimeMs holds. */
export const HOUR_CACHE_MAX = 10_000

/**
 * Local-time conversion is the slow part (a time zone lookup per call), and photos come in bursts,
 * so a build remembers, per local hour, where that hour starts. Where the zone's offset is the same
 * at both ends of the hour (nearly always: zones change offset on the hour), minutes and seconds are
 * added to it; otherwise (NaN in the cache) each time is converted on its own. Inside a skipped or
 * repeated DST hour this gives what Date itself gives. The cache lives for one build: TZ may change.
 * It is emptied when it holds HOUR_CACHE_MAX hours: photos are taken over years, so a cache kept
 * by a pin for every original it stores grew to an hour per photo (~40 MB at 1,000,000).
 */
function localTimeMs(year: number, month: number, day: number, hour: number, minute: number, second: number, cache?: Map<number, number>): number {
  const key = ((year * 100 + month) * 100 + day) * 100 + hour
  let start = cache?.get(key)
  if (start === undefined) {
    // Years are >= 1970 here, so the Date constructor's two-digit-year quirk cannot apply.
    const first = new Date(year, month - 1, day, hour, 0, 0, 0).getTime()
    const last = new Date(year, month - 1, day, hour, 59, 59, 0).getTime()
    start = last - first === 3_599_000 ? first : Number.NaN
    if (cache !== undefined) {
      if (cache.size >= HOUR_CACHE_MAX) cache.clear()
      cache.set(key, start)
    }
  }
  if (Number.isNaN(start)) return new Date(year, month - 1, day, hour, minute, second, 0).getTime()
  return start + minute * 60_000 + second * 1000
}

/** LAYOUT.md: date taken (local time) when known and real, else the upload date. Whole seconds. */
export function mediaMtimeMs(photo: Pick<PhotoEntry, 'dateTaken' | 'dateUpload'>, hourCache?: Map<number, number>): number {
  const taken = parseDateTakenMs(photo.dateTaken, hourCache)
  if (taken !== null) return wholeSecondsMs(taken)
  return wholeSecondsMs(photo.dateUpload * 1000)
}
