import { FlickrfsError } from '../errors/flickrfs-error.js'

/** NAME_MAX on Linux, macOS and every filesystem a pin is likely to land on. */
export const NAME_MAX_BYTES = 255

/*
 * Every value from Flickr that ends up in a file name is untrusted and checked against one closed
 * alphabet per kind of value, here and nowhere else: the catalog keeps, the layout lists and the
 * store writes exactly the same values. A value outside its rule (a `/`, NUL, `.`, `..`, empty,
 * absurdly long) is skipped rather than rewritten, because a rewritten value could collide with a
 * real one. None of the alphabets has `.`, `/`, a space or a control character, so no value can be
 * `.`/`..`, climb out of its folder, or be confused with the separators the names below add.
 */

/**
 * Ids of photos, videos, sets and collections (and of users, though no file is named after one).
 * Flickr's are digits (photos `52345678901`, sets `72157600000000001`), digits-dash-digits for
 * collections (`12345678-72157600000000100`) and digits-`@`-letters-digits for user NSIDs
 * (`12345678@N00`). One alphabet serves them all: letters, `_` and `@` cost nothing in a file name
 * and keep a change in Flickr's id shapes from emptying a mirror. The first character is a letter or
 * digit, as in every real id, so no `<id>.<ext>` starts with `-` (which every command would take for
 * an option). At most 64 characters: the longest real id (a collection's) has about 26, and
 * `Set <id> - ` must leave most of NAME_MAX to the title.
 */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_@-]{0,63}$/
export function isSafeId(id: unknown): id is string {
  return typeof id === 'string' && safeChars(id, true)
}

/**
 * Secrets (`secret`, `originalsecret`) name the store's partial downloads (`<id>_<secret>.part`).
 * Flickr's are 10 lower-case hex digits; the rule is the id rule without `@` (no secret has one), so
 * a longer or mixed-case secret from a future Flickr still works.
 */
export const SAFE_SECRET = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/
export function isSafeSecret(secret: unknown): secret is string {
  return typeof secret === 'string' && safeChars(secret, false)
}

/**
 * SAFE_ID (`at`) or SAFE_SECRET, tested a character at a time: a mount's build tests an id and a
 * secret for each of 1,000,000 photos before it comes up, ~45 ms less than with the regular
 * expressions. test/layout/names.test.ts holds both spellings to one rule.
 */
function safeChars(s: string, at: boolean): boolean {
  const n = s.length
  if (n === 0 || n > 64) return false
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    // A digit, or a letter: setting bit 5 lower-cases A-Z and leaves a-z, and takes nothing else there.
    if ((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122)) continue
    if (i > 0 && (c === 95 || c === 45 || (at && c === 64))) continue
    return false
  }
  return true
}

/**
 * Extensions (`originalformat`, or the end of a video's file name as the server gives it) are
 * lower-case letters and digits, 1 to 8 of them: every format Flickr serves fits (`jpg`, `heic`,
 * `tiff`, `mp4`, `mov`, `3gp`, `webm`, `mpeg`). The catalog stores them through `normalizeExt`; a
 * longer one is kept there but skipped by the layout and refused by the store, so the mount never
 * lists a file it could not serve and pin never reports one missing on every run.
 */
export const SAFE_EXT = /^[a-z0-9]{1,8}$/
export function isSafeExt(ext: unknown): ext is string {
  return typeof ext === 'string' && SAFE_EXT.test(ext.toLowerCase())
}

const extensions = new Map<string, string>()

/**
 * What the catalog records as a format: `value` lower-cased, with everything but letters and digits
 * dropped (`.JPG` → `jpg`). The result may still fail `isSafeExt` (empty, or over 8 characters).
 */
export function normalizeExt(value: string): string {
  // A handful of formats over 100k photos: hand out one string per format.
  const known = extensions.get(value)
  if (known !== undefined) return known
  const ext = value.toLowerCase().replace(/[^a-z0-9]/g, '')
  if (extensions.size < 1000) extensions.set(value, ext)
  return ext
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

/**
 * The name the original flickrmirrorer gives a video: `<id>_<secret>.<ext>` (photos it names as we
 * do). Taking over its mirror, the store finds a video's bytes under this name.
 */
export function flickrmirrorerVideoName(id: string, secret: string, ext: string): string {
  if (!isSafeSecret(secret)) throw new FlickrfsError('INTERNAL', `Refusing to name a media file from secret ${JSON.stringify(secret)}: not a safe file name`)
  const ours = mediaFileName(id, ext)
  return `${id}_${secret}${ours.slice(id.length)}`
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

/*
 * The inverses: a name this module built gives back the id it was built from; any other string
 * (a user's own file, a name of another version's shape, a hostile readdir) gives `undefined`.
 */

/** `{ id, ext }` of a name `mediaFileName` makes (`<id>.<ext>`, ext lower-case). */
export function parseMediaFileName(name: string): { id: string; ext: string } | undefined {
  const dot = name.indexOf('.')
  if (dot < 0) return undefined
  const id = name.slice(0, dot)
  const ext = name.slice(dot + 1)
  return isSafeId(id) && SAFE_EXT.test(ext) ? { id, ext } : undefined
}

/** `{ id, ext }` of a media file's sidecar, `<id>.<ext>.metadata`. */
export function parseSidecarName(name: string): { id: string; ext: string } | undefined {
  return name.endsWith(METADATA_SUFFIX) ? parseMediaFileName(name.slice(0, -METADATA_SUFFIX.length)) : undefined
}

// A title as `safeTitle` leaves it (before the byte cut, which may leave a trailing space).
// eslint-disable-next-line no-control-regex
const TITLE_PART = /^[^/\u0000-\u001f\u007f]+$/

function parseTitledDirName(kind: 'Set' | 'Collection', name: string): string | undefined {
  const head = `${kind} `
  if (!name.startsWith(head) || Buffer.byteLength(name) > NAME_MAX_BYTES) return undefined
  const rest = name.slice(head.length)
  const space = rest.indexOf(' ')
  const id = space < 0 ? rest : rest.slice(0, space)
  if (!isSafeId(id)) return undefined
  if (space < 0) return id
  const title = rest.slice(space)
  return title.startsWith(' - ') && TITLE_PART.test(title.slice(3)) ? id : undefined
}

/** The set id of a name `setDirName` makes (`Set <id>` or `Set <id> - <title>`). */
export function parseSetDirName(name: string): string | undefined {
  return parseTitledDirName('Set', name)
}

/** The collection id of a name `collectionDirName` makes. */
export function parseCollectionDirName(name: string): string | undefined {
  return parseTitledDirName('Collection', name)
}

/**
 * Any name about to be written as one entry of a directory: one path component, never `.`/`..`, no
 * separator or NUL, at most NAME_MAX_BYTES. Every name this module builds passes; pin checks each
 * name once more right before it touches the disk, so a bug here can never write outside DEST.
 */
export function isSafeFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= NAME_MAX_BYTES
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
