import { resolve } from 'node:path'
import { Command } from 'commander'
import { acquireRootLock, setAsideDamagedCatalog, type RootLock } from '../catalog/index.js'
import { FlickrfsError, isFlickrfsError } from '../errors/flickrfs-error.js'
import { openFlickr, outageNote, throttleNote } from '../flickr/index.js'
import { DEFAULT_PIN_CONCURRENCY, pin, type PinReport } from '../pin/pin.js'
import { envOf, isTty, positiveInt, readCookies, type CliIo } from './context.js'
import { createProgress, formatBytes, formatDuration, plural } from './progress.js'
import { checkFolder } from './dest-check.js'
import { FULL_LISTING_FLAGS, FULL_LISTING_HELP, fullListingEveryMs } from './full-listing.js'
import { parseDuration } from './units.js'
import { pinChoices, pinThroughMount, progressState } from './pin-handoff.js'
import { paceWatch } from './sync-progress.js'
import { destWriteError } from '../util/fs-errors.js'
import { lazyCatalogFrom } from './lazy-catalog.js'
import { claimEarlyClients } from './early-pin.js'
import { capYoungGeneration } from '../util/young-generation.js'

interface PinFlags {
  quiet?: boolean
  verbose?: boolean
  statistics?: boolean
  ignorePhotos?: boolean
  ignoreVideos?: boolean
  ignoreViews?: boolean
  deleteUnknown?: boolean
  force?: boolean
  concurrency: number
  apiRate?: string
  cookies?: string
  fullListingEvery?: number
}

/** More downloads at once only add sockets, open files and load on Flickr's CDN, not speed. */
const MAX_PIN_CONCURRENCY = 32

export function pinCommand(io: CliIo): Command {
  return new Command('pin')
    .description('Make DEST a complete, plain copy of the account (run again to bring it up to date)')
    .argument('<dest>', 'destination folder (created when missing)')
    .option('-q, --quiet', 'print nothing unless something fails (for cron)')
    .option('-v, --verbose', 'say what is downloaded and removed')
    .option('-s, --statistics', 'print statistics at the end')
    .option('--ignore-photos', 'do not download photos')
    .option('--ignore-videos', 'do not download videos')
    .option('--ignore-views', 'leave view counts out of the metadata (they change all the time)')
    .option('--delete-unknown', 'remove photos, sets and collections deleted on Flickr')
    .option('--concurrency <n>', 'downloads at once', positiveInt('--concurrency', MAX_PIN_CONCURRENCY), DEFAULT_PIN_CONCURRENCY)
    .option('--api-rate <r>', 'API calls per second once the burst is used (default 0.8; shared by every flickrfs process of the key)')
    .option('--cookies <file>', 'file with Flickr web cookies (cookie_accid, cookie_epass) for video originals')
    .option(FULL_LISTING_FLAGS, FULL_LISTING_HELP, parseDuration('--full-listing-every'))
    .option('--force', 'pin into a non-empty folder that holds no mirror yet; with --delete-unknown, delete even when one refresh lost more than 5% of the photos')
    .action(async (dest: string, flags: PinFlags) => {
      process.exitCode = await runPin(io, dest, flags)
    })
}

/**
 * A DEST refused that is the mountpoint of a running flickrfs mount (status and verify read its
 * cache): the pin to run is of that cache, which the mount then runs itself. Asked only once
 * DEST is refused, so a pin of a plain folder reads no mount record.
 */
async function mountpointError(io: CliIo, dest: string): Promise<FlickrfsError | undefined> {
  const { findMount } = await import('../service/registry.js')
  const mount = await findMount(envOf(io), resolve(dest)).catch(() => undefined)
  if (mount === undefined || resolve(mount.root) === resolve(dest)) return undefined
  return new FlickrfsError('DEST', `${resolve(dest)} is where a flickrfs mount (pid ${mount.pid}) shows its cache, ${mount.root}: ` +
    `pin that folder instead (\`flickrfs pin ${mount.root}\`; the mount runs the pin itself).`)
}

