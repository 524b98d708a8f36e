/** util/pool.ts: eachWithSlots, items over slots shared with other callers, with eachLimit's failure rules. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eachWithSlots } from '../../src/util/pool.js'
import { Semaphore } from '../../src/util/semaphore.js'

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

void test('two callers sharing 3 slots never run more than 3 items at once, and every item runs', async () => {
  const slots = new Semaphore(3)
  let inFlight = 0
  let most = 0
  const done: number[] = []
  const work = async (n: number): Promise<void> => {
    inFlight++
    most = Math.max(most, inFlight)
    await tick()
    await tick()
    inFlight--
    done.push(n)
  }
  const a = Array.from({ length: 20 }, (_, i) => i)
  const b = Array.from({ length: 20 }, (_, i) => 100 + i)
  await Promise.all([eachWithSlots(a, slots, work), eachWithSlots(b, slots, work)])
  assert.equal(most, 3)
  assert.deepEqual([...done].sort((x, y) => x - y), [...a, ...b])
})

void test('after a failure no new item starts, and the first error is thrown once those running have ended', async () => {
  const slots = new Semaphore(2)
  const started: number[] = []
  let ended = 0
  const run = eachWithSlots([0, 1, 2, 3, 4, 5], slots, async (n) => {
    started.push(n)
    if (n === 1) throw new Error('item 1 failed')
    await tick()
    await tick()
    ended++
  })
  await assert.rejects(run, /item 1 failed/)
  // 0 and 1 started together; 1's failure is seen before its slot is given back, so nothing else starts.
  assert.deepEqual(started, [0, 1])
  assert.equal(ended, 1, 'the one under way (0) ended before the error was thrown')
  // Every slot was given back.
  const releases = await Promise.all([slots.acquire(), slots.acquire()])
  releases.forEach((r) => r())
})

void test('slots raised while items wait let that many run at once from then on, the waiting first', async () => {
  const slots = new Semaphore(2)
  let inFlight = 0
  let most = 0
  const order: number[] = []
  let gate!: () => void
  const opened = new Promise<void>((r) => (gate = r))
  const run = eachWithSlots(Array.from({ length: 12 }, (_, i) => i), slots, async (n) => {
    order.push(n)
    inFlight++
    most = Math.max(most, inFlight)
    await opened
    inFlight--
  })
  await tick()
  assert.deepEqual(order, [0, 1], 'two at first')
  slots.raiseTo(1)
  await tick()
  assert.deepEqual(order, [0, 1], 'a lower limit changes nothing')
  slots.raiseTo(5)
  await tick()
  assert.deepEqual(order, [0, 1, 2, 3, 4], 'the next three start at once, in order')
  gate()
  await run
  assert.equal(most, 5)
  assert.equal(order.length, 12)
})
