import { access, readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { Catalog, catalogDamage, catalogPath, nextRelist } from '../catalog/index.js'
import { damagedCatalogError } from '../catalog/persist.js'
import type { CatalogView } from '../catalog/view.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import {
  clockFromEnv, HOURLY_GUIDELINE, LEASE_MS, limiterSettings, loadApiKey, readSharedBucket, advance, resolveConfigDir, worstCaseCalls, type Env,
} from '../flickr/index.js'
import { parseMediaFileName, parseSha256Sums, PHOTO_METADATA_FORMAT, SHA256SUMS_FILE } from '../layout/index.js'
import { readLastPin } from '../pin/pin-state.js'
import { offlineMedia } from '../service/live-mount.js'
import { findMount } from '../service/registry.js'
import { OriginalStore } from '../store/index.js'
import { unwritableReason } from '../util/read-only.js'
import { stateDir } from '../util/state-paths.js'
import { envOf, type CliIo } from './context.js'
import { formatBytes, formatDuration, plural } from './progress.js'
import { drawnOnNow, syncProgressLines } from './sync-progress.js'

/**
 * The folder DEST names: itself, or, when DEST is the mountpoint of a running flickrfs mount of this
 * user, that mount's cache (where its catalog and originals are; the mount shows no `.flickrfs`).
 */
async function folderOf(io: CliIo, destArg: string): Promise<string> {
  const dest = resolve(destArg)
  const mount = await findMount(envOf(io), dest)
  if (mount === undefined || resolve(mount.root) === dest) return dest
  io.stderr.write(`flickrfs: ${dest} is a mount (pid ${mount.pid}); reading its cache, ${mount.root}\n`)
  return resolve(mount.root)
}

/**
 * The catalog and store of a pinned DEST, for reading. A DEST this process cannot write (a backup
 * disk mounted read-only) is opened without writing a byte: no lock (nobody can write it, so there
 * is no writer to keep out), no access times, no folder creation.
 */
async function openExisting(dest: string): Promise<{ catalog: Catalog; store: OriginalStore; readOnly: boolean }> {
  try {
    await access(catalogPath(dest))
  } catch {
    const loose = await unindexedOriginals(dest, () => undefined)
    if (loose.length > 0) {
      throw new FlickrfsError('DEST', `${dest} has no catalog (${catalogPath(dest)} is missing), but ${join(dest, 'photostream')} holds ${plural(loose.length, 'original')}. ` +
        `Run \`flickrfs pin ${dest}\` to rebuild it; the originals there are hashed and kept, not downloaded again.`)
    }
    throw new FlickrfsError('DEST', `${dest} is not a flickrfs folder (no ${catalogPath(dest)}). Run \`flickrfs pin ${dest}\` first.`)
  }
  // A damaged catalog is named with what to run; an empty one (truncated) is read as the empty
  // index it is, and left as it is for pin to set aside: reading must not make it look sound.
  const damage = await catalogDamage(dest)
  if (damage !== undefined && damage !== 'empty file') throw damagedCatalogError(catalogPath(dest), { code: damage })
  const readOnly = damage !== undefined || (await unwritableReason(stateDir(dest))) !== undefined
  // Status reads the listing's columns only, never a record: a catalog saved with its listing
  // pages is read lazily whatever its size (lists at once, holds no record).
  const catalog = await Catalog.open(dest, { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT } })
  try {
    return { catalog, store: await OriginalStore.open(dest, offlineMedia, { readOnly }), readOnly }
  } catch (err) {
    await catalog.close()
    throw err
  }
}

/**
 * Names in DEST/photostream/ that are originals (`<id>.<ext>`) of the catalog's photos which the
 * store index does not record as stored under that name. With an empty catalog (lost, rebuilt) any
 * such name counts. Files of other tools (flickrmirrorer's `<id>_<secret>.<fmt>` videos) are not ours.
 */
async function unindexedOriginals(dest: string, recordOf: (id: string) => { ext: string } | undefined, catalog?: CatalogView): Promise<string[]> {
  const names = await readdir(join(dest, 'photostream')).catch(() => [] as string[])
  const ours = (id: string): boolean => catalog === undefined || catalog.photoCount === 0 || catalog.photo(id) !== undefined
  return names.filter((name) => {
    const parsed = parseMediaFileName(name)
    return parsed !== undefined && ours(parsed.id) && recordOf(parsed.id)?.ext !== parsed.ext
  })
}

function ago(ms: number, now: number): string {
  const s = Math.max(0, (now - ms) / 1000)
  if (s < 120) return `${Math.round(s)} seconds ago`
  if (s < 7200) return `${Math.round(s / 60)} minutes ago`
  if (s < 172800) return `${Math.round(s / 3600)} hours ago`
  return `${Math.round(s / 86400)} days ago`
}

