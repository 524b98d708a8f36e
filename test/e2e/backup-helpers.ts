/**
 * What the backup-client e2e tests (test/e2e/backup-*.test.ts) share: one small fake account, a
 * `pin` of it (the reference every backup is compared with), an offline mount of that pinned DEST,
 * a fresh online mount (empty cache, its own catalog, media served with some latency), and a
 * byte-for-byte comparison of a restored tree with DEST.
 *
 * Every client runs as a child process; this process serves no mount, so it may read a restored
 * copy (plain disk) with fs/promises.
 */
import assert from 'node:assert/strict'
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { pinnedLab } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { run } from '../support/run.js'

/** Media latency of the fake while the online mount is read: each first read waits for a download. */
export const MEDIA_LATENCY_MS = 10
/** The online mount's --attr-timeout: how long after a first backup the kernel shows a grown file. */
export const ONLINE_ATTR_TIMEOUT_MS = 1000

export interface BackupLab {
  fake: FakeFlickr
  lab: MountLab
  /** The pinned DEST: what every backup must restore to. */
  dest: string
  /** `flickrfs mount --cache DEST --offline`. */
  offline: string
  /** `flickrfs mount --cache EMPTY --refresh 0`, online against the fake. */
  online: string
  /** An environment for the clients: HOME and caches in the lab, nothing from the user's. */
  clientEnv: NodeJS.ProcessEnv
}

/** About 60 items (photos, videos, sets, collections), some commented, some with odd titles. */
export async function backupLab(seed: number): Promise<BackupLab> {
  const { fake, lab, env, dest } = await pinnedLab({ seed, photos: 44, videos: 2, sets: 5, collections: 2, commentedFraction: 0.3, oddTitles: true, meanPhotoBytes: 15_000, meanVideoBytes: 60_000 }, { prefix: 'flickrfs-e2e-backup-' })
  // The hash list's mtime is its newest line's time rounded up to a whole second (layout/nodes.ts),
  // so for up to a second after a pin it lies ahead of the clock. A backup started in that second
  // sees it as newer than its own start, and its next incremental run archives it again (tar
  // --listed-incremental did, in a CI run). A real backup starts later; these wait for that second.
  const ahead = (await stat(join(dest, 'photostream', 'SHA256SUMS'))).mtimeMs + 50 - Date.now()
  if (ahead > 0) await sleep(ahead)
  const offline = await lab.mkdir('offline')
  await lab.mount(offline, ['--cache', dest, '--offline'], env)
  fake.faults.mediaLatencyMs = MEDIA_LATENCY_MS
  const online = await lab.mkdir('online')
  // The kernel trusts a size for --attr-timeout: 1 s, so that a second backup a moment later sees
  // the hash list as it grew during the first (the default 60 s is for a nightly backup).
  await lab.mount(online, ['--cache', await lab.mkdir('fresh-cache'), '--refresh', '0', '--attr-timeout', `${ONLINE_ATTR_TIMEOUT_MS / 1000}s`], env)
  const home = await lab.mkdir('client-home')
  const clientEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_CONFIG_HOME: join(home, '.config'),
    LC_ALL: 'C',
    TZ: 'UTC',
  }
  return { fake, lab, dest, offline, online, clientEnv }
}

/**
 * Every difference between a restored tree and the pinned DEST: a name only on one side, another
 * kind, another symlink target, other bytes. DEST's own `.flickrfs` (the store's state) is left out.
 * With `hashesSoFar`, a hash list (GROWS_WHILE_READ) may hold fewer lines than DEST's, each of them
 * one of DEST's: what a mount knew when the backup opened it (a later run picks up the rest).
 */
export async function treeDifferences(restored: string, dest: string, opts: { hashesSoFar?: boolean } = {}): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    const names = async (root: string): Promise<string[]> => (await readdir(join(root, rel))).filter((n) => !(rel === '' && n === '.flickrfs')).sort()
    const [a, b] = [await names(restored), await names(dest)]
    for (const n of a) if (!b.includes(n)) out.push(`only in the backup: ${join(rel, n)}`)
    for (const n of b) if (!a.includes(n)) out.push(`missing from the backup: ${join(rel, n)}`)
    for (const n of a.filter((x) => b.includes(x))) {
      const p = join(rel, n)
      const [sa, sb] = [await lstat(join(restored, p)), await lstat(join(dest, p))]
      const kind = (s: typeof sa): string => (s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'link' : 'other')
      if (kind(sa) !== kind(sb)) out.push(`${p}: a ${kind(sa)} in the backup, a ${kind(sb)} in DEST`)
      else if (sa.isSymbolicLink()) {
        const [ta, tb] = [await readlink(join(restored, p)), await readlink(join(dest, p))]
        if (ta !== tb) out.push(`${p}: link to ${ta} in the backup, to ${tb} in DEST`)
      } else if (sa.isFile()) {
        const [da, db] = [await readFile(join(restored, p)), await readFile(join(dest, p))]
        if (da.equals(db)) continue
        if (opts.hashesSoFar === true && GROWS_WHILE_READ.has(p)) {
          const all = new Set(db.toString('utf8').split('\n'))
          const extra = da.toString('utf8').split('\n').filter((l) => !all.has(l))
          if (extra.length === 0) continue
          out.push(`${p}: ${extra.length} lines that DEST's has not, first: ${extra[0]}`)
        } else out.push(`${p}: other bytes (${da.length} in the backup, ${db.length} in DEST)`)
      } else if (sa.isDirectory()) await walk(p)
    }
  }
  await walk('')
  return out
}

