/**
 * Verify: re-reads every recorded original and compares it with its recorded size and sha256, and
 * every file photostream/SHA256SUMS lists with the hash listed there, so that verify fails on every
 * file `sha256sum -c SHA256SUMS` fails on. Each file is read once. A bad file is a result, not an
 * error, so every file is checked; only an abort or an unexpected error stops the run (no new file
 * starts; the ones in flight finish).
 */
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { isEnoent } from '../util/fs-errors.js'
import { eachLimit } from '../util/pool.js'
import { fileSize } from './file-size.js'
import type { Originals } from './originals.js'

/**
 * `sums-mismatch`: the file is the original the index recorded, but SHA256SUMS lists another hash
 * for it (the list is what is wrong: the next pin writes it again from the index).
 */
export type VerifyStatus = 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch' | 'sums-mismatch'

export interface VerifyResult {
  id: string
  secret: string
  path: string
  status: VerifyStatus
  expectedSize: number
  actualSize?: number
  expectedSha256: string
  actualSha256?: string
  /** What SHA256SUMS lists for this file, when it lists it. */
  listedSha256?: string
}

export interface VerifyReport {
  checked: number
  ok: number
  missing: number
  sizeMismatch: number
  hashMismatch: number
  sumsMismatch: number
  /** Of `checked`: originals the index records (the others only SHA256SUMS names). */
  recorded: number
  results: VerifyResult[]
}

export interface VerifyOptions {
  concurrency?: number
  onResult?: (r: VerifyResult) => void
  signal?: AbortSignal
  /** Drop the records of originals that failed, so the next `ensure` downloads them again. */
  forgetBad?: boolean
  /** The lines of photostream/SHA256SUMS (file name → sha256): each listed file is checked against them too. */
  listed?: ReadonlyMap<string, string>
}

/** One file to read, with what it must be. */
interface Check {
  id: string
  secret: string
  path: string
  /** Unknown for a file only SHA256SUMS names (its record is gone). */
  expectedSize: number | undefined
  /** The index's hash, else the listed one. */
  expectedSha256: string
  listedSha256: string | undefined
  /** The index records this file: a listed hash that differs is the list's fault if the bytes match the index. */
  recorded: boolean
}

export async function verifyOriginals(originals: Originals, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const checks = checksOf(originals, opts.listed)
  const results = new Array<VerifyResult>(checks.length)
  await eachLimit(checks.map((c, i) => [c, i] as const), opts.concurrency ?? 2, async ([check, i]) => {
    opts.signal?.throwIfAborted()
    const result = await verifyOne(check)
    results[i] = result
    if (opts.forgetBad && result.status !== 'ok' && result.status !== 'sums-mismatch' && check.recorded) await originals.forget(result.id)
    opts.onResult?.(result)
  })
  const count = (s: VerifyStatus): number => results.filter((r) => r.status === s).length
  return {
    checked: results.length,
    ok: count('ok'),
    missing: count('missing'),
    sizeMismatch: count('size-mismatch'),
    hashMismatch: count('hash-mismatch'),
    sumsMismatch: count('sums-mismatch'),
    recorded: checks.filter((c) => c.recorded).length,
    results,
  }
}

/** Every recorded original, then every file SHA256SUMS lists that no record names, by id. */
function checksOf(originals: Originals, listed: ReadonlyMap<string, string> | undefined): Check[] {
  const checks: Check[] = []
  const named = new Set<string>()
  for (const r of originals.records()) {
    const name = `${r.id}.${r.ext}`
    named.add(name)
    checks.push({ id: r.id, secret: r.secret, path: originals.fileOf(r), expectedSize: r.size, expectedSha256: r.sha256, listedSha256: listed?.get(name), recorded: true })
  }
  for (const [name, sha256] of listed ?? []) {
    if (named.has(name)) continue
    const dot = name.indexOf('.')
    const id = dot > 0 ? name.slice(0, dot) : name
    checks.push({ id, secret: '', path: originals.pathOfName(name), expectedSize: undefined, expectedSha256: sha256, listedSha256: sha256, recorded: false })
  }
  return checks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

async function verifyOne(c: Check): Promise<VerifyResult> {
  const base = {
    id: c.id,
    secret: c.secret,
    path: c.path,
    expectedSize: c.expectedSize ?? -1,
    expectedSha256: c.expectedSha256,
    ...(c.listedSha256 !== undefined ? { listedSha256: c.listedSha256 } : {}),
  }
  const actualSize = await fileSize(c.path)
  if (actualSize === undefined) return { ...base, status: 'missing' }
  if (c.expectedSize !== undefined && actualSize !== c.expectedSize) return { ...base, status: 'size-mismatch', actualSize }
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(c.path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  } catch (err) {
    if (isEnoent(err)) return { ...base, status: 'missing' }
    throw err
  }
  const actualSha256 = hash.digest('hex')
  const status: VerifyStatus =
    actualSha256 !== c.expectedSha256 ? 'hash-mismatch' : c.listedSha256 !== undefined && actualSha256 !== c.listedSha256 ? 'sums-mismatch' : 'ok'
  return { ...base, status, actualSize, actualSha256 }
}
