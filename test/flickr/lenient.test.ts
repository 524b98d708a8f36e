import { test } from 'node:test'
import assert from 'node:assert/strict'
import { asArray, textOf, toInt, toStr } from '../../src/flickr/index.js'
import { filenameFromContentDisposition, rewriteToOrigin } from '../../src/flickr/index.js'

void test('toInt accepts numbers and numeric strings, falls back on anything else', () => {
  assert.equal(toInt(487, 0), 487)
  assert.equal(toInt('4559', 0), 4559)
  assert.equal(toInt(' 150 ', 0), 150)
  assert.equal(toInt('12.0', 0), 12)
  assert.equal(toInt('', 7), 7)
  assert.equal(toInt('abc', 7), 7)
  assert.equal(toInt('12abc', 7), 7)
  assert.equal(toInt(null, 7), 7)
  assert.equal(toInt(undefined, -1), -1)
  assert.equal(toInt(Number.NaN, 3), 3)
  assert.equal(toInt({}, 3), 3)
})

void test('textOf reads plain strings and {_content}; toStr takes numeric ids', () => {
  assert.equal(textOf('Holiday'), 'Holiday')
  assert.equal(textOf({ _content: 'Holiday' }), 'Holiday')
  assert.equal(textOf(undefined, '-'), '-')
  assert.equal(toStr(12345), '12345')
  assert.equal(toStr(null, 'x'), 'x')
})

void test('asArray treats a missing list, [] and a lone object alike', () => {
  assert.deepEqual(asArray(undefined), [])
  assert.deepEqual(asArray([]), [])
  assert.deepEqual(asArray({ id: '1' }), [{ id: '1' }])
  assert.deepEqual(asArray([{ id: '1' }, null]), [{ id: '1' }])
})

void test('Content-Disposition gives a bare file name, never a path', () => {
  assert.equal(filenameFromContentDisposition('attachment; filename="12345.mov"'), '12345.mov')
  assert.equal(filenameFromContentDisposition('attachment; filename=12345.mp4'), '12345.mp4')
  assert.equal(filenameFromContentDisposition("attachment; filename*=UTF-8''caf%C3%A9.mov"), 'café.mov')
  assert.equal(filenameFromContentDisposition('attachment; filename="../../etc/passwd"'), 'passwd')
  assert.equal(filenameFromContentDisposition('attachment; filename=".."'), null)
  assert.equal(filenameFromContentDisposition('inline'), null)
  assert.equal(filenameFromContentDisposition(null), null)
})

void test('rewriteToOrigin moves only the three Flickr API hosts, keeping path and query', () => {
  const o = 'http://127.0.0.1:8080'
  assert.equal(rewriteToOrigin('https://api.flickr.com/services/rest?method=x&a=1', o),
    'http://127.0.0.1:8080/services/rest?method=x&a=1')
  assert.equal(rewriteToOrigin('https://www.flickr.com/services/oauth/authorize?perms=read&oauth_token=t', o),
    'http://127.0.0.1:8080/services/oauth/authorize?perms=read&oauth_token=t')
  assert.equal(rewriteToOrigin('https://up.flickr.com/services/upload', o), 'http://127.0.0.1:8080/services/upload')
  assert.equal(rewriteToOrigin('https://live.staticflickr.com/65535/1_a_o.jpg', o), 'https://live.staticflickr.com/65535/1_a_o.jpg')
  assert.equal(rewriteToOrigin('https://api.flickr.com/services/rest', undefined), 'https://api.flickr.com/services/rest')
  assert.equal(rewriteToOrigin('https://api.flickr.com/services/rest', 'http://h:1/prefix/'), 'http://h:1/prefix/services/rest')
})
