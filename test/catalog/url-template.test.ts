/**
 * A listing page stores an original's URL as a template with the photo's id and secret cut out
 * (src/catalog/listing-pages.ts urlTemplate), and gives it back with urlOf. The URL given back is
 * the one stored, for any URL, id and secret (the marks' bytes in them included), and urlOf puts
 * the secret, then the id, where a template holds their marks, exactly as two split-joins do.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { urlOf, urlTemplate } from '../../src/catalog/listing-pages.js'
import { prng } from '../../src/fake-flickr/generate.js'

/** What urlOf gives, as it was first written: the secret at each \x02, then the id at each \x01 of that. */
const reference = (template: string, id: string, secret: string): string =>
  template.startsWith('\0') ? template.slice(1) : template.split('\x02').join(secret).split('\x01').join(id)

void test('urlOf gives back every URL urlTemplate cut up, whatever the URL, id and secret hold', () => {
  const rand = prng(11)
  const pick = (s: string): string => s[Math.floor(rand() * s.length)] as string
  const text = (alphabet: string, max: number): string => Array.from({ length: Math.floor(rand() * max) }, () => pick(alphabet)).join('')
  const alphabet = 'ab01_/.$&\x00\x01\x02'
  let templated = 0
  for (let i = 0; i < 5000; i++) {
    const id = rand() < 0.8 ? String(Math.floor(rand() * 1e11)) : text(alphabet, 6)
    const secret = rand() < 0.8 ? Math.floor(rand() * 2 ** 40).toString(16) : text(alphabet, 6)
    // Most URLs hold the id and secret (once, twice, or overlapping text); some hold neither.
    const url = rand() < 0.7
      ? `https://live.staticflickr.com/${text('0123456789', 5)}/${id}_${secret}_o.${text('jpgmp4', 3)}${rand() < 0.2 ? `?${id}${secret}` : ''}`
      : text(alphabet, 30)
    const template = urlTemplate(url, id, secret)
    if (!template.startsWith('\0') && (template.includes('\x01') || template.includes('\x02'))) templated++
    assert.equal(urlOf(template, id, secret), url, JSON.stringify({ url, id, secret, template }))
  }
  // The marks were put in (a URL kept whole behind \0 would pass without testing urlOf's work).
  assert.ok(templated > 2500, `${templated} URLs templated`)
})

void test('urlOf puts the secret, then the id, at the marks of any template, as two split-joins do', () => {
  const rand = prng(12)
  const pick = (s: string): string => s[Math.floor(rand() * s.length)] as string
  const text = (alphabet: string, max: number): string => Array.from({ length: Math.floor(rand() * max) }, () => pick(alphabet)).join('')
  const cases: Array<[string, string, string]> = [
    ['https://h/\x01_\x02_o.jpg', '123', 'abc'],
    ['\x02/\x01', '1', '2'],
    ['\x01\x01\x02\x02', '$&', '$1'],
    ['a\x02b\x01c', 'ID', 'x\x01y'],
    ['no marks', '1', '2'],
    ['', '1', '2'],
    ['\0kept \x01 whole \x02', '1', '2'],
    ['\x01', '', ''],
  ]
  for (let i = 0; i < 3000; i++) cases.push([text('ab\x01\x02', 12), text('0123$&\x01', 5), text('cdef$\x01\x02', 5)])
  for (const [template, id, secret] of cases) {
    assert.equal(urlOf(template, id, secret), reference(template, id, secret), JSON.stringify({ template, id, secret }))
  }
})
