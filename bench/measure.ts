import { run } from '../test/support/run.js'

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
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
