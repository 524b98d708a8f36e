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

/** A bench's command line: see benchArgs. */
export interface BenchArgs {
  /** The arguments as given, for what is not a `--name` option: a positional ROOT, `--serve DIR N`, LABEL=REPO. */
  args: string[]
  /** Whether `--name` is among the arguments. */
  has: (name: string) => boolean
  /** The argument after the first `--name`, whatever it is; undefined without `--name` or with nothing after it. */
  text: (name: string) => string | undefined
  /** The argument after each `--name`, for an option that may be given more than once. */
  texts: (name: string) => string[]
  /** text(name) as Number reads it (NaN when it is no number), or `fallback` when text(name) is undefined. */
  number: (name: string, fallback: number) => number
  /** text(name) split at spaces, for flags handed on in one argument (`--node-args "--cpu-prof --cpu-prof-dir=D"`); none without it. */
  words: (name: string) => string[]
}

/**
 * A bench's command line (by default this process's arguments after the script): `--name value`
 * options, each read from the first `--name` with the next argument as its value, whatever it is
 * (there is no `--name=value`), and `--flag` flags. Nothing is checked or rejected: a bench reads
 * the names it knows, and its positional arguments from `args`; a number that is none is NaN.
 */
export function benchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  const text = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i === -1 ? undefined : argv[i + 1]
  }
  return {
    args: argv,
    has: (name) => argv.includes(`--${name}`),
    text,
    texts: (name) => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1] as string] : [])),
    number: (name, fallback) => {
      const v = text(name)
      return v === undefined ? fallback : Number(v)
    },
    words: (name) => (text(name) ?? '').split(' ').filter((w) => w !== ''),
  }
}
