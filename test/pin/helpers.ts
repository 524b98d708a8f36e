/**
 * Shared parts of the pin tests: the fake Flickr and the environment a CLI child needs to reach it,
 * a snapshot of a directory tree (kinds, sizes, mtimes, inodes, link targets) and an independent
 * reading of LAYOUT.md that says what DEST must hold for a fake account. The CLI child itself and
 * temp dirs are in test/support/.
 */
import assert from 'node:assert/strict'
import { copyFile, lstat, mkdir, readdir, readlink, rm, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { testClients } from '../support/clients.js'
import { CATALOG_FILE_NAME, stateDir } from '../../src/util/state-paths.js'
import { tempDir } from '../support/repo.js'
import { pin, type PinOptions, type PinReport } from '../../src/pin/pin.js'
import { startFakeFlickr, generateAccount, type FakeAccount, type FakeFlickr, type GenerateOptions } from '../../src/fake-flickr/index.js'

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

export async function startFake(gen: GenerateOptions | FakeAccount = {}): Promise<FakeFlickr> {
  const account = 'photos' in gen && gen.photos instanceof Map ? (gen as FakeAccount) : generateAccount(gen as GenerateOptions)
  return startFakeFlickr({ account })
}

/** A fake Flickr with `gen`'s account and a DEST path in a fresh temp dir, both gone when the test ends. */
export async function fakeAndDest(t: { after: (fn: () => Promise<void>) => void }, gen: GenerateOptions): Promise<{ fake: FakeFlickr; dest: string }> {
  const fake = await startFake(gen)
  const work = await tempDir()
  t.after(async () => {
    await fake.close()
    await removeDir(work)
  })
  return { fake, dest: join(work, 'dest') }
}

/** The environment a CLI child needs to talk to the fake with its pre-authorized token. */
export function cliEnv(fake: Pick<FakeFlickr, 'origin' | 'credentials'>, configDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: configDir,
    FLICKRFS_API_ORIGIN: fake.origin,
    FLICKR_API_KEY: fake.credentials.apiKey,
    FLICKR_API_SECRET: fake.credentials.apiSecret,
    FLICKR_OAUTH_TOKEN: fake.credentials.oauthToken,
    FLICKR_OAUTH_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
    FLICKRFS_CONFIG_DIR: configDir,
    // Big enough that the limiter never waits in a test; the real default (1/s) is for Flickr.
    FLICKRFS_API_RATE: '1000',
    ...extra,
  }
  // An extra set to undefined takes a default out (the real limiter, for a bench that measures it).
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined))
}

export interface Entry {
  kind: 'file' | 'dir' | 'link' | 'other'
  size: number
  mtimeMs: number
  ino: number
  target?: string
}

/** Every entry under `dir` by relative path (`.flickrfs` left out unless asked). */
export async function snapshot(dir: string, opts: { withState?: boolean } = {}): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>()
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name)
      const rel = relative(dir, p)
      if (rel === '.flickrfs' && opts.withState !== true) continue
      const st = await lstat(p)
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other'
      const e: Entry = { kind, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }
      if (kind === 'link') e.target = await readlink(p)
      out.set(rel, e)
      if (kind === 'dir') await walk(p)
    }
  }
  await walk(dir)
  return out
}

/**
 * A path (as `changedPaths` gives it) of the key's shared API budget, `ratelimit-<hash>.json` and
 * its lock, which src/flickr/limiter.ts keeps in the config folder by design: not a write outside DEST.
 */
export const isApiBudgetFile = (changed: string): boolean => /(^|\/)ratelimit-[0-9a-f]{16}\.(json|lock)$/.test(changed)

