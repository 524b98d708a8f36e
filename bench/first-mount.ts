/**
 * A first mount of a fresh cache: how soon `ls photostream` shows photos, against how long the
 * whole first catalog takes (which is when a first mount showed anything before). The fake answers
 * API calls after 50 ms and media after 20 ms; the limiter is raised so that only latency counts.
 *   node --import tsx bench/first-mount.ts [ITEMS] [RUNS]     (default 20000 items, 3 runs)
 */
import { readdir } from 'node:fs/promises'
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

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const videos = Math.round(ITEMS / 100)
  const fake = await startFake({ seed: 5, photos: ITEMS - videos, videos, sets: Math.round(ITEMS / 50), collections: 5, commentedFraction: 0.1, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
  fake.faults.apiLatencyMs = 50
  fake.faults.mediaLatencyMs = 20
  const lab = await MountLab.create('flickrfs-bench-first-mount-')
  const firstLs: number[] = []
  const whole: number[] = []
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000', FLICKRFS_API_BURST: '100000' })
    for (let i = 0; i < RUNS; i++) {
      const mnt = await lab.mkdir(`mnt-${i}`)
      const t0 = performance.now()
      const server = await lab.mount(mnt, ['--cache', join(lab.dir, `cache-${i}`)], env, 600_000, { partial: true })
      await waitUntil('photos show', async () => (await originalsShown(mnt)) > 0, 600_000, 20)
      firstLs.push(performance.now() - t0)
      await waitUntil('the first catalog is complete', () => Promise.resolve(/first catalog complete/.test(server.err)), 600_000, 20)
      whole.push(performance.now() - t0)
      const shown = await originalsShown(mnt)
      if (shown !== ITEMS) throw new Error(`the whole catalog shows ${shown} of ${ITEMS} originals`)
      await lab.stop(server, mnt)
      console.log(`run ${i + 1}: photos in ls after ${(firstLs[i]! / 1000).toFixed(2)} s; whole first catalog after ${(whole[i]! / 1000).toFixed(2)} s`)
    }
    const a = median(firstLs)
    const b = median(whole)
    console.log(`${ITEMS} items, API 50 ms, media 20 ms: first photos in ls ${(a / 1000).toFixed(2)} s | whole first catalog ${(b / 1000).toFixed(2)} s (what a first mount waited for before) | ${(b / a).toFixed(1)}x sooner`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