/**
 * A first pin of a big account holds its whole first catalog until its tree is written: V8's young
 * generation, left to grow to two 16 MB semi-spaces, is that much more of its peak (util/young-generation.ts).
 */
const PIN_SEMI_SPACE_MB = 8

async function runPin(io: CliIo, dest: string, flags: PinFlags): Promise<number> {
  capYoungGeneration(PIN_SEMI_SPACE_MB)
  if (flags.quiet && flags.verbose) throw new FlickrfsError('USAGE', 'Use either -q or -v, not both.')
  const absDest = await checkFolder(dest, { what: 'DEST', force: flags.force, writes: true, links: true }).catch(async (err: unknown) => {
    throw (await mountpointError(io, dest)) ?? err
  })
  const env = envOf(io)
  const cookies = await readCookies(flags.cookies, env, (line) => io.stderr.write(line))
  const fullListingEvery = await fullListingEveryMs(env, flags.fullListingEvery)
  // The clients the process made as it started (early-pin.ts), the set list already asked; made from the same env, and no --api-rate.
  const early = flags.apiRate === undefined ? await claimEarlyClients(env) : undefined
  const { client, media, outage } = early ?? await openFlickr({ env, apiRate: flags.apiRate, outagePatience: true })
  const mode = flags.quiet ? 'quiet' : isTty(io.stderr) ? 'bar' : 'lines'
  // Held for the whole run (pin takes it again, re-entrantly): a damaged catalog is moved aside
  // with no other writer about.
  let lock: RootLock
  try {
    lock = await acquireRootLock(absDest, 'pin')
  } catch (err) {
    // A mount serving DEST holds the lock: it runs the pin itself (cli/pin-handoff.ts).
    if (isFlickrfsError(err) && err.code === 'LOCKED') {
      const code = await pinThroughMount(io, absDest, {
        options: {
          ignorePhotos: flags.ignorePhotos,
          ignoreVideos: flags.ignoreVideos,
          ignoreViews: flags.ignoreViews,
          deleteUnknown: flags.deleteUnknown,
          force: flags.force,
          concurrency: flags.concurrency,
          verbose: flags.verbose,
        },
        mode,
        cookies: cookies !== undefined,
        report: (report, apiCalls, mountpoint) => reportPin(io, dest, flags, report, apiCalls, mountpoint),
      })
      if (code !== undefined) return code
    }
    throw isFlickrfsError(err) ? err : destWriteError(err, absDest)
  }
  try {
    // Before the catalog is loaded whole (a pin that ends as a no-change check reads only its
    // head and a few chunks, and moves on to this when they cannot be read).
    const checkCatalog = async (): Promise<boolean> => {
      const setAside = await setAsideDamagedCatalog(absDest, 'pin').catch((err: unknown) => {
        throw isFlickrfsError(err) ? err : destWriteError(err, absDest)
      })
      // Said even with -q: cron should mail it, the run is a rebuild.
      if (setAside !== undefined) io.stderr.write(`flickrfs: ${setAside}\n`)
      return setAside !== undefined
    }
    return await pinAndReport(io, dest, { ...flags, fullListingEvery }, { client, media, outage, cookies, mode, checkCatalog })
  } finally {
    await lock.release()
  }
}

