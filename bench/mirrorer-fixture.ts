/**
 * A recorded mirror of the original flickrmirrorer: what the unmodified tool wrote for one generated
 * account, kept as a small JSON file so that tests of taking such a mirror over run everywhere, also
 * where the tool cannot (CI has no copy of it, and this repository keeps none).
 *
 * The record holds every directory, every symlink with its target, every text file with its bytes
 * (the fake's origin replaced by `{{ORIGIN}}`, since its port changes from run to run), and for each
 * original only which photo it is: its bytes are the fake's own for that photo, checked when
 * recording. Replaying it against a fake of the same account gives the tree the tool wrote.
 *
 *   node --import tsx bench/flickrmirrorer.ts record-fixture FILE [--items 60] [--seed 700]
 *
 * records one (it needs the tool, see bench/flickrmirrorer.ts); test/e2e/adopt-flickrmirrorer.test.ts
 * records a fresh one wherever the tool can run and checks that the committed record still matches it.
 */
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeAccount, GenerateOptions } from '../src/fake-flickr/index.js'

export type FixtureEntry =
  | { path: string; kind: 'dir' }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'text'; text: string }
  | { path: string; kind: 'original'; photo: string }

export interface MirrorFixture {
  /** Which tool wrote it, for the reader (repository and commit). */
  writtenBy: string
  /** The account it mirrors: `generateAccount(account)`. */
  account: GenerateOptions
  /** Sorted by path, parents before children. */
  entries: FixtureEntry[]
}

const ORIGIN = '{{ORIGIN}}'

/** The photo a file under photostream/ holds: `<id>.<ext>`, or the tool's `<id>_<secret>.<ext>` for videos. */
function photoOf(path: string, account: FakeAccount): string | undefined {
  const m = /^photostream\/(\d+)(?:_[0-9a-f]+)?\.[A-Za-z0-9]+$/.exec(path)
  return m?.[1] !== undefined && account.photos.has(m[1]) ? m[1] : undefined
}

/** Walks what the tool wrote in `dir` into a record; every original must be the fake's bytes for its photo. */
export async function recordMirror(dir: string, account: FakeAccount, origin: string, meta: Omit<MirrorFixture, 'entries'>): Promise<MirrorFixture> {
  const entries: FixtureEntry[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(join(dir, path))
      if (st.isSymbolicLink()) entries.push({ path, kind: 'symlink', target: await readlink(join(dir, path)) })
      else if (st.isDirectory()) {
        entries.push({ path, kind: 'dir' })
        await walk(path)
      } else {
        const bytes = await readFile(join(dir, path))
        const photo = photoOf(path, account)
        if (photo !== undefined) {
          if (!bytes.equals(account.originalBytes(photo))) throw new Error(`${path}: not the fake's bytes for photo ${photo}`)
          entries.push({ path, kind: 'original', photo })
        } else {
          entries.push({ path, kind: 'text', text: bytes.toString('utf8').split(origin).join(ORIGIN) })
        }
      }
    }
  }
  await walk('')
  return { ...meta, entries }
}

/** Writes the recorded tree into `dir` (created), with the originals' bytes and `origin` from the running fake. */
export async function replayMirror(fixture: MirrorFixture, dir: string, account: FakeAccount, origin: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const e of fixture.entries) {
    const at = join(dir, e.path)
    if (e.kind === 'dir') await mkdir(at)
    else if (e.kind === 'symlink') await symlink(e.target, at)
    else if (e.kind === 'text') await writeFile(at, e.text.split(ORIGIN).join(origin))
    else await writeFile(at, account.originalBytes(e.photo))
  }
}

export async function readFixture(file: string): Promise<MirrorFixture> {
  return JSON.parse(await readFile(file, 'utf8')) as MirrorFixture
}

export async function writeFixture(file: string, fixture: MirrorFixture): Promise<void> {
  await writeFile(file, `${JSON.stringify(fixture, null, 1)}\n`)
}
