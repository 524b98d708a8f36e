/**
 * Progress output for long jobs. On a terminal: one status line redrawn in place. Otherwise: a plain
 * line now and then (logs, CI). Quiet (cron): nothing at all; failures are reported by the command
 * itself.
 *
 * The terminal line is never wider than the terminal (a wrapped line cannot be cleared with
 * `\r\x1b[K`, which clears only the cursor's row), is redrawn at most every MIN_REDRAW_MS, and says
 * only what it knows:
 * - listing: the totals still grow, so it counts what was found and done; no bar, rate or ETA;
 * - downloading: the totals are final: a bar, counts and bytes; a download rate and an ETA once
 *   RATE_AFTER_MS have passed and RATE_MIN_BYTES were really fetched (already-present originals
 *   are not speed), measured over the last RATE_WINDOW_MS;
 * - writing: the tree is being written; nothing to estimate.
 *
 * Why not cli-progress (or another bar library): it truncates its rendered template at the right
 * edge (cutting off whatever is last, rate or ETA included), it redraws from its own interval timer
 * that must be stopped on every exit path, and its ETA is computed from the bar value, so the
 * "no ETA while listing, rate from fetched bytes only" rules above would be ours anyway, on top of
 * a dependency. What is left, fields that drop by priority to fit the width and a throttle, is the
 * few lines below.
 */
import { atFlickrsLimit, inUnits, roughDuration } from './units.js'
/** `waiting`: a pin handed to a mount waits for the mount's first catalog (items listed and sized, calls left). */
export type Phase = 'listing' | 'downloading' | 'writing' | 'waiting'

/** The refresh's API calls still to make: comments to fetch, sets to list, at the key's rate. */
export interface ApiWorkState {
  commentsDone: number
  commentsTotal: number
  setsDone: number
  setsTotal: number
  /** How long the calls left take at the key's budget (sync-progress.ts secondsFor); absent until known. */
  secondsLeft?: number
}

export interface ProgressState {
  phase: Phase
  doneItems: number
  totalItems: number
  doneBytes: number
  totalBytes: number
  /** Bytes really fetched from Flickr (doneBytes also counts originals that were already there). */
  fetchedBytes: number
  /** The catalog is being saved (downloading phase): said instead of the rate and ETA, which would stand still meanwhile. */
  saving?: boolean
  /** Comments and sets still to fetch (a first sync's comments come last, at the key's rate). */
  api?: ApiWorkState
  /** Waiting for a mount's first catalog: originals downloaded meanwhile (their bytes are doneBytes). */
  downloaded?: number
}

export interface Progress {
  update(state: ProgressState): void
  /** A line that must be seen (a warning, a detail under -v). */
  line(text: string): void
  /** Clears the status line; the command prints its own summary. */
  done(): void
}

export const MIN_REDRAW_MS = 100
export const RATE_AFTER_MS = 3000
export const RATE_MIN_BYTES = 1_000_000
export const RATE_WINDOW_MS = 5000
/** A plain progress line at most this often when stderr is not a terminal. */
export const LINES_EVERY_MS = 5000

/**
 * ...and this often once only API calls are left (every original down): a first sync's comments
 * take hours at Flickr's limit, and a log should not gain a line every 5 s for them.
 */
export const API_LINES_EVERY_MS = 60_000

