/** src/util/abort.ts: waits that an AbortSignal ends at once, and Errors out of anything thrown. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { abortable, asError, errorMessage, resolvesWithin, sleep } from '../../src/util/abort.js'

void test('sleep waits the time it is given and leaves no listener on the signal', async () => {
  const ac = new AbortController()
  const start = performance.now()
  await sleep(40, ac.signal)
  assert.ok(performance.now() - start >= 35)
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
})

void test('sleep rejects at once, with the reason, when the signal aborts', async () => {
  const ac = new AbortController()
  const reason = new Error('stop')
  const start = performance.now()
  setTimeout(() => ac.abort(reason), 20)
  await assert.rejects(sleep(10_000, ac.signal), (err) => err === reason)
  assert.ok(performance.now() - start < 1000)
})

void test('sleep on an aborted signal rejects without waiting; a non-Error reason becomes an Error', async () => {
  const ac = new AbortController()
  ac.abort('gone')
  const start = performance.now()
  await assert.rejects(sleep(10_000, ac.signal), (err) => err instanceof Error && err.message === 'gone')
  assert.ok(performance.now() - start < 1000)
})

void test('abortable passes the value through, and stops waiting (not the work) on abort', async () => {
  assert.equal(await abortable(Promise.resolve(7)), 7)
  const ac = new AbortController()
  assert.equal(await abortable(Promise.resolve('v'), ac.signal), 'v')
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0)

  let finish: (v: number) => void = () => {}
  const work = new Promise<number>((resolve) => { finish = resolve })
  const waiting = abortable(work, ac.signal)
  ac.abort(new Error('reader gone'))
  await assert.rejects(waiting, { message: 'reader gone' })
  finish(3)
  assert.equal(await work, 3)

  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error on purpose
  const rejectsWithNumber = Promise.reject(42)
  await assert.rejects(abortable(rejectsWithNumber, new AbortController().signal), (err) => err instanceof Error && err.message === '42')
})

void test('asError keeps an Error as it is and wraps anything else; errorMessage gives its message', () => {
  const e = new TypeError('bad')
  assert.equal(asError(e), e)
  const wrapped = asError('text')
  assert.ok(wrapped instanceof Error)
  assert.equal(wrapped.message, 'text')
  assert.equal(asError(undefined).message, 'undefined')
  assert.equal(errorMessage(e), 'bad')
  assert.equal(errorMessage({ code: 'X' }), '[object Object]')
  assert.equal(errorMessage(404), '404')
})

void test('resolvesWithin: true when the promise resolves in time, false when the time passes first, its rejection in time passed on', async () => {
  assert.equal(await resolvesWithin(sleep(5), 1_000), true)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    const late = sleep(60).then(() => Promise.reject(new Error('late')))
    assert.equal(await resolvesWithin(late, 10), false)
    await late.catch(() => undefined)
    await sleep(20)
    assert.deepEqual(unhandled, [], 'a rejection after the time is up is not left unhandled')
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  await assert.rejects(resolvesWithin(Promise.reject(new Error('early')), 1_000), /early/)
})
