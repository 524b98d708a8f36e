/**
 * An online mount's ops (file handles, async reads) answered to libfuse at once, without
 * fuse-native's per-op timers (mount.ts, fuse-binding.ts answerAtOnce): the handle `open` answers
 * must reach the reads of that open file, and a read that waits past its deadline must be answered
 * exactly once, by our deadline: the aborted read's own late end is not answered again.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { TreeSpec } from './fixture.js'
import { FixtureLab } from './harness.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

const OLD = '{"photos": ["1"]}\n'
const NEW = '{"photos": ["1", "2"], "note": "after the refresh, and longer"}\n'
const v1: TreeSpec = {
  photostream: { dir: { metadata: { text: OLD, ino: 40 }, '1.jpg': { original: '1', ext: 'jpg', ino: 41 } } },
  slow: { dir: { '9.jpg': { original: '9', ext: 'jpg', ino: 49 } } },
}
const v2: TreeSpec = {
  photostream: { dir: { metadata: { text: NEW, ino: 40, mtimeMs: Date.UTC(2022, 0, 1) }, '1.jpg': { original: '1', ext: 'jpg', ino: 41 } } },
  slow: { dir: { '9.jpg': { original: '9', ext: 'jpg', ino: 49 } } },
}

void describe('an online mount answered at once (no fuse-native op timers)', { skip }, () => {
  let ws: FixtureLab
  before(async () => {
    ws = await FixtureLab.create()
    await mkdir(ws.backing, { recursive: true })
    await writeFile(join(ws.backing, '1.jpg'), randomBytes(1024 * 1024 + 17))
    await writeFile(join(ws.backing, '9.jpg'), randomBytes(40_000))
  })
  after(async () => {
    await ws.cleanup()
  })

  void test('a file held open across a refresh reads the version it opened, after the kernel was told the new one', async () => {
    const mnt = await ws.mkdir('held')
    const s = await ws.serve({ mountpoint: mnt, tree: v1, options: { attrTimeoutSec: 1, negativeTimeoutSec: 1 } })
    const meta = join(mnt, 'photostream/metadata')
    // Opens the file, says so, waits for a line on stdin, then reads it whole through that open file.
    const py = 'import sys\nf=open(sys.argv[1],"rb")\nprint("opened",flush=True)\nsys.stdin.readline()\nsys.stdout.write(f.read().decode())'
    const holder = spawn('python3', ['-c', py, meta], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const done = new Promise<number | null>((res) => holder.on('exit', res))
    const t0 = Date.now()
    while (!out.includes('opened')) {
      assert.ok(Date.now() - t0 < 10_000, 'python never opened the file')
      await new Promise((r) => setTimeout(r, 20))
    }
    await s.swapTree(v2)
    // Once the attribute timeout has run out the kernel is told (and a new open would serve) v2.
    const t1 = Date.now()
    while (Number((await run('stat', ['-c', '%s', meta])).stdout) !== NEW.length) {
      assert.ok(Date.now() - t1 < 10_000, 'the new size never showed')
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal((await run('cat', [meta])).stdout, NEW)
    // Every read of the held file must reach the mount and be served from its own open (its handle):
    // by path it would be the new version.
    await writeFile('/proc/sys/vm/drop_caches', '1')
    holder.stdin.write('\n')
    assert.equal(await done, 0)
    assert.equal(out.replace(/^opened\n/, ''), OLD)
    // An original read through many opens, sequential and parallel, still gives every byte.
    const want = await readFile(join(ws.backing, '1.jpg'))
    const r = await run('sh', ['-c', `for i in 1 2 3 4 5 6; do cmp '${join(mnt, 'photostream/1.jpg')}' '${join(ws.backing, '1.jpg')}' & done; wait`])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stdout, '')
    assert.deepEqual(await readFile(join(mnt, 'photostream/1.jpg')), want)
  })

  void test('a read that outlives its deadline is answered once, with ETIMEDOUT, by our deadline; the mount serves on', async () => {
    const mnt = await ws.mkdir('late')
    // Every read of 9.jpg takes 2.5 s; the deadline is 1 s. fuse-native's own timer would have been 6 s.
    const s = await ws.serve({ mountpoint: mnt, tree: v1, slowMs: { '9': 2500 }, options: { readTimeoutMs: 1000 } })
    const late = await run('cat', [join(mnt, 'slow/9.jpg')])
    assert.notEqual(late.code, 0)
    assert.match(late.stderr, /Connection timed out/)
    // The kernel retries a failed readahead once with a plain read: up to two deadlines.
    assert.ok(late.ms >= 900 && late.ms < 4500, `ETIMEDOUT after ${late.ms} ms`)
    // The reads stopped by the deadline end later (aborted): their answers must go nowhere. Other
    // reads are served meanwhile.
    const busy = run('sh', ['-c', `for i in 1 2 3 4; do cmp '${join(mnt, 'photostream/1.jpg')}' '${join(ws.backing, '1.jpg')}' || exit 1; sleep 0.5; done`])
    await new Promise((r) => setTimeout(r, 3000))
    const b = await busy
    assert.equal(b.code, 0, b.stdout + b.stderr)
    // A second answer to a request libfuse had freed would crash or confuse the server: it serves on.
    assert.equal(s.child.exitCode, null, s.stderr())
    assert.equal((await run('cat', [join(mnt, 'photostream/metadata')])).stdout, OLD)
    assert.equal((await run('readlink', ['-e', join(mnt, 'photostream/1.jpg')])).code, 0)
    assert.deepEqual((await run('ls', [join(mnt, 'photostream')])).stdout.trim().split('\n'), ['1.jpg', 'metadata'])
  })
})
