import { FlickrfsError } from '../errors/flickrfs-error.js'

/**
 * The last line of defence before a name from the layout touches the disk: one path component,
 * never `.`/`..`, no separators or NUL, at most 255 bytes. The layout already makes titles safe;
 * this refuses anything that slipped through rather than writing outside DEST.
 */
export function assertSafeName(name: string): void {
  if (
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    Buffer.byteLength(name) > 255
  ) {
    throw new FlickrfsError('INTERNAL', `refusing unsafe file name ${JSON.stringify(name.slice(0, 80))}`)
  }
}
