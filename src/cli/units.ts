import { FlickrfsError } from '../errors/flickrfs-error.js'

/** `90s`, `15m`, `2h`, `1d`, or plain seconds; `0` turns the thing off. Milliseconds. */
export function parseDuration(flag: string) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(value.trim())
    if (!m) throw new FlickrfsError('USAGE', `${flag} takes a duration like 90s, 15m or 2h, got "${value}".`)
    const n = Number(m[1])
    const unit = (m[2] ?? 's').toLowerCase()
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000
    return Math.round(n * factor)
  }
}

/**
 * `500M`, `20G`, `1.5T`, or plain bytes. Binary, as df -h and du -h count: `20G` (also `20GiB` or
 * `20GB`) is 20 GiB, 20 × 1024³ bytes; formatSize shows it back the same way.
 */
export function parseSize(flag: string) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(value.trim())
    if (!m) throw new FlickrfsError('USAGE', `${flag} takes a size like 500M or 20G, got "${value}".`)
    const exp = ['', 'k', 'm', 'g', 't'].indexOf((m[2] ?? '').toLowerCase())
    return Math.round(Number(m[1]) * 1024 ** exp)
  }
}

/** Bytes in the binary units parseSize reads: `20 GiB`, `1.5 TiB`, `512 MiB`. */
export function formatSize(bytes: number): string {
  const { value, unit, scaled } = inUnits(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'])
  const shown = !scaled || Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '')
  return `${shown} ${unit}`
}

/** `bytes` in the largest of `units` (each `step` times the one before) that keeps the value ≥ 1. */
export function inUnits(bytes: number, step: number, units: readonly string[]): { value: number; unit: string; scaled: boolean } {
  let value = bytes
  let u = 0
  while (value >= step && u < units.length - 1) {
    value /= step
    u++
  }
  return { value, unit: units[u] ?? '', scaled: u > 0 }
}

/** `about 5 h`, `about 40 min`, `under a minute`: a wait that an estimate cannot give to the second. */
export function roughDuration(seconds: number): string {
  if (seconds < 60) return 'under a minute'
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`
  const h = seconds / 3600
  return `about ${h < 10 ? Math.round(h * 10) / 10 : Math.round(h)} h`
}

/** `about 5 h at Flickr's limit`: how long API calls take at the key's budget, as status and the pin's line say it. */
export function atFlickrsLimit(seconds: number): string {
  return `${roughDuration(seconds)} at Flickr's limit`
}
