import { FlickrfsError } from '../errors/flickrfs-error.js'

/** NAME_MAX on Linux, macOS and every filesystem a pin is likely to land on. */
export const NAME_MAX_BYTES = 255

/**
 * Ids come from Flickr and are untrusted. Real ones are digits (photos, sets) or digits-dash-digits
 * (collections); anything outside this allowlist (a `/`, NUL, `.`, `..`, empty, absurdly long) is
 * skipped by the layout rather than rewritten, because a rewritten id could collide with a real one.
 */
const SAFE_ID = /^[A-Za-z0-9_@-]{1,64}$/
export function isSafeId(id: unknown): id is string {
  return typeof id === 'string' && SAFE_ID.test(id)
}

/**
 * Extensions are lower-case alphanumerics; anything else (from a server's file name) is refused.
 * At most 8, as src/store/safe-names.ts accepts: a file the store would refuse to write must not be
 * listed (the mount would answer EIO on it, and pin would report it missing on every run).
 */
const SAFE_EXT = /^[a-z0-9]{1,8}$/
export function isSafeExt(ext: unknown): ext is string {
  return typeof ext === 'string' && SAFE_EXT.test(ext.toLowerCase())
}

/** `<id>.<ext>`; throws for parts that could escape photostream/ (callers check first). */
export function mediaFileName(id: string, ext: string): string {
  const lower = ext.toLowerCase()
  if (!isSafeId(id) || !isSafeExt(lower)) {
    throw new FlickrfsError(
      'INTERNAL',
      `Refusing to name a media file from id ${JSON.stringify(id)} and extension ${JSON.stringify(ext)}: not a safe file name`,
    )
  }
  return `${id}.${lower}`
}

export const METADATA_SUFFIX = '.metadata'

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g

/**
 * Steps 1–3 of LAYOUT.md's title rule (`/`→`_`, control characters → space, trim). Lone UTF-16
 * surrogates become U+FFFD: they cannot be encoded, so the name the kernel hands back would
 * never match the one we built.
 */
export function safeTitle(title: unknown): string {
  const text = typeof title === 'string' ? title : ''
  return text.replace(LONE_SURROGATE, '\ufffd').replaceAll('/', '_').replace(CONTROL, ' ').trim()
}

/** The longest prefix of `text` (whole code points) whose UTF-8 encoding fits in `maxBytes`. */
export function cutToBytes(text: string, maxBytes: number): string {
  // A UTF-16 unit never takes more than 3 bytes of UTF-8, so short names skip the measuring.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text
  let bytes = 0
  let end = 0
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + len > maxBytes) break
    bytes += len
    end += ch.length
  }
  return text.slice(0, end)
}

function titledDirName(kind: 'Set' | 'Collection', id: string, title: unknown, maxBytes: number): string {
  if (!isSafeId(id)) {
    throw new FlickrfsError('INTERNAL', `Refusing to name a ${kind.toLowerCase()} directory from unsafe id ${JSON.stringify(id)}`)
  }
  const base = `${kind} ${id}`
  const head = `${base} - `
  const room = maxBytes - Buffer.byteLength(head)
  const cut = room > 0 ? cutToBytes(safeTitle(title), room) : ''
  return cut === '' ? base : head + cut
}

/** `Set <id> - <safe title>` in at most `maxBytes` (255, less any `<n>_` prefix it will get). */
export function setDirName(id: string, title: unknown, maxBytes = NAME_MAX_BYTES): string {
  return titledDirName('Set', id, title, maxBytes)
}

/** `Collection <id> - <safe title>` in at most `maxBytes`. */
export function collectionDirName(id: string, title: unknown, maxBytes = NAME_MAX_BYTES): string {
  return titledDirName('Collection', id, title, maxBytes)
}

/** `<n>_` zero-padded to the digit count of `count` (9 entries: `1_`; 10 entries: `01_`). */
export function numberPrefix(n: number, count: number): string {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(count) || n < 1 || n > count) {
    throw new FlickrfsError('INTERNAL', `Entry number ${n} is outside 1..${count}`)
  }
  return `${String(n).padStart(String(count).length, '0')}_`
}

/**
 * `<n>_<name>`. The whole name must still fit NAME_MAX, so a name that would overflow is cut at a
 * character boundary; for set and collection entries, pass a name already built with
 * `maxBytes = 255 - prefix bytes` so the cut lands in the title, not mid-word after the id.
 */
export function numberedName(n: number, count: number, name: string): string {
  const prefix = numberPrefix(n, count)
  return prefix + cutToBytes(name, NAME_MAX_BYTES - prefix.length)
}
