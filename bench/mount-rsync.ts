/**
 * A backup of a pinned 1,000-item account: `rsync -a` from `flickrfs mount --cache DEST --offline`
 * against `rsync -a` from DEST itself (same files, same page cache), for a first full copy and for
 * the second run that should copy nothing. Each run mounts afresh and copies into a new folder.
 *   node --import tsx bench/mount-rsync.ts [RUNS]     (median of RUNS runs, default 3)
 */
import { join } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 3)

async function rsync(from: string, to: string): Promise<{ ms: number; transferred: number }> {
  const r = await run('rsync', ['-a', '--stats', '--exclude=/.flickrfs', `${from}/`, `${to}/`], { timeoutMs: 600_000 })
  if (r.code !== 0) throw new Error(`rsync ${from}: ${r.stderr}`)
  return { ms: r.ms, transferred: Number(/Number of regular files transferred: ([\d,]+)/.exec(r.stdout)?.[1]?.replace(/,/g, '')) }
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason(['rsync'])
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-rsync-')
  const fake = await startFake({ seed: 3, photos: 980, videos: 20, sets: 30, collections: 4, commentedFraction: 0.1, meanPhotoBytes: 60_000, meanVideoBytes: 400_000 })
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env, 600_000)
    if (pinned.exit.code !== 0) throw new Error(pinned.err)
    const du = await run('du', ['-sb', '--exclude=.flickrfs', dest])
    console.log(`pinned 1000 items, ${(Number(du.stdout.split('\t')[0]) / 1e6).toFixed(1)} MB in DEST`)
    const r: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
    for (let i = 0; i < RUNS; i++) {
      const plainFirst = await rsync(dest, join(lab.dir, `bk-plain-${i}`))
      add('plain first', plainFirst.ms)
      add('plain second', (await rsync(dest, join(lab.dir, `bk-plain-${i}`))).ms)
      const mnt = await lab.mkdir(`mnt-${i}`)
      const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
      const first = await rsync(mnt, join(lab.dir, `bk-mount-${i}`))
      const second = await rsync(mnt, join(lab.dir, `bk-mount-${i}`))
      if (second.transferred !== 0) throw new Error(`second rsync from the mount transferred ${second.transferred} files`)
      if (first.transferred !== plainFirst.transferred) throw new Error(`mount copied ${first.transferred} files, DEST ${plainFirst.transferred}`)
      add('mount first', first.ms)
      add('mount second', second.ms)
      await lab.stop(server, mnt)
      if (i === 0) {
        const diff = await run('diff', ['-r', join(lab.dir, 'bk-mount-0'), join(lab.dir, 'bk-plain-0')])
        if (diff.code !== 0) throw new Error(`backups differ: ${diff.stdout.slice(0, 2000)}`)
      }
    }
    const m = (k: string): number => median(r[k] ?? [])
    const s = (k: string): string => `${(m(k) / 1000).toFixed(3)} s`
    console.log(`rsync -a, first copy:  DEST ${s('plain first')} | mount ${s('mount first')} (x${(m('mount first') / m('plain first')).toFixed(1)})`)
    console.log(`rsync -a, second run: DEST ${s('plain second')} | mount ${s('mount second')} (x${(m('mount second') / m('plain second')).toFixed(1)}), 0 files transferred`)
    console.log(`runs: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
  } finally {
    await lab.cleanup()
    await fake.close()
  }
}

await main()
