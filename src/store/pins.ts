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
  /**
   * The ids named pinned. None under `pinEverything` (pin's own store), which pins every id for
   * good: each original stored was named, a string and a Set entry each (~60 MB at 1,000,000,
   * growing through a first pin's downloads). A policy that may change its answer (a mount's,
   * true while a pin runs in it) still has every id named: they stay pinned after.
   */
  private readonly named = new Set<string>()

  constructor(private readonly policy: PinPolicy = pinNamedOnly) {}

  /** Takes the ids recorded pinned in a loaded index as named (a forgotten record stays pinned when downloaded again). */
  load(pinnedIds: Iterable<string>): void {
    // Not even iterated: each id is a string made from the index's columns.
    if (this.policy === pinEverything) return
    for (const id of pinnedIds) this.named.add(id)
  }

  add(id: string): void {
    if (this.policy !== pinEverything) this.named.add(id)
  }

  has(id: string): boolean {
    return this.policy(id) || this.named.has(id)
  }
}
