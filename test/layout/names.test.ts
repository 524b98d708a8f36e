import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import {
  collectionDirName,
  cutToBytes,
  isSafeExt,
  isSafeFileName,
  isSafeId,
  isSafeSecret,
  mediaFileName,
  METADATA_SUFFIX,
  normalizeExt,
  numberedName,
  numberPrefix,
  parseCollectionDirName,
  parseMediaFileName,
  parseSetDirName,
  parseSidecarName,
  SAFE_ID,
  SAFE_SECRET,
  safeTitle,
  setDirName,
} from '../../src/layout/index.js'
import { safeId as catalogSafeId } from '../../src/catalog/records.js'
import { safeExt as storeSafeExt, safeId as storeSafeId, safeSecret as storeSafeSecret } from '../../src/store/safe-names.js'

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
  void it('isSafeId and isSafeSecret test what SAFE_ID and SAFE_SECRET match, whatever the string', () => {
    // Every character of the first 512 code points and a few far ones, first or later, and every length about the limit.
    const chars = [...Array.from({ length: 512 }, (_, c) => String.fromCharCode(c)), '\u00e9', '\u0130', '\u212a', '\ud83d', '\uff21', '\u0660']
    const strings: string[] = ['', ...[1, 2, 63, 64, 65, 66].map((n) => 'a'.repeat(n)), ...[63, 64, 65].map((n) => `1${'-'.repeat(n - 1)}`)]
    for (const c of chars) strings.push(c, `${c}a`, `a${c}`, `1${c}2`, `a${c}`.repeat(32), `${'b'.repeat(63)}${c}`)
    for (const s of strings) {
      assert.equal(isSafeId(s), SAFE_ID.test(s), `id ${JSON.stringify(s)}`)
      assert.equal(isSafeSecret(s), SAFE_SECRET.test(s), `secret ${JSON.stringify(s)}`)
    }
    assert.ok(strings.some((s) => isSafeId(s)) && strings.some((s) => !isSafeSecret(s)))
  })
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

/** Whether `f(value)` returns rather than throws. */
const accepts = (f: (v: unknown) => unknown, value: unknown): boolean => {
  try {
    f(value)
    return true
  } catch (err) {
    assert.ok(err instanceof FlickrfsError, String(err))
    return false
  }
}

const GOOD_IDS = ['1', '12345', '52345678901', '72157600000000001', '1000-72157600000000100', '12345678@N00', 'a', 'Z9', 'x'.repeat(64), '9_-@']
const BAD_IDS = ['', '.', '..', '-1', '_1', '@N00', '1/2', '/', '1\u00002', '1.2', ' 1', '1 ', '1\n', 'é1', 'x'.repeat(65), 12, null, undefined]
const GOOD_SECRETS = ['a1b2c3d4e5', '0', 'ABCdef_-', 'f'.repeat(64)]
const BAD_SECRETS = ['', '-a', '_a', 'a@b', 'a/b', 'a.b', 'a b', 'f'.repeat(65), 10]
const GOOD_EXTS = ['jpg', 'mp4', '3gp', 'heic', 'a', 'abcdefgh', '12345678']
const BAD_EXTS = ['', '.', '..', 'a/b', 'tar.gz', 'abcdefghi', 'jp g', 'a\u0000', 'jpé', ' jpg', 7]

void describe('one rule per kind of value', () => {
  void it('ids: 1 to 64 of [A-Za-z0-9_@-], starting with a letter or digit', () => {
    for (const id of GOOD_IDS) assert.ok(isSafeId(id), String(id))
    for (const id of BAD_IDS) assert.ok(!isSafeId(id), JSON.stringify(id))
  })
  void it('secrets: 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit, no @', () => {
    for (const s of GOOD_SECRETS) assert.ok(isSafeSecret(s), s)
    for (const s of BAD_SECRETS) assert.ok(!isSafeSecret(s), JSON.stringify(s))
  })
  void it('extensions: 1 to 8 letters or digits, any case (the name is built lower-case)', () => {
    for (const e of [...GOOD_EXTS, 'JPG', 'Mov']) assert.ok(isSafeExt(e), e)
    for (const e of BAD_EXTS) assert.ok(!isSafeExt(e), JSON.stringify(e))
  })
  void it('normalizeExt lower-cases and drops all but letters and digits, without rescuing a long one', () => {
    assert.equal(normalizeExt('JPG'), 'jpg')
    assert.equal(normalizeExt('.M-O V'), 'mov')
    assert.equal(normalizeExt(''), '')
    assert.equal(normalizeExt('../../etc'), 'etc')
    assert.ok(!isSafeExt(normalizeExt('abcdefghij')), 'a 10-letter format stays unsafe, not cut to a different one')
    for (const raw of ['jpg', 'PNG', 'a/b', 'x\u0000y', '€uro', 'tar.gz']) {
      const ext = normalizeExt(raw)
      assert.ok(ext === '' || /^[a-z0-9]+$/.test(ext), `${raw} -> ${ext}`)
      assert.equal(normalizeExt(raw), ext, 'same answer the second time (from its cache)')
    }
  })
  void it('the catalog keeps, and the store writes, exactly the ids, secrets and extensions the layout accepts', () => {
    for (const id of [...GOOD_IDS, ...BAD_IDS]) {
      const safe = isSafeId(id)
      assert.equal(catalogSafeId(id) !== null, safe || typeof id === 'number', `catalog ${JSON.stringify(id)}`)
      assert.equal(accepts(storeSafeId, id), safe, `store id ${JSON.stringify(id)}`)
    }
    for (const s of [...GOOD_SECRETS, ...BAD_SECRETS]) assert.equal(accepts(storeSafeSecret, s), isSafeSecret(s), `store secret ${JSON.stringify(s)}`)
    for (const e of [...GOOD_EXTS, ...BAD_EXTS]) assert.equal(accepts(storeSafeExt, e), isSafeExt(e), `store ext ${JSON.stringify(e)}`)
  })
})

