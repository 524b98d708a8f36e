/**
 * An online mount of a cache whose catalog is damaged: the check of the whole file runs while the
 * catalog opens (service/live-mount.ts openChecked), and nothing is served from the damaged file.
 * It is moved aside untouched (byte for byte as damaged: the open beside the check wrote nothing
 * into it), the mount says so in one line, comes up on a new catalog fetched from the fake, and
 * serves the same tree a pin makes. Real CLI, real sqlite file, real FUSE mount.
 *
 * The store's index lived in the file set aside, so the new one starts empty: the mount's
 * photostream/SHA256SUMS lists an original only once the mount has checked it anew (read it, and
 * recorded it), as docs/LAYOUT.md says of a mount. Reading one adopts the file in DEST (hashed and
 * recorded), never downloads it again: not one media GET, by a single read or by the whole diff. A diff of the whole tree at once raced those
 * records (its read of SHA256SUMS comes right after its reads of the originals, whose records are
 * batched): everything else is compared first, then SHA256SUMS once it lists every original.
 *
 * The pinned flags went with the file too: a pinned DEST must stay pinned for a mount with
 * --cache-size, both what the mount downloads again over a file it found and what a pin handed to
 * it adopts (and downloads nothing of what is whole).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readdir, readFile, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, errorLines, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'
import { openSqliteAdapter } from '../../src/util/sqlite.js'
import { OriginalStore, type StoreRecord } from '../../src/store/index.js'
import { offlineMedia } from '../../src/service/live-mount.js'
import { sha256 } from '../support/files.js'

const skip = await fuseUnusableReason()

/** Overwrites the catalog file from `pagesFromEnd` pages before its end (Infinity: every page behind its header) with random bytes. */
async function damage(file: string, pagesFromEnd: number): Promise<void> {
  const fh = await open(file, 'r+')
  try {
    const size = (await fh.stat()).size
    const from = pagesFromEnd === Infinity ? 4096 : size - pagesFromEnd * 4096
    await fh.write(randomBytes(size - from), 0, size - from, from)
  } finally {
    await fh.close()
  }
}

/** The store's record of each original named (`<id>.<ext>`) in DEST, read from its index once no mount serves it. */
async function recordsIn(dest: string, names: string[]): Promise<Array<StoreRecord | undefined>> {
  const store = await OriginalStore.open(dest, offlineMedia, { readOnly: true })
  try {
    return names.map((n) => store.recordOf(n.split('.')[0] ?? ''))
  } finally {
    await store.close()
  }
}