/** Paths whose kind, size, mtime, inode or target differ between two snapshots (added/removed too). */
export function changedPaths(a: Map<string, Entry>, b: Map<string, Entry>, opts: { ignoreDirs?: boolean; ignoreLinkMtimes?: boolean } = {}): string[] {
  const out: string[] = []
  for (const [p, e] of a) {
    const f = b.get(p)
    if (f === undefined) out.push(`-${p}`)
    else if (opts.ignoreDirs === true && e.kind === 'dir' && f.kind === 'dir') continue
    else if (opts.ignoreLinkMtimes === true && e.kind === 'link' && f.kind === 'link' && e.target === f.target && e.ino === f.ino) continue
    else if (e.kind !== f.kind || e.size !== f.size || e.mtimeMs !== f.mtimeMs || e.ino !== f.ino || e.target !== f.target) out.push(`~${p}`)
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`+${p}`)
  return out
}

/** Every entry of `clean` is in `repaired` again, with its size, link target and (folders aside) mtime. */
export function assertTreeBack(clean: Map<string, Entry>, repaired: Map<string, Entry>): void {
  for (const [p, e] of clean) {
    const now = repaired.get(p)
    assert.ok(now !== undefined, `${p} is back`)
    if (e.kind !== 'dir') assert.equal(now.mtimeMs, e.mtimeMs, `${p} has its mtime back`)
    assert.equal(now.size, e.size, `${p} has its size back`)
    assert.equal(now.target, e.target, `${p} has its target back`)
  }
}

// ---- LAYOUT.md, read independently of src/layout ----------------------------------------------

/** LAYOUT.md's title rules: `/`→`_`, control chars → space, trim, cut at 255 bytes on a char boundary. */
export function dirName(prefix: 'Set' | 'Collection', id: string, title: string): string {
  // eslint-disable-next-line no-control-regex
  const t = title.replace(/\//g, '_').replace(/[\u0000-\u001f\u007f]/g, ' ').trim()
  if (t === '') return `${prefix} ${id}`
  let name = `${prefix} ${id} - `
  for (const ch of t) {
    if (Buffer.byteLength(name + ch) > 255) break
    name += ch
  }
  return name
}

/** `<n>_<name>`, n zero-padded to the digits of the count; cut (never inside a character) at 255 bytes. */
export function numbered(i: number, count: number, name: string): string {
  let out = `${String(i + 1).padStart(String(count).length, '0')}_`
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > 255) break
    out += ch
  }
  return out
}

/** `<id>.<ext>` as LAYOUT.md names a photo's file; videos by their container (or mp4 as a transcode). */
export function mediaName(account: FakeAccount, id: string, transcode = false): string {
  const p = account.requirePhoto(id)
  const ext = p.media === 'video' ? (transcode ? 'mp4' : (p.videoFormat ?? 'mp4')) : p.originalformat.toLowerCase()
  return `${id}.${ext}`
}

export interface ExpectedTree {
  /** path → kind, with link targets and, for originals, the expected bytes' size. */
  entries: Map<string, { kind: 'file' | 'dir' | 'link'; target?: string; size?: number }>
}

