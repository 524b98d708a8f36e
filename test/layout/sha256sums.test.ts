import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { formatSha256Sums, parseSha256Sums } from '../../src/layout/index.js'
import { Sha256Lines } from '../../src/layout/sha256sums.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

void describe('formatSha256Sums', () => {
  void it('writes every line of thousands, sorted by name in byte order, as sha256sum -c reads them', () => {
    // More lines than the first buffer of hashes holds (1,024), in no order: it grows twice.
    const lines = Array.from({ length: 3000 }, (_, i) => ({ name: `${(i * 7919) % 3001}${i % 3 === 0 ? '.mp4' : '.jpg'}`, sha256: sha(String(i)) }))
    const expected = [...lines]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((l) => `${l.sha256}  ${l.name}\n`)
      .join('')
    const bytes = formatSha256Sums(lines)
    assert.equal(bytes.toString('utf8'), expected)
    const parsed = parseSha256Sums(bytes.toString('utf8'))
    assert.ok(parsed.ok)
    assert.equal(parsed.lines.size, 3000)
    assert.equal(parsed.lines.get(lines[1234]?.name as string), lines[1234]?.sha256)
  })

  void it('keeps the first line given for a name, and refuses what is not a sha256', () => {
    const bytes = formatSha256Sums([
      { name: '2.jpg', sha256: sha('a') },
      { name: '10.jpg', sha256: sha('b') },
      { name: '2.jpg', sha256: sha('c') },
    ])
    assert.equal(bytes.toString('utf8'), `${sha('b')}  10.jpg\n${sha('a')}  2.jpg\n`)
    assert.throws(() => formatSha256Sums([{ name: '1.jpg', sha256: 'A'.repeat(64) }]), /not a sha256 for 1\.jpg/)
    assert.equal(formatSha256Sums([]).length, 0)
  })

  void it('gives the same bytes a chunk at a time: whole lines, none over the bound but a longer line alone', () => {
    const lines = new Sha256Lines()
    for (let i = 0; i < 500; i++) lines.add(`${(i * 7919) % 501}.jpg`, sha(String(i)))
    lines.add('2.jpg', sha('a later line for a name: dropped'))
    const long = `${'9'.repeat(150)}.jpg`
    lines.add(long, sha('long'))
    const sorted = lines.sorted()
    const whole = lines.format()
    assert.equal(sorted.size, whole.length)
    assert.ok(sorted.bytes().equals(whole))
    // A line of a short name is 64 + 2 + 6 or 7 + 1 bytes: 3 lines fit in 256, the long one (221 bytes) alone.
    const chunks = [...sorted.chunks(256)]
    assert.ok(Buffer.concat(chunks).equals(whole))
    assert.ok(chunks.length > 150, `${chunks.length} chunks`)
    for (const c of chunks) {
      assert.equal(c[c.length - 1], 0x0a, 'a chunk ends a line')
      assert.ok(c.length <= 256, `${c.length} bytes`)
    }
    assert.ok(chunks.some((c) => c.toString('utf8') === `${sha('long')}  ${long}\n`), 'the long line in a chunk of its own')
    assert.deepEqual([...new Sha256Lines().sorted().chunks()], [])
  })

  void it('sorts names by their UTF-8 bytes, as LC_ALL=C sort does, where UTF-16 order differs', () => {
    // U+FF5A is 3 bytes (ef bd 9a) and sorts before the emoji's 4 (f0 9f 98 80); in UTF-16 the
    // emoji's surrogate (d83d) comes first. Names long enough to grow the names' buffer.
    const names = ['\u{1F600}.jpg', '\uFF5A.jpg', 'z.jpg', '\u00E9.jpg', `${'\u00E9'.repeat(300)}.jpg`]
    const lines = new Sha256Lines(1)
    for (const n of names) lines.add(n, sha(n))
    const order = lines.format().toString('utf8').trimEnd().split('\n').map((l) => l.slice(66))
    assert.deepEqual(order, ['z.jpg', '\u00E9.jpg', `${'\u00E9'.repeat(300)}.jpg`, '\uFF5A.jpg', '\u{1F600}.jpg'])
    assert.deepEqual(order, [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
  })
})
