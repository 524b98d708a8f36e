import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { HOUR_CACHE_MAX, MAX_TIME_MS, mediaMtimeMs, parseDateTakenMs, wholeSecondsMs } from '../../src/layout/index.js'

// Date taken is camera-local time: run in a zone that is not UTC so reading it as UTC would fail.
// node --test runs each file in its own process, so this does not leak into other tests.
const savedTz = process.env.TZ
before(() => {
  process.env.TZ = 'America/New_York'
})
after(() => {
  if (savedTz === undefined) delete process.env.TZ
  else process.env.TZ = savedTz
})

void describe('parseDateTakenMs', () => {
  void it('reads datetaken as local time', () => {
    assert.equal(parseDateTakenMs('2020-01-02 03:04:05'), new Date(2020, 0, 2, 3, 4, 5).getTime())
    assert.equal(parseDateTakenMs('2020-01-02 03:04:05'), Date.UTC(2020, 0, 2, 8, 4, 5), 'New York is UTC-5 in January')
    assert.equal(parseDateTakenMs('2020-07-02 03:04:05'), Date.UTC(2020, 6, 2, 7, 4, 5), 'and UTC-4 in July')
  })
  void it('gives what Date gives, with or without the per-build hour cache, across DST changes', () => {
    const cache = new Map<number, number>()
    for (const [y, mo, d] of [
      [2020, 3, 8],
      [2020, 11, 1],
      [2021, 6, 15],
    ] as const) {
      for (let h = 0; h < 24; h++) {
        for (const [mi, se] of [
          [0, 0],
          [30, 15],
          [59, 59],
        ] as const) {
          const text = `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')} ${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(se).padStart(2, '0')}`
          const expected = new Date(y, mo - 1, d, h, mi, se).getTime()
          assert.equal(parseDateTakenMs(text, cache), expected, text)
          assert.equal(parseDateTakenMs(text), expected, text)
        }
      }
    }
    assert.ok(cache.size >= 48)
  })
  void it('keeps its hour cache to HOUR_CACHE_MAX hours, and answers the same after it is emptied', () => {
    const cache = new Map<number, number>()
    const hours = HOUR_CACHE_MAX + 500
    const text = (i: number): string => {
      const d = new Date(Date.UTC(2001, 0, 1, 0) + i * 3_600_000)
      return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')} ${String(d.getUTCHours()).padStart(2, '0')}:07:09`
    }
    let most = 0
    for (let i = 0; i < hours; i++) {
      assert.equal(parseDateTakenMs(text(i), cache), parseDateTakenMs(text(i)), text(i))
      most = Math.max(most, cache.size)
    }
    assert.equal(most, HOUR_CACHE_MAX)
    assert.ok(cache.size > 0 && cache.size <= 500)
  })
  void it('accepts leap days only in leap years', () => {
    assert.notEqual(parseDateTakenMs('2020-02-29 12:00:00'), null)
    assert.equal(parseDateTakenMs('2019-02-29 12:00:00'), null)
    assert.notEqual(parseDateTakenMs('2000-02-29 12:00:00'), null)
    assert.equal(parseDateTakenMs('1900-02-29 12:00:00'), null)
  })
  void it('refuses dates that are not real, rather than letting Date roll them over', () => {
    for (const text of [
      '0000-00-00 00:00:00',
      '2020-00-10 00:00:00',
      '2020-13-01 00:00:00',
      '2020-04-31 00:00:00',
      '2020-01-00 00:00:00',
      '2020-01-01 24:00:00',
      '2020-01-01 00:60:00',
      '2020-01-01 00:00:60',
      '2020-01-01',
      '2020-01-01 00:00:0x',
      '2020-1-01 00:00:000',
      '+020-01-01 00:00:00',
      'yesterday',
      '',
      null,
      undefined,
    ]) {
      assert.equal(parseDateTakenMs(text), null, String(text))
    }
  })
  void it('refuses dates no filesystem/fuse-native can store (before 1970, after 2038-01-19)', () => {
    assert.equal(parseDateTakenMs('1969-12-31 12:00:00'), null)
    assert.equal(parseDateTakenMs('2040-01-01 00:00:00'), null)
    assert.notEqual(parseDateTakenMs('2037-12-31 00:00:00'), null)
  })
})

void describe('mediaMtimeMs', () => {
  void it('uses date taken when known', () => {
    assert.equal(mediaMtimeMs({ dateTaken: '2011-05-06 07:08:09', dateUpload: 1_600_000_000 }), new Date(2011, 4, 6, 7, 8, 9).getTime())
  })
  void it('falls back to the upload date when date taken is unknown (catalog gives null for datetakenunknown)', () => {
    assert.equal(mediaMtimeMs({ dateTaken: null, dateUpload: 1_600_000_000 }), 1_600_000_000_000)
  })
  void it('falls back to the upload date for 0000-00-00 00:00:00 and other unreal dates', () => {
    assert.equal(mediaMtimeMs({ dateTaken: '0000-00-00 00:00:00', dateUpload: 1_600_000_123 }), 1_600_000_123_000)
    assert.equal(mediaMtimeMs({ dateTaken: '2020-00-00 00:00:00', dateUpload: 1_600_000_123 }), 1_600_000_123_000)
  })
  void it('gives 0 when there is no usable date at all', () => {
    assert.equal(mediaMtimeMs({ dateTaken: null, dateUpload: 0 }), 0)
    assert.equal(mediaMtimeMs({ dateTaken: null, dateUpload: Number.NaN }), 0)
  })
})

void describe('wholeSecondsMs', () => {
  void it('rounds down to whole seconds and stays in range', () => {
    assert.equal(wholeSecondsMs(1_700_000_000_999), 1_700_000_000_000)
    assert.equal(wholeSecondsMs(-5), 0)
    assert.equal(wholeSecondsMs(Number.POSITIVE_INFINITY), 0)
    assert.equal(wholeSecondsMs(1e15), MAX_TIME_MS)
  })
})