/** photostream/SHA256SUMS of `root`: each original's name and sha256, in the list's order. */
async function sums(root: string): Promise<Array<{ name: string; sha256: string }>> {
  return (await readFile(join(root, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n').filter((l) => l !== '')
    .map((l) => ({ name: l.slice(66), sha256: l.slice(0, 64) }))
}

void describe('an online mount of a damaged catalog (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 61, photos: 40, videos: 2, sets: 3, collections: 1, meanPhotoBytes: 20_000, meanVideoBytes: 40_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  // Every page but the header: the open fails too. Only the pages of a row the catalog's open
  // never reads (a store row, added last after a VACUUM, so at the file's end): the lazy open
  // succeeds, and only the check finds the damage.
  for (const [what, pagesFromEnd] of [['every page behind a sound header', Infinity], ['only a store row', 20]] as const) {
    void it(`${what} damaged: set aside as it was, in one line; the mount serves a new catalog`, async () => {
      const dest = join(lab.dir, `dest-${pagesFromEnd}`)
      const pinned = await lab.cli(['pin', '-q', dest], env)
      assert.equal(pinned.exit.code, 0, pinned.err)
      const file = join(dest, '.flickrfs', 'catalog.sqlite')
      if (pagesFromEnd !== Infinity) {
        const db = openSqliteAdapter(file)
        try {
          await db.query('VACUUM')
          // ~100 pages of overflow: the last 20 of the file are this row's alone.
          await db.query(`INSERT INTO keyv (key, value) VALUES ('store:damaged-row', ?)`, 'x'.repeat(400_000))
          await db.query('PRAGMA wal_checkpoint(TRUNCATE)')
        } finally {
          await db.disconnect()
        }
      }
      await damage(file, pagesFromEnd)
      const damaged = await readFile(file)

      const mnt = await lab.mkdir(`mnt-${pagesFromEnd}`)
      fake.resetCounts()
      // --attr-timeout 1s: the kernel asks for SHA256SUMS's size again a second after it was told
      // one, so the wait below sees the list grow (the default 60 s would show it as first seen).
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0', '--attr-timeout', '1s'], { ...env, FLICKRFS_LAZY_CATALOG_FROM: '0' })
      try {
        const lines = errorLines(server.err).filter((l) => /damaged/.test(l))
        assert.equal(lines.length, 1, server.err)
        assert.match(lines[0] ?? '', /^flickrfs: The catalog .*catalog\.sqlite was damaged \(SQLITE_CORRUPT\); moved it aside to catalog\.sqlite\.corrupt-/)
        // What the mount does with the originals in DEST, not what a pin does (it checks them all).
        assert.match(lines[0] ?? '', /each original already here is checked \(hashed\) and recorded when it is first read, not downloaded again/)
        const aside = (await readdir(join(dest, '.flickrfs'))).filter((n) => n.startsWith('catalog.sqlite.corrupt-') && !/-(wal|shm)$/.test(n))
        assert.equal(aside.length, 1)
        assert.ok((await readFile(join(dest, '.flickrfs', aside[0] as string))).equals(damaged), 'the damaged file is set aside as it was')
        const listed = async (root: string): Promise<string[]> =>
          (await readFile(join(root, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n').filter((l) => l !== '').map((l) => l.slice(66))
        const originals = await listed(dest)
        assert.equal(originals.length, 42, 'DEST\'s SHA256SUMS lists every original (40 photos, 2 videos)')
        // An original read through the mount is the file in DEST, adopted (hashed and recorded), not downloaded again.
        const first = join('photostream', originals[0] as string)
        assert.ok((await readFile(join(mnt, first))).equals(await readFile(join(dest, first))), `${first} reads as DEST's file`)
        const gets = (): number => fake.counts()['media:GET'] ?? 0
        assert.equal(gets(), 0, `reading ${first} downloaded it again: ${JSON.stringify(fake.counts())}`)
        // Every file but the hash list, each original read (and so checked and recorded) on the way.
        const rest = await run('diff', ['-r', '-x', '.flickrfs', '-x', 'SHA256SUMS', mnt, dest], { timeoutMs: 60_000 })
        assert.equal(rest.code, 0, rest.stdout + rest.stderr)
        assert.equal(gets(), 0, `the originals in DEST were downloaded again as they were read: ${JSON.stringify(fake.counts())}`)
        // Then the list, once each original read has been recorded: a few batched sqlite writes
        // after the last read, well under the deadline even on a loaded machine. One that is never
        // recorded (or recorded as another name) fails here, naming it.
        let missing: string[] = originals
        await waitUntil('the mount\'s SHA256SUMS lists every original in DEST', async () => {
          const shown = new Set(await listed(mnt))
          missing = originals.filter((n) => !shown.has(n))
          return missing.length === 0
        }, 30_000).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}: ${missing.length} of ${originals.length} still missing after every original was read: ${missing.join(' ')}`)
        })
        const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest], { timeoutMs: 60_000 })
        assert.equal(diff.code, 0, diff.stdout + diff.stderr)
      } finally {
        await lab.stop(server, mnt)
      }
    })
  }

  /** A DEST pinned by the real CLI, then its catalog damaged behind its header; its SHA256SUMS as the pin left it. */
  const pinnedThenDamaged = async (name: string): Promise<{ dest: string; listed: Array<{ name: string; sha256: string }> }> => {
    const dest = join(lab.dir, name)
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    await damage(join(dest, '.flickrfs', 'catalog.sqlite'), Infinity)
    return { dest, listed: await sums(dest) }
  }

  // The store's index, pinned flags included, went with the file set aside. An original the mount
  // downloads again over the file it found in DEST (here one cut short, as a failing disk leaves
  // it; also one over the size a read adopts) is of the pinned folder: a bound on the cache must
  // never take it out of DEST. Whole originals read are adopted, not downloaded.
  void it('a pinned DEST stays pinned through a set-aside: an original downloaded again over its file in DEST is kept by --cache-size', async () => {
    const { dest, listed } = await pinnedThenDamaged('dest-pinned')
    const [cut, ...whole] = listed
    assert.ok(cut !== undefined && whole.length >= 3)
    const cutPath = join(dest, 'photostream', cut.name)
    await truncate(cutPath, 1000)

    const mnt = await lab.mkdir('mnt-pinned')
    fake.resetCounts()
    // A bound far below one original: every original the mount holds unpinned is evicted after each download.
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0', '--cache-size', '1K'], env)
    const gets = (): number => fake.counts()['media:GET'] ?? 0
    try {
      assert.equal(sha256(await readFile(join(mnt, 'photostream', cut.name))), cut.sha256, `${cut.name} reads as the original`)
      assert.equal(gets(), 1, `${cut.name}, cut short in DEST, is downloaded again once: ${JSON.stringify(fake.counts())}`)
      for (const w of whole.slice(0, 3)) {
        assert.equal(sha256(await readFile(join(mnt, 'photostream', w.name))), w.sha256, `${w.name} reads as the original`)
      }
      assert.equal(gets(), 1, `whole originals in DEST were downloaded again: ${JSON.stringify(fake.counts())}`)
      // Each download is followed by an eviction run (mount-cache-size.test.ts): give it a read's time to run.
      await readFile(join(mnt, 'photostream', cut.name))
    } finally {
      await lab.stop(server, mnt)
    }
    assert.equal(sha256(await readFile(cutPath)), cut.sha256, `${cut.name} is in DEST, whole, after the mount`)
    const [cutRecord, ...read] = await recordsIn(dest, [cut, ...whole.slice(0, 3)].map((l) => l.name))
    assert.deepEqual([cutRecord?.sha256, cutRecord?.pinned], [cut.sha256, true], `${cut.name} is recorded pinned`)
    assert.deepEqual(read.map((r) => r?.pinned), [true, true, true], 'the originals read (adopted) are recorded pinned')
  })

  // The converse, for the pin a mount runs when asked (its first catalog after the set-aside comes
  // in anew): what is whole in DEST is adopted, not downloaded again, and all of it ends up pinned.
  void it('a pin handed to the mount after the set-aside downloads nothing whole in DEST and leaves every original pinned', async () => {
    const { dest, listed } = await pinnedThenDamaged('dest-handed')
    const mnt = await lab.mkdir('mnt-handed')
    fake.resetCounts()
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0', '--cache-size', '1K'], env, 60_000, { partial: true })
    try {
      const handed = await lab.cli(['pin', '-q', dest], env)
      assert.equal(handed.exit.code, 0, handed.err)
      assert.match(server.err, /pin of .* asked by pid \d+: running it here/)
      assert.equal(fake.counts()['media:GET'] ?? 0, 0, `originals whole in DEST were downloaded again: ${JSON.stringify(fake.counts())}`)
    } finally {
      await lab.stop(server, mnt)
    }
    assert.deepEqual(await sums(dest), listed, 'DEST holds the same originals')
    const records = await recordsIn(dest, listed.map((l) => l.name))
    assert.deepEqual(listed.filter((_, i) => records[i]?.pinned !== true).map((l) => l.name), [], 'every original is recorded pinned')
  })
})