const HOSTILE_TITLES = [
  'Pretty Waterfalls',
  '',
  '   ',
  '/',
  '/etc/passwd',
  '../../x',
  '..',
  ' - ',
  'Set 9 - nested',
  'a\u0000b\nc\u007f',
  '\u0001\u0002',
  'a\ud800b',
  'x'.repeat(300),
  'é'.repeat(200),
  '€'.repeat(100),
  '😀'.repeat(80),
  'ab ' + 'x '.repeat(150),
]

void describe('parsing names back into ids', () => {
  void it('every media file and sidecar name parses back to its id and extension', () => {
    for (const id of GOOD_IDS.filter((v): v is string => typeof v === 'string')) {
      for (const ext of [...GOOD_EXTS, 'JPG']) {
        const name = mediaFileName(id, ext)
        assert.deepEqual(parseMediaFileName(name), { id, ext: ext.toLowerCase() }, name)
        assert.deepEqual(parseSidecarName(name + METADATA_SUFFIX), { id, ext: ext.toLowerCase() }, name)
        assert.equal(parseSidecarName(name), undefined, `${name} is not a sidecar`)
        assert.equal(parseMediaFileName(name + METADATA_SUFFIX), undefined, `${name}.metadata is not a media file`)
      }
    }
  })
  void it('every set and collection directory name parses back to its id, whatever the title and budget', () => {
    for (const id of GOOD_IDS.filter((v): v is string => typeof v === 'string')) {
      for (const title of HOSTILE_TITLES) {
        for (const maxBytes of [255, 250, 200, `Set ${id} - `.length + 1]) {
          const set = setDirName(id, title, maxBytes)
          assert.equal(parseSetDirName(set), id, JSON.stringify(set))
          assert.equal(parseCollectionDirName(set), undefined, JSON.stringify(set))
          const coll = collectionDirName(id, title, maxBytes)
          assert.equal(parseCollectionDirName(coll), id, JSON.stringify(coll))
          assert.equal(parseSetDirName(coll), undefined, JSON.stringify(coll))
        }
      }
    }
  })
  void it('a name cut to exactly 255 bytes still parses', () => {
    const name = setDirName('72157600000000001', 'x'.repeat(300))
    assert.equal(bytes(name), 255)
    assert.equal(parseSetDirName(name), '72157600000000001')
    assert.equal(parseSetDirName(name + 'x'), undefined, '256 bytes is not a name we make')
  })
  void it('gives undefined for names the layout does not make', () => {
    for (const name of ['', '.', '..', 'metadata', 'photostream', 'Not in any set', '12345', '12345.', '.jpg', '12345.jpg.part', '12345.tar.gz',
      '-1.jpg', '1/2.jpg', '12345.abcdefghi', '12345.JPG', 'ABC.jpg.metadata.metadata', '1 .jpg', '12345.jpg~']) {
      assert.equal(parseMediaFileName(name), undefined, JSON.stringify(name))
      assert.equal(parseSidecarName(name), undefined, JSON.stringify(name))
    }
    assert.equal(parseSidecarName('.metadata'), undefined)
    assert.equal(parseSidecarName('1.metadata'), undefined, 'a media file named 1.metadata has no sidecar suffix left')
    for (const name of ['', 'Set', 'Set ', 'Set  1', 'set 1', 'Sets 1', 'Settings', 'Set 1 -', 'Set 1 - ', 'Set 1 x', 'Set 1  - t',
      'Set -1 - t', 'Set 1.2 - t', 'Set 1 - a\u0000b', 'Set 1 - a\nb', 'Set 1 - a/b', 'Set x'.padEnd(300, 'x'), 'Collection 1', '01_Set 1 - t', ' Set 1']) {
      assert.equal(parseSetDirName(name), undefined, JSON.stringify(name))
    }
    for (const name of ['Collection', 'Collection ', 'Collection 1 -', 'Collection 1 - ', 'Collection a/b', 'Set 1-2', 'collection 1-2']) {
      assert.equal(parseCollectionDirName(name), undefined, JSON.stringify(name))
    }
  })
})

void describe('isSafeFileName, the last check before pin writes a name', () => {
  void it('accepts every kind of name the layout makes, up to 255 bytes', () => {
    for (const name of ['metadata', 'photostream', 'Not in any set', '12345.jpg', '12345.jpg.metadata', setDirName('1', 'x'.repeat(300)),
      numberedName(3, 12, collectionDirName('1-2', 'Trips ..')), '..a', 'a..', '.hidden', 'é'.repeat(127)]) {
      assert.equal(isSafeFileName(name), true, JSON.stringify(name))
    }
  })
  void it('refuses anything that is not exactly one path component', () => {
    for (const name of ['', '.', '..', 'a/b', '/', '../x', 'a\u0000b', 'x'.repeat(256), 'é'.repeat(128)]) {
      assert.equal(isSafeFileName(name), false, JSON.stringify(name))
    }
  })
})
