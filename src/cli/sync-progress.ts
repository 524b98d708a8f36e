/**
 * `flickrfs status` on a sync that has not completed (running now, or killed): how far it came, from
 * the progress it saved (catalog/checkpoint.ts), and how long the rest takes at the key's API rate.
 */
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { lockPath, readProgress, type ProgressMeta, type WorkCount } from '../catalog/index.js'
import { pidAlive } from '../util/process.js'
import { advance, clockFromEnv, limiterSettings, loadApiKey, readSharedBucket, resolveConfigDir, type Env, type LimiterState } from '../flickr/index.js'
import { atFlickrsLimit, roughDuration } from './units.js'

/** The API budget a sync's rest runs at: calls available now (undefined: not known, none counted), then the refill. */
export interface ApiPace {
  tokens?: number
  ratePerSec: number
}

/** Seconds `calls` API calls take at `pace`: the available ones at once, the rest at the refill. */
export function secondsFor(calls: number, pace: ApiPace): number {
  return Math.max(0, calls - (pace.tokens ?? 0)) / pace.ratePerSec
}

/** A shared budget written this recently is being drawn on now: the writer's settings set the pace. */
export const ACTIVE_WRITER_MS = 60_000

/** Whether the process that last wrote the shared budget (its file as `written`) is drawing on it at `now`. */
export function drawnOnNow(written: LimiterState, now: number): boolean {
  return Math.abs(now - written.updatedAtMs) < ACTIVE_WRITER_MS
}

const count = (n: number): string => n.toLocaleString('en-US')

/** The live process holding the folder (it may be syncing now), if any. */
export interface Holder {
  pid: number
  purpose: string
}

/** The lines for `meta` (pure, so tests can check the wording for any figures). */
export function progressLines(meta: ProgressMeta, pace: ApiPace, nowMs: number, holder?: Holder): string[] {
  const left = (w: WorkCount): number => Math.max(0, w.total - w.done)
  const at = (calls: number): string => (calls > 0 ? `, ${atFlickrsLimit(secondsFor(calls, pace))}` : '')
  const commentCalls = left(meta.comments)
  const setCalls = left(meta.sets)
  const out = [
    `Sync not completed (${holder ? `going on in pid ${holder.pid}, ${holder.purpose}` : 'interrupted: the next pin or mount goes on from where it was'}): ` +
      `started ${new Date(meta.startedAtMs).toISOString()}${meta.runs > 1 ? ` (${meta.runs} runs so far)` : ''}, progress saved ${agoShort(meta.savedAtMs, nowMs)}`,
    `  photostream: ${meta.photostream ? `${count(meta.photostream.count)} items listed` : 'listing not saved yet'}`,
  ]
  if (meta.sizes.total > 0) out.push(`  sizes: ${count(meta.sizes.done)} of ${count(meta.sizes.total)}`)
  if (meta.comments.total > 0) out.push(`  comments: ${count(meta.comments.done)} of ${count(meta.comments.total)}${at(commentCalls)}`)
  if (meta.sets.total > 0) out.push(`  sets: ${count(meta.sets.done)} of ${count(meta.sets.total)} listed${at(setCalls)}`)
  const calls = commentCalls + setCalls
  if (calls > 0) {
    out.push(`  rest: at least ${count(calls)} API calls, ${roughDuration(secondsFor(calls, pace))} at ${pace.ratePerSec}/s` +
      (pace.tokens === undefined ? '' : ` with ${count(Math.floor(pace.tokens))} calls available now`))
  }
  return out
}

/** The lines of `flickrfs status` for DEST's unfinished sync; none when there is none. */
export async function syncProgressLines(dest: string, env: Env): Promise<string[]> {
  const meta = await readProgress(dest)
  if (meta === undefined) return []
  return progressLines(meta, await apiPace(env), Date.now(), await holderOf(dest))
}

/** How often a running pin reads the key's budget again for its progress line's estimate. */
export const PACE_EVERY_MS = 10_000

/**
 * The seconds `calls` API calls take at the key's budget, for a running pin's progress line: the
 * budget `flickrfs status` shows (the shared limiter's file, the configured refill), read in the
 * background at most every PACE_EVERY_MS; undefined until it has been read once.
 */
export function paceWatch(env: Env, now: () => number = Date.now): (calls: number) => number | undefined {
  let pace: ApiPace | undefined
  let readAt = -Infinity
  let reading = false
  return (calls) => {
    if (!reading && now() - readAt >= PACE_EVERY_MS) {
      reading = true
      readAt = now()
      // An unreadable budget leaves the line without its estimate, never the pin without its progress.
      void apiPace(env).then((p) => { pace = p }, () => undefined).finally(() => { reading = false })
    }
    return pace === undefined ? undefined : secondsFor(calls, pace)
  }
}

/** Who holds DEST's lock, when that process is alive on this machine. */
async function holderOf(dest: string): Promise<Holder | undefined> {
  try {
    const info = JSON.parse(await readFile(lockPath(dest), 'utf8')) as { pid?: unknown; host?: unknown; purpose?: unknown }
    if (typeof info.pid !== 'number' || info.host !== hostname() || !pidAlive(info.pid)) return undefined
    return { pid: info.pid, purpose: typeof info.purpose === 'string' ? info.purpose : 'unknown' }
  } catch {
    return undefined
  }
}

/**
 * The key's budget as a sync goes on with it: the shared limiter's file brought forward to now. A
 * process drawing on it right now (it wrote the file within ACTIVE_WRITER_MS) goes at its own
 * settings, which may not be this command's (`pin --api-rate 2`, a mount started with
 * FLICKRFS_API_RATE); else at the configured ones. Without the key the file cannot be found: the
 * refill alone, no calls counted as available.
 */
export async function apiPace(env: Env): Promise<ApiPace> {
  const configDir = resolveConfigDir(env)
  const own = await limiterSettings(env, configDir)
  const key = await loadApiKey({ env, configDir }).catch(() => undefined)
  if (!key) return { ratePerSec: own.ratePerSec }
  const now = clockFromEnv(env).now()
  const written = await readSharedBucket(configDir, key.apiKey)
  if (written === undefined) return { tokens: own.burst, ratePerSec: own.ratePerSec }
  const { burst, ratePerSec } = drawnOnNow(written, now) ? written : own
  const s = advance(written, now, burst, ratePerSec)
  const slowed = s.slowFactor < 1 && now < s.slowUntilMs ? s.slowFactor : 1
  return { tokens: Math.max(0, s.tokens), ratePerSec: ratePerSec * slowed }
}

function agoShort(ms: number, nowMs: number): string {
  const s = Math.max(0, (nowMs - ms) / 1000)
  if (s < 120) return `${Math.round(s)} s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}
