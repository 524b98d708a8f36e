import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import {
  collectionDirName,
  cutToBytes,
  isSafeExt,
  isSafeId,
  mediaFileName,
  numberedName,
  numberPrefix,
  safeTitle,
  setDirName,
} from '../../src/layout/index.js'

const bytes = (s: string): number => Buffer.byteLength(s)
/** True when `s` survives a UTF-8 round trip, i.e. it was not cut inside a character. */
const wellFormed = (s: string): boolean => Buffer.from(s, 'utf8').toString('utf8') === s

void describe('safeTitle', () => {
  void it('turns every / into _', () => {
    assert.equal(safeTitle('/etc/passwd'), '_etc_passwd')
    assert.equal(safeTitle('a/b//c'), 'a_b__c')
  })
  void it('turns control characters (U+0000–U+001F, U+007F) into spaces, then trims', () => {
    assert.equal(safeTitle('a\u0000b\nc\td\u001fe\u007ff'), 'a b c d e f')
    assert.equal(safeTitle('\n\tTitle\r\n'), 'Title')
    assert.equal(safeTitle('x\u0080y'), 'x\u0080y', 'U+0080 is not in the rule')
  })
  void it('leaves dots alone (the id prefix makes `..` harmless)', () => {
    assert.equal(safeTitle('..'), '..')
    assert.equal(safeTitle(' . '), '.')
  })
  void it('gives empty for empty, whitespace-only, control-only and non-string titles', () => {
    for (const t of ['', '   ', '\t\n\r', '\u0000\u0001', undefined, null, 42]) assert.equal(safeTitle(t), '')
  })
  void it('replaces lone surrogates, which have no UTF-8 form', () => {
    assert.equal(safeTitle('a\ud800b'), 'a\ufffdb')
    assert.equal(safeTitle('a\udc00'), 'a\ufffd')
    assert.equal(safeTitle('😀'), '😀')
  })
})

void describe('cutToBytes', () => {
  void it('never cuts inside a character', () => {
    assert.equal(cutToBytes('aé', 2), 'a')
    assert.equal(cutToBytes('a😀', 4), 'a')
    assert.equal(cutToBytes('a😀', 5), 'a😀')
    assert.equal(cutToBytes('€€', 5), '€')
    assert.equal(cutToBytes('abc', 10), 'abc')
  })
})

void describe('setDirName / collectionDirName', () => {
  void it('builds the LAYOUT.md names', () => {
    assert.equal(setDirName('72157600000000001', 'Pretty Waterfalls'), 'Set 72157600000000001 - Pretty Waterfalls')
    assert.equal(collectionDirName('1000-72157600000000100', 'Travel'), 'Collection 1000-72157600000000100 - Travel')
  })
  void it('makes hostile titles harmless', () => {
    assert.equal(setDirName('1', '..'), 'Set 1 - ..')
    assert.equal(setDirName('1', '/'), 'Set 1 - _')
    assert.equal(setDirName('1', '/etc/passwd'), 'Set 1 - _etc_passwd')
    assert.equal(setDirName('1', '../../x'), 'Set 1 - .._.._x')
    assert.equal(setDirName('1', 'a\u0000b\nc'), 'Set 1 - a b c')
    for (const name of [setDirName('1', '/etc/passwd'), collectionDirName('2-3', '../..')]) {
      assert.ok(!name.includes('/') && !name.includes('\u0000'))
    }
  })
  void it('drops the dash when nothing is left of the title', () => {
    assert.equal(setDirName('7', ''), 'Set 7')
    assert.equal(setDirName('7', '   \t '), 'Set 7')
    assert.equal(setDirName('7', '\u0000\u007f'), 'Set 7')
    assert.equal(collectionDirName('1-2', ' '), 'Collection 1-2')
  })
  for (const [label, ch, size] of [
    ['3-byte', '€', 3],
    ['4-byte', '😀', 4],
    ['2-byte', 'é', 2],
  ] as const) {
    void it(`cuts a 300-byte title of ${label} characters at a character boundary, whole name <= 255 bytes`, () => {
      const title = ch.repeat(Math.ceil(300 / size))
      for (const id of ['72157600000000001', '9', '1000-72157600000000100']) {
        const name = setDirName(id, title)
        assert.ok(bytes(name) <= 255, `${bytes(name)} bytes`)
        assert.ok(bytes(name) > 255 - size, 'uses the room it has')
        assert.ok(wellFormed(name))
        assert.ok(name.startsWith(`Set ${id} - ${ch}`))
        const coll = collectionDirName(id, title)
        assert.ok(bytes(coll) <= 255 && bytes(coll) > 255 - size && wellFormed(coll))
      }
    })
  }
  void it('cuts ASCII titles to exactly 255 bytes', () => {
    const name = setDirName('123', 'x'.repeat(300))
    assert.equal(bytes(name), 255)
  })
  void it('honours a smaller budget (for numbered entries)', () => {
    const name = setDirName('123', 'x'.repeat(300), 250)
    assert.equal(bytes(name), 250)
    assert.equal(setDirName('123', 'title', 'Set 123 - '.length), 'Set 123')
  })
  void it('refuses unsafe ids', () => {
    for (const id of ['', '.', '..', 'a/b', '/', 'a\u0000b', '../../etc', 'x'.repeat(65)]) {
      assert.throws(() => setDirName(id, 't'), FlickrfsError)
      assert.throws(() => collectionDirName(id, 't'), FlickrfsError)
    }
  })
})

