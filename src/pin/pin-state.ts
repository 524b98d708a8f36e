/**
 * The outcome of the last pin, kept in DEST/.flickrfs/last-pin.json for `flickrfs status`: when it
 * ran, how long it took, what failed, and what it was asked to leave out (status and verify count a
 * --ignore-videos mirror with all its photos as complete).
 */
import { readFile } from 'node:fs/promises'
import { isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { lastPinPath, STATE_REL } from '../util/state-paths.js'

export interface LastPin {
  finishedAtMs: number
  durationMs: number
  downloaded: number
  downloadedBytes: number
  failures: Array<{ id: string; what: string; message: string }>
  transcodes: Array<{ id: string; label: string }>
  /** Absent in files written before these were recorded: nothing was left out. */
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  /**
   * The sets the run's refresh counted: the next pin asks that many sets' pages of the set list at
   * once (cli/early-pin.ts). Absent in files written before it was recorded.
   */
  sets?: number
  /** Of `failures`, how many a fresh record may fix (PinReport.relistable). Absent in files written before it was recorded. */
  relistable?: number
}

export async function recordPinResult(
  dest: string,
  report: Omit<LastPin, 'finishedAtMs' | 'sets' | 'relistable'> & { refresh?: { sets: { total: number } }; relistable?: { count: number } },
  finishedAtMs: number,
): Promise<void> {
  const value: LastPin = {
    finishedAtMs,
    durationMs: report.durationMs,
    downloaded: report.downloaded,
    downloadedBytes: report.downloadedBytes,
    failures: report.failures,
    transcodes: report.transcodes,
    ignorePhotos: report.ignorePhotos === true,
    ignoreVideos: report.ignoreVideos === true,
    ...(report.refresh !== undefined ? { sets: report.refresh.sets.total } : {}),
    ...(report.relistable !== undefined ? { relistable: report.relistable.count } : {}),
  }
  await (await Confined.open(dest)).writeFileAtomic(STATE_REL.lastPin, JSON.stringify(value, null, 2) + '\n')
}

export async function readLastPin(dest: string): Promise<LastPin | undefined> {
  try {
    return JSON.parse(await readFile(lastPinPath(dest), 'utf8')) as LastPin
  } catch (err) {
    if (isEnoent(err) || err instanceof SyntaxError) return undefined
    throw err
  }
}

/**
 * The photos whose download failed in the last pin: the next refresh sizes them again
 * (RefreshOptions.resolveAgain), since the size or URL they were listed with may be what failed.
 */
export function failedDownloads(last: LastPin | undefined): Set<string> {
  // A record another version wrote, or one edited by hand, may lack the list: nothing to size again then.
  const failures = Array.isArray(last?.failures) ? last.failures : []
  return new Set(failures.filter((f) => f.what === 'download').map((f) => f.id))
}