/** Transfer sizes and rates in decimal units, as network tools show them (cache sizes use binary: formatSize). */
export function formatBytes(bytes: number): string {
  const { value, unit, scaled } = inUnits(bytes, 1000, ['B', 'KB', 'MB', 'GB', 'TB'])
  return `${value >= 100 || !scaled ? Math.round(value) : value.toFixed(1)} ${unit}`
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/** `n thing` or `n things`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** A rate sample per this many ms at most: the window holds RATE_WINDOW_MS / RATE_SAMPLE_MS of them. */
export const RATE_SAMPLE_MS = 100

/** Download speed over a sliding window of fetched bytes, and whether it means anything yet. */
export class RateMeter {
  private samples: Array<{ at: number; bytes: number }> = []
  private since: number | undefined

  constructor(private readonly now: () => number) {}

  /** Samples held now (bounded by the window; test/cli/progress.test.ts). */
  get held(): number {
    return this.samples.length
  }

  add(fetchedBytes: number): void {
    const at = this.now()
    this.since ??= at
    // A pin tells its progress once per original: a million originals found in place in a few
    // minutes made a sample each, ~16,000 in the window, and shift() moved them all each time
    // (30-90 µs a call, most of a 1,000,000-item pin's sweep). Within RATE_SAMPLE_MS the last
    // sample takes the new count instead.
    const last = this.samples[this.samples.length - 1]
    if (last !== undefined && this.samples.length > 1 && at - last.at < RATE_SAMPLE_MS) {
      last.bytes = fetchedBytes
      return
    }
    this.samples.push({ at, bytes: fetchedBytes })
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - RATE_WINDOW_MS) this.samples.shift()
  }

  /** Bytes per second, or undefined while too little time has passed or too little was fetched. */
  rate(): number | undefined {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (this.since === undefined || first === undefined || last === undefined) return undefined
    if (this.now() - this.since < RATE_AFTER_MS) return undefined
    const bytes = last.bytes - first.bytes
    const ms = this.now() - first.at
    if (last.bytes < RATE_MIN_BYTES || bytes <= 0 || ms <= 0) return undefined
    return (bytes * 1000) / ms
  }
}

/** What the line says while the catalog is saved. */
const SAVING = 'saving the catalog'

/** The pieces the lines say of `api`: the comments and the sets still to fetch (absent when none), and `, about 7 min at Flickr's limit` once estimated. */
function apiPieces(api: ApiWorkState): { comments?: string; sets?: string; when: string } {
  return {
    ...(api.commentsDone < api.commentsTotal ? { comments: `comments ${api.commentsDone}/${api.commentsTotal}` } : {}),
    ...(api.setsDone < api.setsTotal ? { sets: `sets ${api.setsDone}/${api.setsTotal}` } : {}),
    when: api.secondsLeft === undefined ? '' : `, ${atFlickrsLimit(api.secondsLeft)}`,
  }
}

/** `comments 283/613, sets 3/40, about 7 min at Flickr's limit`; undefined when no call is left. */
export function describeApiWork(api: ApiWorkState | undefined): string | undefined {
  if (api === undefined || callsLeft(api) === 0) return undefined
  const { comments, sets, when } = apiPieces(api)
  return [comments, sets].filter((x) => x !== undefined).join(', ') + when
}

/** API calls the refresh still makes for `api` (at least: a set of more than 500 members takes a call a page). */
export function callsLeft(api: ApiWorkState): number {
  return Math.max(0, api.commentsTotal - api.commentsDone) + Math.max(0, api.setsTotal - api.setsDone)
}

/** Every original is down and only API calls are left: those are the news, not a download rate. */
function onlyCallsLeft(s: ProgressState): boolean {
  return s.phase === 'downloading' && s.saving !== true && s.totalItems > 0 && s.doneItems >= s.totalItems && describeApiWork(s.api) !== undefined
}

/** News that comes at the key's API rate (hours on a big account): a log gets a line a minute. */
function atApiPace(s: ProgressState): boolean {
  return s.phase === 'waiting' || onlyCallsLeft(s)
}

/**
 * The terminal line for the mount's first catalog a handed pin waits for, most telling first: the
 * calls left and their estimate (the sets apart, so that the comments and the estimate fit 80
 * columns), the originals the pin downloaded meanwhile, then the items listed and sized. A pin of
 * its own says its originals down at 80 columns; so does this one: the calls' field gives up words
 * ("at Flickr's limit", "Mount's") and then the bytes down theirs until both fit.
 */
