/**
 * The one place that opens ROOT/.flickrfs/catalog.sqlite for keyv, for writing or only for reading.
 *
 * @keyv/sqlite always opens read-write and creates what is missing, which fails on a read-only DEST
 * (a mounted backup disk): a WAL database cannot be opened there at all, since its -shm file cannot
 * be created (SQLITE_CANTOPEN). A read-only open goes through sqlite3 itself with a URI: first
 * `mode=ro` (it sees a writer next to it, through the usual locks), and where that cannot open,
 * `immutable=1`, which reads the file without locks or -shm. That is sound exactly there: nobody
 * can change a file on a read-only filesystem. A folder this user can read but not write (another
 * user's mirror) cannot take a -shm either, and is read the same way: there its owner may write
 * meanwhile, and a read that meets a checkpoint half done fails (the reader says so in one line
 * and changes nothing; the next read sees the catalog whole again). The adapter is @keyv/sqlite's own, so keys, values
 * and queries are the very same; only its connection is swapped, and every write fails with
 * SQLITE_READONLY.
 */
import { pathToFileURL } from 'node:url'
import KeyvSqlite from '@keyv/sqlite'
import sqlite3 from 'sqlite3'
import { errnoCode } from './fs-errors.js'

export interface SqliteOpenOptions {
  busyTimeout?: number
  iterationLimit?: number
  /** Open without writing anything: no table creation, no -shm, no journal. */
  readOnly?: boolean
}

/** A keyv store adapter on the sqlite file `path`. */
export function openSqliteAdapter(path: string, opts: SqliteOpenOptions = {}): KeyvSqlite {
  const { readOnly, ...rest } = opts
  if (readOnly !== true) return new KeyvSqlite({ uri: `sqlite://${path}`, ...rest })
  return new ReadOnlySqlite(path, rest)
}

type Db = sqlite3.Database

class ReadOnlySqlite extends KeyvSqlite {
  constructor(path: string, opts: Omit<SqliteOpenOptions, 'readOnly'>) {
    // The adapter insists on a connection of its own at construction: an in-memory one costs nothing.
    super({ uri: 'sqlite://:memory:', ...opts })
    const closeMemory = this.close
    const db = openReadOnly(path, opts.busyTimeout)
    // Nobody may have queried yet when the open fails; the failure reaches whoever queries.
    db.catch(() => undefined)
    const table = this.opts.table ?? 'keyv'
    this.query = async (sql: string, ...params: unknown[]) => {
      const handle = await db
      return new Promise((resolve, reject) => {
        handle.all(sql, ...params, (err: Error | null, rows: unknown[]) => {
          // A file that never got its table (created empty, or truncated to nothing) holds no keys.
          if (err && /^\s*SELECT\b/i.test(sql) && err.message.includes(`no such table: ${table}`)) resolve([])
          else if (err) reject(err)
          else resolve(rows)
        })
      })
    }
    this.close = async () => {
      await closeMemory()
      const handle = await db.catch(() => undefined)
      if (handle) await new Promise<void>((resolve, reject) => handle.close((err) => (err ? reject(err) : resolve())))
    }
  }
}

async function openReadOnly(path: string, busyTimeout: number | undefined): Promise<Db> {
  const url = pathToFileURL(path).href
  try {
    const db = await openUri(`${url}?mode=ro`, busyTimeout)
    // The open itself is lazy: the first read is what finds a WAL file it cannot share.
    try {
      await new Promise<void>((resolve, reject) => db.get('SELECT 1 FROM sqlite_master LIMIT 1', (err) => (err ? reject(err) : resolve())))
      return db
    } catch (err) {
      db.close(() => undefined)
      throw err
    }
  } catch (err) {
    // SQLITE_READONLY: a folder this user may read but not write (another user's mirror, read by a
    // backup user): the -shm a WAL reader needs cannot be made there either.
    const code = errnoCode(err)
    if (code !== 'SQLITE_CANTOPEN' && code !== 'SQLITE_READONLY') throw err
    return openUri(`${url}?immutable=1`, busyTimeout)
  }
}

function openUri(uri: string, busyTimeout: number | undefined): Promise<Db> {
  return new Promise((resolve, reject) => {
    const db: Db = new sqlite3.Database(uri, sqlite3.OPEN_READONLY | sqlite3.OPEN_URI, (err) => {
      if (err) return reject(err)
      if (busyTimeout !== undefined) db.configure('busyTimeout', busyTimeout)
      resolve(db)
    })
  })
}

/** sqlite's codes for a file that is not a database, or one whose pages are damaged. */
export function isDamagedDb(err: unknown): boolean {
  const code = errnoCode(err)
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB'
}
