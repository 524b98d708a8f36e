import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DEFAULT_MTIME_MS, type TreeSpec } from './fixture.js'
import { FixtureLab } from './harness.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()
const ATTR_TIMEOUT_SEC = 4

const v1: TreeSpec = {
  photostream: {
    dir: {
      metadata: { text: '{"photos": ["1"]}\n' },
      '1.jpg': { original: '1', ext: 'jpg', ino: 50 },
      'gone.jpg.metadata': { text: 'old\n', ino: 51 },
    },
  },
}
const v2: TreeSpec = {
  photostream: {
    dir: {
      metadata: { text: '{"photos": ["3", "1"], "note": "longer after the refresh"}\n', mtimeMs: DEFAULT_MTIME_MS + 60_000 },
      '1.jpg': { original: '1', ext: 'jpg', ino: 50 },
      '3.jpg.metadata': { text: 'new\n', ino: 53 },
    },
  },
}

void describe('a refresh (tree swap) under a live mount', { skip }, () => {
  let ws: FixtureLab
  before(async () => {
    ws = await FixtureLab.create()
    await mkdir(ws.backing, { recursive: true })
    await writeFile(join(ws.backing, '1.jpg'), 'jpeg'.repeat(5000))
  })
  after(async () => {
    await ws.cleanup()
  })

  void test('names change at once; a changed file is old-and-whole, then new-and-whole within attrTimeout', async () => {
    const mnt = await ws.mkdir('mnt')
    const s = await ws.serve({ mountpoint: mnt, tree: v1, options: { attrTimeoutSec: ATTR_TIMEOUT_SEC, negativeTimeoutSec: 1 } })
    const meta = join(mnt, 'photostream/metadata')
    const size = async (): Promise<number> => Number((await run('stat', ['-c', '%s', meta])).stdout)
    // stat only: no read, so the page cache cannot hide what the mount serves
    assert.equal(await size(), 18)

    await s.swapTree(v2)
    const swappedAt = Date.now()
    // readdir is not cached by the kernel: the listing is new immediately
    assert.deepEqual((await run('ls', [join(mnt, 'photostream')])).stdout.trim().split('\n'), ['1.jpg', '3.jpg.metadata', 'metadata'])
    // inside the window the kernel still holds the old size, and reads the old bytes whole
    // Several opens, none of which may serve the new bytes (they would be cut at the old size).
    // The page cache is dropped before each, so every read reaches the mount (needs root, as CI is).
    for (let i = 0; i < 3; i++) {
      await writeFile('/proc/sys/vm/drop_caches', '1')
      const during = await run('cat', [meta])
      assert.equal(during.stdout, '{"photos": ["1"]}\n', `open ${i + 1} in the window`)
    }
    const sizeDuring = await size()
    assert.equal(sizeDuring, 18)

    // The kernel took the old size before the swap, so a stat that starts later than attrTimeout
    // after the swap must reach the mount and see the new one. Judged by when each stat started,
    // not when it answered: a loaded machine slows the answers, not the kernel's expiry.
    let seenNewAfterMs = -1
    let oldStartedAfterMs = 0
    while (Date.now() - swappedAt < (ATTR_TIMEOUT_SEC + 10) * 1000) {
      const startedAfterMs = Date.now() - swappedAt
      if ((await size()) !== 18) {
        seenNewAfterMs = Date.now() - swappedAt
        break
      }
      oldStartedAfterMs = startedAfterMs
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(seenNewAfterMs >= 0, 'the new size never showed')
    assert.ok(oldStartedAfterMs <= ATTR_TIMEOUT_SEC * 1000 + 250, `a stat started ${oldStartedAfterMs} ms after the swap still saw the old size`)
    const after = await run('cat', [meta])
    assert.equal(after.stdout, '{"photos": ["3", "1"], "note": "longer after the refresh"}\n')
    const mtime = (await run('stat', ['-c', '%Y', meta])).stdout.trim()
    assert.equal(mtime, String((DEFAULT_MTIME_MS + 60_000) / 1000))
    assert.equal((await run('stat', [join(mnt, 'photostream/gone.jpg.metadata')])).code, 1)
    assert.equal((await run('cat', [join(mnt, 'photostream/3.jpg.metadata')])).stdout, 'new\n')
    // an unchanged file keeps its inode across the refresh
    assert.equal((await run('stat', ['-c', '%i', join(mnt, 'photostream/1.jpg')])).stdout.trim(), '50')
    process.stdout.write(`# new size visible ${seenNewAfterMs} ms after the swap (attrTimeout ${ATTR_TIMEOUT_SEC} s)\n`)
  })
})