export interface Completeness {
  items: number
  photos: number
  videos: number
  stored: number
  storedBytes: number
  /** Items asked for whose original is not stored. */
  missing: string[]
  /** Items the last pin was told to leave out (--ignore-photos / --ignore-videos) and that are not stored. */
  leftOut: { photos: number; videos: number }
}

/** What the last pin was asked to leave out: a mirror of videos only is complete without the photos. */
export interface Wanted {
  ignorePhotos?: boolean
  ignoreVideos?: boolean
}

export function completeness(
  view: CatalogView,
  info: (id: string, secret: string) => { size: number } | undefined,
  wanted: Wanted = {},
): Completeness {
  const c: Completeness = { items: 0, photos: 0, videos: 0, stored: 0, storedBytes: 0, missing: [], leftOut: { photos: 0, videos: 0 } }
  view.eachPhoto((p) => {
    c.items++
    const video = p.media === 'video'
    if (video) c.videos++
    else c.photos++
    const m = view.media(p.id, p.secret)
    const have = info(p.id, p.secret)
    if (m && have && have.size === m.size) {
      c.stored++
      c.storedBytes += have.size
    } else if (video ? wanted.ignoreVideos : wanted.ignorePhotos) {
      c.leftOut[video ? 'videos' : 'photos']++
    } else {
      c.missing.push(p.id)
    }
  })
  return c
}

/** `; 300 photos left out by --ignore-photos`, or nothing. */
function leftOutNote(c: Completeness): string {
  const parts = [
    ...(c.leftOut.photos > 0 ? [`${plural(c.leftOut.photos, 'photo')} left out by --ignore-photos`] : []),
    ...(c.leftOut.videos > 0 ? [`${plural(c.leftOut.videos, 'video')} left out by --ignore-videos`] : []),
  ]
  return parts.length > 0 ? `; ${parts.join(', ')}` : ''
}

/**
 * The key's shared API budget: tokens now, burst, refill, and whether Flickr's "too many requests"
 * is slowing it. Nothing when no API key is set up (status works on a folder without one).
 */
export async function apiBudgetLines(env: Env): Promise<string[]> {
  const configDir = resolveConfigDir(env)
  const key = await loadApiKey({ env, configDir }).catch(() => undefined)
  if (!key) return []
  const { burst, ratePerSec, burstFrom, rateFrom } = await limiterSettings(env, configDir)
  const now = clockFromEnv(env).now()
  const written = await readSharedBucket(configDir, key.apiKey)
  const s = written && advance(written, now, burst, ratePerSec)
  const tokens = s ? Math.max(0, Math.floor(s.tokens)) : burst
  const perHour = Math.round(ratePerSec * 3600)
  const out = [
    `API budget (this key, shared by every flickrfs process): ${tokens} of ${burst} calls available now${s ? '' : ' (unused so far)'}; ` +
    `burst ${burst} (${burstFrom}), then ${ratePerSec}/s = ${perHour}/h (${rateFrom})`,
  ]
  if (written !== undefined && drawnOnNow(written, now) && (written.burst !== burst || written.ratePerSec !== ratePerSec)) {
    out.push(`  drawn on now with other settings: burst ${written.burst}, then ${written.ratePerSec}/s (a process started with --api-rate or FLICKRFS_API_*)`)
  }
  if (s && s.slowFactor < 1 && now < s.slowUntilMs) {
    out.push(`  slowed: Flickr said "too many requests"; refill is ${+(ratePerSec * s.slowFactor).toFixed(3)}/s until ` +
      `${new Date(Date.now() + (s.slowUntilMs - now)).toISOString()}`)
  }
  const worst = worstCaseCalls(burst, ratePerSec, 3600, LEASE_MS)
  if (worst > HOURLY_GUIDELINE) {
    out.push(`  warning: these settings allow up to ${worst} calls in an hour, above Flickr's ${HOURLY_GUIDELINE}; ` +
      'keep apiBurst + 3600 × apiRate under 3600 (config.json)')
  }
  return out
}

/**
 * Mid-first-sync there is no catalog to count out of, but a first pin downloads from its first
 * listing page on: what the store has recorded so far, not "0/0 (0 B)" beside a pin hours in.
 */
function storedSoFar(store: Pick<OriginalStore, 'storedRecords'>): string {
  let count = 0
  let bytes = 0
  for (const r of store.storedRecords()) {
    count++
    bytes += r.size
  }
  return `Originals stored: ${count} so far (${formatBytes(bytes)}); how many the account has is known once the first sync completes`
}

/** Failures of the last pin status names with their reasons. */
const LISTED_FAILURES = 20

