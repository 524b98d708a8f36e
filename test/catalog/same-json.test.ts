import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sameJson } from '../../src/catalog/same-json.js'

void test('sameJson: equal content in any key order is the same; any differing value, type or key is not', () => {
  const a = { id: '1', title: 't', description: { _content: 'd' }, tags: '', views: '3', list: [1, '2', { x: null }] }
  assert.equal(sameJson(a, { list: [1, '2', { x: null }], views: '3', tags: '', description: { _content: 'd' }, title: 't', id: '1' }), true)
  assert.equal(sameJson(a, { ...a, views: 3 }), false, 'type drift is a change of content')
  assert.equal(sameJson(a, { ...a, extra: 'x' }), false)
  const { tags: _tags, ...fewer } = a
  assert.equal(sameJson(a, fewer), false)
  assert.equal(sameJson(a, { ...a, list: [1, '2', { x: 0 }] }), false)
  assert.equal(sameJson([1], { 0: 1 }), false)
  assert.equal(sameJson(null, {}), false)
  assert.equal(sameJson({ a: undefined }, {}), true, 'undefined keys do not reach JSON')
})
