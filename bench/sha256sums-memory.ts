/**
 * photostream/SHA256SUMS of 1,000,000 originals (--lines N), made and written to a file as a pin's
 * tree write does: peak RSS over the process's start and time, now (Sha256Lines: names as bytes,
 * sorted, written a chunk at a time) against the way before (session 33's Sha256Lines, copied
 * below: a string per name, the file made as one buffer, then written), each in a fresh child
 * process, alternating. Each line's name is made as it is added (`<id>.<ext>` from an id string
 * cut from a page, as the layout names an original), so holding it is the maker's cost.
 *
 *   node --import tsx bench/sha256sums-memory.ts [--lines 1000000] [--runs 4]
 */
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Sha256Lines } from '../src/layout/sha256sums.js'
import { benchArgs, median, ownRss, resetPeak } from './measure.js'

const { args, number } = benchArgs()
const MB = 1024 * 1024
const SHA_BYTES = 32
const HEX = Buffer.from('0123456789abcdef', 'latin1')

/** Session 33's Sha256Lines (the baseline): names as strings, the file made whole. */
class LinesBefore {
  readonly #names: string[] = []
  #shas: Buffer
  constructor(expected: number) {
    this.#shas = Buffer.allocUnsafe(SHA_BYTES * Math.max(1, expected))
  }
  add(name: string, hex: string): void {
    const at = this.#names.length * SHA_BYTES
    if (at + SHA_BYTES > this.#shas.length) {
      const grown = Buffer.allocUnsafe(this.#shas.length * 2)
      this.#shas.copy(grown, 0, 0, at)
      this.#shas = grown
    }
    this.#shas.write(hex, at, SHA_BYTES, 'hex')
    this.#names.push(name)
  }
  format(): Buffer {
    const names = this.#names
    const order = new Uint32Array(names.length)
    for (let i = 0; i < order.length; i++) order[i] = i
    order.sort((a, b) => {
      const x = names[a] as string
      const y = names[b] as string
      return x < y ? -1 : x > y ? 1 : a - b
    })
    let size = 0
    let last: string | undefined
    for (const i of order) {
      const name = names[i] as string
      if (name !== last) size += 2 * SHA_BYTES + 3 + Buffer.byteLength(name, 'utf8')
      last = name
    }
    const out = Buffer.allocUnsafe(size)
    let at = 0
    last = undefined
    for (const i of order) {
      const name = names[i] as string
      if (name === last) continue
      last = name
      for (let b = i * SHA_BYTES, end = b + SHA_BYTES; b < end; b++) {
        const byte = this.#shas[b] as number
        out[at++] = HEX[byte >>> 4] as number
        out[at++] = HEX[byte & 15] as number
      }
      out[at++] = 0x20
      out[at++] = 0x20
      at += out.write(name, at, 'utf8')
      out[at++] = 0x0a
    }
    return out
  }
}

function child(which: 'before' | 'now', n: number): void {
  // The ids as a page of the catalog holds them: one string of digits, cut per photo.
  const page = Array.from({ length: n }, (_, i) => String(53_000_000_000 + i * 7)).join(',')
  const hexOf = (i: number): string => (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(8)
  const file = join(tmpdir(), `sha256sums-bench-${process.pid}`)
  const base = ownRss().rss
  resetPeak()
  const t0 = performance.now()
  const fd = openSync(file, 'w')
  let size = 0
  try {
    const lines = which === 'now' ? new Sha256Lines(n) : new LinesBefore(n)
    for (let i = 0, at = 0; i < n; i++) {
      const comma = page.indexOf(',', at)
      const id = page.slice(at, comma === -1 ? page.length : comma)
      at = comma + 1
      lines.add(`${id}.jpg`, hexOf(i))
    }
    if (lines instanceof Sha256Lines) {
      for (const chunk of lines.sorted().chunks()) size += writeSync(fd, chunk)
    } else {
      size = writeSync(fd, lines.format())
    }
  } finally {
    closeSync(fd)
    rmSync(file, { force: true })
  }
  const ms = performance.now() - t0
  console.log(JSON.stringify({ peakOver: (ownRss().hwm - base) / MB, ms, size }))
}

if (args[0] === '--child') {
  child(args[1] as 'before' | 'now', Number(args[2]))
} else {
  const n = number('lines', 1_000_000)
  const runs = number('runs', 4)
  const got: Record<string, Array<{ peakOver: number; ms: number; size: number }>> = { before: [], now: [] }
  for (let r = 0; r < runs; r++) {
    for (const which of ['now', 'before'] as const) {
      const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', which, String(n)], { encoding: 'utf8' })
      if (out.status !== 0) throw new Error(out.stderr)
      got[which]?.push(JSON.parse(out.stdout.trim().split('\n').at(-1) as string) as { peakOver: number; ms: number; size: number })
    }
  }
  const [a, b] = [got.now ?? [], got.before ?? []]
  if (a[0]?.size !== b[0]?.size) throw new Error('the two ways wrote files of different sizes')
  for (const [name, rows] of [['now', a], ['before', b]] as const) {
    console.log(`${name.padEnd(6)} peak over the start: ${rows.map((x) => x.peakOver.toFixed(0)).join(', ')} MB; time ${rows.map((x) => x.ms.toFixed(0)).join(', ')} ms`)
  }
  const pm = (rows: typeof a, k: 'peakOver' | 'ms'): number => median(rows.map((x) => x[k]))
  console.log(`${n} lines, ${(a[0]?.size ?? 0) / MB | 0} MB file: peak now ÷ before ${(pm(a, 'peakOver') / pm(b, 'peakOver')).toFixed(2)} (${pm(a, 'peakOver').toFixed(0)} vs ${pm(b, 'peakOver').toFixed(0)} MB), time ${(pm(a, 'ms') / pm(b, 'ms')).toFixed(2)}`)
}
