import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { TreeSpec } from './fixture.js'
import { FixtureLab, type Served } from './harness.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run, sh } from '../support/run.js'
import { waitUntil } from '../support/wait.js'
import { writeReference } from './reference.js'

const skip = await fuseUnusableReason()

const tree: TreeSpec = {
  photostream: {
    dir: {
      metadata: { text: '{"photos": ["100", "101"]}\n' },
      '100.jpg': { original: '100', ext: 'jpg', mtimeMs: Date.UTC(2019, 0, 2, 3, 4, 5) },
      '100.jpg.metadata': { text: '{"id": "100", "title": "Waterfall"}\n' },
      '101.mov': { original: '101', ext: 'mov' },
      '101.mov.metadata': { text: '{"id": "101"}\n' },
      'empty.txt': { text: '' },
    },
  },
  'Not in any set': { dir: { '101.mov': { link: '../photostream/101.mov' } } },
  'Set 72157600000000001 - Pretty Waterfalls': {
    dir: {
      metadata: { text: '{"id": "72157600000000001", "photos": ["100", "101"]}\n' },
      '1_100.jpg': { link: '../photostream/100.jpg' },
      '2_101.mov': { link: '../photostream/101.mov' },
    },
  },
  'Collection 1000-72157600000000100 - Travel': {
    dir: {
      metadata: { text: '{"id": "1000-72157600000000100"}\n' },
      '1_Set 72157600000000001 - Pretty Waterfalls': { link: '../Set 72157600000000001 - Pretty Waterfalls' },
      '2_Collection 1000-72157600000000201 - Europe': {
        dir: {
          metadata: { text: '{"id": "1000-72157600000000201"}\n' },
          '1_Set 72157600000000001 - Pretty Waterfalls': { link: '../../Set 72157600000000001 - Pretty Waterfalls' },
        },
      },
    },
  },
  many: { many: { count: 2000, text: 'x\n' } },
}
// Served by the same mount, but never copied whole: slow, failing and hanging originals.
const trouble: TreeSpec = {
  '102.jpg': { original: '102', ext: 'jpg' },
  '103.jpg': { original: '103', ext: 'jpg' },
  '104.jpg': { original: '104', ext: 'jpg' },
}
// Thirty slow originals, read all at once as a thumbnailer would.
const PARALLEL = 30
const parallel: TreeSpec = Object.fromEntries(Array.from({ length: PARALLEL }, (_, i) => [`p${i}.jpg`, { original: `p${i}`, ext: 'jpg' }]))

/**
 * A lab whose backing store holds the tree's two big originals and `extra` (name → size) of random
 * bytes, the reference tree pin would write from them, and an empty mountpoint.
 */
async function layoutLab(extra: Record<string, number>): Promise<{ ws: FixtureLab; ref: string; mnt: string }> {
  const ws = await FixtureLab.create()
  await mkdir(ws.backing, { recursive: true })
  const files: Record<string, number> = { '100.jpg': 3 * 1024 * 1024 + 123, '101.mov': 200_001, ...extra }
  for (const [name, size] of Object.entries(files)) await writeFile(join(ws.backing, name), randomBytes(size))
  const ref = join(ws.dir, 'ref')
  await writeReference(tree, ref, ws.backing)
  return { ws, ref, mnt: await ws.mkdir('mnt') }
}

