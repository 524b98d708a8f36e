/**
 * What every OriginalReader (src/fs/types.ts) must do, as one suite that each implementation's
 * test file registers with a factory: the store the mount reads through (test/store/) and the
 * fixture reader the mount tests serve from (test/fs/).
 *
 * The interface promises: the bytes of the original for any (position, length), fewer than asked
 * only at the end of the data, the end being the media entry's size, known before any byte is
 * read; and, where there is a `readLocal`, exactly one answer: true and then `done` once, never
 * synchronously, or false and never `done`. The mount passes a signal to bound each read by its
 * deadline, so a read that is waiting must settle once its signal aborts, and an aborted signal
 * must never make a read hang.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { MediaEntry } from '../../src/catalog/types.js'
import type { OriginalReader } from '../../src/fs/types.js'

export interface ReaderUnderTest {
  reader: OriginalReader
  /** A media entry whose original is exactly `bytes`, in the state this suite is about (on disk, not yet downloaded…). */
  add(bytes: Buffer): Promise<MediaEntry>
  /**
   * A media entry whose reads wait (for a network that does not answer, a slow disk) until
   * `close()`. Absent when this reader never waits (bytes already on local disk).
   */
  addStalled?(bytes: Buffer): Promise<MediaEntry>
  /** Whether `readLocalSync` must serve in-range reads of an original (it is on local disk). */
  readLocalSyncServes?: boolean
  /** Whether `readLocal` must serve in-range reads of a file once `read()` has read from it. */
  readLocalAfterRead?: boolean
  close(): Promise<void>
}

/** How long a read may take to settle once its signal has aborted. */
const PROMPT_MS = 1000
/** Odd, and over several 64 KiB / 128 KiB / 1 MiB steps, so every boundary lies inside the file. */
const SIZE = 1_300_007

type Outcome = { state: 'resolved'; value: Buffer } | { state: 'rejected'; error: unknown } | { state: 'pending' }

