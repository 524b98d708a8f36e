import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { isFlickrfsError } from '../errors/flickrfs-error.js'
import { loadFuse } from './fuse-binding.js'

/**
 * Whether this machine can mount at all, and if not, why in words a user can act on. Checked
 * before a mount is attempted by callers that have another way to go (the demo pins instead).
 */
export async function fuseUsable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await access('/dev/fuse', constants.R_OK | constants.W_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return {
      ok: false,
      reason: code === 'ENOENT'
        ? '/dev/fuse does not exist (in a container, start it with --device /dev/fuse; elsewhere, modprobe fuse)'
        : `/dev/fuse is not usable by this user (${code ?? 'error'})`,
    }
  }
  try {
    loadFuse()
  } catch (err) {
    return { ok: false, reason: isFlickrfsError(err) ? err.message : String(err) }
  }
  return { ok: true }
}
