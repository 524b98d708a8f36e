import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ascendingUint32, sortedIndexOf } from '../../src/util/sorted.js'

/** `n` numbers from a deterministic stream, spread over `range` (so repeats happen when it is small). */
function numbers(n: number, range: number, seed: number): Uint32Array {
  const out = new Uint32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s % range
  }
  return out
}

void describe('ascendingUint32', () => {
  for (const [what, values] of [
    ['a few, V8 sorts them', numbers(1000, 2 ** 32, 1)],
    ['300,000 over all 32 bits, by the radix', numbers(300_000, 2 ** 32, 2)],
    ['300,000 with many repeats and the extremes', Uint32Array.from([...numbers(300_000, 5000, 3), 0, 2 ** 32 - 1, 65535, 65536])],
    ['300,000 that differ only above bit 16', Uint32Array.from(numbers(300_000, 2 ** 16, 4), (v) => (v << 16) >>> 0)],
  ] as const) {
    void it(`sorts ${what}: as the native sort does, leaving its input as it was`, () => {
      const before = values.slice()
      const sorted = ascendingUint32(values)
      assert.deepEqual(sorted, values.slice().sort())
      assert.deepEqual(values, before)
      assert.equal(sortedIndexOf(sorted, sorted[7] as number) >= 0, true)
    })
  }
})
