import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { Catalog, catalogPath } from '../catalog/index.js'
import { mediaKey, type CatalogSnapshot } from '../catalog/types.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { readLastPin } from '../pin/pin-state.js'
import { offlineMedia } from '../service/live-mount.js'
import { OriginalStore } from '../store/index.js'
import type { CliIo } from './context.js'
import { formatBytes, formatDuration } from './progress.js'

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
  missing: string[]
}

export function completeness(snap: CatalogSnapshot, info: (id: string, secret: string) => { size: number } | undefined): Completeness {
  const c: Completeness = { items: 0, photos: 0, videos: 0, stored: 0, storedBytes: 0, missing: [] }
  for (const p of snap.photos.values()) {
    c.items++
    if (p.media === 'video') c.videos++
    else c.photos++
    const m = snap.media.get(mediaKey(p.id, p.secret))
    const have = info(p.id, p.secret)
    if (m && have && have.size === m.size) {
      c.stored++
      c.storedBytes += have.size
    } else {
      c.missing.push(p.id)
    }
  }
  return c
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
        const c = completeness(snap, (id, secret) => store.info(id, secret))
        const last = await readLastPin(dest)
        const out: string[] = [
          `Folder: ${dest}`,
          `Account: ${snap.userName || '?'} (${snap.userId || '?'})`,
          `Catalog refreshed: ${snap.refreshedAtMs ? `${new Date(snap.refreshedAtMs).toISOString()} (${ago(snap.refreshedAtMs, now)})` : 'never'}`,
          `Items: ${c.items} (${c.photos} photos, ${c.videos} videos) in ${snap.sets.length} sets and ${snap.collections.length} top-level collections`,
          `Originals stored: ${c.stored}/${c.items} (${formatBytes(c.storedBytes)})${c.missing.length ? `; missing: ${c.missing.slice(0, 10).join(', ')}${c.missing.length > 10 ? ', …' : ''}` : ''}`,
        ]
        if (last) {
          out.push(`Last pin: ${new Date(last.finishedAtMs).toISOString()} (${ago(last.finishedAtMs, now)}), took ${formatDuration(last.durationMs / 1000)}, ${last.failures.length} failure(s)`)
          for (const t of last.transcodes) out.push(`  video ${t.id} is stored as the "${t.label}" transcode`)
        } else {
          out.push('Last pin: none recorded')
        }
        const complete = c.missing.length === 0 && snap.refreshedAtMs > 0
        out.push(complete ? 'Complete: yes' : 'Complete: no (run `flickrfs pin` again)')
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
        const report = await store.verify({
          concurrency: 4,
          // A bad file's record is dropped, so the next pin downloads it again.
          forgetBad: true,
          onResult: (r) => {
            if (r.status !== 'ok') io.stdout.write(`${r.status}: ${r.path}${r.actualSize !== undefined ? ` (${r.actualSize} bytes, expected ${r.expectedSize})` : ''}\n`)
          },
        })
        const c = completeness(catalog.snapshot(), (id, secret) => store.info(id, secret))
        const problems = report.missing + report.sizeMismatch + report.hashMismatch
        if (!flags.quiet || problems > 0 || c.missing.length > 0) {
          io.stdout.write(
            `Verified ${report.checked} originals: ${report.ok} ok, ${report.missing} missing, ` +
            `${report.sizeMismatch} wrong size, ${report.hashMismatch} wrong content.` +
            (c.missing.length ? ` ${c.missing.length} item(s) of the catalog were never downloaded.` : '') + '\n',
          )
        }
        if (problems > 0) io.stdout.write('Run `flickrfs pin` on this folder to fetch them again.\n')
        process.exitCode = problems > 0 || c.missing.length > 0 ? 1 : 0
      } finally {
        await store.close()
        await catalog.close()
      }
    })
}
