/**
 * A first mount of a fresh cache: how soon `ls photostream` shows photos, the first `Set …/`
 * folder, and every set with `Not in any set/`, against how long the whole first catalog takes
 * (which is when a first mount showed sets before, and anything at all before that). Also what the
 * views shown while it came in cost the mount: how many, their build time, and the mount's CPU time.
 * The fake answers API calls after 50 ms and media after 20 ms; the limiter is raised so that
 * only latency counts.
 *   node --import tsx bench/first-mount.ts [ITEMS] [RUNS]     (default 20000 items, 3 runs)
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { waitUntil } from '../test/support/wait.js'
import { median } from './measure.js'

const ITEMS = Number(process.argv[2] ?? 20_000)
const RUNS = Number(process.argv[3] ?? 3)

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

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const videos = Math.round(ITEMS / 100)
  const fake = await startFake({ seed: 5, photos: ITEMS - videos, videos, sets: Math.round(ITEMS / 50), collections: 5, commentedFraction: 0.1, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
  fake.faults.apiLatencyMs = 50
  fake.faults.mediaLatencyMs = 20
  const lab = await MountLab.create('flickrfs-bench-first-mount-')
  const firstLs: number[] = []
  const firstSet: number[] = []
  const allSets: number[] = []
  const whole: number[] = []
  const buildMs: number[] = []
  const shows: number[] = []
  const cpu: number[] = []
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000', FLICKRFS_API_BURST: '100000' })
    for (let i = 0; i < RUNS; i++) {
      const mnt = await lab.mkdir(`mnt-${i}`)
      const t0 = performance.now()
      const server = await lab.mount(mnt, ['--cache', join(lab.dir, `cache-${i}`)], env, 600_000, { partial: true })
      const at: Record<'ls' | 'set' | 'sets' | 'whole', number | undefined> = { ls: undefined, set: undefined, sets: undefined, whole: undefined }
      // One poll for all four moments: `ls` of the top level, then of photostream/ until photos show.
      await waitUntil('the first catalog is complete', async () => {
        const now = (): number => performance.now() - t0
        const done = /first catalog complete/.test(server.err)
        const top = await readdir(mnt).catch(() => [] as string[])
        if (at.set === undefined && top.some((n) => n.startsWith('Set '))) at.set = now()
        if (at.sets === undefined && top.includes('Not in any set')) at.sets = now()
        if (at.ls === undefined && (await originalsShown(mnt)) > 0) at.ls = now()
        if (done) at.whole = now()
        return done
      }, 600_000, 20)
      const cpuS = await cpuSeconds(server.pid)
      const shown = await originalsShown(mnt)
      if (shown !== ITEMS) throw new Error(`the whole catalog shows ${shown} of ${ITEMS} originals`)
      const views = /shown (\d+) times? as it came in, (\d+) ms of building/.exec(server.err)
      await lab.stop(server, mnt)
      firstLs.push(at.ls!)
      firstSet.push(at.set!)
      allSets.push(at.sets!)
      whole.push(at.whole!)
      shows.push(Number(views?.[1] ?? NaN))
      buildMs.push(Number(views?.[2] ?? NaN))
      cpu.push(cpuS)
      const s = (ms: number | undefined): string => `${((ms ?? NaN) / 1000).toFixed(2)} s`
      console.log(`run ${i + 1}: photos in ls ${s(at.ls)}, first set ${s(at.set)}, every set ${s(at.sets)}, whole first catalog ${s(at.whole)}; ` +
        `${views?.[1]} views shown in ${views?.[2]} ms; mount CPU ${cpuS.toFixed(1)} s`)
    }
    const b = median(whole)
    const sooner = (ms: number): string => `${(ms / 1000).toFixed(2)} s (${(b / ms).toFixed(1)}x sooner)`
    console.log(`${ITEMS} items, API 50 ms, media 20 ms, medians of ${RUNS}: first photos in ls ${sooner(median(firstLs))} | first set folder ${sooner(median(firstSet))} | ` +
      `every set and Not in any set ${sooner(median(allSets))} | whole first catalog ${(b / 1000).toFixed(2)} s (when a first mount showed sets before) | ` +
      `${median(shows)} partial views, ${median(buildMs)} ms of building them (${((median(buildMs) / b) * 100).toFixed(1)}% of the sync), mount CPU ${median(cpu).toFixed(1)} s`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
