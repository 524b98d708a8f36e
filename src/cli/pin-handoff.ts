/**
 * `flickrfs pin DEST` while `flickrfs mount --cache DEST` serves it. The mount holds DEST's lock,
 * its catalog and its store, so a pin of its own would have to fail ("in use"). Instead the pin
 * hands the job to the mount over its control socket (service/control.ts): the mount runs the
 * same pin (pin/pin.ts, on its own catalog and store, with its own Flickr clients) and streams
 * the progress and the final report back; this process prints them as a pin of its own would and
 * exits with the same code. The mount serves the new tree as soon as the pin's refresh has
 * changed its catalog.
 *
 * Only flags cross the socket, never a token, a key or cookies: the mount fetches with its own
 * credentials, its own --cookies and its own --full-listing-every. --api-rate, --cookies and
 * --full-listing-every of the pin are therefore not used.
 *
 * This file is the pin's side and what both sides share (the flags, the messages); the mount's
 * side, which runs the pin and downloads meanwhile while its first catalog comes in, is
 * handed-pin.ts.
 */
import type { ErrorCode } from '../errors/flickrfs-error.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { apiWorkOf, type ApiWork, type PinOptions, type PinProgress, type PinReport } from '../pin/pin.js'
import type { RefreshProgress } from '../catalog/index.js'
import { envOf, type CliIo } from './context.js'
import { callsLeft, createProgress, type ApiWorkState, type ProgressState } from './progress.js'
import { paceWatch } from './sync-progress.js'

/** The pin flags that mean something to a pin run in the mount. */
export interface HandedPinOptions {
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  ignoreViews?: boolean
  deleteUnknown?: boolean
  /** --force: with --delete-unknown, delete even past the mass-deletion guard. */
  force?: boolean
  concurrency?: number
  /** -v: each download and removal is sent back as a detail line. */
  verbose?: boolean
}

const ERROR_CODES = new Set<ErrorCode>([
  'USAGE', 'CONFIG', 'AUTH_MISSING', 'AUTH_REVOKED', 'AUTH_BAD_KEY', 'AUTH_FAILED', 'FLICKR_API', 'FLICKR_UNAVAILABLE',
  'NETWORK', 'TIMEOUT', 'MEDIA', 'CATALOG', 'LOCKED', 'DEST', 'NO_SPACE', 'FUSE', 'MOUNTPOINT', 'PARTIAL', 'INTERNAL',
])

/** What the mount sends back over the control socket (handed-pin.ts sends, pinThroughMount reads). */
export type HandoffMessage =
  | { type: 'hello'; pid: number; mountpoint: string; cookies: boolean }
  | { type: 'progress'; progress: PinProgress }
  /** The mount's first catalog, which the pin waits for (hours of comments on a big account), and the originals downloaded meanwhile. */
  | { type: 'waiting'; progress: RefreshProgress; downloaded?: Prefetched }
  | { type: 'detail'; line: string }
  | { type: 'note'; line: string }
  | { type: 'report'; report: PinReport; apiCalls: number }
  | { type: 'error'; code: string; message: string }

/** What a handed pin downloaded while the mount's first catalog came in. */
export interface Prefetched {
  items: number
  bytes: number
}

/** The pin flags that choose what a run does, as pin's options: the same whether run here or in a mount. */
export function pinChoices(flags: { ignorePhotos?: boolean; ignoreVideos?: boolean; ignoreViews?: boolean; deleteUnknown?: boolean; force?: boolean; concurrency?: number }): Pick<PinOptions, 'ignorePhotos' | 'ignoreVideos' | 'ignoreViews' | 'deleteUnknown' | 'forceDelete' | 'concurrency'> {
  return {
    ignorePhotos: flags.ignorePhotos,
    ignoreVideos: flags.ignoreVideos,
    ignoreViews: flags.ignoreViews,
    deleteUnknown: flags.deleteUnknown,
    forceDelete: flags.force,
    concurrency: flags.concurrency,
  }
}

