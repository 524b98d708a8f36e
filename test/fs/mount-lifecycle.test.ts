import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { checkMountpoint, unmountPath } from '../../src/fs/index.js'
import { STAT_WINDOW } from '../../src/fs/dir-listing.js'
import type { TreeSpec } from './fixture.js'
import { FixtureLab } from './harness.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

const skip = await fuseUnusableReason()

const tree: TreeSpec = {
  photostream: {
    dir: {
      '1.jpg': { original: '1', ext: 'jpg', ino: 1001 },
      '1.jpg.metadata': { text: '{"id": "1"}\n' },
      '2.jpg': { original: '2', ext: 'jpg' },
    },
  },
  'Set 9 - S': { dir: { '1_1.jpg': { link: '../photostream/1.jpg' } } },
}

void describe('mount lifecycle', { skip }, () => {
  let ws: FixtureLab
  before(async () => {
    ws = await FixtureLab.create()
    await mkdir(ws.backing, { recursive: true })
    await writeFile(join(ws.backing, '1.jpg'), 'one'.repeat(1000))
    await writeFile(join(ws.backing, '2.jpg'), 'two'.repeat(1000))
  })
  after(async () => {
    await ws.cleanup()
  })

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    void test(`${sig} unmounts cleanly and exits 0`, async () => {
      const mnt = await ws.mkdir(`sig-${sig}`)
      const s = await ws.serve({ mountpoint: mnt, tree })
      assert.equal(await isMounted(mnt), true)
      s.child.kill(sig)
      const { code } = await s.exited
      assert.equal(code, 0, s.stderr())
      assert.match(s.stdout(), /EXIT 0/)
      assert.equal(await isMounted(mnt), false)
      assert.deepEqual(await readdir(mnt), [])
    })
  }

  void test('allow_other only when asked', async () => {
    const mnt = await ws.mkdir('other')
    const s = await ws.serve({ mountpoint: mnt, tree, options: { allowOther: true } })
    assert.match((await run('findmnt', ['-n', '-o', 'OPTIONS', mnt])).stdout, /allow_other/)
    s.child.kill('SIGTERM')
    assert.equal((await s.exited).code, 0)
  })

  void test('inode numbers are the same after a remount', async () => {
    const mnt = await ws.mkdir('ino')
    const list = async (): Promise<string> => (await run('ls', ['-iR', mnt])).stdout
    const s1 = await ws.serve({ mountpoint: mnt, tree })
    const first = await list()
    assert.match(first, /^1001 1\.jpg$/m)
    s1.child.kill('SIGTERM')
    await s1.exited
    const s2 = await ws.serve({ mountpoint: mnt, tree })
    assert.equal(await list(), first)
    const st = await stat(join(mnt, 'photostream/1.jpg'))
    assert.equal(st.ino, 1001)
    s2.child.kill('SIGTERM')
    assert.equal((await s2.exited).code, 0)
  })

  void test("readdir hands the kernel each entry's own inode and type (d_ino, d_type), as stat answers them", async () => {
    const mnt = await ws.mkdir('dirents')
    // Files, links and folders side by side with inode numbers of every size, in a folder of its
    // own, over more than two windows of the stats handed to the binding (dir-listing.ts wireStats).
    const mixed: TreeSpec = {}
    const entries = 2 * STAT_WINDOW + 40
    for (let i = 0; i < entries; i++) {
      const ino = 2 + ((i * 2654435761) % 2 ** 31)
      mixed[`e${i}`] = i % 3 === 0 ? { text: `${i}\n`, ino } : i % 3 === 1 ? { link: `e${i - 1}`, ino } : { dir: {}, ino }
    }
    const s = await ws.serve({ mountpoint: mnt, tree: { ...tree, mixed: { dir: mixed } } })
    const dir = join(mnt, 'mixed')
    // os.scandir's inode() is d_ino from the listing itself (ls -i stats each entry); withFileTypes is d_type.
    const py = 'import os, sys\nfor e in os.scandir(sys.argv[1]): print(e.inode(), e.name)'
    const listed = new Map((await run('python3', ['-c', py, dir])).stdout.trim().split('\n').map((l) => l.split(' ')).map(([ino, name]) => [name as string, Number(ino)]))
    const typed = new Map((await readdir(dir, { withFileTypes: true })).map((d) => [d.name, d.isFile() ? 'file' : d.isSymbolicLink() ? 'link' : d.isDirectory() ? 'dir' : 'other']))
    for (const name of Object.keys(mixed)) {
      const st = await lstat(join(dir, name))
      assert.equal(listed.get(name), st.ino, `d_ino of ${name}`)
      assert.equal(typed.get(name), st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'dir', `d_type of ${name}`)
    }
    assert.equal(typed.size, entries)
    assert.equal(listed.size, entries)
    s.child.kill('SIGTERM')
    assert.equal((await s.exited).code, 0)
  })

  void test('after kill -9 the stale mount is detected and cleared by the next mount', async () => {
    const mnt = await ws.mkdir('stale')
    const s1 = await ws.serve({ mountpoint: mnt, tree, options: { autoUnmount: false } })
    s1.child.kill('SIGKILL')
    await s1.exited
    await assert.rejects(stat(join(mnt, 'photostream')), { code: 'ENOTCONN' })
    assert.equal(await checkMountpoint(mnt), 'stale')
    const s2 = await ws.serve({ mountpoint: mnt, tree })
    const cat = await run('cat', [join(mnt, 'photostream/1.jpg.metadata')])
    assert.equal(cat.stdout, '{"id": "1"}\n')
    s2.child.kill('SIGINT')
    assert.equal((await s2.exited).code, 0)
    assert.equal(await isMounted(mnt), false)
  })

  void test('with autoUnmount (the default) a kill -9 leaves no mount behind, but for a race in fusermount that leaves it stale', async () => {
    // fusermount's watcher wakes when the last copy of its socket to the server closes, and unmounts
    // only if opening the mountpoint then fails with ENOTCONN. A process killed -9 closes that
    // socket (its higher fd) before /dev/fuse, so a watcher that gets ahead of the dying server
    // sees ECONNABORTED instead and leaves the mount stale (src/fs/mountpoint.ts exitingWithMount,
    // which a stop given up at its deadline runs, cannot run after kill -9). Seen in ~17% of kill
    // -9s on 2 busy cores, none on idle ones; the next mount clears such a mount (the test above).
    // So a kill -9 is tried up to 3 times: without auto_unmount every one would leave the mount behind.
    const mnt = await ws.mkdir('auto')
    const stale: number[] = []
    for (let attempt = 1; attempt <= 3; attempt++) {
      const s = await ws.serve({ mountpoint: mnt, tree })
      s.child.kill('SIGKILL')
      await s.exited
      const t0 = Date.now()
      const dropped = await waitUntil('the kernel drops the mount', async () => !(await isMounted(mnt)), 10_000).then(() => true, () => false)
      if (dropped) {
        process.stdout.write(`# auto_unmount took ${Date.now() - t0} ms (attempt ${attempt})\n`)
        assert.equal(await checkMountpoint(mnt), 'ready')
        return
      }
      assert.equal(await checkMountpoint(mnt), 'stale', 'a mount left behind serves nothing')
      stale.push(attempt)
      await unmountPath(mnt, { lazy: true })
    }
    assert.fail(`kill -9 left the mount behind in attempts ${stale.join(', ')}: auto_unmount did not drop it`)
  })

  void test('bad mountpoints are refused with a MOUNTPOINT error that says what to do', async () => {
    const missing = join(ws.dir, 'nope')
    await assert.rejects(checkMountpoint(missing), { code: 'MOUNTPOINT', message: /does not exist: create it first/ })
    const file = join(ws.dir, 'a-file')
    await writeFile(file, 'x')
    await assert.rejects(checkMountpoint(file), { code: 'MOUNTPOINT', message: /is not a directory/ })
    const full = await ws.mkdir('full')
    await writeFile(join(full, 'x'), 'x')
    await assert.rejects(checkMountpoint(full), { code: 'MOUNTPOINT', message: /is not empty/ })
    const live = await ws.mkdir('live')
    const s = await ws.serve({ mountpoint: live, tree })
    await assert.rejects(checkMountpoint(live), { code: 'MOUNTPOINT', message: /already a mount point \(fuse\.flickrfs/ })
    // and the mount command itself refuses, through the same check
    const second = await ws.serve({ mountpoint: live, tree }, { expectFailure: true })
    assert.equal((await second.exited).code, 3)
    assert.match(second.stderr(), /ERROR MOUNTPOINT mountpoint .*live is already a mount point/)
    const third = await ws.serve({ mountpoint: full, tree }, { expectFailure: true })
    assert.equal((await third.exited).code, 3)
    assert.match(third.stderr(), /is not empty/)
    s.child.kill('SIGTERM')
    await s.exited
  })

  void test('a busy mount is not unmounted lazily: the error names the holder', async () => {
    const mnt = await ws.mkdir('busy')
    const s = await ws.serve({ mountpoint: mnt, tree })
    const holder = spawn('sleep', ['60'], { cwd: join(mnt, 'photostream'), stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 200))
      await assert.rejects(unmountPath(mnt), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MOUNTPOINT')
        assert.match(err.message, new RegExp(`in use by pid ${holder.pid} \\(sleep: cwd\\)`))
        assert.match(err.message, /flickrfs unmount --lazy /)
        return true
      })
      assert.equal(await isMounted(mnt), true)
      // a signal to the server while busy: it says who holds it and keeps serving
      s.child.kill('SIGTERM')
      await waitUntil('the server reports the holder', () => Promise.resolve(/sleep: cwd/.test(s.stderr())), 10_000)
      assert.equal(await isMounted(mnt), true)
      assert.equal((await run('cat', [join(mnt, 'photostream/1.jpg.metadata')])).code, 0)
    } finally {
      holder.kill('SIGKILL')
    }
    await new Promise((r) => holder.on('exit', r))
    // unmounted from outside: the server notices and exits 0
    await unmountPath(mnt)
    const { code } = await s.exited
    assert.equal(code, 0)
    assert.deepEqual(await readdir(mnt), [])
    await assert.rejects(unmountPath(mnt), { code: 'MOUNTPOINT', message: /is not mounted/ })
  })
})
