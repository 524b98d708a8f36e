/**
 * `npm run bench` lists the benchmarks in bench/ with what each measures and how to call it;
 * `npm run bench -- NAME [ARGS…]` builds dist/ (the benches run bin/flickrfs, which runs it) and runs
 * bench/NAME.ts with ARGS; `npm run bench -- all` runs every one with its defaults, one after the
 * other (long: the pin and catalog benches take many minutes each). Results go in bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const BENCH = import.meta.dirname
const ROOT = join(BENCH, '..')
/** Files in bench/ that are not benchmarks: this runner, shared helpers, a helper server. */
const NOT_BENCHES = new Set(['run', 'measure', 'trivial-read-server', 'fuse-floor', 'fuse-serve', 'child-usage', 'mirrorer-fixture'])

interface Bench {
  name: string
  about: string
  usage: string
}

function benches(): Bench[] {
  return readdirSync(BENCH)
    .filter((f) => f.endsWith('.ts') && !NOT_BENCHES.has(f.slice(0, -3)))
    .sort()
    .map((f) => {
      const name = f.slice(0, -3)
      const doc = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(join(BENCH, f), 'utf8'))?.[1] ?? ''
      const lines = doc.split('\n').map((l) => l.replace(/^\s*\*\s?/, '').trim())
      const usage = lines.find((l) => l.includes(`bench/${f}`)) ?? `node --import tsx bench/${f}`
      const prose = lines.filter((l) => l !== '' && l !== usage).join(' ')
      const sentence = /^(.*?\.)(\s|$)/.exec(prose)?.[1] ?? prose
      return { name, about: sentence.length > 110 ? `${sentence.slice(0, 107)}…` : sentence, usage: usage.replace(/^node --import tsx /, '') }
    })
}

function list(all: Bench[]): void {
  console.log('Benchmarks (bench/*.ts); results and the commands that made them are in bench/RESULTS.md.\n')
  for (const b of all) console.log(`  ${b.name.padEnd(20)} ${b.about}\n  ${''.padEnd(20)} ${b.usage}\n`)
  console.log('Run one:   npm run bench -- NAME [ARGS…]   (builds dist/ first; e.g. npm run bench -- startup 21)')
  console.log('Run all:   npm run bench -- all            (each with its defaults; takes long)')
}

function build(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' })
  if (r.status !== 0) {
    console.error('bench: the build failed; not benchmarking an old dist/')
    process.exit(1)
  }
}

function runOne(name: string, args: string[]): number {
  console.log(`\n== bench/${name}.ts ${args.join(' ')}`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH, `${name}.ts`), ...args], { cwd: ROOT, stdio: 'inherit' })
  return r.status ?? 1
}

const all = benches()
const [name, ...args] = process.argv.slice(2)
if (name === undefined || name === '--help' || name === '-h') {
  list(all)
} else if (name === 'all') {
  build()
  const failed = all.filter((b) => runOne(b.name, []) !== 0).map((b) => b.name)
  if (failed.length > 0) console.error(`bench: failed: ${failed.join(', ')}`)
  process.exitCode = failed.length > 0 ? 1 : 0
} else if (!all.some((b) => b.name === name)) {
  console.error(`bench: no benchmark named "${name}"; run \`npm run bench\` to list them`)
  process.exitCode = 2
} else {
  build()
  process.exitCode = runOne(name, args)
}
