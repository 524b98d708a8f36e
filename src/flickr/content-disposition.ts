/**
 * The file name a Content-Disposition header gives, reduced to a bare name: the video play URL's
 * redirect names the file (`12345.mov`) and that is the only place Flickr states a video's
 * extension. Never a path: a name from the network must not be able to climb out of a folder.
 */
export function filenameFromContentDisposition(header: string | null | undefined): string | null {
  if (!header) return null
  let name: string | null = null
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
  if (star?.[2]) {
    try {
      name = decodeURIComponent(star[2].trim().replace(/^"|"$/g, ''))
    } catch {
      name = null
    }
  }
  if (name === null) {
    const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)
    const plain = /filename\s*=\s*([^;\s]+)/i.exec(header)
    name = quoted?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[1] ?? null
  }
  if (name === null) return null
  const base = name.split(/[/\\]/).pop()?.trim() ?? ''
  // eslint-disable-next-line no-control-regex
  if (base === '' || base === '.' || base === '..' || /[\u0000-\u001f]/.test(base)) return null
  return base
}