void describe('ids and extensions', () => {
  void it('isSafeId accepts Flickr-shaped ids only', () => {
    for (const id of ['12345', '72157600000000001', '1000-72157600000000100', '12345678@N00']) assert.ok(isSafeId(id), id)
    for (const id of ['', '.', '..', '1/2', '/', '1\u00002', '1.2', ' 1', 'x'.repeat(65), 12]) assert.ok(!isSafeId(id), String(id))
  })
  void it('isSafeExt accepts short alphanumerics only', () => {
    for (const e of ['jpg', 'MOV', 'mp4', 'heic', '3gp']) assert.ok(isSafeExt(e), e)
    for (const e of ['', '.', '..', 'a/b', 'tar.gz', 'x'.repeat(17), 'abcdefghi', 'jp g', 'a\u0000']) assert.ok(!isSafeExt(e), e)
  })
  void it('mediaFileName lower-cases the extension and refuses unsafe parts', () => {
    assert.equal(mediaFileName('12345', 'JPG'), '12345.jpg')
    assert.equal(mediaFileName('12350', 'mov'), '12350.mov')
    assert.throws(() => mediaFileName('..', 'jpg'), FlickrfsError)
    assert.throws(() => mediaFileName('1', '../x'), FlickrfsError)
    assert.throws(() => mediaFileName('1/2', 'jpg'), FlickrfsError)
  })
})

void describe('numbering', () => {
  void it('pads to the digit count of the entry count', () => {
    assert.equal(numberPrefix(1, 9), '1_')
    assert.equal(numberPrefix(9, 9), '9_')
    assert.equal(numberPrefix(1, 10), '01_')
    assert.equal(numberPrefix(10, 10), '10_')
    assert.equal(numberPrefix(7, 100), '007_')
    assert.equal(numberPrefix(100, 100), '100_')
    assert.equal(numberedName(3, 12, '1.jpg'), '03_1.jpg')
  })
  void it('refuses numbers outside 1..count', () => {
    assert.throws(() => numberPrefix(0, 3), FlickrfsError)
    assert.throws(() => numberPrefix(4, 3), FlickrfsError)
    assert.throws(() => numberPrefix(1.5, 3), FlickrfsError)
  })
  void it('keeps a numbered name within 255 bytes, cut at a character boundary', () => {
    const name = numberedName(10, 10, setDirName('1', '😀'.repeat(80)))
    assert.ok(bytes(name) <= 255)
    assert.ok(wellFormed(name))
    assert.ok(name.startsWith('10_Set 1 - 😀'))
  })
})
