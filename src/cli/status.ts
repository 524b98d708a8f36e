import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { Catalog, catalogPath } from '../catalog/index.js'
import { mediaKey, type CatalogSnapshot } from '../catalog/types.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import {
  clockFromEnv, HOURLY_GUIDELINE, LEASE_MS, limiterSettings, loadApiKey, peekSharedBucket, resolveConfigDir, worstCaseCalls, type Env,
} from '../flickr/index.js'
import { readLastPin } from '../pin/pin-state.js'
import { offlineMedia } from '../service/live-mount.js'
import { OriginalStore } from '../store/index.js'
import { envOf, type CliIo } from './context.js'
import { formatBytes, formatDuration, plural } from './progress.js'

async function openExisting(dest: string): Promise<{ catalog: Catalog; store: OriginalStore }> {
  try {
    await access(catalogPath(dest))
  } catch {
    throw new FlickrfsError('DEST', `${dest} is not a flickrfs folder (no ${catalogPath(dest)}). Run \`flickrfs pin ${dest}\` first.`)
  }
  const catalog = await Catalog.open(dest, { readOnly: true })
  try {
    return { catalog, store: await OriginalStore.open(dest, offlineMedia) }
  } catch (err) {
    await catalog.close()
    throw err
  }
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
  snap: CatalogSnapshot,
  info: (id: string, secret: string) => { size: number } | undefined,
  wanted: Wanted = {},
): Completeness {
  const c: Completeness = { items: 0, photos: 0, videos: 0, stored: 0, storedBytes: 0, missing: [], leftOut: { photos: 0, videos: 0 } }
  for (const p of snap.photos.values()) {
    c.items++
    const video = p.media === 'video'
    if (video) c.videos++
    else c.photos++
    const m = snap.media.get(mediaKey(p.id, p.secret))
    const have = info(p.id, p.secret)
    if (m && have && have.size === m.size) {
      c.stored++
      c.storedBytes += have.size
    } else if (video ? wanted.ignoreVideos : wanted.ignorePhotos) {
      c.leftOut[video ? 'videos' : 'photos']++
    } else {
      c.missing.push(p.id)
    }
  }
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
  const s = await peekSharedBucket({ configDir, apiKey: key.apiKey, burst, ratePerSec, now })
  const tokens = s ? Math.max(0, Math.floor(s.tokens)) : burst
  const perHour = Math.round(ratePerSec * 3600)
  const out = [
    `API budget (this key, shared by every flickrfs process): ${tokens} of ${burst} calls available now${s ? '' : ' (unused so far)'}; ` +
    `burst ${burst} (${burstFrom}), then ${ratePerSec}/s = ${perHour}/h (${rateFrom})`,
  ]
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

export function statusCommand(io: CliIo): Command {
  return new Command('status')
    .description('Say how complete and how fresh a pinned DEST is (exit 1 when incomplete)')
    .argument('<dest>')
    .action(async (destArg: string) => {
      const dest = resolve(destArg)
      const { catalog, store } = await openExisting(dest)
      try {
        const snap = catalog.snapshot()
        const now = Date.now()
        const last = await readLastPin(dest)
        const c = completeness(snap, (id, secret) => store.info(id, secret), last ?? {})
        const out: string[] = [
          `Folder: ${dest}`,
          `Account: ${snap.userName || '?'} (${snap.userId || '?'})`,
          `Catalog refreshed: ${snap.refreshedAtMs ? `${new Date(snap.refreshedAtMs).toISOString()} (${ago(snap.refreshedAtMs, now)})` : 'never'}`,
          `Items: ${c.items} (${plural(c.photos, 'photo')}, ${plural(c.videos, 'video')}) in ${plural(snap.sets.length, 'set')} and ${plural(snap.collections.length, 'top-level collection')}`,
          `Originals stored: ${c.stored}/${c.items} (${formatBytes(c.storedBytes)})${leftOutNote(c)}${c.missing.length ? `; missing: ${c.missing.slice(0, 10).join(', ')}${c.missing.length > 10 ? ', …' : ''}` : ''}`,
        ]
        if (last) {
          out.push(`Last pin: ${new Date(last.finishedAtMs).toISOString()} (${ago(last.finishedAtMs, now)}), took ${formatDuration(last.durationMs / 1000)}, ${last.failures.length} failure(s)`)
          for (const t of last.transcodes) out.push(`  video ${t.id} is stored as the "${t.label}" transcode`)
        } else {
          out.push('Last pin: none recorded')
        }
        const complete = c.missing.length === 0 && snap.refreshedAtMs > 0
        const only = last?.ignorePhotos && !last.ignoreVideos ? ' (videos only, as the last pin was asked)' : last?.ignoreVideos && !last.ignorePhotos ? ' (photos only, as the last pin was asked)' : ''
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

export function verifyCommand(io: CliIo): Command {
  return new Command('verify')
    .description('Re-check every original in DEST against its recorded size and SHA-256 (exit 1 on any problem)')
    .argument('<dest>')
    .option('-q, --quiet', 'print only problems')
    .action(async (destArg: string, flags: { quiet?: boolean }) => {
      const dest = resolve(destArg)
      const { catalog, store } = await openExisting(dest)
      try {
        const bad = new Set<string>()
        const report = await store.verify({
          concurrency: 4,
          // A bad file's record is dropped, so the next pin downloads it again.
          forgetBad: true,
          onResult: (r) => {
            if (r.status === 'ok') return
            bad.add(r.id)
            io.stdout.write(`${r.status}: ${r.path}${r.actualSize !== undefined ? ` (${r.actualSize} bytes, expected ${r.expectedSize})` : ''}\n`)
          },
        })
        const last = await readLastPin(dest)
        const c = completeness(catalog.snapshot(), (id, secret) => store.info(id, secret), last ?? {})
        // The damaged files just reported are no longer recorded; they are not "never downloaded".
        const never = c.missing.filter((id) => !bad.has(id))
        const problems = report.missing + report.sizeMismatch + report.hashMismatch
        if (!flags.quiet || problems > 0 || never.length > 0) {
          io.stdout.write(
            `Verified ${plural(report.checked, 'original')}: ${report.ok} ok, ${report.missing} missing, ` +
            `${report.sizeMismatch} wrong size, ${report.hashMismatch} wrong content${leftOutNote(c)}.` +
            (never.length ? ` ${plural(never.length, 'item')} of the catalog ${never.length === 1 ? 'was' : 'were'} never downloaded.` : '') + '\n',
          )
        }
        if (problems > 0 || never.length > 0) io.stdout.write('Run `flickrfs pin` on this folder to fetch them again.\n')
        process.exitCode = problems > 0 || never.length > 0 ? 1 : 0
      } finally {
        await store.close()
        await catalog.close()
      }
    })
}
