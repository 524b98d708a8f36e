/**
 * Verify: re-reads every recorded original and compares it with its recorded size and sha256. A
 * bad file is a result, not an error, so every file is checked; only an abort or an unexpected
 * error stops the run (no new file starts; the ones in flight finish).
 */
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { isEnoent } from '../util/fs-errors.js'
import { eachLimit } from '../util/pool.js'
import { fileSize } from './file-size.js'
import type { Originals } from './originals.js'
import type { StoreRecord } from './store-index.js'

export type VerifyStatus = 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch'

export interface VerifyResult {
  id: string
  secret: string
  path: string
  status: VerifyStatus
  expectedSize: number
  actualSize?: number
  expectedSha256: string
  actualSha256?: string
}

export interface VerifyReport {
  checked: number
  ok: number
  missing: number
  sizeMismatch: number
  hashMismatch: number
  results: VerifyResult[]
}

export interface VerifyOptions {
  concurrency?: number
  onResult?: (r: VerifyResult) => void
  signal?: AbortSignal
  /** Drop the records of originals that failed, so the next `ensure` downloads them again. */
  forgetBad?: boolean
}

export async function verifyOriginals(originals: Originals, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const records = [...originals.records()].sort((a, b) => a.id.localeCompare(b.id))
  const results = new Array<VerifyResult>(records.length)
  await eachLimit(records.map((r, i) => [r, i] as const), opts.concurrency ?? 2, async ([record, i]) => {
    opts.signal?.throwIfAborted()
    const result = await verifyOne(record, originals.fileOf(record))
    results[i] = result
    if (opts.forgetBad && result.status !== 'ok') await originals.forget(result.id)
    opts.onResult?.(result)
  })
  const count = (s: VerifyStatus): number => results.filter((r) => r.status === s).length
  return {
    checked: results.length,
    ok: count('ok'),
    missing: count('missing'),
    sizeMismatch: count('size-mismatch'),
    hashMismatch: count('hash-mismatch'),
    results,
  }
}

async function verifyOne(r: StoreRecord, path: string): Promise<VerifyResult> {
  const base = { id: r.id, secret: r.secret, path, expectedSize: r.size, expectedSha256: r.sha256 }
  const actualSize = await fileSize(path)
  if (actualSize === undefined) return { ...base, status: 'missing' }
  if (actualSize !== r.size) return { ...base, status: 'size-mismatch', actualSize }
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  } catch (err) {
    if (isEnoent(err)) return { ...base, status: 'missing' }
    throw err
  }
  const actualSha256 = hash.digest('hex')
  return { ...base, status: actualSha256 === r.sha256 ? 'ok' : 'hash-mismatch', actualSize, actualSha256 }
}
