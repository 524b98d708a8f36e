/**
 * `flickrfs pin DEST` handed to the mount serving DEST, next to a pin of its own, against the fake
 * Flickr: a first pin and a no-change pin, wall time of the CLI process each, median of the runs.
 * The mount has fetched its first catalog before the handed-off first pin starts, so that pin lists
 * and sizes nothing new: compare the no-change pins for the cost of the hand-off itself.
 *
 * node --import tsx bench/pin-via-mount.ts [photos=500] [runs=3]
 */
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'

const photos = Number(process.argv[2] ?? 500)
const runs = Number(process.argv[3] ?? 3)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

const times: Record<string, number[]> = {}
for (let i = 0; i < runs; i++) {
  const fake = await startFake({ seed: 5 + i, photos, videos: 0, sets: 10, collections: 2, meanPhotoBytes: 50_000 })
  const lab = await MountLab.create('flickrfs-bench-pin-via-mount-')
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    const time = async (what: string, args: string[]): Promise<void> => {
      const t0 = performance.now()
      const r = await lab.cli(args, env, 600_000)
      if (r.exit.code !== 0) throw new Error(`${what} exited ${r.exit.code}: ${r.err}`)
      ;(times[what] ??= []).push((performance.now() - t0) / 1000)
    }
    const alone = await lab.mkdir('alone')
    const served = await lab.mkdir('served')
    const mnt = await lab.mkdir('mnt')
    await time('first pin, no mount', ['pin', '-q', alone])
    await time('no-change pin, no mount', ['pin', '-q', alone])
    const server = await lab.mount(mnt, ['--cache', served, '--refresh', '0'], env)
    await time('first pin, handed to the mount', ['pin', '-q', served])
    await time('no-change pin, handed to the mount', ['pin', '-q', served])
    await lab.stop(server, mnt)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}
console.log(`${photos} photos of ~50 KB, ${runs} runs; seconds per run, then the median`)
for (const [what, xs] of Object.entries(times)) console.log(`${what.padEnd(36)} ${xs.map((x) => x.toFixed(2)).join(' ')} → ${median(xs).toFixed(2)} s`)
