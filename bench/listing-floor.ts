/**
 * How soon a listing of a big photostream/ can start through fuse-native 2.2.6 at all (issue 11
 * item 4: "a listing of the photostream folder starts within 2 s of a fresh mount", 1,000,000
 * items, so 2,000,000 entries), against how soon flickrfs's own starts.
 *
 *   node --import tsx bench/listing-floor.ts [--items 1000000] [--runs 3] [--cache C [--ab OTHER/bin/flickrfs]]
 *
 * fuse-native 2.2.6 gives a readdir no offset: libfuse asks for the whole folder in one call, the
 * binding walks every name (and stat) our answer holds and hands each to libfuse's filler, and the
 * kernel's first getdents returns only after that walk. So the first name `ls` shows waits for the
 * whole listing to cross the binding, whatever the filesystem does. Each run, from the mount being
 * up (in the mount table) to the first name `ls -f DIR | head -1` prints:
 *   floor, names    a bench-only filesystem on the same binding, mount options and handlers as
 *                   flickrfs (fuse-binding.ts answerAtOnce), whose one folder lists 2 × items
 *                   names shaped as photostream/'s (`<11-digit id>.jpg` and its `.metadata`), made
 *                   before it mounts, with no stats: the binding's least per entry (libfuse then
 *                   gives the kernel no d_type and no d_ino)
 *   floor, stats    the same, with each entry's mode and inode handed over as flickrfs does
 *                   (dir-listing.ts wireStats: d_type and d_ino, which `find` and `ls -i` use)
 *   flickrfs        with --cache C (a cache of a catalog of --items items, e.g. from
 *                   `bench/memory.ts --offline-only --seed --cache C --items N`): `flickrfs mount
 *                   --offline --cache C`, the first name of its photostream/ (the listing made
 *                   from the catalog at the first readdir, then the same crossing)
 *   other           with --ab OTHER too: the same mount by OTHER's CLI (e.g. main's), in the same runs
 * and prints the medians, flickrfs against each floor (and OTHER), and the floors against the 2 s target.
 * For the mounts it also times what item 4 asks, from spawning `flickrfs mount` to ls's first name
 * (the mount's start, the catalog's open and the layout's build included), when the mount was up,
 * and the mount's CPU time to that first name (steadier than wall time when other work shares the cores).
 * Run it with --serve MNT names|stats N: the floor's filesystem alone, "READY" once mounted.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { answerAtOnce, loadFuse, type FuseOps } from '../src/fs/fuse-binding.js'
import { wireStats } from '../src/fs/dir-listing.js'
import { fuseNativeOptions } from '../src/fs/mount-options.js'
import { fuseUnusableReason, isMounted, forceUnmount } from '../test/support/mounts.js'
import { waitUntil } from '../test/support/wait.js'
import { BIN } from '../test/support/repo.js'
import { runMeasured } from './child-usage.js'
import { benchArgs, median } from './measure.js'
import { mountOrExit, unmountOnSignals } from './fuse-serve.js'

const self = fileURLToPath(import.meta.url)
const { args, has, number, text } = benchArgs()
const TARGET_S = 2

/** The bench-only filesystem: `/` holds `d`, and `d` the names. Never read from this process. */
function serve(mnt: string, variant: string, n: number): void {
  const { Fuse, binding } = loadFuse()
  const names = new Array<string>(n)
  const modes = new Uint32Array(n)
  const inos = new Uint32Array(n)
  // Each one flat string, as flickrfs makes them (photostream-dir.ts `flat`): the walk allocates nothing.
  for (let k = 0; k < n / 2; k++) {
    const file = [String(50_000_000_000 + 7 * k), '.jpg'].join('')
    names[2 * k] = file
    names[2 * k + 1] = [file, '.metadata'].join('')
  }
  modes.fill(0o100444)
  for (let i = 0; i < n; i++) inos[i] = i + 3
  const now = Date.now()
  const dir = { mode: 0o40555, uid: 0, gid: 0, size: 4096, dev: 0, nlink: 2, ino: 1, rdev: 0, blksize: 4096, blocks: 0, atime: now, mtime: now, ctime: now }
  const ops: FuseOps = {
    getattr: (path, cb) => (path === '/' || path === '/d' ? cb(0, { ...dir, ino: path === '/' ? 1 : 2 }) : cb(-2)),
    readdir: (path, cb) => {
      if (path === '/') return cb(0, ['.', '..', 'd'])
      if (path !== '/d') return cb(-2)
      if (variant === 'names') return cb(0, names)
      return cb(0, names, wireStats({ names, modes, inos }))
    },
  }
  const opts = fuseNativeOptions({ attrTimeoutSec: 60, negativeTimeoutSec: 10, allowOther: false, autoUnmount: true, debug: false, readTimeoutMs: 25_000 })
  const fuse = new Fuse(mnt, ops, { ...opts, timeout: false } as never)
  answerAtOnce(fuse, ops)
  unmountOnSignals(mnt, fuse, binding)
  mountOrExit(fuse, () => 'READY')
}

