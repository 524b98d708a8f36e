/**
 * A first pin handed to a mount still fetching its first catalog (issue 11 item 1: a first pin starts
 * downloading from the first listing page), next to a first pin of its own, in the same run against
 * one fake Flickr: the pin's wall time from its start to its end, and the mount's peak RSS
 * (VmHWM). With `--ab OTHER/bin/flickrfs` the handed pin also runs with another build (one from
 * before the downloads meanwhile, say), the builds alternating run by run.
 *
 *   node --import tsx bench/pin-handed-first.ts [--items 5000] [--runs 3] [--api-rate 50]
 *        [--api-latency 50] [--media-latency 20] [--ab OTHER/bin/flickrfs]
 *        [--no-alone] [--trace-memory DIR [--trace-gc MS] [--trace-snapshots MS,MS]]
 *
 * --no-alone: no first pin of its own (a run to trace, say). --trace-memory DIR: each mount samples
 * its own memory every 250 ms (scripts/memory-trace.mjs) into DIR/mount-N.jsonl, with its debug log
 * (flickrfs:mount, :pin, :catalog) in DIR/mount-N.log; --trace-gc and --trace-snapshots set that
 * script's FLICKRFS_MEMORY_TRACE_GC_MS and FLICKRFS_MEMORY_SNAPSHOTS (the --ab build's mount loads
 * this build's script).
 *
 * Every pin and mount gets a config dir of its own, so each starts with the same budget: a burst of
 * 100 calls, then --api-rate a second (Flickr's shape, faster). A first catalog's comments come
 * last, at that rate: here they are what makes a first sync long, as on a real account. The mount
 * is up (its tree filling in) before the handed pin starts, as a user's or cron's pin would find it.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { cliEnv, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { BIN, REPO } from '../test/support/repo.js'
import { benchArgs, median } from './measure.js'
import { usageOf } from './child-usage.js'

const { has, number, text } = benchArgs()
const items = number('items', 5000)
const runs = number('runs', 3)
const apiRate = number('api-rate', 50)
const abBin = text('ab')
const alone = !has('no-alone')
const traceDir = has('trace-memory') ? resolve(text('trace-memory') ?? '') : undefined
if (![items, runs, apiRate].every((n) => Number.isFinite(n) && n > 0)) {
  console.error('--items, --runs and --api-rate take numbers above 0')
  process.exit(2)
}

const fake = await startFake({ seed: 211, photos: items - Math.floor(items / 100), videos: Math.floor(items / 100), sets: Math.max(2, Math.floor(items / 50)), collections: 3, commentedFraction: 0.2, meanPhotoBytes: 4_000, meanVideoBytes: 8_000 })
fake.faults.apiLatencyMs = number('api-latency', 50)
fake.faults.mediaLatencyMs = number('media-latency', 20)
const commented = fake.account.commented().length
console.log(`account: ${items} items, ${commented} commented; API ${fake.faults.apiLatencyMs} ms a call, burst 100 then ${apiRate}/s; media ${fake.faults.mediaLatencyMs} ms`)

const results: Record<string, { wall: number[]; peak: number[] }> = {}
const record = (what: string, wall: number, peakMb = NaN): void => {
  const r = (results[what] ??= { wall: [], peak: [] })
  r.wall.push(wall)
  if (!Number.isNaN(peakMb)) r.peak.push(peakMb)
  console.log(`  ${what}: ${wall.toFixed(1)} s${Number.isNaN(peakMb) ? '' : `, mount peak ${peakMb.toFixed(0)} MB`}`)
}

const lab = await MountLab.create('flickrfs-bench-pin-handed-')
try {
  let n = 0
  const envFor = async (): Promise<NodeJS.ProcessEnv> => {
    n++
    return cliEnv(fake, await lab.mkdir(`config-${n}`), {
      FLICKRFS_API_RATE: String(apiRate), FLICKRFS_API_BURST: '100', XDG_CACHE_HOME: await lab.mkdir(`xdg-${n}`), XDG_RUNTIME_DIR: await lab.mkdir(`run-${n}`),
    })
  }
  const timePin = async (dest: string, env: NodeJS.ProcessEnv): Promise<number> => {
    const t0 = performance.now()
    const r = await lab.cli(['pin', '-q', dest], env, 3_600_000)
    if (r.exit.code !== 0) throw new Error(`pin exited ${r.exit.code}: ${r.err}`)
    return (performance.now() - t0) / 1000
  }
  const builds: Array<[string, string]> = [['this build', BIN], ...(abBin !== undefined ? [['--ab build', abBin] as [string, string]] : [])]
  for (let run = 0; run < runs; run++) {
    console.log(`run ${run + 1}`)
    const order = run % 2 === 0 ? builds : [...builds].reverse()
    for (const [name, bin] of order) {
      lab.bin = bin
      const env = await envFor()
      const dest = await lab.mkdir(`handed-${n}`)
      const mnt = await lab.mkdir(`mnt-${n}`)
      const trace = traceDir === undefined ? undefined : join(traceDir, `mount-${n}`)
      if (traceDir !== undefined) await mkdir(traceDir, { recursive: true })
      const mountEnv = trace === undefined ? env : {
        ...env, NODE_OPTIONS: `--import ${join(REPO, 'scripts', 'memory-trace.mjs')}`, FLICKRFS_MEMORY_TRACE: `${trace}.jsonl`, DEBUG: 'flickrfs:mount,flickrfs:pin,flickrfs:catalog',
        ...(has('trace-gc') ? { FLICKRFS_MEMORY_TRACE_GC_MS: String(number('trace-gc', 2000)) } : {}),
        ...(has('trace-snapshots') ? { FLICKRFS_MEMORY_SNAPSHOTS: text('trace-snapshots') } : {}),
      }
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], mountEnv, 600_000, { partial: true })
      if (/first catalog complete/.test(server.err)) throw new Error('the first catalog was in before the pin was handed: make the account bigger or --api-rate lower')
      // When the mount's log says its first catalog is in, from the pin's start: the rest is the pin proper.
      const t0 = performance.now()
      let catalogIn: number | undefined
      const watch = setInterval(() => {
        if (catalogIn === undefined && /first catalog complete/.test(server.err)) catalogIn = (performance.now() - t0) / 1000
      }, 50)
      const wall = await timePin(dest, env).finally(() => clearInterval(watch))
      const meanwhile = /downloaded (\d+) originals? .* while the first catalog came in/.exec(server.err)?.[1]
      console.log(`    first catalog in after ${catalogIn?.toFixed(1) ?? '?'} s; ${meanwhile ?? 'no'} originals downloaded before`)
      record(`first pin handed to a filling mount, ${name}`, wall, (await usageOf(server.pid)).peak / 2 ** 20)
      await lab.stop(server, mnt)
      if (trace !== undefined) await writeFile(`${trace}.log`, server.err)
    }
    lab.bin = BIN
    if (alone) record('first pin of its own (no mount), this build', await timePin(await lab.mkdir(`alone-${run}`), await envFor()))
  }
} finally {
  await lab.cleanup()
  await fake.close()
}

console.log(`\nmedians of ${runs} (${new Date().toISOString().slice(0, 16)}Z)`)
console.log('| measure | pin wall (runs) | mount peak RSS (runs) |\n|---|---|---|')
for (const [what, r] of Object.entries(results)) {
  const peak = r.peak.length > 0 ? `${median(r.peak).toFixed(0)} MB (${r.peak.map((p) => p.toFixed(0)).join(', ')})` : '—'
  console.log(`| ${what} | ${median(r.wall).toFixed(1)} s (${r.wall.map((w) => w.toFixed(1)).join(', ')}) | ${peak} |`)
}
const own = results['first pin of its own (no mount), this build']
for (const [what, r] of Object.entries(results)) {
  if (own === undefined || !what.startsWith('first pin handed')) continue
  console.log(`${what} ÷ a first pin of its own: ${(median(r.wall) / median(own.wall)).toFixed(2)}`)
}
