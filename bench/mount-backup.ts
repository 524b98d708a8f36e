/**
 * Backups of a 1,000-item account with the tools people use (restic, borg, tar, cp -a, rsync -a):
 * each from DEST itself, from an offline mount of that DEST, and from a fresh online mount (empty
 * cache, media latency 20 ms or `--latency MS`), against `flickrfs pin` of the same account at the same latency.
 *   node --import tsx bench/mount-backup.ts [RUNS] [--clients restic,borg,tar,cp,rsync] [--sources dest,offline,online,floor[+VARIANT…]] [--bin CHECKOUT/bin/flickrfs] [--base CHECKOUT/bin/flickrfs] [--latency MS]
 *
 * Each run pins a new DEST at that latency (timed), then for each client backs up into a new
 * repository or folder: DEST (its .flickrfs left out), a new `mount --cache DEST --offline`, and a
 * new `mount --cache EMPTY --refresh 0` that has synced its catalog but downloaded nothing (the
 * mount's own start is not in the time). Times are wall times of the client command alone; figures
 * are medians of RUNS (default 3). In the first run every backup is restored or extracted and
 * compared with DEST (`diff -rq`), and the differing files are counted. `--sources dest,offline`
 * leaves the online mounts out, and with them the timed pin of each run (issue 14 item 4 is about
 * the offline column only); the serving process's CPU time (user+sys) is shown for each mount.
 * `floor` is bench/fuse-floor.ts serving the same DEST: the least JS per op fuse-native allows, so
 * `--sources dest,floor,offline` shows what the binding itself costs next to our offline mount
 * (`floor+attr=0+kernel_cache`: that server with those variants; see fuse-floor.ts). With a floor
 * source, a second table gives every source's median, its ratio to DEST and its serving CPU.
 * `base` is an offline mount served by the `--base` checkout's CLI (its dist/ built), so that a change
 * and the code before it are measured interleaved, in the same run; `base-online` the same for a
 * fresh online mount (with `online` in --sources, a last table gives both against the run's pin).
 * `--bin` runs another checkout's CLI (its dist/ built), to compare two in the same conditions.
 * PROF=DIR in the environment writes a CPU profile of every CLI child (pins and mounts) into DIR.
 * STRACE=DIR attaches `strace -c -f` to each serving process for the client run alone and writes
 * its syscall summary to DIR/<client>-<source>-<run>.txt (STRACE_EXTRA replaces `-c`, e.g.
 * STRACE_EXTRA='-e trace=openat,close' for the calls themselves).
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CliProc } from '../test/support/cli.js'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run, type RunResult } from '../test/support/run.js'
import { waitUntil } from '../test/support/wait.js'
import { benchArgs, median } from './measure.js'

const { args, number, text } = benchArgs()
// RUNS: the first argument that is all digits and not --latency's value.
const RUNS = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--latency') ?? 3)
const CLIENTS = (text('clients') ?? 'restic,borg,tar,cp,rsync').split(',') as Client[]
const BIN_PATH = text('bin')
const BASE_BIN = text('base')
const SOURCES = (text('sources') ?? 'dest,offline,online').split(',') as Source[]
const LATENCY_MS = number('latency', 20)
const TIMEOUT_MS = 900_000

type Client = 'restic' | 'borg' | 'tar' | 'cp' | 'rsync'
/** `floor` and `floor+VARIANT+…`: bench/fuse-floor.ts serving DEST, with those variants. */
type Source = 'dest' | 'offline' | 'online' | 'base' | 'base-online' | `floor${string}`
const FLOOR_SCRIPT = fileURLToPath(new URL('./fuse-floor.ts', import.meta.url))

