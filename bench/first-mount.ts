/**
 * A first mount of a fresh cache: how soon `ls photostream` shows photos, the first `Set …/`
 * folder, and every set with `Not in any set/`, against how long the whole first catalog takes
 * (which is when a first mount showed sets before, and anything at all before that). Also what the
 * views shown while it came in cost the mount: how many, their build time, and the mount's CPU time.
 * The fake answers API calls after 50 ms and media after 20 ms; the limiter is raised so that
 * only latency counts.
 *   node --import tsx bench/first-mount.ts [ITEMS] [RUNS] [BASELINE_BIN]     (default 20000 items, 3 runs)
 * BASELINE_BIN: another checkout's bin/flickrfs (with its dist/ built), measured in turn with this one.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { BIN } from '../test/support/repo.js'
import { waitUntil } from '../test/support/wait.js'
import { median } from './measure.js'

const ITEMS = Number(process.argv[2] ?? 20_000)
const RUNS = Number(process.argv[3] ?? 3)
/** Another checkout's bin/flickrfs (its dist/ built), run in turn with this one as the same-run baseline. */
const BASELINE_BIN = process.argv[4]

async function originalsShown(mnt: string): Promise<number> {
  const names = await readdir(join(mnt, 'photostream')).catch(() => [] as string[])
  return names.filter((n) => n !== 'metadata' && n !== 'SHA256SUMS' && !n.endsWith('.metadata')).length
}

/** user+sys CPU seconds of a live process (Linux /proc). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Run {
  ls: number
  set: number
  sets: number
  whole: number
  views: number
  buildMs: number
  cpuS: number
}

async function oneRun(lab: MountLab, env: NodeJS.ProcessEnv, name: string, setCount: number): Promise<Run> {
  const mnt = await lab.mkdir(`mnt-${name}`)
  const t0 = performance.now()
  const server = await lab.mount(mnt, ['--cache', join(lab.dir, `cache-${name}`)], env, 600_000, { partial: true })
  const at: Partial<Record<'ls' | 'set' | 'sets' | 'whole', number>> = {}
  // One poll for all four moments: `ls` of the top level, then of photostream/ until photos show.
  await waitUntil('the first catalog is complete', async () => {
    const now = (): number => performance.now() - t0
    const done = /first catalog complete/.test(server.err)
    const top = await readdir(mnt).catch(() => [] as string[])
    const sets = top.filter((n) => n.startsWith('Set ')).length
    if (at.set === undefined && sets > 0) at.set = now()
    if (at.sets === undefined && sets === setCount) at.sets = now()
    if (at.ls === undefined && (await originalsShown(mnt)) > 0) at.ls = now()
    if (done) at.whole = now()
    return done
  }, 600_000, 20)
  const cpuS = await cpuSeconds(server.pid)
  const shown = await originalsShown(mnt)
  if (shown !== ITEMS) throw new Error(`the whole catalog shows ${shown} of ${ITEMS} originals`)
  const views = /shown (\d+) times? as it came in, (\d+) ms of building/.exec(server.err)
  await lab.stop(server, mnt)
  return { ls: at.ls!, set: at.set!, sets: at.sets!, whole: at.whole!, views: Number(views?.[1] ?? NaN), buildMs: Number(views?.[2] ?? NaN), cpuS }
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

function describeRun(r: Run): string {
  const views = Number.isNaN(r.views) ? '' : `; ${r.views} views shown in ${r.buildMs} ms`
  return `photos in ls ${sec(r.ls)}, first set ${sec(r.set)}, every set ${sec(r.sets)}, whole first catalog ${sec(r.whole)}${views}; mount CPU ${r.cpuS.toFixed(1)} s`
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const videos = Math.round(ITEMS / 100)
  const fake = await startFake({ seed: 5, photos: ITEMS - videos, videos, sets: Math.round(ITEMS / 50), collections: 5, commentedFraction: 0.1, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
  fake.faults.apiLatencyMs = 50
  fake.faults.mediaLatencyMs = 20
  const setCount = fake.account.sets.length
  const lab = await MountLab.create('flickrfs-bench-first-mount-')
  const ours: Run[] = []
  const base: Run[] = []
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000', FLICKRFS_API_BURST: '100000' })
    for (let i = 0; i < RUNS; i++) {
      // Turn about, so that a change in the machine's load hits both alike.
      if (BASELINE_BIN !== undefined) {
        lab.bin = BASELINE_BIN
        base.push(await oneRun(lab, env, `base-${i}`, setCount))
        lab.bin = BIN
        console.log(`run ${i + 1}, baseline: ${describeRun(base[i]!)}`)
      }
      ours.push(await oneRun(lab, env, `${i}`, setCount))
      console.log(`run ${i + 1}: ${describeRun(ours[i]!)}`)
    }
    const m = (runs: Run[], k: keyof Run): number => median(runs.map((r) => r[k]))
    const b = m(ours, 'whole')
    const sooner = (ms: number): string => `${sec(ms)} (${(b / ms).toFixed(1)}x sooner)`
    console.log(`${ITEMS} items, ${setCount} sets, API 50 ms, media 20 ms, medians of ${RUNS}: first photos in ls ${sooner(m(ours, 'ls'))} | first set folder ${sooner(m(ours, 'set'))} | ` +
      `every set ${sooner(m(ours, 'sets'))} | whole first catalog ${sec(b)} (when a first mount showed sets before) | ` +
      `${m(ours, 'views')} partial views, ${m(ours, 'buildMs')} ms of building them (${((m(ours, 'buildMs') / b) * 100).toFixed(1)}% of the sync), mount CPU ${m(ours, 'cpuS').toFixed(1)} s`)
    if (base.length > 0) {
      const ratio = (k: keyof Run): string => `${sec(m(base, k))} -> ${sec(m(ours, k))} (${(m(base, k) / m(ours, k)).toFixed(1)}x)`
      console.log(`baseline ${BASELINE_BIN} -> this checkout: photos in ls ${ratio('ls')} | first set folder ${ratio('set')} | every set ${ratio('sets')} | ` +
        `whole first catalog ${ratio('whole')} | mount CPU ${m(base, 'cpuS').toFixed(1)} s -> ${m(ours, 'cpuS').toFixed(1)} s`)
    }
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
