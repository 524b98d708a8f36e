import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { Env } from '../flickr/index.js'

/**
 * FLICKRFS_LAZY_CATALOG_FROM: photos from which a mount reads its saved catalog lazily, and a pin
 * merges a small change into it without loading it (defaults: live-mount.ts, pin/pin.ts). A module
 * of its own so that `pin` reads it without loading the mount's.
 */
export function lazyCatalogFrom(env: Env): number | undefined {
  const raw = env.FLICKRFS_LAZY_CATALOG_FROM
  if (!raw) return undefined
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FlickrfsError('CONFIG', `FLICKRFS_LAZY_CATALOG_FROM must be a whole number of photos (0: always), got "${raw}".`)
  }
  return n
}