void describe('a mounted layout, read through real tools', { skip }, () => {
  let ws: FixtureLab
  let mnt: string
  let ref: string
  let served: Served

  before(async () => {
    ;({ ws, ref, mnt } = await layoutLab({ '102.jpg': 50_000, '103.jpg': 50_000, '104.jpg': 50_000, ...Object.fromEntries(Array.from({ length: PARALLEL }, (_, i) => [`p${i}.jpg`, 20_000])) }))
    served = await ws.serve({
      mountpoint: mnt,
      tree: { ...tree, trouble: { dir: trouble }, parallel: { dir: parallel } },
      slowMs: { '102': 3000, '104': 60_000, ...Object.fromEntries(Array.from({ length: PARALLEL }, (_, i) => [`p${i}`, 3000])) },
      fail: ['103'],
      options: { readTimeoutMs: 4000 },
    })
  })
  after(async () => {
    await ws.cleanup()
  })

  void test('stat gives exact sizes, blocks, modes, links and owner before any byte is read', async () => {
    const r = await sh(`cd '${mnt}' && stat -c '%n|%s|%b|%B|%a|%F|%h|%u|%o' photostream/100.jpg photostream/101.mov photostream/empty.txt photostream 'Set 72157600000000001 - Pretty Waterfalls/1_100.jpg' .`)
    assert.equal(r.code, 0, r.stderr)
    const rows = r.stdout.trim().split('\n').map((l) => l.split('|'))
    const uid = String(process.getuid?.() ?? 0)
    assert.deepEqual(rows[0], ['photostream/100.jpg', String(3 * 1024 * 1024 + 123), String(Math.ceil((3 * 1024 * 1024 + 123) / 512)), '512', '644', 'regular file', '1', uid, '131072'])
    assert.deepEqual(rows[1]?.slice(0, 5), ['photostream/101.mov', '200001', String(Math.ceil(200_001 / 512)), '512', '644'])
    assert.deepEqual(rows[2]?.slice(0, 3), ['photostream/empty.txt', '0', '0'])
    assert.deepEqual(rows[3]?.slice(4, 7), ['755', 'directory', '2'])
    assert.deepEqual(rows[4]?.slice(1, 6), [String('../photostream/100.jpg'.length), '1', '512', '777', 'symbolic link'])
    // root: 2 + its 7 subdirectories
    assert.deepEqual(rows[5]?.slice(4, 7), ['755', 'directory', '9'])
  })

  void test('the whole tree equals what pin would write: names, kinds, sizes, mtimes, link targets', async () => {
    const listing = (dir: string): Promise<string> =>
      sh(`cd '${dir}' && find . \\( -path ./trouble -o -path ./parallel \\) -prune -o -printf '%y %s %T@ %m %p %l\\n' | LC_ALL=C sort`).then((r) => {
        assert.equal(r.code, 0, r.stderr)
        return r.stdout
      })
    const [a, b] = [await listing(mnt), await listing(ref)]
    // directory sizes differ between filesystems; everything else must match
    const norm = (s: string): string => s.replace(/^d \d+ /gm, 'd - ')
    const [la, lb] = [norm(a).split('\n'), norm(b).split('\n')]
    assert.deepEqual(la.filter((l) => !lb.includes(l)), [])
    assert.deepEqual(lb.filter((l) => !la.includes(l)), [])
    assert.equal(la.length, lb.length)
    assert.equal(a.split('\n').filter((l) => l.startsWith('l ')).length, 5)
    const diff = await run('diff', ['-r', '--exclude=trouble', '--exclude=parallel', mnt, ref])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
  })

  void test('rsync sees no difference, and a second rsync -a copies nothing', async () => {
    const dry = await run('rsync', ['-a', '--dry-run', '--itemize-changes', '--exclude=/trouble', '--exclude=/parallel', `${mnt}/`, `${ref}/`])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.stdout.trim(), '')
    const copy = join(ws.dir, 'rsync-copy')
    const first = await run('rsync', ['-a', '--stats', '--exclude=/trouble', '--exclude=/parallel', `${mnt}/`, `${copy}/`])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /Number of regular files transferred: 2,?009/)
    const second = await run('rsync', ['-a', '--stats', '--exclude=/trouble', '--exclude=/parallel', `${mnt}/`, `${copy}/`])
    assert.match(second.stdout, /Number of regular files transferred: 0\b/)
    assert.match(second.stdout, /Total transferred file size: 0 bytes/)
  })

  void test('contents match byte for byte, also through symlinks', async () => {
    for (const p of ['photostream/100.jpg', 'photostream/101.mov', 'photostream/100.jpg.metadata', 'Set 72157600000000001 - Pretty Waterfalls/1_100.jpg', 'Collection 1000-72157600000000100 - Travel/2_Collection 1000-72157600000000201 - Europe/1_Set 72157600000000001 - Pretty Waterfalls/2_101.mov']) {
      const r = await run('cmp', [join(mnt, p), join(ref, p)])
      assert.equal(r.code, 0, `${p}: ${r.stdout}${r.stderr}`)
    }
    const link = await run('readlink', [join(mnt, 'Not in any set/101.mov')])
    assert.equal(link.stdout.trim(), '../photostream/101.mov')
    const real = await run('realpath', [join(mnt, 'Collection 1000-72157600000000100 - Travel/1_Set 72157600000000001 - Pretty Waterfalls/1_100.jpg')])
    assert.equal(real.stdout.trim(), join(mnt, 'photostream/100.jpg'))
    // fs/promises from this (non-serving) process reads the same bytes
    assert.deepEqual(await readFile(join(mnt, 'photostream/101.mov')), await readFile(join(ref, 'photostream/101.mov')))
  })

  void test('du counts the real size, and tar --sparse round-trips every byte', async () => {
    const apparent = await run('du', ['-s', '--block-size=1', '--apparent-size', join(mnt, 'photostream')])
    const disk = await run('du', ['-s', '--block-size=1', join(mnt, 'photostream')])
    const a = Number(apparent.stdout.split('\t')[0])
    const d = Number(disk.stdout.split('\t')[0])
    assert.ok(a > 3_300_000, `apparent ${a}`)
    assert.ok(d >= a - 4096 && d < a + 64 * 1024, `du ${d} vs apparent ${a}`)
    const out = join(ws.dir, 'untar')
    await mkdir(out)
    const tar = await sh(`tar --sparse --exclude=./trouble --exclude=./parallel -C '${mnt}' -cf - . | tee '${ws.dir}/a.tar' | tar -C '${out}' -xf - && tar -tvf '${ws.dir}/a.tar' | grep ' ./photostream/100.jpg$'`)
    assert.equal(tar.code, 0, tar.stderr)
    assert.match(tar.stdout, /3145851 /)
    const diff = await run('diff', ['-r', out, ref])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
  })

  void test('mmap of an original reads the same bytes', async () => {
    const py = 'import mmap,sys,hashlib\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,access=mmap.ACCESS_READ)\nprint(len(m), hashlib.sha256(m[:]).hexdigest())'
    const a = await run('python3', ['-c', py, join(mnt, 'photostream/100.jpg')])
    const b = await run('python3', ['-c', py, join(ref, 'photostream/100.jpg')])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(a.stdout, b.stdout)
  })

  void test('eight concurrent readers of one file all get every byte', async () => {
    const r = await sh(`for i in 1 2 3 4 5 6 7 8; do sha256sum < '${mnt}/photostream/100.jpg' & done; wait`)
    const want = (await run('sha256sum', [join(ref, 'photostream/100.jpg')])).stdout.split(' ')[0]
    const sums = r.stdout.trim().split('\n').map((l) => l.split(' ')[0])
    assert.equal(sums.length, 8)
    for (const s of sums) assert.equal(s, want)
  })

  void test('every kind of write is refused with EROFS', async () => {
    const cmds = [
      `touch '${mnt}/new'`,
      `mkdir '${mnt}/photostream/d'`,
      `rm '${mnt}/photostream/100.jpg.metadata'`,
      `rmdir '${mnt}/Not in any set'`,
      `mv '${mnt}/photostream/metadata' '${mnt}/photostream/m2'`,
      `echo x >> '${mnt}/photostream/metadata'`,
      `chmod 600 '${mnt}/photostream/metadata'`,
      `ln -s x '${mnt}/photostream/l'`,
      `truncate -s 0 '${mnt}/photostream/metadata'`,
      `touch -d @0 '${mnt}/photostream/metadata'`,
    ]
    for (const c of cmds) {
      const r = await sh(c)
      assert.notEqual(r.code, 0, c)
      assert.match(r.stderr, /Read-only file system/, `${c}: ${r.stderr}`)
    }
    await assert.rejects(open(join(mnt, 'photostream/metadata'), 'r+'), { code: 'EROFS' })
    await assert.rejects(writeFile(join(mnt, 'x'), 'x'), { code: 'EROFS' })
    const still = await run('stat', ['-c', '%s', join(mnt, 'photostream/metadata')])
    assert.equal(still.stdout.trim(), String('{"photos": ["100", "101"]}\n'.length))
  })

  void test('a slow original does not hold up ls, stat or other reads', async () => {
    const before = await served.slowReads()
    let settled = false
    const slow = sh(`cat '${mnt}/trouble/102.jpg' | cmp - '${ws.backing}/102.jpg'`).finally(() => (settled = true))
    await waitUntil('the slow read is held', async () => (await served.slowReads()).held > before.held, 10_000)
    const ls = await run('ls', ['-l', join(mnt, 'many')])
    const st = await run('stat', [join(mnt, 'trouble/103.jpg')])
    const cat = await run('cat', [join(mnt, 'photostream/100.jpg.metadata')])
    // All three answered while the read was still held (3 s): none waited behind it.
    assert.equal(settled, false, 'the slow read finished before the others did: they waited for it')
    assert.equal(ls.code, 0)
    assert.equal(ls.stdout.trim().split('\n').length, 2001)
    assert.equal(st.code, 0)
    assert.equal(cat.code, 0)
    const r = await slow
    assert.equal(r.code, 0, r.stderr)
  })

  void test('a failing original gives EIO at once, a hung one ETIMEDOUT at the deadline', async () => {
    const fail = await run('cat', [join(mnt, 'trouble/103.jpg')])
    assert.notEqual(fail.code, 0)
    assert.match(fail.stderr, /Input\/output error/)
    assert.ok(fail.ms < 1500, `EIO took ${fail.ms} ms`)
    const hung = await run('cat', [join(mnt, 'trouble/104.jpg')])
    assert.notEqual(hung.code, 0)
    assert.match(hung.stderr, /Connection timed out/)
    // The kernel retries a failed readahead once with a plain read: up to two deadlines.
    assert.ok(hung.ms > 3500 && hung.ms < 10_000, `timeout took ${hung.ms} ms`)
    // the mount still serves afterwards
    const ok = await run('cmp', [join(mnt, 'photostream/101.mov'), join(ref, 'photostream/101.mov')])
    assert.equal(ok.code, 0)
  })

  void test('thirty parallel readers of slow originals are all served at once', async () => {
    const r = await sh(`cd '${mnt}/parallel' && for f in *.jpg; do cmp "$f" '${ws.backing}'/"$f" & done; wait`)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stdout, '')
    // Each original's read is held 3 s: every reader's read reaches us while the others wait.
    const { peak } = await served.slowReads()
    assert.equal(peak, PARALLEL, `at most ${peak} of ${PARALLEL} slow reads were held at once`)
  })

  void test('statfs answers from the tree: read-only, sizes add up, nothing free', async () => {
    const r = await run('stat', ['-f', '-c', '%S %b %f %a %c %d %l', mnt])
    assert.equal(r.code, 0, r.stderr)
    const [frsize, blocks, bfree, bavail, files, ffree, namemax] = r.stdout.trim().split(' ').map(Number)
    assert.equal(frsize, 4096)
    assert.ok((blocks ?? 0) * 4096 >= 3 * 1024 * 1024 + 200_001 + 150_000)
    assert.deepEqual([bfree, bavail, ffree, namemax], [0, 0, 0, 255])
    assert.ok((files ?? 0) > 2000)
    const opts = await run('findmnt', ['-n', '-o', 'OPTIONS,FSTYPE,SOURCE', mnt])
    assert.match(opts.stdout, /^ro,/)
    assert.match(opts.stdout, /fuse\.flickrfs\s+flickrfs/)
    assert.doesNotMatch(opts.stdout, /allow_other/)
  })
})

