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
 * of a pin's tree write, where its memory peaks; this holds 32 MB of hashes, ~16 MB of names'
 * bytes and 4 MB of their ends.
 */
export class Sha256Lines {
  /** The names' bytes (UTF-8), one after the other; name i is nameBytes[ends[i - 1] (0 for i = 0), ends[i]). */
  #nameBytes: Buffer
  #ends: Uint32Array
  #count = 0
  #shas: Buffer

  /** `expected`: about how many lines will come (room for them is made at once, not by doubling). */
  constructor(expected = 1024) {
    const lines = Math.max(1, expected)
    this.#shas = Buffer.allocUnsafe(SHA_BYTES * lines)
    this.#ends = new Uint32Array(lines)
    this.#nameBytes = Buffer.allocUnsafe(TYPICAL_NAME_BYTES * lines)
  }

  get length(): number {
    return this.#count
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
    const i = this.#count
    if (i === this.#ends.length) {
      this.#shas = grown(this.#shas, i * SHA_BYTES, 2 * i * SHA_BYTES)
      const ends = new Uint32Array(2 * i)
      ends.set(this.#ends)
      this.#ends = ends
    }
    const from = i === 0 ? 0 : (this.#ends[i - 1] as number)
    // A UTF-8 byte or three per UTF-16 unit (a surrogate pair's 4 bytes are 2 each).
    if (from + 3 * name.length > this.#nameBytes.length) this.#nameBytes = grown(this.#nameBytes, from, 2 * (from + 3 * name.length))
    this.#ends[i] = from + this.#nameBytes.write(name, from, 'utf8')
    this.#shas.write(hex, i * SHA_BYTES, SHA_BYTES, 'hex')
    this.#count++
    return true
  }

  /**
   * The file's lines: sorted by name (byte order, as `LC_ALL=C sort`), a name's first line only.
   * Lines must not be added after.
   */
  sorted(): SortedSha256Lines {
    const names = new NameBytes(this.#nameBytes, this.#ends)
    const order = new Uint32Array(this.#count)
    for (let i = 0; i < order.length; i++) order[i] = i
    // Ties by the order added: a name's first line comes first, and its later ones are dropped below.
    order.sort((a, b) => names.compare(a, b) || a - b)
    let size = 0
    let kept = 0
    for (let j = 0; j < order.length; j++) {
      const i = order[j] as number
      if (kept > 0 && names.compare(order[kept - 1] as number, i) === 0) continue
      order[kept++] = i
      size += LINE_BYTES + names.length(i)
    }
    return new SortedSha256Lines(names, this.#shas, order.subarray(0, kept), size)
  }

  /** The file's bytes (sorted()'s, in one buffer). */
  format(): Buffer {
    return this.sorted().bytes()
  }
}

/** About the bytes of a name (`<11-digit id>.jpg`): room for this many a line is made at once. */
const TYPICAL_NAME_BYTES = 16

/** A line's bytes besides its name: 64 hex digits, two spaces, a newline. */
const LINE_BYTES = 2 * SHA_BYTES + 3

/** `buf` in a new buffer of `size` bytes, its first `used` bytes copied. */
function grown(buf: Buffer, used: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  buf.copy(out, 0, 0, used)
  return out
}

/**
 * The names of Sha256Lines as bytes in one buffer: ~16 bytes a name, where a string made for each
 * (`<id>.<ext>`, joined from its parts) was ~100 with its array slot at 1,000,000 originals.
 */
class NameBytes {
  constructor(
    private readonly bytes: Buffer,
    private readonly ends: Uint32Array,
  ) {}

  start(i: number): number {
    return i === 0 ? 0 : (this.ends[i - 1] as number)
  }

  length(i: number): number {
    return (this.ends[i] as number) - this.start(i)
  }

  /** Name a against name b in byte order (as `LC_ALL=C sort`): negative, 0 or positive. */
  compare(a: number, b: number): number {
    const bytes = this.bytes
    let x = this.start(a)
    let y = this.start(b)
    const xEnd = this.ends[a] as number
    const yEnd = this.ends[b] as number
    for (; x < xEnd && y < yEnd; x++, y++) {
      const d = (bytes[x] as number) - (bytes[y] as number)
      if (d !== 0) return d
    }
    return (xEnd - x) - (yEnd - y)
  }

  /** Copies name i into `out` at `at`; the bytes copied. */
  copy(i: number, out: Buffer, at: number): number {
    return this.bytes.copy(out, at, this.start(i), this.ends[i])
  }
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
    private readonly names: NameBytes,
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
        const n = LINE_BYTES + this.names.length(this.order[to] as number)
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
      for (let b = i * SHA_BYTES, end = b + SHA_BYTES; b < end; b++) {
        const byte = shas[b] as number
        out[at++] = HEX[byte >>> 4] as number
        out[at++] = HEX[byte & 15] as number
      }
      out[at++] = 0x20
      out[at++] = 0x20
      at += names.copy(i, out, at)
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
