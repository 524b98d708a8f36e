/**
 * Which process serves which mountpoint, so `flickrfs refresh MNT` can signal it. One small JSON
 * file per mount under the user's runtime directory, removed when the mount ends.
 */
import { createHash } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { isEnoent } from '../util/fs-errors.js'
import { mkdirLevels } from '../util/fs.js'

export interface MountRecord {
  pid: number
  mountpoint: string
  root: string
  startedAtMs: number
  /** Served --offline: nothing to refresh. Absent in records of older mounts. */
  offline?: boolean
}

function registryDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_RUNTIME_DIR || join(tmpdir(), `flickrfs-${process.getuid?.() ?? 'user'}`)
  return join(base, 'flickrfs-mounts')
}

function recordPath(env: NodeJS.ProcessEnv, mountpoint: string): string {
  const id = createHash('sha256').update(resolve(mountpoint)).digest('hex').slice(0, 16)
  return join(registryDir(env), `${id}.json`)
}

export async function registerMount(env: NodeJS.ProcessEnv, rec: MountRecord): Promise<() => Promise<void>> {
  await mkdirLevels(registryDir(env), 0o700)
  const path = recordPath(env, rec.mountpoint)
  await writeFile(path, JSON.stringify(rec), { mode: 0o600 })
  return () => rm(path, { force: true })
}

export async function findMount(env: NodeJS.ProcessEnv, mountpoint: string): Promise<MountRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(recordPath(env, mountpoint), 'utf8')) as MountRecord
    process.kill(rec.pid, 0)
    return rec
  } catch (err) {
    if (isEnoent(err) || err instanceof SyntaxError || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined
    throw err
  }
}
