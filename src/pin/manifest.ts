/**
 * What pin wrote into DEST, so the next run removes only its own stale entries and never a file
 * the user put there. Lives in DEST/.flickrfs/manifest.json, replaced atomically.
 */
import { readFile } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { manifestPath, STATE_REL } from '../util/state-paths.js'

export interface ManifestEntry {
  kind: 'photo' | 'set' | 'collection'
  id: string
}

/**
 * A sidecar of photostream/ as pin last wrote it or checked its bytes:
 * [index into `versions` of the content it holds, ino, size, mtimeMs, ctimeMs] of its lstat then.
 */
export type CheckedFile = [version: number, ino: number, size: number, mtimeMs: number, ctimeMs: number]

/**
 * Sidecars pin may trust without reading (write-tree.ts): each with the version of its content
 * (the photo's catalog row, see pin.ts) and its lstat when pin last knew its bytes to be that content.
 */
export interface CheckedFiles {
  versions: string[]
  files: Record<string, CheckedFile>
}

export interface Manifest {
  version: 1
  /** Top-level directories of DEST by name (sets, collections, Not in any set). */
  top: Record<string, ManifestEntry>
  /** Entries of DEST/photostream by name (sidecars; originals are the store's). */
  photostream: Record<string, ManifestEntry>
  /** Absent in manifests of earlier versions (then every sidecar is read and compared once). */
  checked?: CheckedFiles
}

export const emptyManifest = (): Manifest => ({ version: 1, top: {}, photostream: {} })

/** `dest`: the pin destination; the manifest is in its state folder. */
export async function readManifest(dest: string): Promise<Manifest> {
  return (await loadManifest(dest)).manifest
}

/** The manifest and its text as read (undefined when there is none), for writeManifest to skip an identical one. */
export async function loadManifest(dest: string): Promise<{ manifest: Manifest; text: string | undefined }> {
  const path = manifestPath(dest)
  try {
    const text = await readFile(path, 'utf8')
    const parsed = JSON.parse(text) as Manifest
    if (parsed.version !== 1 || typeof parsed.top !== 'object' || typeof parsed.photostream !== 'object') {
      throw new FlickrfsError('DEST', `${path} is not a flickrfs manifest of a version this flickrfs knows. Move it away and run again.`)
    }
    // Only an optimisation: a malformed record is dropped, and its sidecars are read again.
    const c = parsed.checked as Partial<CheckedFiles> | undefined
    if (c !== undefined && (!Array.isArray(c.versions) || typeof c.files !== 'object' || c.files === null)) delete parsed.checked
    return { manifest: parsed, text }
  } catch (err) {
    if (isEnoent(err)) return { manifest: emptyManifest(), text: undefined }
    if (err instanceof FlickrfsError) throw err
    throw new FlickrfsError('DEST', `${path} is damaged. Remove it and run again (entries flickrfs wrote earlier will then be left in place).`, { cause: err })
  }
}

/** Writes the manifest, unless its text is `unlessText` (the one on disk): a no-change pin writes none. */
export async function writeManifest(dest: string, manifest: Manifest, unlessText?: string): Promise<void> {
  const text = JSON.stringify(manifest) + '\n'
  if (text === unlessText) return
  await (await Confined.open(dest)).writeFileAtomic(STATE_REL.manifest, text)
}
