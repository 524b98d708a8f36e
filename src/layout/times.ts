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

const DATE_TAKEN = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/

/** Years here are >= 1970, so Date.UTC's two-digit-year quirk cannot apply. */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/**
 * `YYYY-MM-DD hh:mm:ss` read as local time, or null when it is not a real date in the range we can
 * store. The catalog already nulls unknown dates; this still refuses `0000-00-00 00:00:00`,
 * month 00, Feb 30 and the like instead of letting Date roll them over.
 */
export function parseDateTakenMs(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const m = DATE_TAKEN.exec(text.trim())
  if (m === null) return null
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour > 23 || minute > 59 || second > 59) return null
  const date = new Date(2000, 0, 1, 0, 0, 0, 0)
  date.setFullYear(year, month - 1, day)
  date.setHours(hour, minute, second, 0)
  const ms = date.getTime()
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) return null
  return ms
}

/** LAYOUT.md: date taken (local time) when known and real, else the upload date. Whole seconds. */
export function mediaMtimeMs(photo: Pick<PhotoEntry, 'dateTaken' | 'dateUpload'>): number {
  const taken = parseDateTakenMs(photo.dateTaken)
  if (taken !== null) return wholeSecondsMs(taken)
  return wholeSecondsMs(photo.dateUpload * 1000)
}
