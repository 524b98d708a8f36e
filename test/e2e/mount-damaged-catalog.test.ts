/**
 * An online mount of a cache whose catalog is damaged: the check of the whole file runs while the
 * catalog opens (service/live-mount.ts openChecked), and nothing is served from the damaged file.
 * It is moved aside untouched (byte for byte as damaged: the open beside the check wrote nothing
 * into it), the mount says so in one line, comes up on a new catalog fetched from the fake, and
 * serves the same tree a pin makes. Real CLI, real sqlite file, real FUSE mount.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, errorLines, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { run } from '../support/run.js'
import { openSqliteAdapter } from '../../src/util/sqlite.js'

const skip = await fuseUnusableReason()

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
      const fh = await open(file, 'r+')
      try {
        const size = (await fh.stat()).size
        const from = pagesFromEnd === Infinity ? 4096 : size - pagesFromEnd * 4096
        await fh.write(randomBytes(size - from), 0, size - from, from)
      } finally {
        await fh.close()
      }
      const damaged = await readFile(file)

      const mnt = await lab.mkdir(`mnt-${pagesFromEnd}`)
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], { ...env, FLICKRFS_LAZY_CATALOG_FROM: '0' })
      try {
        const lines = errorLines(server.err).filter((l) => /damaged/.test(l))
        assert.equal(lines.length, 1, server.err)
        assert.match(lines[0] ?? '', /^flickrfs: The catalog .*catalog\.sqlite was damaged \(SQLITE_CORRUPT\); moved it aside to catalog\.sqlite\.corrupt-/)
        const aside = (await readdir(join(dest, '.flickrfs'))).filter((n) => n.startsWith('catalog.sqlite.corrupt-') && !/-(wal|shm)$/.test(n))
        assert.equal(aside.length, 1)
        assert.ok((await readFile(join(dest, '.flickrfs', aside[0] as string))).equals(damaged), 'the damaged file is set aside as it was')
        const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest], { timeoutMs: 60_000 })
        assert.equal(diff.code, 0, diff.stdout + diff.stderr)
      } finally {
        await lab.stop(server, mnt)
      }
    })
  }
})