/** The progress line's state for `p`; `secondsFor` (paceWatch) estimates how long its API calls left take. */
export function progressState(p: PinProgress, secondsFor?: (calls: number) => number | undefined): ProgressState {
  // Items listed but not sized yet count at the mean size of those sized so far.
  const totalItems = Math.max(p.queued, p.expected ?? 0)
  const unsized = totalItems - p.queued
  const totalBytes = p.queuedBytes + (p.queued > 0 ? Math.round((unsized * p.queuedBytes) / p.queued) : 0)
  return {
    phase: p.phase, doneItems: p.done, totalItems, doneBytes: p.doneBytes, totalBytes, fetchedBytes: p.fetchedBytes,
    ...(p.saving === true ? { saving: true } : {}),
    ...(p.apiWork !== undefined ? { api: withSecondsLeft(p.apiWork, secondsFor) } : {}),
  }
}

/** The line's state while the pin waits for the mount's first catalog: its items listed and sized, its calls left. */
export function waitingState(p: RefreshProgress, secondsFor?: (calls: number) => number | undefined, downloaded?: Prefetched): ProgressState {
  return {
    phase: 'waiting', doneItems: p.mediaResolved, totalItems: p.photos, doneBytes: downloaded?.bytes ?? 0, totalBytes: 0, fetchedBytes: downloaded?.bytes ?? 0,
    downloaded: downloaded?.items ?? 0,
    api: withSecondsLeft(apiWorkOf(p), secondsFor),
  }
}

function withSecondsLeft(work: ApiWork, secondsFor: ((calls: number) => number | undefined) | undefined): ApiWorkState {
  const calls = callsLeft(work)
  const seconds = calls > 0 ? secondsFor?.(calls) : undefined
  return { ...work, ...(seconds !== undefined ? { secondsLeft: seconds } : {}) }
}

/**
 * Hands the pin of `dest` to the mount that serves it. Undefined when no mount answers on DEST's
 * control socket (the lock is another pin's, or a mount still starting): the caller then says
 * what holds the lock. Otherwise the exit code `report` gives, or a FlickrfsError: the mount's
 * own (a second pin, an offline mount, a failed refresh), or that the mount ended mid-pin.
 */
export async function pinThroughMount(
  io: CliIo,
  dest: string,
  o: { options: HandedPinOptions; mode: 'quiet' | 'bar' | 'lines'; cookies: boolean; report: (r: PinReport, apiCalls: number, mountpoint: string | undefined) => number },
): Promise<number | undefined> {
  // Only a pin that finds DEST locked dials a mount: the control socket's code is not loaded before.
  const { dialControl } = await import('../service/control.js')
  const client = await dialControl(dest)
  if (!client) return undefined
  const progress = createProgress(o.mode, io.stderr)
  const pace = paceWatch(envOf(io))
  let hello: Extract<HandoffMessage, { type: 'hello' }> | undefined
  let outcome: Extract<HandoffMessage, { type: 'report' | 'error' }> | undefined
  try {
    await client.exchange({ type: 'pin', version: 1, pid: process.pid, options: o.options }, (raw) => {
      const m = raw as HandoffMessage
      if (m.type === 'hello') {
        hello = m
        if (o.mode !== 'quiet') progress.line(`flickrfs: ${dest} is served by the mount at ${m.mountpoint} (pid ${m.pid}); the pin runs in that mount.`)
        if (o.cookies && !m.cookies && o.mode !== 'quiet') {
          progress.line('flickrfs: that mount was started without --cookies: video originals are fetched as it fetches them (--cookies of the pin is not passed on).')
        }
      } else if (m.type === 'progress') progress.update(progressState(m.progress, pace))
      else if (m.type === 'waiting') progress.update(waitingState(m.progress, pace, m.downloaded))
      else if (m.type === 'detail') progress.line(m.line)
      else if (m.type === 'note' && o.mode !== 'quiet') progress.line(`flickrfs: ${m.line}`)
      else if (m.type === 'report' || m.type === 'error') outcome = m
    })
  } finally {
    progress.done()
  }
  if (outcome?.type === 'report') return o.report(outcome.report, outcome.apiCalls, hello?.mountpoint)
  if (outcome?.type === 'error') {
    const code = ERROR_CODES.has(outcome.code as ErrorCode) ? (outcome.code as ErrorCode) : 'INTERNAL'
    throw new FlickrfsError(code, outcome.message)
  }
  const who = hello ? `The mount at ${hello.mountpoint} (pid ${hello.pid})` : 'The mount serving it'
  throw new FlickrfsError('PARTIAL', `${who} stopped before the pin of ${dest} it was running finished. ` +
    `Run the same pin again: it resumes where this one stopped (with the mount stopped, it runs here).`)
}