function waitingLine(s: ProgressState, room: number): string {
  const api = s.api
  const listed = `${plural(s.totalItems, 'item')} listed`
  const sizes = s.totalItems > 0 ? [`sizes ${s.doneItems}/${s.totalItems}`] : []
  const down = downloadedSoFar(s)
  if (api === undefined || callsLeft(api) === 0) return fit([`Mount's first catalog: ${listed}`, ...(down !== undefined ? [down] : []), ...sizes], room)
  const { comments, sets, when } = apiPieces(api)
  const calls = comments ?? sets ?? ''
  const rest = [...(comments !== undefined && sets !== undefined ? [sets] : []), listed, ...sizes]
  const full = `Mount's first catalog: ${calls}${when}`
  if (down === undefined) return fit([full, ...rest], room)
  const rough = api.secondsLeft === undefined ? '' : `, ${roughDuration(api.secondsLeft)}`
  const count = `${plural(s.downloaded ?? 0, 'original')} down`
  const tries: Array<[string, string]> = [
    [full, down],
    [`Mount's first catalog: ${calls}${rough}`, down],
    [`First catalog: ${calls}${rough}`, down],
    [`First catalog: ${calls}${rough}`, count],
  ]
  const [head, said] = tries.find(([h, d]) => h.length + 2 + d.length <= room) ?? [full, down]
  return fit([head, said, ...rest], room)
}

/** `812 originals down (57 MB)`: what a pin waiting for a mount's first catalog downloaded meanwhile; undefined before the first. */
function downloadedSoFar(s: ProgressState): string | undefined {
  return s.downloaded !== undefined && s.downloaded > 0 ? `${plural(s.downloaded, 'original')} down (${formatBytes(s.doneBytes)})` : undefined
}

/** Fields, most important first; the first is always there (cut to the width), the rest only if they fit. */
function fit(fields: string[], width: number, sep = '  '): string {
  let out = (fields[0] ?? '').slice(0, width)
  for (const f of fields.slice(1)) {
    const next = out + sep + f
    if (next.length <= width) out = next
  }
  return out
}

const LISTING_STARTED = 'Listing the account on Flickr…'

/** The one status line for a terminal `width` columns wide (at most width - 1 characters). */
export function renderLine(s: ProgressState, width: number, rate: number | undefined): string {
  const room = Math.max(1, width - 1)
  // Nothing found yet: not "0 items found  0 done  0 B/0 B so far".
  if (s.phase === 'listing' && s.totalItems === 0) return fit([LISTING_STARTED], room)
  if (s.phase === 'listing') {
    return fit([
      `Listing: ${plural(s.totalItems, 'item')} found`,
      `${s.doneItems} done`,
      `${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)} so far`,
    ], room)
  }
  if (s.phase === 'writing') return fit([`Writing the tree: ${plural(s.totalItems, 'item')}`], room)
  if (s.phase === 'waiting') return waitingLine(s, room)
  const eta = rate !== undefined && s.totalBytes > s.doneBytes ? (s.totalBytes - s.doneBytes) / rate : undefined
  const api = describeApiWork(s.api)
  const items = `${s.doneItems}/${s.totalItems} items`
  const bytes = `${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)}`
  // Every original down: the calls left come before the bytes (at 80 columns both do not fit).
  const text = onlyCallsLeft(s) ? fit([items, api ?? '', bytes], room) : fit([
    items,
    bytes,
    ...(s.saving === true ? [SAVING] : [
      // Every original down: a rate would stand still at its last value while the run ends.
      ...(rate !== undefined && s.doneItems < s.totalItems ? [`${formatBytes(rate)}/s`] : []),
      ...(eta !== undefined ? [`ETA ${formatDuration(eta)}`] : []),
      ...(api !== undefined ? [api] : []),
    ]),
  ], room)
  // The bar takes what is left, up to 30 columns; below 10 it says too little to be worth it.
  const barWidth = Math.min(30, room - text.length - 3)
  if (barWidth < 10) return text
  const frac = s.totalItems > 0 ? Math.min(1, s.doneItems / s.totalItems) : 0
  const filled = Math.round(frac * barWidth)
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${text}`
}

/** The plain line for logs: no bar, no width limit, the same honesty rules. */
export function describePlain(s: ProgressState, rate: number | undefined): string {
  if (s.phase === 'listing' && s.totalItems === 0) return 'listing: 0 items found yet'
  if (s.phase === 'listing') {
    return `listing: ${plural(s.totalItems, 'item')} found, ${s.doneItems} done, ${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)} so far`
  }
  if (s.phase === 'waiting') {
    const api = describeApiWork(s.api)
    const down = downloadedSoFar(s)
    return `waiting for the mount's first catalog: ${plural(s.totalItems, 'item')} listed` +
      `${s.totalItems > 0 ? `, sizes ${s.doneItems}/${s.totalItems}` : ''}${api !== undefined ? `; ${api}` : ''}${down !== undefined ? `; ${down}` : ''}`
  }
  // As on a terminal: the tree's write has no bytes to count ("0 B/0 B" said nothing true).
  if (s.phase === 'writing') return `writing the tree: ${plural(s.totalItems, 'item')}`
  const base = `${s.phase}: ${s.doneItems}/${s.totalItems} items, ${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)}`
  if (s.phase === 'downloading' && s.saving === true) return `${base}, ${SAVING}`
  if (s.phase !== 'downloading') return base
  const api = describeApiWork(s.api)
  const calls = api === undefined ? '' : `; ${api}`
  if (onlyCallsLeft(s) || rate === undefined || s.doneItems >= s.totalItems) return base + calls
  const eta = s.totalBytes > s.doneBytes ? `, ETA ${formatDuration((s.totalBytes - s.doneBytes) / rate)}` : ''
  return `${base}, ${formatBytes(rate)}/s${eta}${calls}`
}

