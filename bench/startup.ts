/**
 * Start-up: `bin/flickrfs --version` and `bin/flickrfs --help` against `node -e 0` (Node's own start,
 * the floor for any Node CLI), each run as a fresh process, interleaved and in rotating order so load
 * on the machine hits all three alike. Prints medians of wall time and of CPU time (user + sys, from
 * /proc/self/stat's children times, so at the kernel's 10 ms tick), and each ratio to `node -e 0`.
 *   node --import tsx bench/startup.ts [RUNS]     (default 21; `npm run bench -- startup` builds first)
 * FLICKRFS_BENCH_BASE=DIR also times DIR/bin/flickrfs --version (another checkout, e.g. one from
 * before the compiled build, when bin/flickrfs ran the sources through tsx).
 * The target (issue "pin at network speed") is --version ≤ 0.15 s.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, REPO } from '../test/support/repo.js'
import { median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 21)
const TARGET_S = 0.15
const TICK_MS = 10 // CLK_TCK is 100 on Linux

const CASES: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'flickrfs --version': [BIN, '--version'],
  'flickrfs --help': [BIN, '--help'],
}
const BASE = process.env.FLICKRFS_BENCH_BASE
if (BASE) CASES[`${BASE}/bin/flickrfs --version`] = [join(BASE, 'bin', 'flickrfs'), '--version']

/** This process's reaped children's user + sys time, in ms. */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[13]) + Number(f[14])) * TICK_MS // cutime, cstime: fields 16 and 17 of the line
}

async function once(args: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = childCpuMs()
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME } })
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej)
    child.once('close', res)
  })
  const wallMs = performance.now() - t0
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${err}`)
  return { wallMs, cpuMs: childCpuMs() - cpu0 }
}

async function main(): Promise<void> {
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const names = Object.keys(CASES)
  const wall: Record<string, number[]> = {}
  const cpu: Record<string, number[]> = {}
  for (const name of names) await once(CASES[name] ?? []) // warm the page cache; not counted
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length] ?? ''
      const r = await once(CASES[name] ?? [])
      ;(wall[name] ??= []).push(r.wallMs)
      ;(cpu[name] ??= []).push(r.cpuMs)
    }
  }
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const base = { wall: median(wall['node -e 0'] ?? []), cpu: median(cpu['node -e 0'] ?? []) }
  console.log(`startup, medians of ${RUNS} runs (node ${process.version}; load average ${load0} before, ${load1} after)`)
  console.log('| command | wall | ratio to node -e 0 | CPU (user+sys) | ratio |')
  console.log('|---|---|---|---|---|')
  for (const name of names) {
    const w = median(wall[name] ?? [])
    const c = median(cpu[name] ?? [])
    console.log(`| \`${name}\` | ${(w / 1000).toFixed(3)} s | ${(w / base.wall).toFixed(2)} | ${(c / 1000).toFixed(2)} s | ${base.cpu > 0 ? (c / base.cpu).toFixed(2) : '—'} |`)
  }
  const version = median(wall['flickrfs --version'] ?? []) / 1000
  console.log(`flickrfs --version: ${version.toFixed(3)} s, target ≤ ${TARGET_S} s: ${version <= TARGET_S ? 'met' : 'NOT met'}`)
  console.log(`runs (wall ms): ${JSON.stringify(Object.fromEntries(names.map((n) => [n, (wall[n] ?? []).map((x) => Math.round(x))])))}`)
}

await main()
