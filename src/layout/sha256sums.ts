/**
 * photostream/SHA256SUMS: one line per original whose hash is known, in the format `sha256sum -c`
 * reads (`<64 hex>  <name>\n`, two spaces: text mode, which on Linux reads bytes as they are),
 * sorted by name (byte order, as `LC_ALL=C sort`), so the same hashes always give the same bytes.
 */

import { isSafeFileName } from './names.js'

export const SHA256SUMS_FILE = 'SHA256SUMS'

const SHA256_HEX = /^[0-9a-f]{64}$/

export interface Sha256Line {
  /** A file name in photostream/ (`<id>.<ext>`). */
  name: string
  sha256: string
}

function byName(a: Sha256Line, b: Sha256Line): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** The file's bytes for these lines (any order; names must be unique and safe file names). */
export function formatSha256Sums(lines: readonly Sha256Line[]): Buffer {
  const sorted = [...lines].sort(byName)
  // Written straight into one buffer of the right size: a string made line by line and then
  // encoded held its pieces, the flat string and the bytes at once (bench/sha256sums-memory.ts).
  let size = 0
  for (const l of sorted) {
    if (!SHA256_HEX.test(l.sha256)) throw new Error(`SHA256SUMS: not a sha256 for ${l.name}`)
    size += l.sha256.length + 3 + Buffer.byteLength(l.name, 'utf8')
  }
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const l of sorted) {
    at += out.write(l.sha256, at, 'latin1')
    out[at++] = 0x20
    out[at++] = 0x20
    at += out.write(l.name, at, 'utf8')
    out[at++] = 0x0a
  }
  return out
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
