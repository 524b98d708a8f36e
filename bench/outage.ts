/**
 * A network outage in the middle of a first mirror, flickrfs pin against the original tool
 * (markdoliner/flickrmirrorer, unmodified, bench/flickrmirrorer.ts) in the same run, through the
 * same outage of the same fake Flickr: every connection closed as it arrives (faults.unreachable)
 * from the `--after`-th media GET for `--for` seconds. Real time (no FLICKRFS_TIME_SCALE): the
 * retries and the patience are the shipped ones.
 *
 *   FLICKRMIRRORER_GIT_DIR=CLONE node --import tsx bench/outage.ts [--items 300] [--after 20] [--for 60] [--media-latency 50]
 *
 * Prints, for each tool, its exit, its wall time, and the originals in DEST when it ended, then
 * flickrfs ÷ the original tool for the originals.
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

/** Originals in DEST/photostream (the name both tools give them: `<id>.<ext>`, no sidecar). */
async function originals(dest: string): Promise<number> {
  const names = await readdir(join(dest, 'photostream')).catch(() => [] as string[])
  return names.filter((n) => /^\d+\.[A-Za-z0-9]+$/.test(n)).length
}

/** Runs `start` and, from the `after`-th media GET on, makes the fake unreachable for `forSec` seconds. */
async function throughOutage(fake: FakeFlickr, start: () => Promise<ChildUsage>): Promise<{ usage: ChildUsage; outageMs: number }> {
  fake.resetCounts()
  const run = start()
  let ended = false
  void run.finally(() => (ended = true))
  while (!ended && (fake.counts()['media:GET'] ?? 0) < after) await delay(5)
  const began = Date.now()
  if (!ended) {
    fake.faults.unreachable = true
    for (let s = 0; s < forSec * 10 && !ended; s++) await delay(100)
    fake.faults.unreachable = false
  }
  const outageMs = Date.now() - began
  return { usage: await run, outageMs }
}

const tool = await locateTool()
if ('unavailable' in tool) {
  console.log(`the original tool cannot run here: ${tool.unavailable}`)
  process.exit(2)
}
const fake = await startFakeFlickr({ account: generateAccount(mirrorerAccountOptions(items)), namedVideoPaths: true })
fake.faults.mediaLatencyMs = a.number('media-latency', 50)
const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-outage-'))
try {
  const total = fake.account.photostream.length
  console.log(`${total} items; the fake unreachable from the ${after}th media GET for ${forSec} s; ${tool.origin}`)
  const ours = await throughOutage(fake, () => runMeasured(process.execPath, [join(REPO, 'bin', 'flickrfs'), 'pin', join(work, 'flickrfs')], {
    env: cliEnv(fake, join(work, 'config'), { LANG: 'C.UTF-8' }), cwd: REPO,
  }))
  const theirs = await throughOutage(fake, () => runMirrorer(tool, endpointOf(fake), join(work, 'mirrorer')))
  const oursN = await originals(join(work, 'flickrfs'))
  const theirsN = await originals(join(work, 'mirrorer'))
  const line = (name: string, r: { usage: ChildUsage; outageMs: number }, n: number): string =>
    `${name}: exit ${r.usage.code ?? r.usage.signal}, ${(r.usage.wallMs / 1000).toFixed(1)} s, ${n}/${total} originals when it ended ` +
    `(the outage lasted ${(r.outageMs / 1000).toFixed(1)} s of it)`
  console.log(line('flickrfs pin', ours, oursN))
  if (ours.usage.code !== 0) console.log(`  ${ours.usage.stderr.trim().split('\n').slice(-2).join('\n  ')}`)
  console.log(line('flickrmirrorer', theirs, theirsN))
  if (theirs.usage.code !== 0) console.log(`  ${failureText(theirs.usage)}`)
  console.log(`originals when it ended, flickrfs ÷ flickrmirrorer: ${theirsN === 0 ? '∞' : (oursN / theirsN).toFixed(2)}`)
} finally {
  await fake.close()
  await tool.cleanup()
  await rm(work, { recursive: true, force: true })
}
