/**
 * Mount benchmark: sequential read of a 100 MB original through the mount against dd of its
 * backing file, and `ls -l` of 10,000- and 100,000-entry directories (cold, then with the kernel's
 * attribute cache warm). Each run mounts afresh (in a child process) so the first read goes through
 * JS rather than the page cache. Prints the median of RUNS runs (default 3).
 *   node --import tsx bench/mount-read.ts [RUNS]
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FixtureLab } from '../test/fs/harness.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { ddMBps, median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 3)
const SIZE = 100 * 1024 * 1024

async function lsMs(dir: string, expect: number): Promise<number> {
  const r = await run('bash', ['-c', `ls -l '${dir}' | wc -l`], { timeoutMs: 300_000 })
  if (Number(r.stdout.trim()) !== expect + 1) throw new Error(`ls -l ${dir}: ${r.stdout} ${r.stderr}`)
  return r.ms
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) {
    console.log(`skipped: ${skip}`)
    return
  }
  const ws = await FixtureLab.create('flickrfs-bench-')
  try {
    await mkdir(ws.backing, { recursive: true })
    const backingFile = join(ws.backing, 'big.mov')
    await writeFile(backingFile, randomBytes(SIZE))
    // Baseline for ls -l: the same directories as real files on local disk.
    for (const count of [10_000, 100_000]) {
      const dir = join(ws.dir, `real${count}`)
      await mkdir(dir)
      for (let i = 0; i < count; i += 1000) {
        await Promise.all(Array.from({ length: Math.min(1000, count - i) }, (_, j) => writeFile(join(dir, `${i + j}.txt`), '{"id": "1"}\n')))
      }
    }
    const results: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (results[k] ??= []).push(v)
    for (let i = 0; i < RUNS; i++) {
      const mnt = await ws.mkdir(`mnt${i}`)
      const s = await ws.serve({
        mountpoint: mnt,
        tree: {
          photostream: { dir: { 'big.mov': { original: 'big', ext: 'mov' } } },
          d10k: { many: { count: 10_000, text: '{"id": "1"}\n' } },
          d100k: { many: { count: 100_000, text: '{"id": "1"}\n' } },
        },
      })
      add('backing dd MB/s', await ddMBps(backingFile, SIZE))
      add('mount dd MB/s (first read, through JS)', await ddMBps(join(mnt, 'photostream/big.mov'), SIZE))
      add('mount dd MB/s (again, page cache)', await ddMBps(join(mnt, 'photostream/big.mov'), SIZE))
      add('ls -l 10k real dir on disk ms', await lsMs(join(ws.dir, 'real10000'), 10_000))
      add('ls -l 100k real dir on disk ms', await lsMs(join(ws.dir, 'real100000'), 100_000))
      add('ls -l 10k cold ms', await lsMs(join(mnt, 'd10k'), 10_000))
      add('ls -l 10k warm ms', await lsMs(join(mnt, 'd10k'), 10_000))
      add('ls -l 100k cold ms', await lsMs(join(mnt, 'd100k'), 100_000))
      add('ls -l 100k warm ms', await lsMs(join(mnt, 'd100k'), 100_000))
      s.child.kill('SIGTERM')
      await s.exited
    }
    console.log(`flickrfs mount benchmark, median of ${RUNS} runs`)
    for (const [k, v] of Object.entries(results)) {
      console.log(`${k.padEnd(42)} ${median(v).toFixed(1).padStart(9)}   runs: ${v.map((x) => x.toFixed(1)).join(', ')}`)
    }
    const ratio = median(results['mount dd MB/s (first read, through JS)'] ?? []) / median(results['backing dd MB/s'] ?? [])
    console.log(`read ratio mount/backing (first read): ${ratio.toFixed(2)}`)
  } finally {
    await ws.cleanup()
  }
}

await main()
