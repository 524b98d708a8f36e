/**
 * What the `flickrfs mount` e2e tests and benchmarks share besides test/support/mount-lab.ts: how
 * to quote for bash, list a tree with find, and count the fake's media GETs.
 */
import { run } from '../support/run.js'

/** Quotes one argument for bash. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** `find` of a tree: relative path → "kind size target" (kind f/d/l; size of files only). */
export async function findListing(root: string, opts: { sizes?: boolean } = {}): Promise<Map<string, { kind: string; size: number; target: string }>> {
  const r = await run('find', [root, '-mindepth', '1', '-not', '-path', `${root}/.flickrfs`, '-not', '-path', `${root}/.flickrfs/*`, '-printf', '%y\\0%s\\0%l\\0%P\\0'])
  if (r.code !== 0) throw new Error(`find ${root} failed: ${r.stderr}`)
  const parts = r.stdout.split('\0')
  const out = new Map<string, { kind: string; size: number; target: string }>()
  for (let i = 0; i + 3 < parts.length; i += 4) {
    const kind = parts[i] ?? ''
    out.set(parts[i + 3] ?? '', { kind, size: opts.sizes === false || kind !== 'f' ? 0 : Number(parts[i + 1]), target: parts[i + 2] ?? '' })
  }
  return out
}

/** Count of media GETs the fake has answered (originals and video files). */
export function mediaGets(counts: Record<string, number>): number {
  return counts['media:GET'] ?? 0
}
