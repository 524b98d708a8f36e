/**
 * A network outage in the middle of a long run: the Wi-Fi drops, a router restarts, Flickr is away
 * for a few minutes. A request retries a few times over about half a minute (retry.ts); a pin of
 * hours would then end at the first outage longer than that, and a cron job would wait a day to go
 * on. One OutageWatch, shared by the API and media clients of a pin, lets a request that cannot
 * reach Flickr go on trying while nothing else reaches Flickr either, up to OUTAGE_PATIENCE_MS from
 * the last time anything did. It is an outage only if so:
 * - Flickr was reached earlier in this run: a run started without a network fails as quickly as
 *   before, it does not sit for minutes;
 * - nothing reached Flickr since the request's try before its last one began: one item whose host
 *   keeps failing while the others download is that item's trouble, and keeps its own retries (its
 *   last try alone may fail in a millisecond, a window nothing else happens to answer in).
 *
 * When something reaches Flickr again, the requests the outage held try again at once
 * (OutageWatch.backoff): after minutes of failing their backoff is up to a minute apart, and a pin
 * would otherwise go on for up to a minute after the network is back, slot by slot.
 */
import { asError } from '../util/abort.js'
import createDebug from '../util/debug.js'
import { redact } from '../util/redact.js'
import type { Clock } from './clock.js'

const log = createDebug('flickrfs:flickr:outage')

/** How long requests go on trying through an outage, from the last time anything reached Flickr. */
export const OUTAGE_PATIENCE_MS = 10 * 60_000

/**
 * What a pin says when an outage starts (`on`, with what the request met) and ends; `handed`: a pin
 * a mount runs for it (cli/handed-pin.ts), which a Ctrl-C of the pin that asked does not stop.
 */
export function outageNote(on: boolean, why = '', handed = false): string {
  const min = Math.round(OUTAGE_PATIENCE_MS / 60_000)
  return on
    ? `Flickr cannot be reached${why === '' ? '' : ` (${why})`}: the pin ${handed ? 'the mount runs ' : ''}waits and tries again for up to ${min} min` +
      (handed ? '.' : '; Ctrl-C stops it, and the next pin goes on from there.')
    : 'Flickr can be reached again; the pin goes on.'
}

/**
 * What a mount says when an outage starts (`on`, with what the request met) and ends: its catalog's
 * calls wait for Flickr (cli/mount.ts), while what it holds is served as ever.
 */
export function mountOutageNote(on: boolean, why = ''): string {
  const min = Math.round(OUTAGE_PATIENCE_MS / 60_000)
  return on
    ? `Flickr cannot be reached${why === '' ? '' : ` (${why})`}: the catalog waits and tries again for up to ${min} min; what the mount holds is served meanwhile.`
    : 'Flickr can be reached again; the catalog goes on.'
}

/**
 * What a failed try met when it did not reach Flickr: a lost connection (its errno), no answer in
 * time, or a gateway's 502–504 answering for a service that is away; undefined when Flickr answered.
 * `f` is either client's failure (failure.ts classify; the media client's `status` for an HTTP one).
 */
export function unreachableWhy(f: { kind: string; message?: string; status?: number }): string | undefined {
  if (f.kind === 'network') return redact(f.message ?? '')
  if (f.kind === 'timeout') return 'no answer'
  if ((f.kind === 'http' || f.kind === 'status') && (f.status === 502 || f.status === 503 || f.status === 504)) return `HTTP ${f.status}`
  return undefined
}

export class OutageWatch {
  /** When something last reached Flickr (the clock's time); undefined until something has. */
  #reachedAt: number | undefined
  /**
   * The latest start of a try that reached Flickr (the clock's time). What says whether Flickr can
   * be reached since a time: an answer to a request sent before the network went away (one in
   * flight when it did) says nothing of now, and taken for one it made a request that failed its
   * retries in an outage's first moments fail for good, and the outage seem to end as it began.
   */
  #answeredFrom = -Infinity
  /** An outage was said to the listeners (when, the clock's time) and its end was not yet. */
  #toldAt: number | undefined
  readonly #listeners: Array<(on: boolean, why: string) => void> = []
  /** What wakes each request sleeping in a backoff the outage holds, by when its hold began (OutageWatch.backoff). */
  readonly #sleepers = new Map<() => void, number>()

  constructor(
    private readonly clock: Clock,
    readonly patienceMs = OUTAGE_PATIENCE_MS,
  ) {}

  /**
   * `listener(true, why)` when a request first goes on trying past its retries, `listener(false, '')`
   * when Flickr answers again. Returns what stops telling it.
   */
  onChange(listener: (on: boolean, why: string) => void): () => void {
    this.#listeners.push(listener)
    return () => {
      const i = this.#listeners.indexOf(listener)
      if (i >= 0) this.#listeners.splice(i, 1)
    }
  }

