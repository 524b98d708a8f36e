/**
 * Ids, secrets and extensions come from Flickr (or a server pretending to be Flickr) and end up in
 * file names under ROOT. The store refuses, with an error, any value outside layout/names.ts's rules,
 * the same ones the catalog and the layout apply, so every file it writes has a name those rules allow.
 */
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { SAFE_EXT, SAFE_ID, SAFE_SECRET } from '../layout/names.js'

function check(pattern: RegExp, value: unknown, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    const shown = JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : value)
    throw new FlickrfsError('MEDIA', `Refusing to store a media item with an unsafe ${what} ${shown}: only ${pattern.source} is accepted. This is a bug in the catalog or an unexpected answer from Flickr.`)
  }
  return value
}

export const safeId = (id: unknown): string => check(SAFE_ID, id, 'id')
export const safeSecret = (secret: unknown): string => check(SAFE_SECRET, secret, 'secret')
export const safeExt = (ext: unknown): string => check(SAFE_EXT, ext, 'extension')