async function pinAndReport(
  io: CliIo,
  dest: string,
  flags: PinFlags,
  run: {
    client: Awaited<ReturnType<typeof openFlickr>>['client']
    media: Awaited<ReturnType<typeof openFlickr>>['media']
    outage: Awaited<ReturnType<typeof openFlickr>>['outage']
    cookies: string | undefined
    mode: 'quiet' | 'bar' | 'lines'
    checkCatalog: () => Promise<boolean>
  },
): Promise<number> {
  const { client, media, outage, cookies, mode, checkCatalog } = run
  const progress = createProgress(mode, io.stderr)
  const pace = paceWatch(envOf(io))
  // Ctrl-C or a stop: every write is atomic and the work done is recorded as it goes, so the
  // process may end at once, as it would without a handler; it says so (and that nothing is lost).
  const stop = (signal: NodeJS.Signals): void => {
    progress.done()
    io.stderr.write(`flickrfs: pin of ${dest} stopped (${signal}); what it finished is kept, and the next pin goes on from there.\n`)
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  // A storm of "too many requests" is waited out (FlickrClient RATE_LIMIT_PATIENCE_MS): said, so
  // that a line standing still for minutes is not taken for a hang. -q says nothing unless it fails.
  if (mode !== 'quiet') client.onThrottled((on) => progress.line(`flickrfs: ${throttleNote(on, 'the pin')}`))
  // So is a network outage, waited out the same way (outage.ts).
  if (mode !== 'quiet') outage?.onChange((on, why) => progress.line(`flickrfs: ${outageNote(on, why)}`))
  // The status line is cleared however the run ends, so an error starts on a clean row.
  const report = await pin({
    dest,
    api: client,
    media,
    ...pinChoices(flags),
    cookies,
    fullListingEveryMs: flags.fullListingEvery,
    lazyCatalogFromPhotos: lazyCatalogFrom(envOf(io)),
    checkCatalog,
    prepareCalls: () => client.prepareCalls(),
    onProgress: (p) => progress.update(progressState(p, pace)),
    onDetail: flags.verbose ? (line) => progress.line(line) : undefined,
  }).finally(() => {
    progress.done()
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  })
  return reportPin(io, dest, flags, report, client.stats.apiCalls)
}

/**
 * The summary, notes, statistics and failures of a finished pin (here, or in the mount at
 * `mountpoint`, with that mount's cookies), and its exit code.
 */
function reportPin(io: CliIo, dest: string, flags: PinFlags, report: PinReport, apiCalls: number, mountpoint?: string): number {
  if (!flags.quiet) {
    io.stdout.write(summary(report, dest, apiCalls) + '\n')
    if (report.transcodesNext !== undefined && report.transcodes.length > 0) io.stdout.write(staleCookiesNote(report.transcodes, report.transcodesNext, Date.now(), mountpoint, dest))
    else {
      for (const t of report.transcodes.slice(0, NOTED_TRANSCODES)) {
        io.stdout.write(`Note: video ${t.id} is stored as the "${t.label}" transcode; Flickr refused the original (see --cookies).\n`)
      }
      if (report.transcodes.length > NOTED_TRANSCODES) io.stdout.write(`Note: … and ${report.transcodes.length - NOTED_TRANSCODES} more videos stored as a transcode (${moreTranscodes(dest)}).\n`)
    }
    if (report.flickrmirrorer) io.stdout.write(takeoverMessage(report.flickrmirrorer))
  }
  if (flags.statistics) io.stdout.write(statistics(report, apiCalls))
  const held = report.deletionHeldBack
  if (held) io.stderr.write(heldBackMessage(held))
  if (report.failures.length > 0) {
    const fresh = report.relistable === undefined ? '' : `; ${freshRecordsWhen(report.relistable.next, Date.now())}`
    io.stderr.write(`${report.failures.length} item(s) failed; everything else is done. Run pin again to retry them${fresh}:\n`)
    for (const f of report.failures) io.stderr.write(`  ${f.id}: ${f.what}: ${f.message}\n`)
    return 1
  }
  return held ? 1 : 0
}

/** Videos named one a line in pin's note on transcodes; `flickrfs status` lists every one. */
const NOTED_TRANSCODES = 20

function moreTranscodes(dest: string): string {
  return `flickrfs status ${dest} lists them all`
}

/**
 * Cookies were given and videos are still transcodes: the cookies did not open the originals (an
 * expired web session, most often). Asked again once a day with the same cookies, at once with others.
 * A pin run by a mount used the mount's cookies (a pin's own are not passed on): new ones mean
 * starting the mount again with them.
 */
function staleCookiesNote(transcodes: PinReport['transcodes'], next: number, nowMs: number, mountpoint: string | undefined, dest: string): string {
  const h = Math.ceil((next - nowMs) / 3_600_000)
  const when = h <= 0 ? 'at the next run' : `by the first run in ${h} h or later`
  const lines = transcodes.slice(0, NOTED_TRANSCODES).map((t) => `  video ${t.id}: the "${t.label}" transcode\n`)
  if (transcodes.length > NOTED_TRANSCODES) lines.push(`  … and ${transcodes.length - NOTED_TRANSCODES} more (${moreTranscodes(dest)})\n`)
  const given = mountpoint === undefined ? '--cookies was given' : `the mount at ${mountpoint} that ran this pin was started with --cookies`
  const renew = mountpoint === undefined
    ? 'sign in to flickr.com and export cookie_accid and cookie_epass again). With other cookies they are asked for at the next run'
    : 'sign in to flickr.com, export cookie_accid and cookie_epass again and start the mount again with them; a pin\'s own --cookies ' +
      'is not passed on to it). With other cookies they are asked for at the mount\'s next refresh'
  return `Note: ${transcodes.length} video(s) are still stored as transcodes although ${given}: Flickr refused their originals ` +
    `with these cookies, which may have expired (${renew}; with the same ones, ${when}:\n` + lines.join('')
}

/**
 * When a run lists the failed items' records afresh: every run tries them again from the records
 * held, and while they keep failing the photostream is listed for fresh ones less and less often
 * (catalog/incremental.ts relistDue).
 */
function freshRecordsWhen(next: 'next' | number, nowMs: number): string {
  if (next === 'next' || next <= nowMs) return 'the next run also lists their records afresh from Flickr'
  const min = Math.ceil((next - nowMs) / 60_000)
  const wait = min < 90 ? `${min} min` : `${Math.round(min / 60)} h`
  return `a run in ${wait} or later also lists their records afresh from Flickr (the next one if more items fail by then; --full-listing-every 0 lists everything now)`
}

/** --delete-unknown on a flickrmirrorer mirror: what of the tool's went, and which folders stayed and why. */
export function takeoverMessage(t: NonNullable<PinReport['flickrmirrorer']>): string {
  const folders = t.removed.filter((r) => !r.startsWith('photostream/'))
  const aliases = t.removed.filter((r) => r.startsWith('photostream/') && !r.endsWith('.metadata')).length
  const lines = [
    ...(folders.length > 0 ? [`Removed flickrmirrorer's folders: ${folders.join(', ')}.`] : []),
    ...(aliases > 0 ? [`Removed ${plural(aliases, "name")} flickrmirrorer gave adopted videos and their sidecars.`] : []),
    ...(t.kept.length > 0
      ? [`Kept flickrmirrorer's folders as they are: ${t.kept.map((k) => k.because).join(', ')} ${t.kept.length === 1 ? 'is' : 'are'} not something flickrmirrorer writes. Move ${t.kept.length === 1 ? 'it' : 'them'} out and run again to remove the rest.`]
      : []),
  ]
  return lines.map((l) => l + '\n').join('')
}

/** What --delete-unknown would have deleted, and how to let it. */
export function heldBackMessage(held: { lost: string[]; total: number }): string {
  const pct = held.total > 0 ? Math.round((100 * held.lost.length) / held.total) : 100
  const shown = held.lost.slice(0, 20).join(', ') + (held.lost.length > 20 ? `, … and ${held.lost.length - 20} more` : '')
  return `--delete-unknown held back: ${held.lost.length} of the ${held.total} photos in DEST (${pct}%) vanished from Flickr in one refresh, ` +
    `more than a refresh should lose at once; nothing was deleted. If they really are gone, run again with --delete-unknown --force. ` +
    `They are: ${shown}\n`
}

/** Nothing new on Flickr, nothing fetched, nothing written or removed, nothing failed. */
function nothingChanged(r: PinReport): boolean {
  return !r.refresh.changed && r.downloaded === 0 && r.tree.written === 0 && r.tree.removed === 0 && r.failures.length === 0
}

/**
 * The closing line: what was checked when nothing changed; otherwise how many of the items were
 * asked for (all, or what --ignore-photos / --ignore-videos left) and what that took.
 */
export function summary(r: PinReport, dest: string, apiCalls: number): string {
  const took = `${plural(apiCalls, 'API call')}, ${formatDuration(r.durationMs / 1000)}`
  const left = [
    ...(r.ignored.photos > 0 ? [`${plural(r.ignored.photos, 'photo')} left out by --ignore-photos`] : []),
    ...(r.ignored.videos > 0 ? [`${plural(r.ignored.videos, 'video')} left out by --ignore-videos`] : []),
  ]
  const total = r.refresh.photos.total
  const asked = total - r.ignored.photos - r.ignored.videos
  if (nothingChanged(r)) {
    const what = `${plural(total, 'item')}, ${plural(r.refresh.sets.total, 'set')}`
    return `Checked ${what}: nothing changed${left.length ? ` (${left.join(', ')})` : ''}; ${took}.`
  }
  // Items that failed are not pinned: the line says so rather than "Pinned 3020 items" above a list of 11 failures.
  const failed = new Set(r.failures.map((f) => f.id)).size
  const done = failed > 0 ? `${asked - failed} of ` : left.length ? `${asked} of ` : ''
  const why = [...left, ...(failed > 0 ? [`${failed} failed, listed below`] : [])]
  const items = `${done}${plural(total, 'item')}${why.length ? ` (${why.join(', ')})` : ''}`
  const adopted = r.adopted > 0 ? ` (${r.adopted} of them adopted: found in DEST without a record, checked by size and hashed here)` : ''
  const removed = r.tree.removed > 0 ? `, ${plural(r.tree.removed, 'entry', 'entries')} removed` : ''
  return `Pinned ${items} into ${dest}: ${r.downloaded} downloaded (${formatBytes(r.downloadedBytes)}), ` +
    `${r.alreadyPresent} already there${adopted}${removed}, ${took}.`
}

/** How the account was listed: only what changed (and how deletions were found), or whole and why (--full-listing-every). */
function listingLine(l: PinReport['refresh']['listing'] | undefined, sets: number): string {
  if (l === undefined) return 'Listing: not reported'
  const setsListed = `members of ${l.setsListed} of ${sets} sets listed`
  const found = l.deletions === undefined ? '' : `; ${plural(l.deletions.found, 'deletion')} found with ${plural(l.deletions.pages, 'more page')}`
  if (l.mode === 'changes') return `Listing: only what changed (${l.changesReported ?? 0} items reported${found}), ${setsListed}`
  return `Listing: everything (${l.reason ?? 'full listing'}), ${setsListed}`
}

/** The original flickrmirrorer's closing statistics, plus what flickrfs does beyond it. */
export function statistics(r: PinReport, apiCalls: number): string {
  const lines = [
    `New photos/videos: ${r.refresh.photos.added}`,
    `Modified photos/videos: ${r.refresh.photos.changed}`,
    `Deleted on Flickr: ${r.refresh.photos.deleted}`,
    `Sets: ${r.refresh.sets.total} (${r.refresh.sets.added} new, ${r.refresh.sets.changed} changed, ${r.refresh.sets.deleted} deleted)`,
    `Collections: ${r.refresh.collections.total} (${r.refresh.collections.added} new, ${r.refresh.collections.changed} changed, ${r.refresh.collections.deleted} deleted)`,
    `Comments fetched for: ${r.refresh.commentsFetched} items`,
    listingLine(r.refresh.listing, r.refresh.sets.total),
    `Originals downloaded: ${r.downloaded} (${formatBytes(r.downloadedBytes)})`,
    `Files written: ${r.tree.written}, unchanged: ${r.tree.unchanged}, removed: ${r.tree.removed}`,
    `API calls: ${apiCalls}`,
    `Failures: ${r.failures.length}`,
    `Time: ${formatDuration(r.durationMs / 1000)}`,
  ]
  return lines.join('\n') + '\n'
}
