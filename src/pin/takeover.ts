/**
 * What is left of a flickrmirrorer mirror once flickrfs has taken it over. The store adopts the
 * tool's originals (its videos through their `<id>_<secret>.<ext>` name, which then points at ours);
 * pin rewrites the sidecars. The tool's own folders and names stay, untouched, until the user asks
 * with --delete-unknown: then they go, but only when everything in them is what the tool writes
 * (folders, `metadata` files, symlinks). Anything else in them keeps them all, and is named.
 */
import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { METADATA_SUFFIX, mediaFileName } from '../layout/names.js'
import type { Confined } from '../util/confine.js'
import { isEnoent } from '../util/fs-errors.js'

/** The folders of the tool's later layout. (Its first layout's folders are ours by name.) */
export const FLICKRMIRRORER_FOLDERS = ['Albums', 'Collections', 'Not in any album'] as const

export interface TakeoverCleanup {
  /** Tool folders and photostream names removed, relative to DEST. */
  removed: string[]
  /** When anything of the tool's was kept: the folders holding something the tool does not write, with that thing. */
  kept: Array<{ path: string; because: string }>
}

/** The first entry under `rel` that the tool would not have written, or undefined when all of it is its. */
async function foreignEntry(guard: Confined, rel: string): Promise<string | undefined> {
  for (const name of await readdir(guard.abs(rel))) {
    const child = join(rel, name)
    const st = await lstat(guard.abs(child))
    if (st.isSymbolicLink() || (st.isFile() && name === 'metadata')) continue
    if (!st.isDirectory()) return child
    const inner = await foreignEntry(guard, child)
    if (inner !== undefined) return inner
  }
  return undefined
}

/**
 * The tool's names for the videos we adopted: `<id>_<secret>.<ext>` symlinks to our `<id>.<ext>`
 * (made by the store when it adopted them), with the tool's sidecar beside each.
 */
async function adoptedVideoAliases(guard: Confined): Promise<string[]> {
  const out: string[] = []
  let names: string[]
  try {
    names = await readdir(guard.abs('photostream'))
  } catch (err) {
    if (isEnoent(err)) return out
    throw err
  }
  for (const name of names) {
    const m = /^([0-9A-Za-z]+)_[0-9A-Za-z]+\.([a-z0-9]+)$/.exec(name)
    if (m === null) continue
    const rel = join('photostream', name)
    const target = await readlink(guard.abs(rel)).catch(() => undefined)
    if (target !== mediaFileName(m[1] as string, m[2] as string)) continue
    out.push(rel)
    if (names.includes(name + METADATA_SUFFIX)) out.push(rel + METADATA_SUFFIX)
  }
  return out
}

/**
 * --delete-unknown on a mirror the tool wrote: its folders and its names for adopted videos go,
 * all together, since its folders link into each other and to those names. When any of them holds
 * something the tool does not write, all of it stays, and `kept` says what that was.
 */
export async function removeFlickrmirrorerLeftovers(guard: Confined): Promise<TakeoverCleanup> {
  const result: TakeoverCleanup = { removed: [], kept: [] }
  const folders: string[] = []
  for (const folder of FLICKRMIRRORER_FOLDERS) {
    const st = await lstat(guard.abs(folder)).catch(() => undefined)
    if (st === undefined || !st.isDirectory()) continue
    folders.push(folder)
    const foreign = await foreignEntry(guard, folder)
    if (foreign !== undefined) result.kept.push({ path: folder, because: foreign })
  }
  if (result.kept.length > 0) return result
  for (const folder of folders) {
    await guard.rmTree(folder)
    result.removed.push(folder)
  }
  for (const rel of await adoptedVideoAliases(guard)) {
    await guard.unlink(rel)
    result.removed.push(rel)
  }
  if (result.removed.some((r) => !r.startsWith('photostream/'))) await guard.fsyncDir('')
  if (result.removed.some((r) => r.startsWith('photostream/'))) await guard.fsyncDir('photostream')
  return result
}
