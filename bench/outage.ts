/**
 * A network outage in the middle of a first mirror, flickrfs pin against the original tool
 * (markdoliner/flickrmirrorer, unmodified, bench/flickrmirrorer.ts) in the same run, through the
 * same outage of the same fake Flickr: every connection closed as it arrives (faults.unreachable)
 * from the `--after`-th media GET for `--for` seconds. Real time (no FLICKRFS_TIME_SCALE): the
 * retries and the patience are the shipped ones.
 *
 *   FLICKRMIRRORER_GIT_DIR=CLONE node --import tsx bench/outage.ts [--items 300] [--after 20] [--for 60] [--media-latency 50]
 *     [--runs 1] [--no-original]
 *
 * Prints, for each tool, its exit, its wall time, how long after the outage's end the fake next
 * answered a request of it (any request the fake served, not one it closed) and the tool ended (a
 * pin of its own takes a few seconds: `--for 0` is the same run without an outage), and the
 * originals in DEST when it ended, then flickrfs ÷ the original tool for the originals. `--runs
 * N` runs flickrfs N times (a fresh DEST each) and prints the medians; `--no-original` skips the
 * original tool.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../src/fake-flickr/index.js'
import { cliEnv } from '../test/pin/helpers.js'
import { REPO } from '../test/support/repo.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { endpointOf, failureText, locateTool, mirrorerAccountOptions, runMirrorer } from './flickrmirrorer.js'
import { benchArgs } from './measure.js'

const a = benchArgs()
const items = a.number('items', 300)
const after = a.number('after', 20)
const forSec = a.number('for', 60)
const runs = a.number('runs', 1)
const withOriginal = !a.has('no-original')

/** Originals in DEST/photostream (the name both tools give them: `<id>.<ext>`, no sidecar). */
async function originals(dest: string): Promise<number> {
  const names = await readdir(join(dest, 'photostream')).catch(() => [] as string[])
  return names.filter((n) => /^\d+\.[A-Za-z0-9]+$/.test(n)).length
}

/** Requests the fake served (not closed by the outage): API calls, OAuth, media GETs and HEADs. */
function served(fake: FakeFlickr): number {
  let n = 0
  for (const [name, count] of Object.entries(fake.counts())) {
    if (name !== 'unreachable' && name !== 'media:bytes' && name !== 'media:peak') n += count
  }
  return n
}

interface Outcome {
  usage: ChildUsage
  outageMs: number
  /** From the outage's end to the next request the fake served; NaN when the tool had ended by then. */
  wentOnMs: number
  /** From the outage's end to the tool's exit; NaN when it had ended by then. */
  endedMs: number
}

/** Runs `start` and, from the `after`-th media GET on, makes the fake unreachable for `forSec` seconds. */
async function throughOutage(fake: FakeFlickr, start: () => Promise<ChildUsage>): Promise<Outcome> {
  fake.resetCounts()
  const run = start()
  let ended = false
  let endedAt = Number.NaN
  void run.finally(() => {
    ended = true
    endedAt = performance.now()
  })
  while (!ended && (fake.counts()['media:GET'] ?? 0) < after) await delay(5)
  const began = Date.now()
  let wentOnMs = Number.NaN
  let endedMs = Number.NaN
  let outageMs = 0
  if (!ended) {
    fake.faults.unreachable = true
    for (let s = 0; s < forSec * 10 && !ended; s++) await delay(100)
    const before = served(fake)
    fake.faults.unreachable = false
    const end = performance.now()
    outageMs = Date.now() - began
    // Polled: this process serves the fake, so 5 ms is the figure's resolution.
    while (!ended && served(fake) === before) await delay(5)
    if (served(fake) > before) wentOnMs = performance.now() - end
    const usage = await run
    endedMs = endedAt >= end ? endedAt - end : Number.NaN
    return { usage, outageMs, wentOnMs, endedMs }
  }
  return { usage: await run, outageMs, wentOnMs, endedMs }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

const tool = withOriginal ? await locateTool() : undefined
if (tool !== undefined && 'unavailable' in tool) {
  console.log(`the original tool cannot run here: ${tool.unavailable}`)
  process.exit(2)
}
const fake = await startFakeFlickr({ account: generateAccount(mirrorerAccountOptions(items)), namedVideoPaths: true })
fake.faults.mediaLatencyMs = a.number('media-latency', 50)
const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-outage-'))
try {
  const total = fake.account.photostream.length
  console.log(`${total} items; the fake unreachable from the ${after}th media GET for ${forSec} s; ${tool === undefined ? 'original tool: skipped (--no-original)' : tool.origin}`)
  const line = (name: string, r: Outcome, n: number): string =>
    `${name}: exit ${r.usage.code ?? r.usage.signal}, ${(r.usage.wallMs / 1000).toFixed(1)} s, ` +
    `went on ${Number.isNaN(r.wentOnMs) ? '–' : (r.wentOnMs / 1000).toFixed(2)} s and ended ${Number.isNaN(r.endedMs) ? '–' : (r.endedMs / 1000).toFixed(1)} s ` +
    `after the outage's end, ${n}/${total} originals when it ended ` +
    `(the outage lasted ${(r.outageMs / 1000).toFixed(1)} s of it)`
  const ours: Outcome[] = []
  let oursN = 0
  for (let i = 0; i < runs; i++) {
    const dest = join(work, `flickrfs-${i}`)
    const r = await throughOutage(fake, () => runMeasured(process.execPath, [join(REPO, 'bin', 'flickrfs'), 'pin', dest], {
      env: cliEnv(fake, join(work, `config-${i}`), { LANG: 'C.UTF-8' }), cwd: REPO,
    }))
    ours.push(r)
    oursN = await originals(dest)
    console.log(line(`flickrfs pin${runs > 1 ? ` (run ${i + 1})` : ''}`, r, oursN))
    if (r.usage.code !== 0) console.log(`  ${r.usage.stderr.trim().split('\n').slice(-2).join('\n  ')}`)
  }
  if (runs > 1) {
    console.log(`flickrfs pin, median of ${runs}: ${(median(ours.map((r) => r.usage.wallMs)) / 1000).toFixed(1)} s, ` +
      `went on ${(median(ours.map((r) => r.wentOnMs)) / 1000).toFixed(2)} s and ended ${(median(ours.map((r) => r.endedMs)) / 1000).toFixed(1)} s after the outage's end`)
  }
  if (tool !== undefined) {
    const theirs = await throughOutage(fake, () => runMirrorer(tool, endpointOf(fake), join(work, 'mirrorer')))
    const theirsN = await originals(join(work, 'mirrorer'))
    console.log(line('flickrmirrorer', theirs, theirsN))
    if (theirs.usage.code !== 0) console.log(`  ${failureText(theirs.usage)}`)
    console.log(`originals when it ended, flickrfs ÷ flickrmirrorer: ${theirsN === 0 ? '∞' : (oursN / theirsN).toFixed(2)}`)
  }
} finally {
  await fake.close()
  await tool?.cleanup()
  await rm(work, { recursive: true, force: true })
}
