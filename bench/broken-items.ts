/**
 * Broken items, next to the original tool: what a run does when a few originals cannot be had.
 *
 *   FLICKRMIRRORER_GIT_DIR=<a clone of markdoliner/flickrmirrorer> node --import tsx bench/broken-items.ts [--items 700] [--runs 3]
 *
 * One fake Flickr in this process (the original tool's account shape, bench/flickrmirrorer.ts
 * mirrorerAccountOptions; API latency 50 ms, media 20 ms, as bench/pin.ts). Two photos are broken
 * for good: every media request for the one a third into the photostream answers HTTP 500, and the
 * one two thirds in answers an HTML page with status 200 (the fake's `http500` and `html200`, what
 * Flickr's CDN does under trouble); then, as a second case, the HTML page alone (the original tool
 * stops at the first failed download). Each tool mirrors into an empty DEST and then runs again,
 * `--runs` times in all; after each run: its exit code, wall time, the REST calls and media
 * requests the fake counted, and what DEST holds: originals with the right bytes, originals holding
 * something else (the HTML page under the photo's name), and originals missing.
 * flickrfs runs as a user runs it (bin/flickrfs pin DEST, FLICKRFS_API_RATE=1000). Needs Debian's
 * python3-flickrapi, python3-dateutil and python3-requests for the original tool; without the tool
 * only flickrfs runs.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateAccount, startFakeFlickr, type FakeAccount, type FakeFlickr } from '../src/fake-flickr/index.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { endpointOf, locateTool, mirrorerAccountOptions, runMirrorer } from './flickrmirrorer.js'
import { cliEnv } from '../test/pin/helpers.js'
import { benchArgs } from './measure.js'

const { number } = benchArgs()
const REPO = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(REPO, 'bin', 'flickrfs')

interface Held { exact: number; other: number; missing: number }

/** What DEST/photostream holds of each photo's original: the right bytes, other bytes, or nothing. */
async function held(dest: string, account: FakeAccount): Promise<Held & { otherIds: string[] }> {
  const names = await readdir(join(dest, 'photostream')).catch(() => [] as string[])
  const byId = new Map<string, string>()
  for (const n of names) {
    // <id>.<ext>; the original tool names a video as its CDN URL does, <id>_<secret>.<ext>.
    const id = /^(\d+)[._]/.exec(n)?.[1]
    if (id !== undefined && !n.endsWith('.metadata')) byId.set(id, n)
  }
  const out = { exact: 0, other: 0, missing: 0, otherIds: [] as string[] }
  for (const id of account.photostream) {
    const name = byId.get(id)
    if (name === undefined) {
      out.missing++
      continue
    }
    if ((await readFile(join(dest, 'photostream', name))).equals(account.originalBytes(id))) out.exact++
    else {
      out.other++
      out.otherIds.push(id)
    }
  }
  return out
}

function requests(fake: FakeFlickr): { api: number; media: number } {
  const c = fake.counts()
  const sum = (keep: (k: string) => boolean): number => Object.entries(c).filter(([k]) => keep(k)).reduce((n, [, v]) => n + v, 0)
  return { api: sum((k) => k.startsWith('flickr.')), media: sum((k) => k === 'media:GET' || k === 'media:HEAD' || k === 'media:play') }
}

const items = number('items', 700)
const runs = number('runs', 3)
const account = generateAccount(mirrorerAccountOptions(items))
const fake = await startFakeFlickr({ account, namedVideoPaths: true })
fake.faults.apiLatencyMs = 50
fake.faults.mediaLatencyMs = 20
const photos = account.photostream.filter((id) => account.requirePhoto(id).media === 'photo')
const failing = photos[Math.floor(photos.length / 3)] as string
const html = photos[Math.floor((2 * photos.length) / 3)] as string
console.log(`account: ${account.photostream.length} items, ${account.sets.length} sets; broken: ${failing} (HTTP 500, position ${account.photostream.indexOf(failing) + 1}), ` +
  `${html} (an HTML page, position ${account.photostream.indexOf(html) + 1}); API latency 50 ms, media 20 ms`)
const cases: Array<{ name: string; hostile: Record<string, 'http500' | 'html200'> }> = [
  { name: 'HTTP 500 and an HTML page', hostile: { [failing]: 'http500', [html]: 'html200' } },
  { name: 'an HTML page alone', hostile: { [html]: 'html200' } },
]

const tool = await locateTool()
const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-broken-'))
const report = async (who: string, run: number, u: ChildUsage, dest: string): Promise<void> => {
  const r = requests(fake)
  const h = await held(dest, account)
  const last = u.stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).map((l) => l.slice(0, 160)).join(' | ')
  console.log(`${who} run ${run}: exit ${u.code ?? u.signal}, ${(u.wallMs / 1000).toFixed(2)} s, ${r.api} REST calls, ${r.media} media requests; ` +
    `originals: ${h.exact} right, ${h.other} other bytes${h.otherIds.length > 0 ? ` (${h.otherIds.join(', ')})` : ''}, ${h.missing} missing; stderr ends: ${last}`)
}
try {
  console.log('unavailable' in tool ? `original tool: cannot be run here (${tool.unavailable})` : `original tool: ${tool.origin}`)
  for (const [i, c] of cases.entries()) {
    console.log(`\ncase ${i + 1}: ${c.name}`)
    fake.faults.hostile = { ...c.hostile }
    await bothTools(join(work, `case-${i + 1}`))
  }
} finally {
  await fake.close()
  if (!('unavailable' in tool)) await tool.cleanup()
  await rm(work, { recursive: true, force: true })
}

async function bothTools(dir: string): Promise<void> {
  if (!('unavailable' in tool)) {
    const dest = join(dir, 'original')
    for (let run = 1; run <= runs; run++) {
      fake.resetCounts()
      await report('original tool', run, await runMirrorer(tool, endpointOf(fake), dest), dest)
    }
  }
  const dest = join(dir, 'flickrfs')
  const config = join(dir, 'config')
  const env = cliEnv(fake, config, { LANG: 'C.UTF-8' })
  for (let run = 1; run <= runs; run++) {
    fake.resetCounts()
    await report('flickrfs pin', run, await runMeasured(process.execPath, [BIN, 'pin', '-q', dest], { env, cwd: REPO }), dest)
  }
}