/**
 * While items fail, when a run lists their records afresh (catalog/incremental.ts relistDue; every
 * run tries them again from the records held).
 */
function freshRecordsNote(relistable: number, catalog: Catalog, now: number): string {
  if (relistable === 0) return ''
  const next = nextRelist(catalog.listingMarks(), relistable, now)
  if (next === 'next') return '; the next pin lists their records afresh from Flickr'
  return `; their records are listed afresh from Flickr by the first pin after ${new Date(next).toISOString()} (the next one if more items fail by then)`
}

export function statusCommand(io: CliIo): Command {
  return new Command('status')
    .description('Say how complete and how fresh a pinned DEST is (exit 1 when incomplete)')
    .argument('<dest>')
    .action(async (destArg: string) => {
      const dest = await folderOf(io, destArg)
      const { catalog, store } = await openExisting(dest)
      try {
        const view = catalog.view()
        const now = Date.now()
        const last = await readLastPin(dest)
        const c = completeness(view, (id, secret) => store.info(id, secret), last ?? {})
        // Before a first sync completes there is no catalog to count from: said so, not "? (?)" and 0 items.
        const none = view.refreshedAtMs === 0 && c.items === 0
        const out: string[] = [
          `Folder: ${dest}`,
          none ? 'Account: not known yet (no sync has completed)' : `Account: ${view.userName || '?'} (${view.userId || '?'})`,
          `Catalog refreshed: ${view.refreshedAtMs ? `${new Date(view.refreshedAtMs).toISOString()} (${ago(view.refreshedAtMs, now)})` : 'never'}`,
          none ? 'Items: none counted yet (the first sync counts them; how far it came is below, if it began)' :
            `Items: ${c.items} (${plural(c.photos, 'photo')}, ${plural(c.videos, 'video')}) in ${plural(view.sets.length, 'set')} and ${plural(view.collections.length, 'top-level collection')}`,
          none ? storedSoFar(store) :
            `Originals stored: ${c.stored}/${c.items} (${formatBytes(c.storedBytes)})${leftOutNote(c)}${c.missing.length ? `; missing: ${c.missing.slice(0, 10).join(', ')}${c.missing.length > 10 ? ', …' : ''}` : ''}`,
        ]
        if (last) {
          out.push(`Last pin: ${new Date(last.finishedAtMs).toISOString()} (${ago(last.finishedAtMs, now)}), took ${formatDuration(last.durationMs / 1000)}, ${last.failures.length} failure(s)` +
            freshRecordsNote(last.relistable ?? last.failures.length, catalog, now))
          // Why each failed, as the pin said it: a cron pin's output is seldom read, and some failures are Flickr's for good.
          for (const f of last.failures.slice(0, LISTED_FAILURES)) out.push(`  ${f.id} failed: ${f.what}: ${f.message}`)
          if (last.failures.length > LISTED_FAILURES) out.push(`  … and ${last.failures.length - LISTED_FAILURES} more failed (the last pin's output lists every one)`)
          for (const t of last.transcodes) out.push(`  video ${t.id} is stored as the "${t.label}" transcode`)
        } else {
          out.push('Last pin: none recorded')
        }
        const unknown = await unindexedOriginals(dest, (id) => store.recordOf(id), catalog.view())
        if (unknown.length > 0) {
          out.push(`Not in the index: ${plural(unknown.length, 'original')} in photostream/ (the catalog was lost or rebuilt?); \`flickrfs pin\` hashes and records them without downloading them again`)
        }
        const complete = c.missing.length === 0 && view.refreshedAtMs > 0 && unknown.length === 0
        const only = last?.ignorePhotos && !last.ignoreVideos ? ' (videos only, as the last pin was asked)' : last?.ignoreVideos && !last.ignorePhotos ? ' (photos only, as the last pin was asked)' : ''
        out.push(...await syncProgressLines(dest, envOf(io)))
        out.push(...await apiBudgetLines(envOf(io)))
        out.push(complete ? `Complete: yes${only}` : 'Complete: no (run `flickrfs pin` again)')
        io.stdout.write(out.join('\n') + '\n')
        process.exitCode = complete ? 0 : 1
      } finally {
        await store.close()
        await catalog.close()
      }
    })
}

/**
 * DEST/photostream/SHA256SUMS as a name → sha256 map, or the one line that says what is wrong with
 * it (missing: a DEST pinned before the file existed; the next pin writes it without a download).
 */