/** How many regular files, directories and symlinks DEST has (its `.flickrfs` left out). */
export async function destCounts(dest: string): Promise<{ files: number; dirs: number; links: number }> {
  const r = await run('find', [dest, '-mindepth', '1', '-path', `${dest}/.flickrfs`, '-prune', '-o', '-printf', '%y\\n'])
  assert.equal(r.code, 0, r.stderr)
  const kinds = r.stdout.split('\n').filter((k) => k !== '')
  return { files: kinds.filter((k) => k === 'f').length, dirs: kinds.filter((k) => k === 'd').length, links: kinds.filter((k) => k === 'l').length }
}

/** The mount's regular files (relative paths) whose ctime is the newest of them all, to the nanosecond. */
export async function newestCtimeFiles(mnt: string): Promise<{ newest: string; files: string[] }> {
  const r = await run('find', [mnt, '-type', 'f', '-printf', '%C@\\t%P\\n'])
  assert.equal(r.code, 0, r.stderr)
  const rows = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t') as [string, string])
  // %C@ prints seconds with 10 fractional digits: compare as strings of equal shape, not as floats.
  const newest = rows.map(([t]) => t).sort().at(-1) ?? ''
  return { newest, files: rows.filter(([t]) => t === newest).map(([, p]) => p).sort() }
}

/**
 * Fails, naming the first few differences and how many there are, unless `restored` is DEST byte
 * for byte (with `hashesSoFar`: but for a hash list that is not complete yet, see treeDifferences).
 */
export async function assertSameAsPin(restored: string, dest: string, opts: { hashesSoFar?: boolean } = {}): Promise<void> {
  const diffs = await treeDifferences(restored, dest, opts)
  assert.equal(diffs.length, 0, `${diffs.length} differences from pin, first: \n  ${diffs.slice(0, 8).join('\n  ')}`)
}

/** The mount's regular files: relative path → "size mtime ctime inode", times to the nanosecond. */
export async function fileStats(mnt: string): Promise<Map<string, string>> {
  const r = await run('find', [mnt, '-type', 'f', '-printf', '%s %T@ %C@ %i\\t%P\\n'])
  assert.equal(r.code, 0, r.stderr)
  return new Map(r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t').reverse() as [string, string]))
}

/** Files added, removed, or with another size, mtime, ctime or inode number in `after`. */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const out = new Set<string>()
  for (const [p, s] of before) if (after.get(p) !== s) out.add(p)
  for (const p of after.keys()) if (!before.has(p)) out.add(p)
  return [...out].sort()
}

/**
 * The only file a first backup may change by reading originals: the list of the hashes known
 * (it grows as originals are downloaded). Every other file of the mount is the same before and
 * after, so a second backup has nothing to re-read but this.
 */
export const GROWS_WHILE_READ = new Set(['photostream/SHA256SUMS'])

/** Stats the mount around a first backup; fails if it changed any file but GROWS_WHILE_READ's. */
export async function aroundFirstBackup(mnt: string, backup: () => Promise<void>): Promise<string[]> {
  const before = await fileStats(mnt)
  await backup()
  // Past the online mount's attribute timeout: the kernel then asks for sizes again.
  await sleep(ONLINE_ATTR_TIMEOUT_MS + 300)
  const changed = changedFiles(before, await fileStats(mnt))
  assert.deepEqual(changed.filter((p) => !GROWS_WHILE_READ.has(p)), [], 'files of the mount that changed while the first backup read them')
  return changed
}

/**
 * Of the files that changed while a first backup read them, those its copy (`firstCopy`) does not
 * hold as the mount now serves them: a second run must read these again. The others it may skip:
 * with read-ahead a grown hash list can be whole already when the first run reads it.
 */
export async function staleInFirstCopy(changed: readonly string[], firstCopy: string, mnt: string): Promise<string[]> {
  const stale: string[] = []
  for (const p of changed) {
    const copy = await readFile(join(firstCopy, p)).catch(() => undefined)
    if (copy === undefined || !copy.equals(await readFile(join(mnt, p)))) stale.push(p)
  }
  return stale
}

/** A second backup's re-read files: every stale one, and nothing that did not change. */
export function assertRereads(reread: readonly string[], changed: readonly string[], stale: readonly string[], what: string): void {
  assert.deepEqual(reread.filter((p) => !changed.includes(p)), [], `${what}: nothing unchanged is read again`)
  assert.deepEqual(stale.filter((p) => !reread.includes(p)), [], `${what}: everything the first run missed is read again`)
}

/** A photo's original or sidecar in photostream/ (not its `metadata` nor a hash list). */
export const isPhotoFile = (p: string): boolean => /^photostream\/\d+\./.test(p)
