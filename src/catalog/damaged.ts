/**
 * A damaged catalog file (truncated to nothing, overwritten, pages gone bad) must not leave the
 * user with `rm` and a full download as the only way forward. A writer (pin, an online mount)
 * checks the file under the root lock before opening it (readers, status and an offline mount, do
 * not); a damaged one is moved aside, whole, and the run starts a new catalog. The store index
 * lives in the same file, so the originals in the folder are then adopted: hashed locally and
 * recorded, not downloaded again (store/originals.ts). A pin does that to every one of them in its
 * run; a mount only to each one it reads (or reads ahead), when it reads it: its line says so.
 */
import { rename, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import createDebug from '../util/debug.js'
import { isEnoent } from '../util/fs-errors.js'
import { fsyncDir } from '../util/fs.js'
import { isDamagedDb, openSqliteAdapter } from '../util/sqlite.js'
import { catalogPath, stateDir } from '../util/state-paths.js'

const debug = createDebug('flickrfs:catalog')

/** Who sets a catalog aside: what its line says of the originals already in the folder depends on it. */
export type SetAsideBy = 'pin' | 'mount'

const ORIGINALS_AFTER: Record<SetAsideBy, string> = {
  // Its run ensures every original, and ensure adopts a file already at its name.
  pin: 'the originals already here are checked and kept, not downloaded again.',
  // Nothing goes through the folder: an original is adopted when a read (or read-ahead) asks for it,
  // a read only up to store/read-path.ts ADOPT_ON_READ_MAX_BYTES (256 MiB).
  mount: 'each original already here is checked (hashed) and recorded when it is first read, not downloaded again, ' +
    'and photostream/SHA256SUMS lists it from then on (one over 256 MiB is downloaded again when read: hashing it first could outlast the read; ' +
    '`flickrfs pin` of this folder checks every one).',
}

/** What is wrong with ROOT's catalog file: undefined when it is sound or absent. */
export async function catalogDamage(root: string): Promise<string | undefined> {
  const path = catalogPath(root)
  try {
    if ((await stat(path)).size === 0) return 'empty file'
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
  }
  const adapter = openSqliteAdapter(path, { readOnly: true, busyTimeout: 15_000 })
  try {
    // Reads every row, values included (overflow pages too): a damaged page anywhere fails here,
    // not halfway through a pin. A file without the table yet is a catalog never saved, not damage.
    await adapter.query('SELECT count(*) AS n, sum(length(value)) AS bytes FROM keyv')
    return undefined
  } catch (err) {
    if (isDamagedDb(err)) return (err as { code: string }).code
    if (/no such table/i.test(String(err))) return undefined
    throw err
  } finally {
    await adapter.disconnect().catch(() => undefined)
  }
}

/**
 * Moves a damaged catalog aside, to `catalog.sqlite.corrupt-<time>`, with its -wal and -shm as
 * `…corrupt-<time>-wal` / `-shm` (so sqlite pairs them if anyone opens the copy), and returns the
 * one line that says so; undefined when the catalog is sound. Call under the root lock. The -wal
 * goes first: a stale -wal left next to a new catalog could be replayed into it.
 */
export async function setAsideDamagedCatalog(root: string, by: SetAsideBy, nowMs = Date.now()): Promise<string | undefined> {
  const damage = await catalogDamage(root)
  return damage === undefined ? undefined : setAsideCatalog(root, damage, by, nowMs)
}

/** setAsideDamagedCatalog's move, for a caller that found `damage` (catalogDamage) itself; nothing may hold the file open. */
export async function setAsideCatalog(root: string, damage: string, by: SetAsideBy, nowMs = Date.now()): Promise<string> {
  const path = catalogPath(root)
  const aside = `${path}.corrupt-${new Date(nowMs).toISOString().replace(/:/g, '')}`
  for (const suffix of ['-wal', '-shm']) {
    await rename(path + suffix, aside + suffix).catch((err: unknown) => {
      if (!isEnoent(err)) throw err
    })
  }
  await rename(path, aside)
  await fsyncDir(stateDir(root))
  debug('moved damaged catalog (%s) to %s', damage, aside)
  return `The catalog ${path} was damaged (${damage}); moved it aside to ${basename(aside)}. ` +
    `This run rebuilds it from Flickr; ${ORIGINALS_AFTER[by]}`
}
