/**
 * Reading every sidecar of a pinned account through `flickrfs mount --cache DEST --offline`:
 * one `cat` of all `photostream/*.metadata` right after the mount (nothing in the page cache),
 * then the same again on that mount (what a second backup run does), against the same cat on DEST.
 * Besides the wall time, the CPU time the serving process spent on each cat (/proc/PID/stat, 10 ms
 * ticks), which a loaded machine disturbs less. Each run mounts afresh. Prints the median of RUNS
 * runs (default 5).
 *   node --import tsx bench/mount-sidecars.ts [RUNS] [--items N] [--lazy]
 * --items N: an account of N items (default 700; ~2 min to pin 100,000 here). --lazy: each run also
 * mounts with FLICKRFS_LAZY_CATALOG_FROM=0 (the catalog read lazily, as a mount does from 400,000
 * photos: a sidecar's first read reads its record from the catalog), alternating with the mount as
 * it loads that account by default, and prints lazy ÷ default.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { benchArgs, median } from './measure.js'

const { args, has, number } = benchArgs()
const RUNS = Number(args[0] !== undefined && !args[0].startsWith('--') ? args[0] : 5)
const ITEMS = number('items', 700)
const MODES: ReadonlyArray<{ name: string; env: Record<string, string> }> = [
  { name: 'mount', env: {} },
  ...(has('lazy') ? [{ name: 'lazy mount', env: { FLICKRFS_LAZY_CATALOG_FROM: '0' } }] : []),
]

/** ms to cat every sidecar of `root`/photostream into wc; checks the byte count against `bytes`. */
async function catSidecars(root: string, bytes?: number): Promise<{ ms: number; bytes: number }> {
  // printf is bash's own: no limit on the names' length, as `cat -- *.metadata` has at 100,000.
  const r = await run('bash', ['-c', `cd '${join(root, 'photostream')}' && printf '%s\\0' *.metadata | xargs -0 cat | wc -c`], { timeoutMs: 3_600_000 })
  if (r.code !== 0) throw new Error(`cat ${root}: ${r.stderr}`)
  const got = Number(r.stdout.trim())
  if (bytes !== undefined && got !== bytes) throw new Error(`read ${got} bytes of sidecars from ${root}, DEST has ${bytes}`)
  return { ms: r.ms, bytes: got }
}

/** User + system CPU time of process `pid` so far, in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-sidecars-')
  const fake = await startFake({ seed: 5, photos: ITEMS - 20, videos: 20, sets: 20, collections: 3, commentedFraction: 0.2, meanPhotoBytes: 20_000, meanVideoBytes: 100_000 })
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env, 3_600_000)
    if (pinned.exit.code !== 0) throw new Error(pinned.err)
    const r: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
    const { bytes } = await catSidecars(dest)
    for (let i = 0; i < RUNS; i++) {
      add('DEST', (await catSidecars(dest, bytes)).ms)
      for (const mode of MODES) {
        const mnt = await lab.mkdir(`mnt-${i}-${mode.name.replace(' ', '-')}`)
        const server = await lab.mount(mnt, ['--cache', dest, '--offline'], { ...env, ...mode.env })
        const pid = server.child.pid ?? 0
        for (const which of ['first', 'again']) {
          const cpu0 = await cpuMs(pid)
          add(`${mode.name} ${which}`, (await catSidecars(mnt, bytes)).ms)
          add(`${mode.name} cpu ${which}`, (await cpuMs(pid)) - cpu0)
        }
        await lab.stop(server, mnt)
      }
    }
    const s = (k: string): string => `${median(r[k] ?? []).toFixed(0)} ms`
    console.log(`cat of ${ITEMS} items' sidecars (${bytes} bytes): DEST ${s('DEST')}`)
    for (const { name } of MODES) {
      console.log(`${name}: first ${s(`${name} first`)} | again ${s(`${name} again`)}; CPU of the serving process per cat: first ${s(`${name} cpu first`)} | again ${s(`${name} cpu again`)}`)
    }
    if (MODES.length > 1) {
      const ratio = (k: string): string => (median(r[`lazy mount ${k}`] ?? []) / median(r[`mount ${k}`] ?? [])).toFixed(2)
      console.log(`lazy ÷ default: first ${ratio('first')}, again ${ratio('again')}; CPU first ${ratio('cpu first')}, again ${ratio('cpu again')}`)
    }
    console.log(`runs: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
