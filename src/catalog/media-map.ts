import type { MediaEntry } from './types.js'
import { mediaKey } from './types.js'

/**
 * A loaded snapshot's `media`: the same ReadonlyMap by `${id}_${secret}` as everywhere else, held
 * by photo id. A loaded catalog has at most one original per photo (the one of its current
 * secret), and the id is a string the photo's entry already holds, where a key of its own cost
 * every original ~80 bytes (the concatenation, flattened when hashed): 8 MB at 100,000 photos.
 * Keys are made again only when iterated. Filled once, at decode (or handed a map at construction),
 * then never changed.
 */
export class MediaByPhoto implements ReadonlyMap<string, MediaEntry> {
  private readonly byId: ReadonlyMap<string, MediaEntry>
  /** The map `add` fills: only that of one made empty. */
  private readonly filling: Map<string, MediaEntry> | undefined

  /**
   * `byId`: originals by photo id (each the original of `entry.id`) that nobody changes from now
   * on, held as they are (a refresh's, and a first mount's views of its first catalog).
   */
  constructor(byId?: ReadonlyMap<string, MediaEntry>) {
    this.filling = byId === undefined ? new Map() : undefined
    this.byId = byId ?? (this.filling as Map<string, MediaEntry>)
  }

  /** At decode only: `entry` becomes the original of photo `entry.id`. */
  add(entry: MediaEntry): void {
    if (this.filling === undefined) throw new Error('a MediaByPhoto handed its map is never changed')
    this.filling.set(entry.id, entry)
  }

  get(key: string): MediaEntry | undefined {
    const cut = key.indexOf('_')
    if (cut < 0) return undefined
    const entry = this.byId.get(key.slice(0, cut))
    // Ids have no '_' (layout/names.ts isSafeId), so the rest is the whole secret.
    return entry !== undefined && key.length === cut + 1 + entry.secret.length && key.endsWith(entry.secret) ? entry : undefined
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  get size(): number {
    return this.byId.size
  }

  *entries(): MapIterator<[string, MediaEntry]> {
    for (const e of this.byId.values()) yield [mediaKey(e.id, e.secret), e]
  }

  *keys(): MapIterator<string> {
    for (const e of this.byId.values()) yield mediaKey(e.id, e.secret)
  }

  values(): MapIterator<MediaEntry> {
    return this.byId.values()
  }

  [Symbol.iterator](): MapIterator<[string, MediaEntry]> {
    return this.entries()
  }

  forEach(fn: (value: MediaEntry, key: string, map: ReadonlyMap<string, MediaEntry>) => void, thisArg?: unknown): void {
    for (const [key, e] of this.entries()) fn.call(thisArg, e, key, this)
  }
}