async function readSha256Sums(dest: string): Promise<{ listed: Map<string, string> } | { problem: string }> {
  const path = join(dest, 'photostream', SHA256SUMS_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { problem: `${path} is missing. Run \`flickrfs pin ${dest}\`: it writes it from the index, without downloading anything.` }
    }
    return { problem: `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).` }
  }
  const parsed = parseSha256Sums(text)
  if (!parsed.ok) {
    return { problem: `${path} line ${parsed.lineNumber} is not "<sha256>  <file name>": ${JSON.stringify(parsed.line.slice(0, 100))}. Run \`flickrfs pin ${dest}\` to write it again.` }
  }
  return { listed: parsed.lines }
}

export function verifyCommand(io: CliIo): Command {
  return new Command('verify')
    .description('Re-check every original in DEST against its recorded size and SHA-256, and against photostream/SHA256SUMS (exit 1 on any problem)')
    .argument('<dest>')
    .option('-q, --quiet', 'print only problems')
    .action(async (destArg: string, flags: { quiet?: boolean }) => {
      const dest = await folderOf(io, destArg)
      const { catalog, store, readOnly } = await openExisting(dest)
      try {
        const bad = new Set<string>()
        // What `sha256sum -c SHA256SUMS` checks, verify checks too: every line of it is a check.
        const sums = await readSha256Sums(dest)
        const report = await store.verify({
          ...('listed' in sums ? { listed: sums.listed } : {}),
          concurrency: 4,
          // A bad file stops counting as stored, so the next pin downloads it again (not on a read-only DEST: nothing may be written there).
          forgetBad: !readOnly,
          onResult: (r) => {
            if (r.status === 'ok') return
            if (r.status === 'sums-mismatch') {
              io.stdout.write(`${r.status}: ${r.path} is the original the index recorded, but ${SHA256SUMS_FILE} lists another hash for it\n`)
              return
            }
            bad.add(r.id)
            // Its size is right: what differs is its content from the sha256 recorded at download.
            const why = r.status === 'hash-mismatch' ? ' (its content is not what was downloaded: the sha256 differs, the size does not)'
              : r.actualSize !== undefined && r.expectedSize >= 0 ? ` (${r.actualSize} bytes, expected ${r.expectedSize})` : ''
            io.stdout.write(`${r.status}: ${r.path}${why}\n`)
          },
        })
        const last = await readLastPin(dest)
        const c = completeness(catalog.view(), (id, secret) => store.info(id, secret), last ?? {})
        // The damaged files just reported are no longer recorded; they are not "never downloaded".
        const never = c.missing.filter((id) => !bad.has(id))
        const problems = report.missing + report.sizeMismatch + report.hashMismatch + report.sumsMismatch + ('problem' in sums ? 1 : 0)
        // Success means every original in the folder was checked: files the index does not know
        // (a catalog lost or rebuilt) were not, and a pin has to take them in first.
        const unknown = (await unindexedOriginals(dest, (id) => store.recordOf(id), catalog.view())).filter((name) => !bad.has(parseMediaFileName(name)?.id ?? ''))
        const indexLost = report.recorded === 0 && unknown.length > 0
        if (!indexLost && (!flags.quiet || problems > 0 || never.length > 0 || unknown.length > 0)) {
          io.stdout.write(
            `Verified ${plural(report.checked, 'original')}: ${report.ok} ok, ${report.missing} missing, ` +
            `${report.sizeMismatch} wrong size, ${report.hashMismatch} wrong content` +
            (report.sumsMismatch > 0 ? `, ${report.sumsMismatch} listed with another hash in ${SHA256SUMS_FILE}` : '') + `${leftOutNote(c)}.` +
            (never.length ? ` ${plural(never.length, 'item')} of the catalog ${never.length === 1 ? 'was' : 'were'} never downloaded.` : '') + '\n',
          )
        }
        if ('problem' in sums) io.stdout.write(`${sums.problem}\n`)
        if (report.missing + report.sizeMismatch + report.hashMismatch > 0 || never.length > 0) io.stdout.write('Run `flickrfs pin` on this folder to fetch them again.\n')
        if (report.sumsMismatch > 0) io.stdout.write(`Run \`flickrfs pin\` on this folder to write ${SHA256SUMS_FILE} again from the index.\n`)
        if (unknown.length > 0) {
          const lost = indexLost ? 'Nothing verified: the index of this folder is missing or empty (its catalog was lost or rebuilt), yet' : 'The index does not account for all files:'
          io.stdout.write(`${lost} ${join(dest, 'photostream')} holds ${plural(unknown.length, 'original')} it does not record (${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}); they were not verified. ` +
            `Run \`flickrfs pin ${dest}\`: it hashes and records them without downloading them again.\n`)
        }
        process.exitCode = problems > 0 || never.length > 0 || unknown.length > 0 ? 1 : 0
      } finally {
        await store.close()
        await catalog.close()
      }
    })
}