/** One run's times in ms: spawn → the mount up, and the mount up → the first name `ls` printed. */
interface Timed {
  upMs: number
  lsMs: number
  /** The server's CPU time (user + system) from its spawn to ls's first name: steadier than wall time on a shared machine. */
  cpuMs: number
}

/** user + system CPU time of a live process so far, in ms (Linux /proc, in clock ticks of 10 ms). */
async function cpuMsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** From spawning the server (`start`) to its mount being up, and from there to the first name `ls -f DIR | head -1` prints. */
async function firstName(mnt: string, dir: string, start: () => ReturnType<typeof spawn>): Promise<Timed> {
  const spawnedAt = performance.now()
  const child = start()
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  let exited = false
  const gone = new Promise<void>((r) => child.once('exit', () => r()))
  child.once('exit', () => (exited = true))
  try {
    await waitUntil('the mount is up', async () => {
      if (exited) throw new Error(`the server exited before mounting: ${err}`)
      return isMounted(mnt)
    }, 600_000, 20)
    const upMs = performance.now() - spawnedAt
    const first = await runMeasured('bash', ['-c', 'ls -f "$1" | head -1', 'ls', dir], { env: process.env, timeoutMs: 600_000 })
    if (first.code !== 0 || first.stdout.trim() === '') throw new Error(`ls of ${dir} failed: ${first.stderr}`)
    return { upMs, lsMs: first.wallMs, cpuMs: await cpuMsOf(child.pid) }
  } finally {
    child.kill('SIGTERM')
    await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))])
    if (await isMounted(mnt)) await forceUnmount(mnt)
  }
}