export function createProgress(
  mode: 'bar' | 'lines' | 'quiet',
  out: NodeJS.WritableStream,
  now: () => number = Date.now,
): Progress {
  return new ProgressWriter(mode, out, now)
}

/** A redrawn bar on a terminal, a line every LINES_EVERY_MS in a log, or nothing. */
class ProgressWriter implements Progress {
  #lastLineAt = 0
  #atApiPace = false
  #lastDrawAt = -Infinity
  #state: ProgressState | undefined
  #shown = false
  #timer: NodeJS.Timeout | undefined
  readonly #meter: RateMeter

  constructor(
    private readonly mode: 'bar' | 'lines' | 'quiet',
    private readonly out: NodeJS.WritableStream,
    private readonly now: () => number,
  ) {
    this.#meter = new RateMeter(now)
  }

  update(next: ProgressState): void {
    // Fetch speed is measured from the downloading phase on: during the listing the catalog's
    // own requests share the connection and the totals are still growing.
    if (next.phase === 'downloading') this.#meter.add(next.fetchedBytes)
    this.#state = next
    if (this.mode === 'quiet') return
    if (this.mode === 'bar') return this.#schedule()
    // The moment only calls are left is said at once; from then on a line a minute.
    const slow = atApiPace(next)
    const turned = slow && !this.#atApiPace
    this.#atApiPace = slow
    if (turned || this.now() - this.#lastLineAt >= (slow ? API_LINES_EVERY_MS : LINES_EVERY_MS)) {
      this.#lastLineAt = this.now()
      this.out.write(describePlain(next, this.#rate()) + '\n')
    }
  }

  line(text: string): void {
    if (this.mode === 'quiet') return
    if (this.#shown) this.out.write('\r\x1b[K')
    this.#shown = false
    this.out.write(text + '\n')
    if (this.mode === 'bar' && this.#state) this.#schedule()
  }

  done(): void {
    this.#cancelDraw()
    if (this.mode === 'bar' && this.#shown) this.out.write('\r\x1b[K')
    this.#shown = false
  }

  #columns(): number {
    const c = (this.out as NodeJS.WriteStream).columns
    return typeof c === 'number' && c > 0 ? c : 80
  }

  #rate(): number | undefined {
    return this.#state?.phase === 'downloading' ? this.#meter.rate() : undefined
  }

  #cancelDraw(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  readonly #draw = (): void => {
    this.#cancelDraw()
    if (!this.#state) return
    this.#lastDrawAt = this.now()
    this.out.write(`\r\x1b[K${renderLine(this.#state, this.#columns(), this.#rate())}`)
    this.#shown = true
  }

  /** Draws now if the last draw is old enough, else once when it is (the latest state wins). */
  #schedule(): void {
    const wait = this.#lastDrawAt + MIN_REDRAW_MS - this.now()
    if (wait <= 0) this.#draw()
    else this.#timer ??= setTimeout(this.#draw, wait).unref()
  }
}