/** bench/fuse-floor.ts serving `dir` at `mnt` (a child of the lab, so cleanup stops it), once it says READY. */
async function serveFloor(lab: MountLab, mnt: string, dir: string, variants: string[], env: NodeJS.ProcessEnv): Promise<CliProc> {
  const [bin, nodeArgs] = [lab.bin, lab.nodeArgs]
  lab.bin = FLOOR_SCRIPT
  lab.nodeArgs = ['--import', 'tsx', ...nodeArgs]
  lab.track(mnt)
  const p = lab.spawn([mnt, dir, ...variants], env)
  ;[lab.bin, lab.nodeArgs] = [bin, nodeArgs]
  await waitUntil(`${mnt} is served by fuse-floor.ts`, () => {
    if (p.exit) throw new Error(`fuse-floor.ts exited (${JSON.stringify(p.exit)}): ${p.err}`)
    return Promise.resolve(/^READY/m.test(p.out))
  }, TIMEOUT_MS)
  return p
}

/** CPU time (user+sys, all threads) a process has used so far, in ms; 0 once it is gone. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) || 0) + (Number(f[12]) || 0)) * 10
}

/** `strace -c -f -p PID` into `out` until the returned function is called (it waits for the summary). */
async function startStrace(pid: number, out: string): Promise<() => Promise<void>> {
  const child = spawn('strace', [...(process.env.STRACE_EXTRA ?? '-c').split(' '), '-f', '-p', String(pid), '-o', out], { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  // strace attaches to every thread before it counts; give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 300))
  return async () => {
    child.kill('SIGINT')
    await exited
  }
}

function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${(r.stderr || r.stdout).slice(-2000)}`)
  return r
}

/** One client: its first backup of SRC into a new place under `work` (timed), and a restore of it into `out`. */
interface Tool {
  prepare(work: string, env: NodeJS.ProcessEnv): Promise<void>
  backup(src: string, work: string, env: NodeJS.ProcessEnv): Promise<RunResult>
  /** Leaves the backed-up tree at the returned path. */
  restore(src: string, work: string, out: string, env: NodeJS.ProcessEnv): Promise<string>
}

const TOOLS: Record<Client, Tool> = {
  restic: {
    prepare: async (work, env) => void must(await run('restic', ['-r', join(work, 'repo'), 'init'], { env }), 'restic init'),
    backup: (src, work, env) => run('restic', ['-r', join(work, 'repo'), 'backup', '-q', '--host', 'bench', '--exclude', `${src}/.flickrfs`, src], { env, timeoutMs: TIMEOUT_MS }),
    restore: async (src, work, out, env) => {
      must(await run('restic', ['-r', join(work, 'repo'), 'restore', 'latest', '--target', out], { env, timeoutMs: TIMEOUT_MS }), 'restic restore')
      return join(out, src)
    },
  },
  borg: {
    prepare: async (work, env) => void must(await run('borg', ['init', '-e', 'none', join(work, 'repo')], { env }), 'borg init'),
    backup: (src, work, env) => run('borg', ['create', '--exclude', `${src}/.flickrfs`, `${join(work, 'repo')}::one`, src], { env, timeoutMs: TIMEOUT_MS }),
    restore: async (src, work, out, env) => {
      must(await run('borg', ['extract', `${join(work, 'repo')}::one`], { env, cwd: out, timeoutMs: TIMEOUT_MS }), 'borg extract')
      return join(out, src)
    },
  },
  tar: {
    prepare: () => Promise.resolve(),
    backup: (src, work, env) => run('tar', ['-C', src, '--exclude=./.flickrfs', '-cf', join(work, 'a.tar'), '.'], { env, timeoutMs: TIMEOUT_MS }),
    restore: async (_src, work, out, env) => {
      must(await run('tar', ['-C', out, '-xf', join(work, 'a.tar')], { env, timeoutMs: TIMEOUT_MS }), 'tar -x')
      return out
    },
  },
  cp: {
    prepare: () => Promise.resolve(),
    // The glob leaves dotfiles out: DEST's .flickrfs, as the other clients exclude it.
    backup: (src, work, env) => run('bash', ['-c', 'mkdir "$2" && cp -a "$1"/* "$2"/', 'cp', src, join(work, 'copy')], { env, timeoutMs: TIMEOUT_MS }),
    restore: (_src, work) => Promise.resolve(join(work, 'copy')),
  },
  rsync: {
    prepare: () => Promise.resolve(),
    backup: (src, work, env) => run('rsync', ['-a', '--exclude=/.flickrfs', `${src}/`, `${join(work, 'copy')}/`], { env, timeoutMs: TIMEOUT_MS }),
    restore: (_src, work) => Promise.resolve(join(work, 'copy')),
  },
}

/** Files that differ between a restored tree and DEST (missing, extra or other bytes), .flickrfs left out. */
async function differing(restored: string, dest: string): Promise<number> {
  const r = await run('diff', ['-rq', '--no-dereference', '-x', '.flickrfs', restored, dest], { timeoutMs: TIMEOUT_MS })
  if (r.code > 1) throw new Error(`diff: ${r.stderr}`)
  return r.stdout.split('\n').filter((l) => l !== '').length
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason(CLIENTS.map((c) => (c === 'cp' ? 'rsync' : c)))
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-backup-')
  if (BIN_PATH !== undefined) lab.bin = BIN_PATH
  if (process.env.PROF) lab.nodeArgs = ['--cpu-prof', '--cpu-prof-dir', process.env.PROF]
  const fake = await startFake({ seed: 3, photos: 980, videos: 20, sets: 30, collections: 4, commentedFraction: 0.1, meanPhotoBytes: 60_000, meanVideoBytes: 400_000 })
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const home = await lab.mkdir('client-home')
    const clientEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CACHE_HOME: join(home, '.cache'),
      LC_ALL: 'C',
      RESTIC_PASSWORD: 'bench',
      BORG_PASSPHRASE: '',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_BASE_DIR: join(home, 'borg'),
    }
    const dest = join(lab.dir, 'dest')
    must(await run(lab.bin, ['pin', '-q', dest], { env, timeoutMs: TIMEOUT_MS }), 'pin')
    const du = await run('du', ['-sb', '--exclude=.flickrfs', dest])
    console.log(`pinned 1000 items, ${(Number(du.stdout.split('\t')[0]) / 1e6).toFixed(1)} MB in DEST; media latency ${LATENCY_MS} ms for pin and the online mounts`)

    const times: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (times[k] ??= []).push(v)
    const diffs: Record<string, number> = {}
    let n = 0
    for (let i = 0; i < RUNS; i++) {
      fake.faults.mediaLatencyMs = LATENCY_MS
      if (SOURCES.includes('online')) {
        const pinned = must(await run(lab.bin, ['pin', '-q', join(lab.dir, `pin-${i}`)], { env, timeoutMs: TIMEOUT_MS }), 'pin')
        add('pin', pinned.ms)
        console.log(`run ${i + 1}: pin ${(pinned.ms / 1000).toFixed(2)} s`)
      } else {
        console.log(`run ${i + 1}`)
      }
      for (const client of CLIENTS) {
        const tool = TOOLS[client]
        for (const source of SOURCES) {
          const work = await lab.mkdir(`w${n++}`)
          await tool.prepare(work, clientEnv)
          let src = dest
          let server: CliProc | undefined
          if (source.startsWith('floor')) {
            src = await lab.mkdir(`mnt${n}`)
            server = await serveFloor(lab, src, dest, source.split('+').slice(1), env)
          } else if (source === 'base' || source === 'base-online') {
            if (BASE_BIN === undefined) throw new Error(`--sources ${source} needs --base CHECKOUT/bin/flickrfs`)
            src = await lab.mkdir(`mnt${n}`)
            const flags = source === 'base' ? ['--cache', dest, '--offline'] : ['--cache', await lab.mkdir(`fresh${n}`), '--refresh', '0']
            const bin = lab.bin
            lab.bin = BASE_BIN
            try {
              server = await lab.mount(src, flags, env, TIMEOUT_MS)
            } finally {
              lab.bin = bin
            }
          } else if (source !== 'dest') {
            src = await lab.mkdir(`mnt${n}`)
            const flags = source === 'offline' ? ['--cache', dest, '--offline'] : ['--cache', await lab.mkdir(`fresh${n}`), '--refresh', '0']
            server = await lab.mount(src, flags, env, TIMEOUT_MS)
          }
          const cpu0 = server ? await cpuMs(server.pid) : 0
          const tracing = server && process.env.STRACE ? await startStrace(server.pid, join(process.env.STRACE, `${client}-${source}-${i + 1}.txt`)) : undefined
          const r = must(await tool.backup(src, work, clientEnv), `${client} from ${source}`)
          await tracing?.()
          add(`${client} ${source}`, r.ms)
          const cpu = server ? (await cpuMs(server.pid)) - cpu0 : 0
          if (server) add(`${client} ${source} cpu`, cpu)
          if (i === 0) diffs[`${client} ${source}`] = await differing(await tool.restore(src, work, await lab.mkdir(`out${n}`), clientEnv), dest)
          if (server !== undefined) await lab.stop(server, src)
          const ops = source.startsWith('floor') ? /^ops (.*)$/m.exec(server?.err ?? '')?.[1] : undefined
          await run('rm', ['-rf', work])
          console.log(`  ${client} from ${source}: ${(r.ms / 1000).toFixed(2)} s${server ? ` (serving CPU ${(cpu / 1000).toFixed(2)} s)` : ''}${i === 0 ? `, ${diffs[`${client} ${source}`]} files differ from DEST` : ''}${ops ? `, requests ${ops}` : ''}`)
        }
      }
    }
    const m = (k: string): number => median(times[k] ?? [])
    const s = (k: string): string => `${(m(k) / 1000).toFixed(2)} s`
    const pin = m('pin')
    const cpu = (k: string): string => `${(m(`${k} cpu`) / 1000).toFixed(2)} s`
    if (SOURCES.includes('online')) console.log(`\npin (media latency ${LATENCY_MS} ms): ${s('pin')}`)
    console.log('\n| client | from DEST | offline mount | fresh online mount | online / pin | differing files (offline, online) | serving CPU (offline, online) |')
    console.log('|---|---|---|---|---|---|---|')
    for (const c of CLIENTS) {
      const d = m(`${c} dest`)
      const cell = (src: Source): string => (SOURCES.includes(src) ? `${s(`${c} ${src}`)}${SOURCES.includes('dest') ? ` (${(m(`${c} ${src}`) / d).toFixed(1)}×)` : ''}` : '–')
      console.log(
        `| ${c} | ${SOURCES.includes('dest') ? s(`${c} dest`) : '–'} | ${cell('offline')} | ${cell('online')} | ${SOURCES.includes('online') ? `${(m(`${c} online`) / pin).toFixed(2)}×` : '–'} | ${diffs[`${c} offline`] ?? '–'}, ${diffs[`${c} online`] ?? '–'} | ${SOURCES.includes('offline') ? cpu(`${c} offline`) : '–'}, ${SOURCES.includes('online') ? cpu(`${c} online`) : '–'} |`,
      )
    }
    const others = SOURCES.filter((x) => x !== 'dest')
    if (SOURCES.some((x) => x.startsWith('floor') || x === 'base') && SOURCES.includes('dest')) {
      console.log(`\n| client | DEST | ${others.join(' | ')} |`)
      console.log(`|---|---|${others.map(() => '---|').join('')}`)
      for (const c of CLIENTS) {
        const d = m(`${c} dest`)
        console.log(`| ${c} | ${s(`${c} dest`)} | ${others.map((x) => `${s(`${c} ${x}`)} (${(m(`${c} ${x}`) / d).toFixed(1)}×, CPU ${cpu(`${c} ${x}`)})`).join(' | ')} |`)
      }
    }
    if (SOURCES.includes('online') && SOURCES.includes('base-online')) {
      console.log('\n| client | online, --base | ÷ pin | serving CPU | online, this checkout | ÷ pin | serving CPU |')
      console.log('|---|---|---|---|---|---|---|')
      for (const c of CLIENTS) {
        const cols = (x: Source): string => `${s(`${c} ${x}`)} | ${(m(`${c} ${x}`) / pin).toFixed(2)}× | ${cpu(`${c} ${x}`)}`
        console.log(`| ${c} | ${cols('base-online')} | ${cols('online')} |`)
      }
    }
    console.log(`runs (ms): ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
