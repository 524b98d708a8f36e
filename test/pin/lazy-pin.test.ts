/**
 * A pin with a small change to merge reads a big catalog lazily (pin.ts PIN_LAZY_CATALOG_FROM_PHOTOS,
 * here forced with lazyCatalogFromPhotos: 0) and merges the change without loading it. The proof is
 * equality: twin DESTs pinned from the same account, one whole and one lazily, after each round of
 * changes hold the same tree (every file's bytes, link targets, mtimes), the same catalog content,
 * tree record (its key, counts and entries), manifest entries and store index; and a lazy pin
 * killed with SIGKILL leaves a DEST the next pin makes the same as its twin's.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { prng } from '../../src/fake-flickr/generate.js'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../../src/catalog/index.js'
import { contentKey } from '../../src/catalog/persist.js'
import { readManifest } from '../../src/pin/manifest.js'
import { readTreeRecord } from '../../src/pin/tree-record.js'
import type { PinReport } from '../../src/pin/pin.js'
import { OriginalStore } from '../../src/store/index.js'
import { headOf, randomChange } from '../catalog/harness.js'
import { cliEnv, clients, copyCatalogOnly, pinOnce, removeDir, snapshot, startFake } from './helpers.js'
import { runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

/** What a DEST holds, as two DESTs pinned from the same account must hold it alike. */
async function stateOf(dest: string, fake: FakeFlickr): Promise<Record<string, unknown>> {
  const tree: Record<string, unknown> = {}
  for (const [p, e] of await snapshot(dest)) {
    const bytes = e.kind === 'file' ? createHash('sha256').update(await readFile(join(dest, p))).digest('hex') : undefined
    // Folders' mtimes aside (the kernel sets them at each change of their entries, and twins are
    // written at different times), and SHA256SUMS's: the time its newest original was downloaded.
    const timed = e.kind !== 'dir' && p !== 'photostream/SHA256SUMS'
    tree[p] = { kind: e.kind, size: e.size, ...(timed ? { mtimeMs: e.mtimeMs } : {}), target: e.target, bytes }
  }
  const record = await readTreeRecord(dest)
  const manifest = await readManifest(dest)
  // A sidecar's lstat (ino, ctime) is of its DEST; which content version it holds is not.
  const versions = manifest.sidecarVersions
  const photostream: Record<string, unknown> = {}
  for (let i = 0; i < manifest.size; i++) {
    const e = manifest.entry(i)
    photostream[manifest.name(i)] = { kind: e.kind, id: e.id, version: e.c === undefined ? undefined : versions[e.c[0]] }
  }
  const store = await OriginalStore.open(dest, clients(fake).media, { readOnly: true, reads: false })
  let index: unknown[]
  try {
    index = [...store.storedRecords()].map((r) => ({ id: r.id, secret: r.secret, ext: r.ext, size: r.size, sha256: r.sha256, pinned: r.pinned })).sort((a, b) => a.id.localeCompare(b.id))
  } finally {
    await store.close()
  }
  const head = await headOf(dest)
  return {
    tree,
    catalog: { content: contentKey(head), refreshedAtMs: head.refreshedAtMs, listing: head.listing, facts: head.facts, pages: head.pages },
    // Its folders in the order the write met them, which is their DEST's readdir order.
    record: record === undefined ? undefined : { key: record.key, counts: record.counts, chunks: [...record.chunks].sort((a, b) => String(a[0]).localeCompare(String(b[0]))) },
    manifest: { top: manifest.top, photostream },
    index,
  }
}

/** Every leaf of `v` by its path, as JSON. */
function leaves(v: unknown, at = '', out = new Map<string, string>()): Map<string, string> {
  if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, `${at}/${k}`, out)
  } else out.set(at, JSON.stringify(v))
  return out
}

/** Equal states, failing with only their differences (a whole tree is unreadable). */
function assertSameState(actual: Record<string, unknown>, expected: Record<string, unknown>, what: string): void {
  const [a, e] = [leaves(actual), leaves(expected)]
  const diffs = [...new Set([...a.keys(), ...e.keys()])].filter((k) => a.get(k) !== e.get(k))
  assert.deepEqual(diffs.slice(0, 20).map((k) => `${k}: ${a.get(k)} (expected ${e.get(k)})`), [], `${what}: ${diffs.length} differences`)
}

