/**
 * Which originals are pinned: never evicted. An id is pinned when `pin()` named it (also before it
 * is stored: it is recorded pinned when it arrives), when its record says so, or when the store's
 * policy says so (`pinEverything`: every original, so nothing is ever evicted).
 */

/** Ids pinned besides those named by `pin()`. */
export type PinPolicy = (id: string) => boolean

export const pinEverything: PinPolicy = () => true
const pinNamedOnly: PinPolicy = () => false

export class Pins {
  private readonly named = new Set<string>()

  constructor(private readonly policy: PinPolicy = pinNamedOnly) {}

  /** Takes the ids recorded pinned in a loaded index as named (a forgotten record stays pinned when downloaded again). */
  load(pinnedIds: Iterable<string>): void {
    for (const id of pinnedIds) this.named.add(id)
  }

  add(id: string): void {
    this.named.add(id)
  }

  has(id: string): boolean {
    return this.policy(id) || this.named.has(id)
  }
}
