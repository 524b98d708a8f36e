/**
 * photostream/SHA256SUMS's bytes for 1,000,000 originals (--lines N): peak RSS and time of
 * formatSha256Sums against the way it was made before (a string line by line, then encoded), each
 * in a fresh child process, alternating. The lines are made first in both; the figure is the
 * peak over that.
 *
 *   node --import tsx bench/sha256sums-memory.ts [--lines 1000000] [--runs 4]
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { formatSha256Sums, type Sha256Line } from '../src/layout/sha256sums.js'
import { median, ownRss, resetPeak } from './measure.js'

const args = process.argv.slice(2)
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(args[i + 1])
}
const MB = 1024 * 1024

/** The previous formatSha256Sums (before this bench), the baseline. */
function before(lines: readonly Sha256Line[]): Buffer {
  const sorted = [...lines].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  let text = ''
  for (const l of sorted) {
    if (!/^[0-9a-f]{64}$/.test(l.sha256)) throw new Error(`not a sha256 for ${l.name}`)
    text += `${l.sha256}  ${l.name}\n`
  }
  return Buffer.from(text, 'utf8')
}

function child(which: 'before' | 'now', n: number): void {
  const lines: Sha256Line[] = []
  for (let i = 0; i < n; i++) lines.push({ name: `${53_000_000_000 + i * 7}.jpg`, sha256: (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(8) })
  const base = ownRss().rss
  resetPeak()
  const t0 = performance.now()
  const bytes = (which === 'now' ? formatSha256Sums : before)(lines)
  const ms = performance.now() - t0
  console.log(JSON.stringify({ peakOver: (ownRss().hwm - base) / MB, ms, size: bytes.length }))
}

if (args[0] === '--child') {
  child(args[1] as 'before' | 'now', Number(args[2]))
} else {
  const n = arg('lines', 1_000_000)
  const runs = arg('runs', 4)
  const got: Record<string, Array<{ peakOver: number; ms: number; size: number }>> = { before: [], now: [] }
  for (let r = 0; r < runs; r++) {
    for (const which of ['now', 'before'] as const) {
      const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', which, String(n)], { encoding: 'utf8' })
      if (out.status !== 0) throw new Error(out.stderr)
      got[which]?.push(JSON.parse(out.stdout.trim().split('\n').at(-1) as string) as { peakOver: number; ms: number; size: number })
    }
  }
  const [a, b] = [got.now ?? [], got.before ?? []]
  if (a[0]?.size !== b[0]?.size) throw new Error('the two ways made files of different sizes')
  for (const [name, rows] of [['now', a], ['before', b]] as const) {
    console.log(`${name.padEnd(6)} peak over the lines: ${rows.map((x) => x.peakOver.toFixed(0)).join(', ')} MB; time ${rows.map((x) => x.ms.toFixed(0)).join(', ')} ms`)
  }
  const pm = (rows: typeof a, k: 'peakOver' | 'ms'): number => median(rows.map((x) => x[k]))
  console.log(`${n} lines, ${(a[0]?.size ?? 0) / MB | 0} MB file: peak now ÷ before ${(pm(a, 'peakOver') / pm(b, 'peakOver')).toFixed(2)} (${pm(a, 'peakOver').toFixed(0)} vs ${pm(b, 'peakOver').toFixed(0)} MB), time ${(pm(a, 'ms') / pm(b, 'ms')).toFixed(2)}`)
}
