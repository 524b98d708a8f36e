/**
 * First pins by two or more builds of flickrfs, interleaved, against one fake Flickr: the A/B of a
 * change to a pin's CPU on a noisy machine (each run of A is next to a run of B, in alternating
 * order, so load drifts hit both).
 *
 *   node --import tsx bench/pin-ab.ts [--items 700] [--runs 5] [--api-latency 50] [--media-latency 20]
 *                                     [--dest-dir DIR] [--node-args "…"] [--wrap "perf record -g -o F"] [--show-stderr]
 *                                     LABEL=REPO[::--node-flag,…] [LABEL=REPO …]
 *
 * REPO is a checkout with its dist/ built (after `::`, node flags or NAME=value environment
 * variables for that build's runs only) (`npm run build`); each run is `node [--node-args]
 * REPO/bin/flickrfs pin -q DEST` into a fresh DEST (and config folder) under GNU time, the same
 * environment as bench/pin.ts gives it. Prints each run (wall, user, system) and, per build, the
 * medians of wall, user, system and user + system, and the CPU per item. --show-stderr prints
 * each run's stderr (a debug log, a build instrumented to print where its CPU went). Every DEST is removed at
 * the end, not between runs (see bench/pin.ts: a removal makes the next files cost more on ext4
 * without a journal). The fake runs in this process: its CPU is not the child's.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateAccount, startFakeFlickr } from '../src/fake-flickr/index.js'
import { runMeasured, type ChildUsage } from './child-usage.js'
import { failureText, mirrorerAccountOptions } from './flickrmirrorer.js'
import { benchArgs, median } from './measure.js'
import { cliEnv } from '../test/pin/helpers.js'

const { args, has, number, text, words } = benchArgs()
// LABEL=REPO arguments are the ones with a `=` that are not an option's value (--node-args "--x=y").
const flagged = new Set(['--items', '--runs', '--api-latency', '--media-latency', '--dest-dir', '--node-args', '--wrap'].flatMap((f) => {
  const i = args.indexOf(f)
  return i === -1 ? [] : [i, i + 1]
}))
const builds = args.filter((a, i) => !flagged.has(i) && a.includes('=')).map((a) => {
  const [label, rest] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
  // REPO::--flag,--flag: node flags for this build's runs only (an A/B of a V8 flag).
  const [repo, flags] = rest.split('::')
  const items = (flags ?? '').split(',').filter((f) => f !== '')
  // NAME=value items are environment variables for this build's runs (e.g. UV_USE_IO_URING=1).
  const isEnv = (f: string): boolean => /^[A-Z][A-Z0-9_]*=/.test(f)
  const env = Object.fromEntries(items.filter(isEnv).map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]))
  return { label, bin: join(resolve(repo ?? ''), 'bin', 'flickrfs'), flags: items.filter((f) => !isEnv(f)), env }
})
if (builds.length === 0) {
  process.stderr.write('usage: node --import tsx bench/pin-ab.ts [--items N] [--runs N] LABEL=REPO [LABEL=REPO …]\n')
  process.exit(2)
}

const items = number('items', 700)
const runs = number('runs', 5)
const destDir = resolve(text('dest-dir') ?? tmpdir())
const nodeArgs = words('node-args')
/** --wrap "CMD ARGS": runs CMD ARGS node … (e.g. "perf record -g -o FILE"); GNU time then measures CMD too. */
const wrap = words('wrap')
const account = generateAccount(mirrorerAccountOptions(items, { tiny: items >= 10_000 }))
const fake = await startFakeFlickr({ account, namedVideoPaths: true })
fake.faults.apiLatencyMs = number('api-latency', 50)
fake.faults.mediaLatencyMs = number('media-latency', 20)
const made: string[] = []
const results = new Map<string, ChildUsage[]>(builds.map((b) => [b.label, []]))
const sec = (ms: number): string => (ms / 1000).toFixed(2)

try {
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? builds : [...builds].reverse()
    for (const b of order) {
      const work = await mkdtemp(join(destDir, 'flickrfs-bench-ab-'))
      made.push(work)
      const config = join(work, 'config')
      const env = cliEnv(fake, config, { LANG: 'C.UTF-8', ...b.env })
      const [cmd, ...wrapArgs] = [...wrap, process.execPath]
      const u = await runMeasured(cmd, [...wrapArgs, ...nodeArgs, ...b.flags, b.bin, 'pin', '-q', join(work, 'dest')], { env })
      if (u.code !== 0) throw new Error(`${b.label}: pin failed, ${failureText(u)}`)
      results.get(b.label)?.push(u)
      if (has('show-stderr')) process.stdout.write(u.stderr)
      console.log(`run ${r + 1} ${b.label.padEnd(12)} wall ${sec(u.wallMs)} s, user ${sec(u.userMs)} s, sys ${sec(u.sysMs)} s, RSS ${(u.maxRssKb / 1024).toFixed(0)} MB`)
    }
  }
} finally {
  await fake.close()
  for (const dir of made) await rm(dir, { recursive: true, force: true })
}

console.log(`\n${items} items, medians of ${runs} (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; DEST in ${destDir})`)
console.log('| build | wall | user | sys | user + sys | CPU per item |')
console.log('|---|---|---|---|---|---|')
for (const [label, us] of results) {
  const cpu = median(us.map((u) => u.userMs + u.sysMs))
  console.log(`| ${label} | ${sec(median(us.map((u) => u.wallMs)))} s | ${sec(median(us.map((u) => u.userMs)))} s | ${sec(median(us.map((u) => u.sysMs)))} s | ` +
    `${sec(cpu)} s | ${(cpu / items).toFixed(2)} ms |`)
}
