/**
 * What pin wrote into DEST, so the next run removes only its own stale entries and never a file
 * the user put there. Lives in DEST/.flickrfs/manifest.json, replaced atomically.
 */
import { readFile } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { manifestPath, STATE_REL } from '../util/state-paths.js'
import { sameJson } from '../catalog/same-json.js'

export interface ManifestEntry {
  kind: 'photo' | 'set' | 'collection'
  id: string
  /**
   * A sidecar of photostream/ as pin last wrote it or read its bytes: the index into
   * Manifest.sidecarVersions of the content it holds, and its lstat then (write-tree.ts trusts it
   * unread while both are the same). Earlier versions of flickrfs ignore it.
   */
  c?: CheckedFile
}

/** [version index, ino, size, mtimeMs, ctimeMs]. */
export type CheckedFile = [version: number, ino: number, size: number, mtimeMs: number, ctimeMs: number]

export interface Manifest {
  version: 1
  /** Top-level directories of DEST by name (sets, collections, Not in any set). */
  top: Record<string, ManifestEntry>
  /** Entries of DEST/photostream by name (sidecars; originals are the store's). */
  photostream: Record<string, ManifestEntry>
  /** The content versions the `c` of photostream entries point into (see pin.ts sidecarVersions). */
  sidecarVersions?: string[]
}

export const emptyManifest = (): Manifest => ({ version: 1, top: {}, photostream: {} })

/** `dest`: the pin destination; the manifest is in its state folder. */
export async function readManifest(dest: string): Promise<Manifest> {
  const path = manifestPath(dest)
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Manifest
    if (parsed.version !== 1 || typeof parsed.top !== 'object' || typeof parsed.photostream !== 'object') {
      throw new FlickrfsError('DEST', `${path} is not a flickrfs manifest of a version this flickrfs knows. Move it away and run again.`)
    }
    // Only an optimisation (a sidecar whose record is unusable is read again): anything else is dropped.
    if (!Array.isArray(parsed.sidecarVersions)) delete parsed.sidecarVersions
    return parsed
  } catch (err) {
    if (isEnoent(err)) return emptyManifest()
    if (err instanceof FlickrfsError) throw err
    throw new FlickrfsError('DEST', `${path} is damaged. Remove it and run again (entries flickrfs wrote earlier will then be left in place).`, { cause: err })
  }
}

/**
 * Writes the manifest, unless it says the same as `unless` (the one read at the start): a no-change
 * pin writes none. Compared as values, not as text: making the text of 100,000 entries costs more.
 */
export async function writeManifest(dest: string, manifest: Manifest, unless?: Manifest): Promise<void> {
  if (unless !== undefined && sameJson(manifest, unless)) return
  await (await Confined.open(dest)).writeFileAtomic(STATE_REL.manifest, JSON.stringify(manifest) + '\n')
}
