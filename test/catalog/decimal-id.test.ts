import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decimalValue, numericId } from '../../src/catalog/decimal-id.js'

/** The rule as the lazy view first wrote it: a regular expression, then Number. */
function byRegex(id: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return undefined
  const n = Number(id)
  return Number.isSafeInteger(n) ? n : undefined
}

void describe('numericId', () => {
  void it('reads exactly the ids the regular expression took, as the same numbers', () => {
    const ids = ['1', '9', '10', '0', '00', '01', '53012345678', '9007199254740991', '9007199254740992', '9999999999999999',
      '12345678901234567', '', ' 1', '1 ', '1a', 'a1', '-1', '+1', '1.5', '1e3', '٣', '１', '123abc', 'photo-1']
    for (const id of ids) assert.equal(numericId(id), byRegex(id), JSON.stringify(id))
  })
  void it('reads an id inside a longer text in place', () => {
    const text = 'x53012345678y0012'
    assert.equal(decimalValue(text, 1, 12), 53012345678)
    assert.equal(decimalValue(text, 13, 17), undefined, 'a leading zero')
    assert.equal(decimalValue(text, 15, 17), 12)
    assert.equal(decimalValue(text, 3, 3), undefined, 'empty')
  })
})
