/**
 * `--cache-size` bounds the unpinned originals a mount keeps, least recently read going first, and
 * never touches a pinned DEST. Read through a real mount served by a child process.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()
const BOUND = 60 * 1024

async function originalsIn(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const name of await readdir(join(root, 'photostream')).catch(() => [])) {
    if (name.endsWith('.metadata') || name === 'metadata' || name === 'SHA256SUMS') continue
    // Eviction may remove a file between readdir and stat: it is then simply not there.
    const st = await stat(join(root, 'photostream', name)).catch(() => undefined)
    if (st) out.set(name, st.size)
  }
  return out
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)

void describe('mount --cache-size (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let names: string[] = []

  before(async () => {
    fake = await startFake({ seed: 41, photos: 10, videos: 0, sets: 1, collections: 0, meanPhotoBytes: 20_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    names = fake.account.photostream.map((id) => mediaName(fake.account, id))
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('keeps unpinned originals within the bound, evicting the least recently read, and fetches an evicted one again', async () => {
    const cache = await lab.mkdir('cache')
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', cache, '--cache-size', '60K', '--refresh', '0'], env)
    const sizes = new Map(names.map((n) => [n, fake.account.requirePhoto(n.split('.')[0] ?? '').bytes] as const))
    const all = [...sizes.values()].reduce((a, b) => a + b, 0)
    assert.ok(all > 2 * BOUND, `the account (${all} bytes) must not fit the bound`)

    fake.resetCounts()
    for (const n of names) {
      const r = await run('sh', ['-c', `cat '${join(mnt, 'photostream', n)}' | wc -c`])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(Number(r.stdout.trim()), sizes.get(n), `${n} reads whole`)
    }
    assert.equal(fake.counts()['media:GET'], names.length, 'each original downloaded once')
    // A reader can finish its cat from the download's .part file before the store renames it into
    // photostream/ and records it, so wait for that too: the last download recorded and eviction done.
    // Eviction follows within milliseconds of the last download's end (store/evictor.ts: a run that
    // passed over downloads still in flight runs again when they end); 20 s is for a loaded machine.
    // Nothing else evicts: a cache left over its bound stays so, and this fails.
    const last = names[names.length - 1] ?? ''
    let seen = new Map<string, number>()
    await waitUntil('the last download is recorded and the cache is back within its bound', async () => {
      seen = await originalsIn(cache)
      return seen.has(last) && total(seen) <= BOUND
    }, 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: the cache holds ${total(seen)} bytes (bound ${BOUND}): ${[...seen.keys()].join(' ')}`)
    })
    const kept = await originalsIn(cache)
    assert.ok(kept.has(last), 'the most recently read original stays')
    assert.ok(!kept.has(names[0] ?? ''), 'the least recently read original went first')
    // SHA256SUMS still lists an evicted original with the sha256 it was downloaded with.
    const firstBytes = fake.account.originalBytes(names[0]?.split('.')[0] ?? '')
    const sums = await run('cat', [join(mnt, 'photostream', 'SHA256SUMS')])
    assert.equal(sums.code, 0, sums.stderr)
    assert.ok(sums.stdout.includes(`${createHash('sha256').update(firstBytes).digest('hex')}  ${names[0] ?? ''}\n`), sums.stdout)

    // The kernel may still hold the evicted file's pages (auto_cache), which is right for a reader
    // but would hide the store: drop the page cache so the read reaches flickrfs.
    await writeFile('/proc/sys/vm/drop_caches', '1')
    fake.resetCounts()
    const expected = join(lab.dir, 'expected-first')
    await writeFile(expected, firstBytes)
    const again = await run('cmp', [join(mnt, 'photostream', names[0] ?? ''), expected])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.equal(fake.counts()['media:GET'], 1, 'an evicted original is fetched again on its next read')
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })

  void it('never evicts a pinned DEST, whatever the bound', async () => {
    const dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    const before = await originalsIn(dest)
    assert.equal(before.size, names.length)
    const mnt = await lab.mkdir('mnt-pinned')
    const server = await lab.mount(mnt, ['--cache', dest, '--cache-size', '1K', '--refresh', '0'], env)
    const r = await run('sh', ['-c', names.map((n) => `cat '${join(mnt, 'photostream', n)}' > /dev/null`).join(' && ')])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
    assert.deepEqual(await originalsIn(dest), before, 'every pinned original is still there')
  })
})
