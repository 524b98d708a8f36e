/**
 * Resumable first sync: REST calls (and media HEADs) asked again after `flickrfs pin` is killed
 * with SIGKILL at 10 %, 50 % and 90 % of a first sync, against a first sync from scratch in the
 * same run (the baseline: what a rerun cost before progress was saved, when it started over).
 *
 *   node --import tsx bench/resume.ts [--photos 5000] [--commented 0.3] [--scale 60] [--at 0.1,0.5,0.9]
 *
 * The real CLI (bin/flickrfs, build first) against the fake Flickr over HTTP, with the real
 * limiter (burst 600, then 0.8 calls/s) in Flickr time running `scale` times faster
 * (FLICKRFS_TIME_SCALE). Each scenario has a fresh DEST and config dir (so a fresh burst), kept
 * across the kill and the rerun, as on a real machine. "At p %" means once the fake has answered
 * p × (the baseline's REST calls) REST calls. Repeated = calls of the killed run + calls of the rerun
 * − calls of the baseline.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readProgress, type ProgressMeta } from '../src/catalog/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../src/fake-flickr/index.js'
import { cliEnv } from '../test/pin/helpers.js'
import { benchArgs } from './measure.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(REPO, 'bin', 'flickrfs')
const { number, text } = benchArgs()

interface Counts {
  rest: number
  heads: number
}

function counts(fake: FakeFlickr): Counts {
  let rest = 0
  for (const [k, v] of Object.entries(fake.counts())) if (k.startsWith('flickr.')) rest += v
  return { rest, heads: fake.counts()['media:HEAD'] ?? 0 }
}

/** The real limiter (no FLICKRFS_API_RATE), on a clock `scale` times faster. */
function envFor(fake: FakeFlickr, config: string, scale: number): NodeJS.ProcessEnv {
  return cliEnv(fake, config, { FLICKRFS_API_RATE: undefined, FLICKRFS_TIME_SCALE: String(scale) })
}

/** Runs `flickrfs pin -q dest`; with `killAtRest`, kills it with SIGKILL once the fake has answered that many REST calls. */
async function pin(fake: FakeFlickr, dest: string, env: NodeJS.ProcessEnv, killAtRest?: number): Promise<{ killed: boolean; ms: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, 'pin', '-q', dest], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)))
  let killed = false
  if (killAtRest !== undefined) {
    const watch = setInterval(() => {
      if (!killed && counts(fake).rest >= killAtRest) {
        killed = child.kill('SIGKILL')
      }
    }, 2)
    const code = await exited
    clearInterval(watch)
    if (!killed && code !== 0) throw new Error(`pin failed (${code}): ${err}`)
  } else {
    const code = await exited
    if (code !== 0) throw new Error(`pin failed (${code}): ${err}`)
  }
  return { killed, ms: performance.now() - t0 }
}

async function scenario(fake: FakeFlickr, scale: number, killAtRest?: number): Promise<{ first: Counts; rerun?: Counts; meta?: ProgressMeta; ms: number }> {
  const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-resume-'))
  try {
    const dest = join(work, 'dest')
    const env = envFor(fake, join(work, 'config'), scale)
    fake.resetCounts()
    const run = await pin(fake, dest, env, killAtRest)
    const first = counts(fake)
    if (killAtRest === undefined) return { first, ms: run.ms }
    if (!run.killed) throw new Error(`the pin completed before ${killAtRest} REST calls`)
    const meta = await readProgress(dest)
    fake.resetCounts()
    const again = await pin(fake, dest, env)
    return { first, rerun: counts(fake), meta, ms: run.ms + again.ms }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const photos = number('photos', 5000)
  const commented = number('commented', 0.3)
  const scale = number('scale', 60)
  const at = (text('at') ?? '0.1,0.5,0.9').split(',').map(Number)
  const account = generateAccount({ seed: 11, photos, videos: Math.round(photos / 250), sets: Math.round(photos / 100), collections: 3, commentedFraction: commented, meanPhotoBytes: 1_000, meanVideoBytes: 2_000 })
  const fake = await startFakeFlickr({ account })
  try {
    const items = account.photostream.length
    console.log(`account: ${items} items, ${account.commented().length} commented, ${account.sets.length} sets; real limiter (burst 600, then 0.8/s), Flickr time ×${scale}`)
    const base = await scenario(fake, scale)
    console.log(`baseline (first sync from scratch): ${base.first.rest} REST calls, ${base.first.heads} HEADs, ${(base.ms / 1000).toFixed(1)} s real`)
    console.log('| killed at | REST calls before the kill | saved then (comments / sizes / sets) | rerun REST calls | REST calls repeated (at 0.8/s) | HEADs repeated | a rerun before (from scratch) |')
    console.log('|---|---|---|---|---|---|---|')
    for (const p of at) {
      const r = await scenario(fake, scale, Math.round(p * base.first.rest))
      const rerun = r.rerun as Counts
      const m = r.meta
      const saved = m ? `${m.comments.done}/${m.comments.total} · ${m.sizes.done}/${m.sizes.total} · ${m.sets.done}/${m.sets.total}` : 'nothing'
      console.log(`| ${Math.round(p * 100)} % | ${r.first.rest} | ${saved} | ${rerun.rest} | **${r.first.rest + rerun.rest - base.first.rest}** (${Math.round((r.first.rest + rerun.rest - base.first.rest) / 0.8)} s) | ${r.first.heads + rerun.heads - base.first.heads} | ${base.first.rest} calls (${r.first.rest} repeated) |`)
    }
  } finally {
    await fake.close()
  }
}

await main()
