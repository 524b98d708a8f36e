/**
 * Listing through the real CLI mount against the same tree on local disk: `ls -l photostream` of
 * 10,000 and 100,000 entries (cold: fresh mount; warm: the kernel's attr cache filled) and
 * `find MNT -type f | wc -l` over the whole tree. The catalog is prepared once per size by an
 * online mount of the fake (no originals downloaded); each run mounts it afresh with --offline.
 * The baseline is a plain directory tree with the same names, kinds, sizes (sparse) and links.
 *   node --import tsx bench/mount-ls.ts [RUNS]       (median of RUNS runs, default 3)
 */
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { findListing } from '../test/e2e/mount-helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 3)
/** Entries in photostream/: one original and one sidecar per photo, plus `metadata`. */
const SIZES = [10_000, 100_000]


async function timed(script: string, expect?: number): Promise<number> {
  const r = await run('bash', ['-c', script], { timeoutMs: 600_000 })
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`)
  if (expect !== undefined && Number(r.stdout.trim()) !== expect) throw new Error(`${script}: got ${r.stdout.trim()}, expected ${expect}`)
  return r.ms
}

/** A plain copy of the mount's shape: same names and kinds, sparse files of the same sizes, same link targets. */
async function replicate(from: string, to: string): Promise<void> {
  const listing = await findListing(from)
  const items = [...listing]
  for (const [p, e] of items) if (e.kind === 'd') await mkdir(join(to, p), { recursive: true })
  for (let i = 0; i < items.length; i += 2000) {
    await Promise.all(items.slice(i, i + 2000).map(async ([p, e]) => {
      if (e.kind === 'f') {
        await writeFile(join(to, p), '')
        await truncate(join(to, p), e.size)
      } else if (e.kind === 'l') await symlink(e.target, join(to, p))
    }))
  }
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-ls-')
  try {
    for (const entries of SIZES) {
      const photos = (entries - 1) / 2
      const fake = await startFake({ seed: 5, photos: Math.ceil(photos), videos: 0, sets: 20, collections: 2, commentedFraction: 0 })
      try {
        const env = cliEnv(fake, await lab.mkdir(`config-${entries}`), { XDG_RUNTIME_DIR: await lab.mkdir(`run-${entries}`), FLICKRFS_API_RATE: '100000' })
        const cache = await lab.mkdir(`cache-${entries}`)
        const prep = await lab.mkdir(`prep-${entries}`)
        const t0 = performance.now()
        const server = await lab.mount(prep, ['--cache', cache, '--refresh', '0'], env, 600_000)
        const prepared = performance.now() - t0
        const plain = join(lab.dir, `plain-${entries}`)
        await replicate(prep, plain)
        await lab.stop(server, prep)
        const shown = Math.ceil(photos) * 2 + 1
        const files = Number((await run('bash', ['-c', `find '${plain}' -type f | wc -l`])).stdout.trim())
        console.log(`\n${shown} entries in photostream/ (${files} files in the tree); first mount with catalog fetch: ${(prepared / 1000).toFixed(1)} s`)

        const r: Record<string, number[]> = {}
        const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
        for (let i = 0; i < RUNS; i++) {
          // Baseline: drop nothing (root-less page cache flush is not possible); run twice, keep the second.
          await timed(`ls -l '${plain}/photostream' | wc -l`)
          add('plain ls -l', await timed(`ls -l '${plain}/photostream' | wc -l`, shown + 1))
          add('plain find', await timed(`find '${plain}' -type f | wc -l`, files))
          const mnt = await lab.mkdir(`mnt-${entries}-${i}`)
          const s = await lab.mount(mnt, ['--cache', cache, '--offline'], env, 600_000)
          add('mount ls -l cold', await timed(`ls -l '${mnt}/photostream' | wc -l`, shown + 1))
          add('mount ls -l warm', await timed(`ls -l '${mnt}/photostream' | wc -l`, shown + 1))
          add('mount find', await timed(`find '${mnt}' -type f | wc -l`, files))
          await lab.stop(s, mnt)
        }
        const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]))
        const f = (k: string): string => `${((m[k] ?? NaN) / 1000).toFixed(3)} s`
        console.log(`  ls -l photostream: plain ${f('plain ls -l')} | mount cold ${f('mount ls -l cold')} (x${((m['mount ls -l cold'] ?? 0) / (m['plain ls -l'] ?? 1)).toFixed(1)}) | mount warm ${f('mount ls -l warm')} (x${((m['mount ls -l warm'] ?? 0) / (m['plain ls -l'] ?? 1)).toFixed(1)})`)
        console.log(`  find -type f | wc -l: plain ${f('plain find')} | mount ${f('mount find')} (x${((m['mount find'] ?? 0) / (m['plain find'] ?? 1)).toFixed(1)})`)
        console.log(`  runs: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
      } finally {
        await fake.close()
      }
    }
  } finally {
    await lab.cleanup()
  }
}

await main()