/** What DEST must hold, exactly, for this account (originals and sidecars for every photo). */
export function expectedTree(account: FakeAccount, opts: { transcodes?: ReadonlySet<string>; omit?: ReadonlySet<string> } = {}): ExpectedTree {
  const entries: ExpectedTree['entries'] = new Map()
  // A photo whose original is not known yet is left out everywhere (ARCHITECTURE.md: src/layout).
  const shown = (id: string): boolean => opts.omit?.has(id) !== true
  const name = (id: string): string => mediaName(account, id, opts.transcodes?.has(id) === true)
  entries.set('photostream', { kind: 'dir' })
  entries.set('photostream/metadata', { kind: 'file' })
  entries.set('photostream/SHA256SUMS', { kind: 'file' })
  for (const id of account.photostream.filter(shown)) {
    const p = account.requirePhoto(id)
    entries.set(`photostream/${name(id)}`, { kind: 'file', ...(opts.transcodes?.has(id) ? {} : { size: p.bytes }) })
    entries.set(`photostream/${name(id)}.metadata`, { kind: 'file' })
  }
  const inSet = new Set(account.sets.flatMap((s) => s.photoIds))
  const loose = account.photostream.filter((id) => !inSet.has(id) && shown(id))
  if (loose.length > 0) {
    entries.set('Not in any set', { kind: 'dir' })
    for (const id of loose) entries.set(`Not in any set/${name(id)}`, { kind: 'link', target: `../photostream/${name(id)}` })
  }
  const setDir = new Map<string, string>()
  for (const s of account.sets) {
    const d = dirName('Set', s.id, s.title)
    setDir.set(s.id, d)
    entries.set(d, { kind: 'dir' })
    entries.set(`${d}/metadata`, { kind: 'file' })
    const members = s.photoIds.filter(shown)
    members.forEach((id, i) => {
      entries.set(`${d}/${numbered(i, members.length, name(id))}`, { kind: 'link', target: `../photostream/${name(id)}` })
    })
  }
  const walk = (parent: string, depth: number, c: FakeAccount['collections'][number]): void => {
    const d = `${parent}${dirName('Collection', c.id, c.title)}`
    entries.set(d, { kind: 'dir' })
    entries.set(`${d}/metadata`, { kind: 'file' })
    const count = c.setIds.length + c.children.length
    c.setIds.forEach((sid, i) => {
      const sd = setDir.get(sid) ?? `Set ${sid}`
      entries.set(`${d}/${numbered(i, count, sd)}`, { kind: 'link', target: `${'../'.repeat(depth)}${sd}` })
    })
    c.children.forEach((child, j) => {
      const i = c.setIds.length + j
      const childDir = dirName('Collection', child.id, child.title)
      const prefixed = numbered(i, count, childDir)
      // A child collection is a real directory named with its number.
      walk(`${d}/${prefixed.slice(0, prefixed.length - childDir.length)}`, depth + 1, child)
    })
  }
  for (const c of account.collections) walk('', 1, c)
  return { entries }
}

/** The real clients, pointed at the fake, with retries short enough for tests. */
export const clients = testClients

/** One in-process pin of `dest` with fresh clients. */
export async function pinOnce(fake: FakeFlickr, dest: string, opts: Partial<PinOptions> & { maxRetries?: number } = {}): Promise<PinReport> {
  const { api, media } = clients(fake, { maxRetries: opts.maxRetries })
  return pin({ dest, api, media, ...opts })
}

/**
 * Copies `from`'s catalog (catalog.sqlite and its WAL files) alone into `to`: what a mount leaves
 * in its cache folder, a catalog with no tree, no record of a pin and no originals beside it.
 */
export async function copyCatalogOnly(from: string, to: string): Promise<void> {
  await mkdir(stateDir(to), { recursive: true })
  for (const f of await readdir(stateDir(from))) {
    if (f.startsWith(CATALOG_FILE_NAME)) await copyFile(join(stateDir(from), f), join(stateDir(to), f))
  }
}

/** Equal sets of paths, failing with only the differences (a whole tree listing is unreadable). */
export function assertSamePaths(actual: Iterable<string>, expected: Iterable<string>, what = 'tree'): void {
  const a = new Set(actual)
  const e = new Set(expected)
  const extra = [...a].filter((p) => !e.has(p))
  const missing = [...e].filter((p) => !a.has(p))
  if (extra.length > 0 || missing.length > 0) {
    throw new Error(`${what} differs from LAYOUT.md:\n  unexpected: ${JSON.stringify(extra, null, 1)}\n  missing: ${JSON.stringify(missing, null, 1)}`)
  }
}

/** The lines a non-TTY progress display writes to stderr now and then. */
export const PROGRESS_LINE = /^(listing|downloading|writing): \d+(\/\d+)? items?\b/

export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !PROGRESS_LINE.test(l))
}

/** Symlinks under `dest` whose target does not exist. */
export async function danglingLinks(dest: string): Promise<string[]> {
  const out: string[] = []
  for (const [p, e] of await snapshot(dest)) {
    if (e.kind !== 'link') continue
    try {
      await stat(join(dest, p))
    } catch {
      out.push(p)
    }
  }
  return out
}
