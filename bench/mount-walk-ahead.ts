/**
 * Read-ahead across files: restic, borg and rsync backing up a fresh online mount (empty cache,
 * every original fetched from the fake Flickr with media latency) of a 1,000-item account, against
 * `flickrfs pin` of the same account, in the same run. With `--before DIR` (another checkout, built)
 * the same clients also run against that checkout's mount, for a before/after.
 *   node --import tsx bench/mount-walk-ahead.ts [--runs 3] [--media-latency 20] [--clients restic,borg,rsync] [--before DIR]
 * Prints medians; each backup goes into a new repository and each mount gets a new cache. A run
 * whose cache does not end up with every original (the client did not read them all) fails.
 */
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { BIN } from '../test/support/repo.js'
import { run } from '../test/support/run.js'
import { median } from './measure.js'

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, clients: { type: 'string', default: 'restic,borg,rsync' }, 'media-latency': { type: 'string', default: '20' }, before: { type: 'string' } },
})
const RUNS = Number(args.runs)
const LATENCY = Number(args['media-latency'])
const ALL = ['restic', 'borg', 'rsync'] as const
type Client = (typeof ALL)[number]
const CLIENTS = ALL.filter((c) => args.clients.split(',').includes(c))

/** Runs one client over `from`, in a new repository under `dir`; its wall time in ms. */
async function backup(client: Client, from: string, dir: string): Promise<number> {
  const env = { ...process.env, RESTIC_PASSWORD: 'bench', XDG_CACHE_HOME: join(dir, 'xdg-cache'), BORG_BASE_DIR: join(dir, 'borg-base'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' }
  const repo = join(dir, 'repo')
  const steps: Record<Client, { init?: string[]; cmd: string[] }> = {
    restic: { init: ['restic', '-q', '-r', repo, 'init'], cmd: ['restic', '-q', '-r', repo, 'backup', from] },
    borg: { init: ['borg', 'init', '-e', 'none', repo], cmd: ['borg', 'create', `${repo}::a`, from] },
    rsync: { cmd: ['rsync', '-a', `${from}/`, `${repo}/`] },
  }
  const s = steps[client]
  if (s.init) {
    const i = await run(s.init[0] ?? '', s.init.slice(1), { env, timeoutMs: 60_000 })
    if (i.code !== 0) throw new Error(`${s.init.join(' ')}: ${i.stderr}`)
  }
  const r = await run(s.cmd[0] ?? '', s.cmd.slice(1), { env, timeoutMs: 900_000 })
  if (r.code !== 0) throw new Error(`${s.cmd.join(' ')}: ${r.stderr.slice(0, 2000)}`)
  return r.ms
}

async function originalsIn(cache: string): Promise<number> {
  return (await readdir(join(cache, 'photostream')).catch(() => [] as string[])).filter((n) => !n.endsWith('.metadata') && n !== 'metadata').length
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason(['restic', 'borg', 'rsync'])
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-walk-ahead-')
  const fake = await startFake({ seed: 3, photos: 980, videos: 20, sets: 30, collections: 4, commentedFraction: 0.1, meanPhotoBytes: 60_000, meanVideoBytes: 400_000 })
  const versions: Array<{ name: string; bin: string }> = [{ name: 'after', bin: BIN }]
  if (args.before !== undefined) versions.unshift({ name: 'before', bin: join(resolve(args.before), 'bin', 'flickrfs') })
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const r: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
    for (let i = 0; i < RUNS; i++) {
      fake.faults.mediaLatencyMs = LATENCY
      lab.bin = BIN
      const dest = join(lab.dir, `dest-${i}`)
      const t0 = performance.now()
      const pinned = await lab.cli(['pin', '-q', dest], env, 900_000)
      if (pinned.exit.code !== 0) throw new Error(pinned.err)
      add('pin', performance.now() - t0)
      for (const client of CLIENTS) {
        for (const v of versions) {
          lab.bin = v.bin
          const cache = await lab.mkdir(`cache-${v.name}-${client}-${i}`)
          const mnt = await lab.mkdir(`mnt-${v.name}-${client}-${i}`)
          const m0 = performance.now()
          const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
          add(`${v.name} mount start`, performance.now() - m0)
          fake.resetCounts()
          const ms = await backup(client, mnt, await lab.mkdir(`bk-${v.name}-${client}-${i}`))
          const gets = fake.counts()['media:GET'] ?? 0
          await lab.stop(server, mnt)
          const stored = await originalsIn(cache)
          if (stored !== 1000) throw new Error(`${v.name} ${client}: the cache holds ${stored} originals after the backup, not 1000`)
          add(`${v.name} ${client}`, ms)
          add(`${v.name} ${client} GETs`, gets)
          console.log(`run ${i + 1}: ${v.name} ${client} ${(ms / 1000).toFixed(2)} s, ${gets} media GETs`)
        }
      }
      console.log(`run ${i + 1}: pin ${((r.pin?.[i] ?? 0) / 1000).toFixed(2)} s`)
    }
    const m = (k: string): number => median(r[k] ?? [])
    const pin = m('pin')
    console.log(`media latency ${LATENCY} ms, 1,000 items (980 photos ~60 kB, 20 videos ~400 kB), medians of ${RUNS}`)
    console.log(`pin (fresh DEST): ${(pin / 1000).toFixed(2)} s; mount start (first catalog, not in the figures below): ${versions.map((v) => `${v.name} ${(m(`${v.name} mount start`) / 1000).toFixed(2)} s`).join(', ')}`)
    for (const client of CLIENTS) {
      const cells = versions.map((v) => `${v.name} ${(m(`${v.name} ${client}`) / 1000).toFixed(2)} s (x${(m(`${v.name} ${client}`) / pin).toFixed(2)} pin, ${m(`${v.name} ${client} GETs`)} GETs)`)
      console.log(`${client.padEnd(6)} from a fresh online mount: ${cells.join(' | ')}`)
    }
    console.log(`runs: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`)
  } finally {
    fake.faults.mediaLatencyMs = 0
    await lab.cleanup()
    await fake.close()
  }
}

await main()
