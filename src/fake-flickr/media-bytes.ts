/**
 * Deterministic media bytes that are never held in memory: the content of a file is the
 * AES-128-CTR keystream under a key derived from its identity (id, secret, variant). CTR mode makes
 * any offset computable (the counter is offset/16), so Range requests cost no more than their length,
 * and a 100,000-item account needs no storage at all.
 */
import { createCipheriv, createHash } from 'node:crypto'

const CHUNK_BYTES = 64 * 1024
const ZEROS = Buffer.alloc(CHUNK_BYTES)

function keyFor(identity: string): Buffer {
  return createHash('sha256').update(identity).digest().subarray(0, 16)
}

function counterIv(block: number): Buffer {
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt(block), 8)
  return iv
}

/** Yields bytes [start, end) of the file named by `identity`, in chunks of at most 64 KiB. */
export function* mediaChunks(identity: string, start: number, end: number): Generator<Buffer> {
  if (end <= start) return
  const block = Math.floor(start / 16)
  const cipher = createCipheriv('aes-128-ctr', keyFor(identity), counterIv(block))
  let skip = start - block * 16
  let remaining = end - start
  while (remaining > 0) {
    const want = Math.min(CHUNK_BYTES, remaining + skip)
    let out = cipher.update(ZEROS.subarray(0, want))
    if (skip > 0) {
      out = out.subarray(skip)
      skip = 0
    }
    remaining -= out.length
    yield out
  }
}

/** The whole file at once: for tests that compare downloaded bytes. */
export function mediaBytes(identity: string, size: number): Buffer {
  return Buffer.concat([...mediaChunks(identity, 0, size)])
}
