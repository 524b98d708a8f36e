/**
 * `--full-listing-every` and config.json `fullListingEvery`: how old the last full listing of the
 * account may get before a refresh lists everything again. In between, refreshes fetch only what
 * changed (flickr.photos.recentlyUpdated); a deletion is noticed by them anyway (the photostream's
 * count) and found with a few pages (catalog/incremental.ts locateDeletions), so the periodic one is
 * for what they cannot see (view and fave counts, and a set reordered without its date_update
 * moving, if Flickr does that).
 */
import { join } from 'node:path'
import { DEFAULT_FULL_LISTING_EVERY_MS } from '../catalog/index.js'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { CONFIG_FILE, readConfigFile, resolveConfigDir, type Env } from '../flickr/index.js'
import { parseDuration } from './units.js'

export const FULL_LISTING_FLAGS = '--full-listing-every <duration>'
export const FULL_LISTING_HELP =
  'list the whole account again when the last full listing is this old (default 7d, or config.json fullListingEvery; 0: always); ' +
  'in between only what changed is fetched'

/** The flag (already parsed) wins over config.json, which wins over the default. */
export async function fullListingEveryMs(env: Env, flag: number | undefined): Promise<number> {
  if (flag !== undefined) return flag
  const configDir = resolveConfigDir(env)
  const raw = (await readConfigFile(configDir)).fullListingEvery
  if (raw === undefined) return DEFAULT_FULL_LISTING_EVERY_MS
  const where = `fullListingEvery in ${join(configDir, CONFIG_FILE)}`
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return Math.round(raw * 1000)
  if (typeof raw === 'string') {
    try {
      return parseDuration(where)(raw)
    } catch {
      // parseDuration's message names a flag; say where the value came from instead.
    }
  }
  throw new FlickrfsError('CONFIG', `${where} takes a duration like "1d" or "7d" (or seconds), got ${JSON.stringify(raw)}.`)
}
