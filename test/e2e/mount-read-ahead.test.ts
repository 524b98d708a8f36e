/**
 * Read-ahead across files (src/fs/walk-ahead.ts) through `flickrfs mount` against the fake Flickr
 * over HTTP, with media latency: a reader walking a folder finds the next originals already in the
 * cache; `ls -l` and `stat` of everything fetch nothing; one read fetches at most a small window;
 * the cache bound holds and nothing the walk is about to read is evicted; unmount with prefetches
 * in flight is clean and quick. Hits are counted by looking at the cache folder before each open.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, mediaName, startFake } from '../pin/helpers.js'
import { mediaGets, q } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { sh } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

const skip = await fuseUnusableReason()
const PHOTOS = 40
const LATENCY_MS = 150

/** Bytes of the originals now under CACHE/photostream (sidecars aside). */
async function cachedBytes(cache: string): Promise<number> {
  let sum = 0
  for (const name of await readdir(join(cache, 'photostream')).catch(() => [] as string[])) {
    if (name.endsWith('.metadata') || name === 'metadata') continue
    sum += (await stat(join(cache, 'photostream', name)).catch(() => undefined))?.size ?? 0
  }
  return sum
}

/**
 * Reads every path in `paths` (relative to `mnt`) whole, one after another, as a backup tool does;
 * before each open notes whether its original was already in CACHE/photostream (a hit).
 * Returns the hits and misses in order, and the cache's original bytes after each read.
 */
async function walk(mnt: string, cache: string, paths: string[]): Promise<{ hits: boolean[]; ms: number }> {
  const script = paths.map((p) => {
    const file = join(mnt, p)
    return `n=$(basename "$(readlink -f ${q(file)})"); if [ -e ${q(cache)}/photostream/"$n" ]; then echo hit; else echo miss; fi; cat ${q(file)} > /dev/null || exit 1`
  }).join('\n')
  const t0 = Date.now()
  const r = await sh(script)
  assert.equal(r.code, 0, r.stderr)
  return { hits: r.stdout.trim().split('\n').map((l) => l === 'hit'), ms: Date.now() - t0 }
}

