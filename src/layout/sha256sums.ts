/**
 * photostream/SHA256SUMS: one line per original whose hash is known, in the format `sha256sum -c`
 * reads (`<64 hex>  <name>\n`, two spaces: text mode, which on Linux reads bytes as they are),
 * sorted by name (byte order, as `LC_ALL=C sort`), so the same hashes always give the same bytes.
 */

import { isSafeFileName } from './names.js'

export const SHA256SUMS_FILE = 'SHA256SUMS'

const SHA256_HEX = /^[0-9a-f]{64}$/

/** Whether `hex` is a sha256 as SHA256SUMS writes it: 64 lower-case hex digits. */
export function isSha256Hex(hex: string): boolean {
  return SHA256_HEX.test(hex)
}

export interface Sha256Line {
  /** A file name in photostream/ (`<id>.<ext>`). */
  name: string
  sha256: string
}

/** The file's bytes for these lines (any order; names must be safe file names; a name's first line wins). */
export function formatSha256Sums(lines: readonly Sha256Line[]): Buffer {
  const gathered = new Sha256Lines()
  for (const l of lines) gathered.add(l.name, l.sha256)
  return gathered.format()
}

const SHA_BYTES = 32
const HEX = Buffer.from('0123456789abcdef', 'latin1')

/**
 * SHA256SUMS's lines gathered before they are sorted and written: the names, and each sha256 as its
 * 32 bytes in one buffer. At a big mirror every line is an original (1,000,000 of them): a hex
 * string and an object per line, kept in a Map, held ~180 MB while the file was made, at the start
 * of a pin's tree write, where its memory peaks; this holds the names and 32 MB.
 */
export class Sha256Lines {
  readonly #names: string[] = []
  #shas: Buffer

  /** `expected`: about how many lines will come (room for them is made at once, not by doubling). */
  constructor(expected = 1024) {
    this.#shas = Buffer.allocUnsafe(SHA_BYTES * Math.max(1, expected))
  }

  get length(): number {
    return this.#names.length
  }

  /** A line for `name` (a safe file name), whose sha256 is `hex` (64 lower-case hex digits). */
  add(name: string, hex: string): void {
    if (!this.addIfSha256(name, hex)) throw new Error(`SHA256SUMS: not a sha256 for ${name}`)
  }

  /**
   * A line for `name` when `hex` is a sha256 as the file writes it (isSha256Hex); false, and no
   * line, when it is not. One test of the hex a line: SHA256SUMS of a big mirror tested each twice.
   */
  addIfSha256(name: string, hex: string): boolean {
    if (!isSha256Hex(hex)) return false
    const at = this.#names.length * SHA_BYTES
    if (at + SHA_BYTES > this.#shas.length) {
      const grown = Buffer.allocUnsafe(this.#shas.length * 2)
      this.#shas.copy(grown, 0, 0, at)
      this.#shas = grown
    }
    this.#shas.write(hex, at, SHA_BYTES, 'hex')
    this.#names.push(name)
    return true
  }

  /**
   * The file's lines: sorted by name (byte order, as `LC_ALL=C sort`), a name's first line only.
   * Lines must not be added after.
   */
  sorted(): SortedSha256Lines {
    const names = this.#names
    const order = new Uint32Array(names.length)
    for (let i = 0; i < order.length; i++) order[i] = i
    // Ties by the order added: a name's first line comes first, and its later ones are dropped below.
    order.sort((a, b) => {
      const x = names[a] as string
      const y = names[b] as string
      return x < y ? -1 : x > y ? 1 : a - b
    })
    let size = 0
    let kept = 0
    let last: string | undefined
    for (const i of order) {
      const name = names[i] as string
      if (name === last) continue
      last = name
      order[kept++] = i
      size += lineBytes(name)
    }
    return new SortedSha256Lines(names, this.#shas, order.subarray(0, kept), size)
  }

  /** The file's bytes (sorted()'s, in one buffer). */
  format(): Buffer {
    return this.sorted().bytes()
  }
}

/** A line's length in bytes: 64 hex digits, two spaces, the name, a newline. */
function lineBytes(name: string): number {
  return 2 * SHA_BYTES + 3 + Buffer.byteLength(name, 'utf8')
}

/** Bytes per chunk SortedSha256Lines.chunks makes, at most (a longer line makes a chunk of its own). */
export const SHA256SUMS_CHUNK = 1 << 20

/**
 * SHA256SUMS's lines in the file's order, made into bytes when asked: whole (the mount serves
 * ranges of them), or a chunk at a time (pin writes the file without its bytes in hand, which at
 * 1,000,000 originals were ~80 MB besides the lines, at the start of a pin's tree write).
 */
export class SortedSha256Lines {
  constructor(
    private readonly names: readonly string[],
    private readonly shas: Buffer,
    /** Indices into names and shas, in the file's order. */
    private readonly order: Uint32Array,
    /** The file's length in bytes. */
    readonly size: number,
  ) {}

  /** The file's bytes in one buffer. */
  bytes(): Buffer {
    const out = Buffer.allocUnsafe(this.size)
    this.#fill(out, 0, this.order.length)
    return out
  }

  /** The file's bytes in order, in fresh buffers of whole lines of at most `max` bytes each (but a longer line's). */
  *chunks(max = SHA256SUMS_CHUNK): Generator<Buffer> {
    let from = 0
    while (from < this.order.length) {
      let bytes = 0
      let to = from
      while (to < this.order.length) {
        const n = lineBytes(this.names[this.order[to] as number] as string)
        if (to > from && bytes + n > max) break
        bytes += n
        to++
      }
      const out = Buffer.allocUnsafe(bytes)
      this.#fill(out, from, to)
      yield out
      from = to
    }
  }

  /** Writes the lines from..to (of the order) into `out`, from its start. */
  #fill(out: Buffer, from: number, to: number): void {
    const { names, shas, order } = this
    let at = 0
    for (let j = from; j < to; j++) {
      const i = order[j] as number
      const name = names[i] as string
      for (let b = i * SHA_BYTES, end = b + SHA_BYTES; b < end; b++) {
        const byte = shas[b] as number
        out[at++] = HEX[byte >>> 4] as number
        out[at++] = HEX[byte & 15] as number
      }
      out[at++] = 0x20
      out[at++] = 0x20
      at += out.write(name, at, 'utf8')
      out[at++] = 0x0a
    }
  }
}

export type ParsedSha256Sums =
  | { ok: true; lines: Map<string, string> }
  | { ok: false; lineNumber: number; line: string }

/**
 * The name → sha256 map of a SHA256SUMS file, or the first line that is not `<64 hex>  <name>`
 * (also `<64 hex> *<name>`, the binary-mode mark `sha256sum -b` writes, which means the same on
 * Linux). Upper-case hex is accepted, as sha256sum accepts it. A name must be a plain file name of
 * photostream/ (no `/`, never `.` or `..`).
 */
export function parseSha256Sums(text: string): ParsedSha256Sums {
  const lines = new Map<string, string>()
  const rows = text.split('\n')
  if (rows[rows.length - 1] === '') rows.pop()
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as string
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(row)
    if (!m || !isSafeFileName(m[2] as string)) return { ok: false, lineNumber: i + 1, line: row }
    lines.set(m[2] as string, (m[1] as string).toLowerCase())
  }
  return { ok: true, lines }
}