// An offline mount's way of serving (mount.ts): no file handles, no fuse-native op timers, and
// getattr, readlink, readdir and read answered to libfuse at once (fuse-binding.ts answerAtOnce).
// This fixture's reader has no synchronous path, so reads take the async one, answered later.
void describe('the same layout served as an offline mount is (answered at once, no op timers)', { skip }, () => {
  let ws: FixtureLab
  let mnt: string
  let ref: string

  before(async () => {
    ;({ ws, ref, mnt } = await layoutLab({ '103.jpg': 50_000 }))
    await ws.serve({
      mountpoint: mnt,
      tree: { ...tree, trouble: { dir: { '103.jpg': { original: '103', ext: 'jpg' } } } },
      fail: ['103'],
      options: { readTimeoutMs: 4000, fileHandles: false, syncLocalReads: true },
    })
  })
  after(async () => {
    await ws.cleanup()
  })

  void test('tar of the mount extracts to the same tree and bytes as pin would write', async () => {
    const out = await ws.mkdir('tar-out')
    const tar = await sh(`tar --exclude=./trouble -C '${mnt}' -cf - . | tar -C '${out}' -xf -`)
    assert.equal(tar.code, 0, tar.stderr)
    const diff = await run('diff', ['-r', '--no-dereference', out, ref])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    const listing = (dir: string): Promise<string> => sh(`cd '${dir}' && find . -path ./trouble -prune -o -printf '%y %s %T@ %m %p %l\\n'`).then((r) => r.stdout.replace(/^d \d+ /gm, 'd - ').split('\n').sort().join('\n'))
    assert.equal(await listing(mnt), await listing(ref))
  })

  void test('a missing name is ENOENT, a failing original EIO, and the mount serves on', async () => {
    const missing = await run('stat', [join(mnt, 'photostream/nope.jpg')])
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /No such file or directory/)
    const fail = await run('cat', [join(mnt, 'trouble/103.jpg')])
    assert.notEqual(fail.code, 0)
    assert.match(fail.stderr, /Input\/output error/)
    const link = await run('readlink', [join(mnt, 'Not in any set/101.mov')])
    assert.equal(link.stdout.trim(), '../photostream/101.mov')
    const ok = await run('cmp', [join(mnt, 'photostream/100.jpg'), join(ref, 'photostream/100.jpg')])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
  })
})