void describe('a pin merges a small change into a lazily read catalog: the same DEST as a whole one', () => {
  let fake: FakeFlickr
  let work: string
  const whole = (): string => join(work, 'whole')
  const lazy = (): string => join(work, 'lazy')
  /** Both twins pinned with one clock: their catalogs' times are the same. */
  const pinBoth = async (fullListingEveryMs = DEFAULT_FULL_LISTING_EVERY_MS, failed: string[] = []): Promise<{ w: PinReport; l: PinReport }> => {
    const at = Date.now()
    const now = (): number => at
    const opts = { fullListingEveryMs, now }
    const w = await pinOnce(fake, whole(), { ...opts, lazyCatalogFromPhotos: Number.MAX_SAFE_INTEGER })
    const l = await pinOnce(fake, lazy(), { ...opts, lazyCatalogFromPhotos: 0 })
    assert.deepEqual(w.failures.map((f) => f.id), failed)
    assert.deepEqual(l.failures.map((f) => f.id), failed)
    return { w, l }
  }
  /** The reports as the CLI shows them: the same, but for the times taken and whether the catalog was merged. */
  const shown = (r: PinReport): Record<string, unknown> => {
    const { durationMs: _d, refresh, tree, ...rest } = r
    const { merged: _m, startedAtMs: _s, finishedAtMs: _f, ...refreshShown } = refresh
    // `trusted` (sidecars not read, shown nowhere) is more after a merge: a sidecar whose bucket was
    // written again is trusted when its photo was not reported (pin-run.ts sidecarSameAs).
    const { trusted: _trusted, ...treeShown } = tree
    return { ...rest, tree: treeShown, refresh: refreshShown }
  }

  before(async () => {
    fake = await startFake({ seed: 33, photos: 60, videos: 2, sets: 5, collections: 2, commentedFraction: 0.2, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir()
    await pinBoth()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('the twins start alike', async () => {
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'first pins')
  })

  void it('rounds of random changes: merged lazily, and the same DEST, reports and catalog as the whole pin', async () => {
    const rand = prng(2026_12_02)
    let merged = 0
    for (let round = 0; round < 8; round++) {
      const did = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => randomChange(fake.account, rand, round * 10 + i))
      const { w, l } = await pinBoth()
      assert.equal(w.refresh.merged, undefined, `round ${round} (${did.join(', ')}): the whole pin loaded the catalog`)
      if (l.refresh.merged === true) merged++
      assertSameState(shown(l), shown(w), `round ${round} (${did.join(', ')}): the same report`)
      assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), `round ${round} (${did.join(', ')}): the same DEST`)
    }
    assert.ok(merged >= 6, `most rounds merged lazily (${merged} of 8)`)
  })

  void it('each kind of change alone', async () => {
    const a = fake.account
    const one = (i: number): string => a.photostream[i] as string
    const kinds: Array<[string, () => void]> = [
      ['an edited title', () => void a.editPhoto(one(3), { title: 'edited alone' })],
      ['a comment', () => void a.addComment(one(5), 'a comment alone')],
      ['an upload', () => void a.addPhoto({ title: 'uploaded alone' })],
      ['a video uploaded', () => void a.addPhoto({ media: 'video', title: 'video alone' })],
      ['a replaced original', () => void a.replaceOriginal(one(7), { bytes: 4_321 })],
      ['a set renamed', () => void a.renameSet((a.sets[1] ?? a.sets[0])!.id, 'renamed alone')],
      ['a photo added to a set', () => a.addToSet(a.sets[0]!.id, one(9))],
      ['a new set', () => void a.addSet({ title: 'new alone', photoIds: [one(1), one(2)] })],
      ['the set order', () => a.orderSets([...a.sets].map((s) => s.id).reverse())],
    ]
    const moreTrusted: string[] = []
    for (const [what, change] of kinds) {
      change()
      const { w, l } = await pinBoth()
      assert.equal(l.refresh.merged, true, `${what}: merged lazily`)
      // Photos not reported that share a reported one's bucket (written again): their sidecars are trusted, not read.
      assert.ok(l.tree.trusted >= w.tree.trusted, `${what}: no fewer sidecars trusted (${l.tree.trusted} against ${w.tree.trusted})`)
      if (l.tree.trusted > w.tree.trusted) moreTrusted.push(what)
      assertSameState(shown(l), shown(w), `${what}: the same report`)
      assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), `${what}: the same DEST`)
    }
    // Every change that reports a photo (all but the set's rename and order) rewrites its bucket.
    assert.ok(moreTrusted.length >= 5, `more sidecars trusted after a merge than after a whole refresh: ${moreTrusted.join(', ')}`)
  })

  void it('a bulk edit of every photo is merged too (any number is, in bucket groups): the same DEST as a whole one', async () => {
    const a = fake.account
    for (const id of a.photostream) a.editPhoto(id, { title: `bulk edit of ${id}` })
    const { w, l } = await pinBoth()
    assert.equal(l.refresh.merged, true, 'the bulk edit is merged')
    assert.equal(w.refresh.merged, undefined)
    assert.equal(l.refresh.photos.changed, a.photostream.length)
    assertSameState(shown(l), shown(w), 'the reports after a bulk edit')
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'after a bulk edit')
  })

  void it('a deletion is merged too: found with no full listing, the same DEST as a whole one', async () => {
    const gone = fake.account.photostream[4] as string
    fake.account.deletePhoto(gone)
    const { w, l } = await pinBoth()
    assert.equal(l.refresh.merged, true, 'a deletion is merged')
    assert.equal(w.refresh.merged, undefined)
    assert.equal(l.refresh.photos.deleted, 1)
    assert.equal(l.refresh.listing.mode, 'changes')
    assertSameState(shown(l), shown(w), 'the reports after a deletion')
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'after a deletion')
  })

  void it('a full listing is merged too (src/catalog/full-merge.ts): view counts, an edit and a deletion, the same DEST as a whole one', async () => {
    const a = fake.account
    a.requirePhoto(a.photostream[6] as string).views += 5
    a.editPhoto(a.photostream[8] as string, { title: 'edited before a full listing' })
    a.deletePhoto(a.photostream[10] as string)
    const { w, l } = await pinBoth(0)
    assert.equal(l.refresh.merged, true, 'a full listing is merged')
    assert.equal(w.refresh.merged, undefined)
    assert.equal(l.refresh.listing.mode, 'full')
    assert.deepEqual({ changed: l.refresh.photos.changed, deleted: l.refresh.photos.deleted }, { changed: 2, deleted: 1 })
    // The photos not listed changed keep their rows: their sidecars are trusted under the bucket's new version.
    assert.ok(l.tree.trusted > w.tree.trusted, `more sidecars trusted (${l.tree.trusted} against ${w.tree.trusted})`)
    assertSameState(shown(l), shown(w), 'the reports after a full listing')
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'after a full listing')
  })

  void it('after an item failed, the photostream listing the next pin makes for it is merged too: the same DEST as a whole one', async () => {
    const a = fake.account
    const bad = a.addPhoto({ title: 'no original yet' }).id
    fake.faults.hostile[bad] = 'html200'
    let { w, l } = await pinBoth(DEFAULT_FULL_LISTING_EVERY_MS, [bad])
    assert.equal(l.refresh.merged, true, 'the upload is merged, its original unavailable')
    assertSameState(shown(l), shown(w), 'the reports of the failure')
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'after the failure')
    // Still failing: the next pin lists the photostream for it, merged into the catalog read lazily.
    fake.resetCounts()
    ;({ w, l } = await pinBoth(DEFAULT_FULL_LISTING_EVERY_MS, [bad]))
    // Each twin asks for it twice: it failed before, so one retry of the HTML page, not the client's 2.
    assert.equal(fake.counts()['media:GET'] ?? 0, 4, 'the failed original asked with fewer retries')
    assert.equal(l.refresh.merged, true, 'the photostream listing for a failed item is merged')
    assert.equal(w.refresh.merged, undefined)
    assert.equal(l.refresh.listing.reason, 'items that failed last time are listed afresh')
    assertSameState(shown(l), shown(w), 'the reports while it fails')
    // Fixed on Flickr: resolved and downloaded, the same DEST.
    delete fake.faults.hostile[bad]
    ;({ w, l } = await pinBoth(DEFAULT_FULL_LISTING_EVERY_MS, []))
    assert.equal(l.refresh.merged, true, 'merged once fixed')
    assert.equal(l.downloaded, 1)
    assertSameState(shown(l), shown(w), 'the reports once fixed')
    assertSameState(await stateOf(lazy(), fake), await stateOf(whole(), fake), 'once fixed')
  })
})