/** How `p` stands after at most `ms`. */
async function within(p: Promise<Buffer>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Outcome>((res) => (timer = setTimeout(() => res({ state: 'pending' }), ms)))
  try {
    return await Promise.race([
      p.then(
        (value): Outcome => ({ state: 'resolved', value }),
        (error: unknown): Outcome => ({ state: 'rejected', error }),
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Every (position, length) inside the file the suite reads: chunk edges, both ends, 0 to 128 KiB + 3. */
function rangesInside(size: number): [number, number][] {
  const positions = [0, 1, 4095, 4096, 65_535, 65_536, 131_071, 131_072, 500_000, (1 << 20) - 1, 1 << 20, size - 131_075, size - 65_536, size - 4097]
  const lengths = [1, 7, 4096, 65_536, 131_072, 131_075]
  const out: [number, number][] = []
  for (const p of positions) for (const l of lengths) if (p + l <= size) out.push([p, l])
  return out
}

interface LocalAnswer {
  accepted: boolean
  calledSync: boolean
  calls: { err: Error | null; data: Buffer | undefined }[]
}

/** Calls readLocal and records what happens: its return, whether `done` came synchronously, and every `done` within `settleMs`. */
async function readLocalOnce(reader: OriginalReader, m: MediaEntry, position: number, length: number, settleMs = 50): Promise<LocalAnswer> {
  if (!reader.readLocal) throw new Error('this reader has no readLocal')
  const calls: LocalAnswer['calls'] = []
  let first: () => void = () => {}
  const called = new Promise<void>((res) => (first = res))
  let returned = false
  let calledSync = false
  const accepted = reader.readLocal(m, position, length, (err, data) => {
    if (!returned) calledSync = true
    calls.push({ err, data })
    first()
  })
  returned = true
  if (accepted) {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([called, new Promise((r) => (timer = setTimeout(r, 10_000)))])
    clearTimeout(timer)
  }
  // Room for a second (wrong) call, or a call after a false return.
  await sleep(settleMs)
  return { accepted, calledSync, calls }
}

export function originalReaderContract(name: string, open: () => Promise<ReaderUnderTest>): void {
  void describe(`OriginalReader contract: ${name}`, () => {
    let u: ReaderUnderTest
    before(async () => {
      u = await open()
    })
    after(async () => {
      await u.close()
    })
    const fresh = async (size = SIZE): Promise<{ m: MediaEntry; bytes: Buffer }> => {
      const bytes = randomBytes(size)
      return { m: await u.add(bytes), bytes }
    }

    void it('returns exactly the bytes of any range inside the file', async () => {
      const { m, bytes } = await fresh()
      for (const [p, l] of rangesInside(SIZE)) {
        const got = await u.reader.read(m, p, l)
        assert.ok(got.equals(bytes.subarray(p, p + l)), `read(${p}, ${l}) gave ${got.length} bytes, not the original's`)
      }
    })

    void it('a range crossing the end returns the bytes up to the end: no more, no fewer', async () => {
      const { m, bytes } = await fresh()
      for (const [p, l] of [[SIZE - 1, 2], [SIZE - 1, 131_072], [SIZE - 4096, 4097], [SIZE - 100_000, 131_072], [0, SIZE + 1], [SIZE - 65_537, 1 << 20]] as const) {
        const got = await u.reader.read(m, p, l)
        assert.equal(got.length, SIZE - p, `read(${p}, ${l})`)
        assert.ok(got.equals(bytes.subarray(p)), `read(${p}, ${l}) is not the original's tail`)
      }
    })

    void it('a 0-length read returns no bytes, wherever it is', async () => {
      const { m } = await fresh()
      for (const p of [0, 1, 65_536, SIZE - 1, SIZE, SIZE + 1]) assert.equal((await u.reader.read(m, p, 0)).length, 0, `read(${p}, 0)`)
    })

    void it('a read at or past the end returns no bytes', async () => {
      const { m } = await fresh()
      for (const p of [SIZE, SIZE + 1, SIZE + 131_072, 2 ** 40]) {
        for (const l of [1, 4096, 131_072]) assert.equal((await u.reader.read(m, p, l)).length, 0, `read(${p}, ${l})`)
      }
    })

    void it('knows the size before any byte is read: a first read at the tail ends exactly at the end', async () => {
      const a = await fresh()
      const tail = await u.reader.read(a.m, SIZE - 100, 4096)
      assert.ok(tail.equals(a.bytes.subarray(SIZE - 100)), `first read at the tail gave ${tail.length} bytes`)
      const b = await fresh()
      assert.equal((await u.reader.read(b.m, SIZE, 4096)).length, 0, 'first read at the end')
      const c = await fresh()
      assert.ok((await u.reader.read(c.m, SIZE - 1, 1)).equals(c.bytes.subarray(SIZE - 1)), 'first read of the last byte')
    })

    void it('concurrent reads of one file each get exactly their own bytes', async () => {
      const { m, bytes } = await fresh()
      const ranges: [number, number][] = []
      for (let p = 0; p < SIZE; p += 65_536) ranges.push([p, 65_536])
      // Overlapping, unaligned and backwards-ordered reads on top of the sequential sweep.
      for (let i = 0; i < 24; i++) ranges.push([(SIZE - 1 - i * 54_321) % SIZE, 1 + ((i * 7919) % 131_072)])
      ranges.reverse()
      const got = await Promise.all(ranges.map(([p, l]) => u.reader.read(m, p, l)))
      for (const [i, [p, l]] of ranges.entries()) {
        assert.ok((got[i] as Buffer).equals(bytes.subarray(p, p + l)), `concurrent read(${p}, ${l}) gave wrong bytes`)
      }
      const whole = Buffer.concat(got.slice(-Math.ceil(SIZE / 65_536)).reverse())
      assert.ok(whole.equals(bytes), 'the sweep of 64 KiB reads does not add up to the original')
    })

    void it('a read that is waiting rejects promptly once its signal aborts', async (t) => {
      if (!u.addStalled) return t.skip('this reader never waits')
      const bytes = randomBytes(SIZE)
      const m = await u.addStalled(bytes)
      const ac = new AbortController()
      const reading = u.reader.read(m, 65_536, 4096, ac.signal)
      assert.equal((await within(reading, 200)).state, 'pending', 'a stalled read should still be waiting')
      ac.abort(new Error('deadline'))
      const out = await within(reading, PROMPT_MS)
      assert.equal(out.state, 'rejected', `${out.state} ${PROMPT_MS} ms after the abort`)
      assert.ok((out as { error: unknown }).error instanceof Error, 'rejects with an Error')
    })

    void it('an aborted signal never makes a read hang: it rejects promptly or returns the exact bytes', async () => {
      const ac = new AbortController()
      ac.abort(new Error('deadline'))
      const { m, bytes } = await fresh()
      const out = await within(u.reader.read(m, 4096, 4096, ac.signal), PROMPT_MS)
      assert.notEqual(out.state, 'pending', 'a read with an aborted signal is still pending')
      if (out.state === 'resolved') assert.ok(out.value.equals(bytes.subarray(4096, 8192)), 'resolved with wrong bytes')
      if (!u.addStalled) return
      const stalled = await u.addStalled(randomBytes(SIZE))
      const s = await within(u.reader.read(stalled, 4096, 4096, ac.signal), PROMPT_MS)
      assert.equal(s.state, 'rejected', `a stalled read with an aborted signal is ${s.state} after ${PROMPT_MS} ms`)
    })

    void it('readLocal gives exactly one answer: true then one later done with the exact bytes, or false and no done', async (t) => {
      if (!u.reader.readLocal) return t.skip('no readLocal')
      const { m, bytes } = await fresh()
      // Before any read, and after one (when a reader may have the file open).
      const cases: [number, number][] = [[0, 4096], [SIZE - 10, 4096], [SIZE, 4096], [SIZE + 5, 1], [100, 0]]
      let served = 0
      for (const round of ['before read()', 'after read()']) {
        if (round === 'after read()') assert.equal((await u.reader.read(m, 0, 1)).length, 1)
        for (const [p, l] of [...cases, ...rangesInside(SIZE).filter((_, i) => i % 5 === 0)]) {
          const a = await readLocalOnce(u.reader, m, p, l)
          const what = `readLocal(${p}, ${l}) ${round}`
          if (!a.accepted) {
            assert.equal(a.calls.length, 0, `${what} returned false but called done`)
            continue
          }
          assert.equal(a.calledSync, false, `${what} called done synchronously`)
          assert.equal(a.calls.length, 1, `${what} called done ${a.calls.length} times`)
          const [call] = a.calls
          assert.equal(call?.err, null, `${what} failed: ${String(call?.err)}`)
          assert.ok(call?.data?.equals(bytes.subarray(p, p + l)), `${what} gave ${call?.data?.length} bytes, not the original's`)
          if (round === 'after read()' && p + l <= SIZE && l > 0) served++
        }
      }
      if (u.readLocalAfterRead) assert.ok(served > 0, 'readLocal served no in-range read of a file read() had read')
      t.diagnostic(`readLocal served ${served} in-range reads after read()`)
    })

    void it('readLocalSync reads the exact bytes straight into the buffer, or answers undefined having written nothing', async (t) => {
      if (!u.reader.readLocalSync) return t.skip('no readLocalSync')
      const { m, bytes } = await fresh()
      let served = 0
      for (const [p, l] of [...rangesInside(SIZE), [SIZE - 10, 4096], [SIZE, 4096]] as [number, number][]) {
        const into = Buffer.alloc(l, 0xee)
        const n = u.reader.readLocalSync(m, p, l, into)
        const what = `readLocalSync(${p}, ${l})`
        if (n === undefined) {
          assert.ok(into.equals(Buffer.alloc(l, 0xee)), `${what} answered undefined but wrote into the buffer`)
          continue
        }
        const want = bytes.subarray(p, p + l)
        assert.equal(n, want.length, `${what} read ${n} bytes`)
        assert.ok(into.subarray(0, n).equals(want), `${what} read other bytes than the original's`)
        if (p + l <= SIZE) served++
      }
      if (u.readLocalSyncServes === true) assert.ok(served > 0, 'readLocalSync served no in-range read of an original on disk')
      if (u.readLocalSyncServes === false) assert.equal(served, 0, 'readLocalSync served an original that is not on disk')
    })

    void it('concurrent readLocal calls on one file each answer exactly once', async (t) => {
      if (!u.reader.readLocal) return t.skip('no readLocal')
      const { m, bytes } = await fresh()
      assert.equal((await u.reader.read(m, 0, 1)).length, 1)
      const ranges = rangesInside(SIZE)
      const answers = await Promise.all(ranges.map(([p, l]) => readLocalOnce(u.reader, m, p, l, 100)))
      let served = 0
      for (const [i, a] of answers.entries()) {
        const [p, l] = ranges[i] as [number, number]
        if (!a.accepted) {
          assert.equal(a.calls.length, 0, `readLocal(${p}, ${l}) returned false but called done`)
          continue
        }
        served++
        assert.equal(a.calledSync, false)
        assert.equal(a.calls.length, 1, `readLocal(${p}, ${l}) called done ${a.calls.length} times`)
        assert.ok(a.calls[0]?.data?.equals(bytes.subarray(p, p + l)), `readLocal(${p}, ${l}) gave wrong bytes`)
      }
      if (u.readLocalAfterRead) assert.ok(served > 0, 'readLocal served none of the concurrent reads')
    })
  })
}
