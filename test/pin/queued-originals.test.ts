/**
 * pin-run.ts QueuedOriginals: the originals a pin queued, by photo id and secret (each id holding
 * its first secret, a second one kept apart). Queued once means fetched once; another secret for
 * the same photo is another original.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { QueuedOriginals } from '../../src/pin/pin-run.js'

void describe('QueuedOriginals', () => {
  void it('knows an original by its id and secret together', () => {
    const q = new QueuedOriginals()
    assert.equal(q.has('101', 'aaa'), false)
    q.add('101', 'aaa')
    assert.equal(q.has('101', 'aaa'), true)
    assert.equal(q.has('101', 'bbb'), false, 'another secret is another original')
    assert.equal(q.has('102', 'aaa'), false, 'another photo with the same secret')
    q.add('101', 'aaa')
    assert.equal(q.has('101', 'bbb'), false, 'adding the same one again adds nothing')
  })

  void it('keeps a second and a third secret of one photo (replaced while the run went on)', () => {
    const q = new QueuedOriginals()
    q.add('7', 'first')
    q.add('7', 'second')
    q.add('7', 'third')
    for (const s of ['first', 'second', 'third']) assert.equal(q.has('7', s), true, s)
    assert.equal(q.has('7', 'fourth'), false)
    assert.equal(q.has('8', 'second'), false)
  })
})