  /**
   * Flickr answered a request (any answer but a gateway's "unavailable") whose try began at
   * `triedAt` (OutageWatch.now; now by default): the requests the outage held since before then try
   * again now, and an outage said before then is over.
   */
  reached(triedAt = this.clock.now()): void {
    this.#reachedAt = this.clock.now()
    this.#answeredFrom = Math.max(this.#answeredFrom, triedAt)
    const woken = [...this.#sleepers].filter(([, since]) => since < triedAt).map(([wake]) => wake)
    if (woken.length > 0) {
      for (const wake of woken) this.#sleepers.delete(wake)
      log('Flickr answered: %d request(s) the outage held try again now', woken.length)
      for (const wake of woken) wake()
    }
    if (this.#toldAt !== undefined && this.#toldAt < triedAt) {
      this.#toldAt = undefined
      for (const listener of this.#listeners) listener(false, '')
    }
  }

  /**
   * Whether a try that began after `t` (OutageWatch.now) reached Flickr: a request held by an outage
   * since `t` then has its retries anew (the clients), since its tries while Flickr was away say
   * nothing of it.
   */
  reachedSince(t: number): boolean {
    return this.#answeredFrom > t
  }

  /** The time to keep as the start of a request's try (OutageWatch.keepTrying, OutageWatch.backoff). */
  now(): number {
    return this.clock.now()
  }

  /**
   * Whether an outage holds a request that failed to reach Flickr since `since` (OutageWatch.now):
   * Flickr was reached before, not since then, and less than the patience ago. What keepTrying asks,
   * without saying anything.
   */
  holds(since: number): boolean {
    const reachedAt = this.#reachedAt
    return reachedAt !== undefined && this.#answeredFrom <= since && this.clock.now() - reachedAt < this.patienceMs
  }

  /**
   * A request's try failed to reach Flickr, and the request has used up its retries: whether it
   * should try again (`why`: what it met, for the note). `since`: when its try before that one began
   * (OutageWatch.now; its only try's start when it had no retries).
   */
  keepTrying(since: number, why: string): boolean {
    if (!this.holds(since)) return false
    if (this.#toldAt === undefined) {
      this.#toldAt = this.clock.now()
      for (const listener of this.#listeners) listener(true, why)
    }
    return true
  }

  /**
   * A request's backoff of `ms` after a try that failed to reach Flickr; `since`: when its try before
   * that one began (OutageWatch.now). When nothing has reached Flickr since then (the outage holds
   * this request, not its own host), the wait ends as soon as something does: the requests an outage
   * held go on together when it ends, API calls still each through the limiter. Otherwise the clock's
   * plain sleep. Rejects with the signal's reason when `signal` aborts; leaves no timer behind.
   */
  async backoff(ms: number, since: number, signal?: AbortSignal): Promise<void> {
    if (this.reachedSince(since)) return this.clock.sleep(ms, signal)
    const cut = new AbortController()
    let woken = false
    const wake = (): void => {
      woken = true
      cut.abort()
    }
    const passOn = (): void => cut.abort(asError(signal?.reason))
    if (signal?.aborted === true) passOn()
    else signal?.addEventListener('abort', passOn, { once: true })
    this.#sleepers.set(wake, since)
    try {
      await this.clock.sleep(ms, cut.signal)
    } catch (err) {
      if (!woken || signal?.aborted === true) throw err
    } finally {
      this.#sleepers.delete(wake)
      signal?.removeEventListener('abort', passOn)
    }
  }
}

/**
 * One request's tries as the outage watch sees them, for both clients (FlickrClient.call,
 * MediaClient.request): when each began, how many count against its retries, and its backoff.
 * - Its tries while an outage held it do not count once a try begun after its hold reaches Flickr:
 *   held past its retries, it failed for good at the first failure after the outage ended (a pooled
 *   connection the outage had closed: ECONNRESET; a 500), though Flickr was back.
 * - Whether an outage holds it is asked from the start of its try before its last one (the header).
 * - Its backoff after a try that met no answer ends as soon as an outage holding it ends.
 * A request without a watch (a mount's reads) has plain retries and sleeps.
 */
export class RequestTries {
  /** When its current try began (the watch's time); undefined without a watch. */
  #triedAt: number | undefined
  /** When its try before that one began. */
  #previousTriedAt: number | undefined
  /** The attempt its retries count from, and when an outage first held it (the watch's time). */
  #from = 0
  #heldAt: number | undefined

  constructor(
    private readonly watch: OutageWatch | undefined,
    private readonly clock: Clock,
  ) {}

  /** A try begins. */
  begin(): void {
    this.#triedAt = this.watch?.now()
  }

  /** The try got an answer: Flickr was reached. */
  answered(): void {
    this.watch?.reached(this.#triedAt)
  }

  /**
   * Try `attempt` (0-based) failed; `answered`: it met an answer (Flickr was reached). Returns how
   * many of its tries count against its retries.
   */
  failed(attempt: number, answered: boolean): number {
    if (answered) this.answered()
    if (this.#heldAt !== undefined && this.watch?.reachedSince(this.#heldAt) === true) {
      this.#from = attempt
      this.#heldAt = undefined
    }
    return attempt - this.#from
  }

  /** Whether an outage holds it (OutageWatch.holds), without saying anything. */
  holds(): boolean {
    const since = this.#previousTriedAt ?? this.#triedAt
    return since !== undefined && this.watch?.holds(since) === true
  }

  /** Whether it goes on past its retries, its last try having met no answer (`why`): OutageWatch.keepTrying. */
  keepTrying(why: string): boolean {
    const since = this.#previousTriedAt ?? this.#triedAt
    if (this.watch === undefined || since === undefined || !this.watch.keepTrying(since, why)) return false
    this.#heldAt ??= this.watch.now()
    return true
  }

  /** Its backoff of `ms` after the try (`unreachable`: it met no answer); rejects when `signal` aborts. */
  async backoff(ms: number, unreachable: boolean, signal?: AbortSignal): Promise<void> {
    const since = this.#previousTriedAt
    if (unreachable && since !== undefined && this.watch !== undefined) await this.watch.backoff(ms, since, signal)
    else await this.clock.sleep(ms, signal)
    this.#previousTriedAt = this.#triedAt
  }
}