async function main(): Promise<void> {
  if (args[0] === '--serve') return serve(args[1] as string, args[2] as string, Number(args[3]))
  const why = await fuseUnusableReason()
  if (why !== undefined) {
    console.log(`skipped: ${why}`)
    return
  }
  const items = number('items', 1_000_000)
  const runs = number('runs', 3)
  const cache = has('cache') ? resolve(text('cache') as string) : undefined
  const other = has('ab') ? resolve(text('ab') as string) : undefined
  if (other !== undefined && cache === undefined) throw new Error('--ab needs --cache C')
  const work = await mkdtemp(join(tmpdir(), 'flickrfs-listing-floor-'))
  const mnt = join(work, 'mnt')
  await mkdir(mnt)
  const ms: Record<string, number[]> = { names: [], stats: [], flickrfs: [], other: [] }
  /** Of the flickrfs mounts: spawn → the mount up, and spawn → ls's first name (what item 4 times). */
  const up: Record<string, number[]> = { flickrfs: [], other: [] }
  const whole: Record<string, number[]> = { flickrfs: [], other: [] }
  const cpu: Record<string, number[]> = { flickrfs: [], other: [] }
  try {
    for (let r = 1; r <= runs; r++) {
      for (const variant of ['names', 'stats'] as const) {
        const t = await firstName(mnt, join(mnt, 'd'), () => spawn(process.execPath, ['--import', 'tsx', self, '--serve', mnt, variant, String(2 * items)], { stdio: ['ignore', 'pipe', 'pipe'] }))
        ms[variant]?.push(t.lsMs)
      }
      if (cache !== undefined) {
        // Alternating which build mounts first.
        const builds: Array<[string, string]> = [['flickrfs', BIN], ...(other !== undefined ? [['other', other] as [string, string]] : [])]
        if (r % 2 === 0) builds.reverse()
        for (const [name, bin] of builds) {
          const t = await firstName(mnt, join(mnt, 'photostream'), () => spawn(process.execPath, [bin, 'mount', mnt, '--cache', cache, '--offline'], { stdio: ['ignore', 'pipe', 'pipe'] }))
          ms[name]?.push(t.lsMs)
          up[name]?.push(t.upMs)
          whole[name]?.push(t.upMs + t.lsMs)
          cpu[name]?.push(t.cpuMs)
        }
      }
      const last = (v: number[]): string => ((v.at(-1) as number) / 1000).toFixed(2)
      const mounts = Object.entries(whole).filter(([, v]) => v.length > 0).map(([k, v]) => `${k} spawn → first name ${last(v)} s (up ${last(up[k] as number[])} s, CPU ${last(cpu[k] as number[])} s)`)
      console.log(`run ${r} (load ${loadavg()[0]?.toFixed(1)}): ${[...Object.entries(ms).filter(([, v]) => v.length > 0).map(([k, v]) => `${k} ${last(v)} s`), ...mounts].join(', ')}`)
    }
  } finally {
    if (await isMounted(mnt)) await forceUnmount(mnt)
    await rm(work, { recursive: true, force: true })
  }
  const s = (k: string): number => median(ms[k] as number[]) / 1000
  console.log(`${2 * items} entries, median of ${runs} runs, from the mount being up to ls's first name:`)
  console.log(`  fuse-native 2.2.6, names alone:          ${s('names').toFixed(2)} s  (÷ ${TARGET_S} s target: ${(s('names') / TARGET_S).toFixed(2)})`)
  console.log(`  fuse-native 2.2.6, with d_type and d_ino: ${s('stats').toFixed(2)} s  (÷ ${TARGET_S} s target: ${(s('stats') / TARGET_S).toFixed(2)})`)
  if (cache !== undefined) {
    console.log(`  flickrfs mount --offline:                ${s('flickrfs').toFixed(2)} s  (÷ the floor with stats ${(s('flickrfs') / s('stats')).toFixed(2)}, ÷ names alone ${(s('flickrfs') / s('names')).toFixed(2)})`)
    if (other !== undefined) console.log(`  ${other}: ${s('other').toFixed(2)} s  (this CLI ÷ it: ${(s('flickrfs') / s('other')).toFixed(2)})`)
    const w = (k: string): number => median(whole[k] as number[]) / 1000
    const u = (k: string): number => median(up[k] as number[]) / 1000
    console.log(`from spawning \`flickrfs mount --offline\` to ls's first name (item 4's 2 s), median of ${runs}:`)
    const c = (k: string): number => median(cpu[k] as number[]) / 1000
    console.log(`  flickrfs: ${w('flickrfs').toFixed(2)} s (the mount up after ${u('flickrfs').toFixed(2)} s; its CPU to the first name ${c('flickrfs').toFixed(2)} s)  (÷ ${TARGET_S} s target: ${(w('flickrfs') / TARGET_S).toFixed(2)})`)
    if (other !== undefined) console.log(`  ${other}: ${w('other').toFixed(2)} s (the mount up after ${u('other').toFixed(2)} s; its CPU ${c('other').toFixed(2)} s)  (this CLI ÷ it: ${(w('flickrfs') / w('other')).toFixed(2)}, CPU ${(c('flickrfs') / c('other')).toFixed(2)})`)
  }
}

await main()
