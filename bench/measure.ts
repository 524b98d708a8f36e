import { readFileSync, writeFileSync } from 'node:fs'
import { run } from '../test/support/run.js'

/** The median: of an even count, the mean of the middle two (it was the upper one until session 47). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** This process's resident memory now and at its peak so far (VmRSS and VmHWM of /proc/self/status), in bytes. */
export function ownRss(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Forgets this process's peak so far (Linux clear_refs 5): VmHWM then starts again from the current RSS. */
export function resetPeak(): void {
  writeFileSync('/proc/self/clear_refs', '5')
}

/** Sequential read of `path` with `dd bs=1M`, in MB/s; fails on a short read of `size` bytes. */
export async function ddMBps(path: string, size: number): Promise<number> {
  const t0 = performance.now()
  const r = await run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: 120_000 })
  const s = (performance.now() - t0) / 1000
  if (r.code !== 0) throw new Error(`dd ${path}: ${r.stderr}`)
  if (!r.stderr.includes(`${size} bytes`)) throw new Error(`dd ${path} read short: ${r.stderr}`)
  return size / 1024 / 1024 / s
}
