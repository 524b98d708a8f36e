import { constants } from 'node:fs'
import { access, open } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { isFlickrfsError } from '../errors/flickrfs-error.js'
import { loadFuse } from './fuse-binding.js'

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue
    const ok = await access(join(dir, cmd), constants.X_OK).then(
      () => true,
      () => false,
    )
    if (ok) return true
  }
  return false
}

/**
 * Whether this machine can mount at all, and if not, why in words a user can act on. Checked
 * before a mount is attempted by callers that have another way to go (the demo pins instead).
 */
export async function fuseUsable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    // Opening is the real test: a container may show the node yet deny the device (EPERM).
    const fh = await open('/dev/fuse', 'r+')
    await fh.close()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return {
      ok: false,
      reason: code === 'ENOENT'
        ? '/dev/fuse does not exist (in a container, start it with --device /dev/fuse; elsewhere, modprobe fuse)'
        : `/dev/fuse is not usable by this user (${code ?? 'error'})`,
    }
  }
  // libfuse 2 runs `fusermount` to mount as a user, for auto_unmount, and we run it to unmount.
  if (!(await onPath('fusermount'))) return { ok: false, reason: 'fusermount is not installed (apt-get install fuse3)' }
  try {
    loadFuse()
  } catch (err) {
    return { ok: false, reason: isFlickrfsError(err) ? err.message : String(err) }
  }
  return { ok: true }
}
