/**
 * Ids, secrets and extensions come from Flickr (or a server pretending to be Flickr) and end up in
 * file names under ROOT. Only a closed alphabet is accepted, so no value can contain a separator,
 * `..`, a NUL or anything a shell or filesystem would treat specially.
 */
import { FlickrfsError } from '../errors/flickrfs-error.js'

const ID = /^[A-Za-z0-9_-]{1,64}$/
const EXT = /^[a-z0-9]{1,8}$/

function check(pattern: RegExp, value: unknown, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    const shown = JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : value)
    throw new FlickrfsError('MEDIA', `Refusing to store a media item with an unsafe ${what} ${shown}: only ${pattern.source} is accepted. This is a bug in the catalog or an unexpected answer from Flickr.`)
  }
  return value
}

export const safeId = (id: unknown): string => check(ID, id, 'id')
export const safeSecret = (secret: unknown): string => check(ID, secret, 'secret')
export const safeExt = (ext: unknown): string => check(EXT, ext, 'extension')
