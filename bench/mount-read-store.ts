/**
 * First sequential read of a cached 100 MB original through the real mount path: `flickrfs mount
 * --cache DEST --offline` (startLiveMount → OriginalStore → OpenFiles) over a DEST pinned from the
 * fake Flickr, against, in the same run:
 *   - `dd` of the stored original itself (page-cached): the disk-speed ceiling;
 *   - a trivial fuse-native server (bench/trivial-read-server.ts) answering every read
 *     synchronously from a Buffer, with our mount options: the ceiling that fuse-native's 128 KiB
 *     round trips leave for any JS read path.
 * Each run mounts both afresh, so the first read goes through JS; the order alternates per run.
 *   node --import tsx bench/mount-read-store.ts [RUNS]      (medians of RUNS runs, default 5)
 * FLICKRFS_BENCH_PROF=DIR writes a CPU profile of each flickrfs mount child into DIR.
 * FLICKRFS_BENCH_BASE=DIR[,DIR…] also mounts with each DIR/bin/flickrfs (another checkout, e.g.
 * `git archive` of the commit before a change, with node_modules linked) in every run.
 */
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, mediaName, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { waitUntil } from '../test/support/wait.js'
import { forceUnmount, fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { ddMBps, median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 5)
const SIZE = 100 * 1024 * 1024
const PROF = process.env.FLICKRFS_BENCH_PROF
const BASES = (process.env.FLICKRFS_BENCH_BASE ?? '').split(',').filter((d) => d !== '')
const trivialScript = new URL('./trivial-read-server.ts', import.meta.url).pathname

/** Mounts the trivial server, dd's its file once, unmounts; MB/s. */
async function trivialMBps(mnt: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', trivialScript, mnt, String(SIZE)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  try {
    await waitUntil('the trivial server is mounted', async () => {
      if (child.exitCode !== null) throw new Error(`trivial server exited: ${err}`)
      return out.includes('READY') && (await stat(join(mnt, 'big')).catch(() => undefined))?.size === SIZE
    })
    return await ddMBps(join(mnt, 'big'), SIZE)
  } finally {
    await forceUnmount(mnt)
    child.kill('SIGTERM')
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))])
    if (!done) child.kill('SIGKILL')
  }
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-read-store-')
  const fake = await startFake({ seed: 5, photos: 1, videos: 0, sets: 0, collections: 0 })
  try {
    const big = fake.account.addPhoto({ title: 'big', originalformat: 'jpg', bytes: SIZE })
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env, 600_000)
    if (pinned.exit.code !== 0) throw new Error(pinned.err)
    const stored = join(dest, 'photostream', `${big.id}.${big.originalformat}`)
    if ((await stat(stored)).size !== SIZE) throw new Error(`${stored} is not the ${SIZE}-byte original`)
    const inMount = join('photostream', mediaName(fake.account, big.id))
    if (PROF) lab.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${PROF}`]
    const r: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
    const ownBin = lab.bin
    const viaMount = async (i: number, label: string, bin: string): Promise<void> => {
      const mnt = await lab.mkdir(`mnt-${label.replace(/\W/g, '')}-${i}`)
      lab.bin = bin
      const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
      add(label, await ddMBps(join(mnt, inMount), SIZE))
      await lab.stop(server, mnt)
    }
    const steps: Array<(i: number) => Promise<void>> = [
      (i) => viaMount(i, 'store mount', ownBin),
      async (i) => add('trivial server', await trivialMBps(await lab.mkdir(`triv-${i}`))),
    ]
    for (const dir of BASES) steps.push((i) => viaMount(i, `mount of ${dir}`, join(dir, 'bin', 'flickrfs')))
    for (let i = 0; i < RUNS; i++) {
      add('backing file', await ddMBps(stored, SIZE))
      // A different order each run, so no candidate always follows the same one.
      for (let k = 0; k < steps.length; k++) await (steps[(i + k) % steps.length] as (i: number) => Promise<void>)(i)
      process.stderr.write(`run ${i + 1}: ${Object.entries(r).map(([k, v]) => `${k} ${v.at(-1)?.toFixed(0)}`).join(', ')} MB/s\n`)
    }
    const m = (k: string): number => median(r[k] ?? [])
    console.log(`first read of a cached 100 MB original, dd bs=1M, MB/s, median of ${RUNS}`)
    console.log(`backing file (page cache): ${m('backing file').toFixed(0)}`)
    console.log(`trivial fuse-native server: ${m('trivial server').toFixed(0)}`)
    console.log(`flickrfs mount (OriginalStore): ${m('store mount').toFixed(0)}`)
    for (const dir of BASES) console.log(`mount of ${dir}: ${m(`mount of ${dir}`).toFixed(0)}; ratio to trivial: ${(m(`mount of ${dir}`) / m('trivial server')).toFixed(2)}`)
    console.log(`ratio mount/trivial: ${(m('store mount') / m('trivial server')).toFixed(2)}; mount/backing: ${(m('store mount') / m('backing file')).toFixed(3)}`)
    console.log(`runs: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
    const load = await run('cat', ['/proc/loadavg'])
    console.log(`load average at end: ${load.stdout.trim()}`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