/** A state without what depends on the clock of the run that made it. */
function untimed(state: Record<string, unknown>): Record<string, unknown> {
  const tree = Object.fromEntries(Object.entries(state.tree as Record<string, Record<string, unknown>>).map(([p, e]) => [p, { ...e, mtimeMs: undefined }]))
  const record = state.record as { counts: unknown; chunks: unknown } | undefined
  const manifest = state.manifest as { top: unknown; photostream: Record<string, Record<string, unknown>> }
  const photostream = Object.fromEntries(Object.entries(manifest.photostream).map(([n, e]) => [n, { ...e, version: e.version === undefined ? undefined : 'a version' }]))
  return { tree, record: { counts: record?.counts, chunks: record?.chunks }, manifest: { top: manifest.top, photostream }, index: state.index }
}

void describe('a lazy pin killed with SIGKILL (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv
  const dest = (): string => join(work, 'dest')
  const twin = (): string => join(work, 'twin')

  before(async () => {
    fake = await startFake({ seed: 34, photos: 80, videos: 1, sets: 4, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir()
    env = cliEnv(fake, join(work, 'config'), { FLICKRFS_LAZY_CATALOG_FROM: '0', DEBUG: 'flickrfs:catalog,flickrfs:pin' })
    for (const d of [dest(), twin()]) assert.equal((await runCli(['pin', '-q', d], env)).code, 0)
  })
  after(async () => {
    fake.faults.clear()
    await fake.close()
    await removeDir(work)
  })

  for (const at of ['full listing compared', 'merged catalog saved', 'tree being written'] as const) {
    void it(`killed once the ${at}: the next pin leaves the same DEST as a pin never killed`, async () => {
      const rand = prng(at.length)
      for (let i = 0; i < 4; i++) randomChange(fake.account, rand, 100 + i)
      fake.account.addPhoto({ title: `new before a kill (${at})` })
      // Slow downloads: the kill comes while the run still has work to do.
      fake.faults.mediaLatencyMs = 300
      // A full listing (src/catalog/full-merge.ts) is killed once it is compared, as the new photo is sized.
      const full = at === 'full listing compared'
      const child = spawnCli(['pin', '-q', ...(full ? ['--full-listing-every', '0'] : []), dest()], env)
      const done = runCli([], env, child)
      let err = ''
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
      const sign = full ? /full listing: \d+ photos listed/ : at === 'merged catalog saved' ? /merged \d+ reported photos/ : /downloads done/
      for (let i = 0; i < 3000 && child.exitCode === null && !sign.test(err); i++) await delay(5)
      assert.ok(child.exitCode === null, `still running at the kill; stderr: ${err}`)
      assert.match(err, full ? sign : /saved merged catalog/, 'the change was merged lazily')
      child.kill('SIGKILL')
      assert.equal((await done).signal, 'SIGKILL')
      fake.faults.mediaLatencyMs = 0
      const again = await runCli(['pin', '-q', dest()], env)
      assert.equal(again.code, 0, again.stderr)
      assert.equal((await runCli(['pin', '-q', twin()], env)).code, 0)
      // The twin was pinned later: what is of each run's clock (change and refresh times, so the
      // sidecars' and metadata files' mtimes, the catalog's chunk names and content key) differs.
      assertSameState(untimed(await stateOf(dest(), fake)), untimed(await stateOf(twin(), fake)), `killed once the ${at}`)
      const next = await pinOnce(fake, dest(), { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS })
      assert.equal(next.checkedAgainstRecord, true, 'the pin after resumed exactly: the next one finds DEST as recorded')
      assert.deepEqual(await readdir(join(dest(), '.flickrfs', 'tmp')), [], 'no download left behind')
    })
  }
})

void describe('a first pin of a catalog a mount made (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 35, photos: 40, videos: 1, sets: 3, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
    work = await tempDir()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('reads the catalog lazily, not whole, and leaves the same tree as the pin that made it', async () => {
    const env = cliEnv(fake, join(work, 'config'), { FLICKRFS_LAZY_CATALOG_FROM: '0', DEBUG: 'flickrfs:catalog' })
    const source = join(work, 'source')
    const first = join(work, 'first')
    assert.equal((await runCli(['pin', '-q', source], env)).code, 0)
    // What a mount leaves in its cache folder: the catalog, no tree, no record of a pin.
    await copyCatalogOnly(source, first)
    const r = await runCli(['pin', '-q', first], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /opened catalog \S+ lazily: 41 photos/)
    assert.doesNotMatch(r.stderr, /loaded catalog/, 'never loaded whole')
    const tree = (s: Record<string, unknown>): unknown => untimed(s).tree
    assertSameState({ tree: tree(await stateOf(first, fake)) }, { tree: tree(await stateOf(source, fake)) }, 'the first pin of a known catalog')
    assert.equal((await pinOnce(fake, first, { fullListingEveryMs: DEFAULT_FULL_LISTING_EVERY_MS })).checkedAgainstRecord, true, 'the pin after it finds DEST as recorded')
  })
})