void describe('mount read-ahead across files (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let names: string[] = []

  before(async () => {
    fake = await startFake({ seed: 23, photos: PHOTOS, videos: 0, sets: 3, collections: 0, meanPhotoBytes: 30_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    names = fake.account.photostream.map((id) => mediaName(fake.account, id)).sort()
    // A set in an order no listing of photostream/ has: every 7th photo, round and round.
    const ids = fake.account.photostream
    fake.account.addSet({ title: 'walk order', photoIds: Array.from({ length: 16 }, (_, i) => ids[(i * 7) % ids.length] ?? '') })
  })
  after(async () => {
    fake.faults.mediaLatencyMs = 0
    await lab?.cleanup()
    await fake?.close()
  })

  void it('stat of everything fetches nothing, one read fetches at most two more, and a sorted walk finds the rest in the cache', async () => {
    const cache = await lab.mkdir('cache-walk')
    const mnt = await lab.mkdir('mnt-walk')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    fake.faults.mediaLatencyMs = LATENCY_MS
    try {
      fake.resetCounts()
      const ls = await sh(`ls -lR ${q(mnt)} > /dev/null && find -L ${q(mnt)} -type f -exec stat -c %s {} + | wc -l`)
      assert.equal(ls.code, 0, ls.stderr)
      assert.ok(Number(ls.stdout) > PHOTOS, ls.stdout)
      // An idle mount stays idle: nothing is fetched after the listing either.
      await new Promise((r) => setTimeout(r, 1000))
      assert.equal(mediaGets(fake.counts()), 0, `ls -l and stat must not download: ${JSON.stringify(fake.counts())}`)

      // One read, then quiet: its own GET and at most a window of two (none, as it is).
      const one = await walk(mnt, cache, [`photostream/${names[20] ?? ''}`])
      assert.deepEqual(one.hits, [false])
      await new Promise((r) => setTimeout(r, 1500))
      assert.ok(mediaGets(fake.counts()) >= 1 && mediaGets(fake.counts()) <= 3, `one read fetched ${mediaGets(fake.counts())} originals`)

      fake.resetCounts()
      const sorted = await walk(mnt, cache, names.map((n) => `photostream/${n}`))
      const hits = sorted.hits.filter(Boolean).length
      assert.ok(hits >= PHOTOS / 2, `sorted walk: ${hits} of ${PHOTOS} opens found their original in the cache (${sorted.ms} ms)`)
      // Every original at most once: the reader joins a prefetch's download instead of starting its own.
      assert.ok(mediaGets(fake.counts()) <= PHOTOS, `${mediaGets(fake.counts())} media GETs for ${PHOTOS} originals`)
      // Downloads overlap: the walk's reads find prefetches already on their way.
      assert.ok((fake.counts()['media:peak'] ?? 0) >= 2, `media GETs open at once: at most ${fake.counts()['media:peak']} (${sorted.ms} ms walk)`)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })

  void it('a walk of a set folder (links into photostream/) prefetches in the set’s order', async () => {
    const cache = await lab.mkdir('cache-set')
    const mnt = await lab.mkdir('mnt-set')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    const dir = (await readdir(mnt)).find((n) => n.startsWith('Set ') && n.endsWith(' - walk order')) ?? assert.fail('the set is listed')
    const links = (await readdir(join(mnt, dir))).filter((n) => n !== 'metadata').sort()
    assert.equal(links.length, 16)
    const best = { dir, links }
    fake.faults.mediaLatencyMs = LATENCY_MS
    try {
      fake.resetCounts()
      const r = await walk(mnt, cache, best.links.map((l) => `${best.dir}/${l}`))
      const hits = r.hits.filter(Boolean).length
      assert.ok(hits >= best.links.length / 3, `set walk: ${hits} of ${best.links.length} opens were hits (${JSON.stringify(r.hits)})`)
      assert.ok(mediaGets(fake.counts()) <= best.links.length + 2, `${mediaGets(fake.counts())} media GETs for ${best.links.length} originals`)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })

  void it('stays within --cache-size and never evicts what the walk is about to read', async () => {
    const cache = await lab.mkdir('cache-bound')
    const mnt = await lab.mkdir('mnt-bound')
    const sizes = names.map((n) => fake.account.requirePhoto(n.split('.')[0] ?? '').bytes)
    const biggest = Math.max(...sizes)
    const bound = 12 * 30_000
    assert.ok(sizes.reduce((a, b) => a + b, 0) > 2 * bound, 'the account does not fit the bound')
    const server = await lab.mount(mnt, ['--cache', cache, '--cache-size', String(bound), '--refresh', '0'], env)
    fake.faults.mediaLatencyMs = LATENCY_MS
    let most = 0
    const sampler = setInterval(() => {
      void cachedBytes(cache).then((b) => (most = Math.max(most, b)), () => undefined)
    }, 20)
    try {
      fake.resetCounts()
      const r = await walk(mnt, cache, names.map((n) => `photostream/${n}`))
      // A quarter of the bound is three or four originals ahead: fewer hits than unbounded, but some.
      assert.ok(r.hits.filter(Boolean).length >= 4, `bounded walk: ${r.hits.filter(Boolean).length} hits`)
      // Fetched ahead and then evicted before its read would show as a second GET.
      assert.equal(mediaGets(fake.counts()), PHOTOS, 'each original downloaded once')
      await waitUntil('the cache is back within its bound', async () => (await cachedBytes(cache)) <= bound, 20_000)
    } finally {
      clearInterval(sampler)
      fake.faults.mediaLatencyMs = 0
    }
    // Eviction runs after each download is recorded, so the bound may be passed by the downloads
    // finishing at once; never by more than read-ahead's share of it and those few files.
    assert.ok(most <= bound * 1.25 + 6 * biggest, `the cache held ${most} bytes; bound ${bound}`)
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })

  void it('unmounts cleanly and quickly with prefetches in flight', async () => {
    // More originals than one window (48) holds, so that the walk moving on starts new prefetches.
    for (let k = 0; k < 60; k++) fake.account.addPhoto()
    const names = fake.account.photostream.map((id) => mediaName(fake.account, id)).sort()
    const cache = await lab.mkdir('cache-stop')
    const mnt = await lab.mkdir('mnt-stop')
    const server = await lab.mount(mnt, ['--cache', cache, '--refresh', '0'], env)
    fake.resetCounts()
    // Three neighbours read fast make a walk evident; its window comes in at once. Then the fake
    // hangs, and the next open moves the window on: those prefetches wait at the fake.
    await walk(mnt, cache, names.slice(0, 3).map((n) => `photostream/${n}`))
    await waitUntil('the window is in the cache', async () => {
      const there = await Promise.all(names.slice(3, 15).map((n) => stat(join(cache, 'photostream', n)).then(() => true, () => false)))
      return there.every(Boolean)
    }, 10_000).catch((err) => assert.fail(`${err}: ${server.err}`))
    const before = mediaGets(fake.counts())
    fake.faults.mediaLatencyMs = 60_000
    try {
      await walk(mnt, cache, names.slice(3, 5).map((n) => `photostream/${n}`))
      await waitUntil('prefetches are waiting at the fake', () => Promise.resolve(mediaGets(fake.counts()) > before), 10_000)
      const t0 = Date.now()
      const exit = await lab.stop(server, mnt)
      assert.equal(exit.code, 0, server.err)
      // Not a speed target: waiting for a prefetch would take the fake's 60 s, or fuse-native's 15 s timeout.
      assert.ok(Date.now() - t0 < 10_000, `unmount took ${Date.now() - t0} ms: it waited for the prefetches`)
      assert.doesNotMatch(server.err, /error|failed/i)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
  })
})
