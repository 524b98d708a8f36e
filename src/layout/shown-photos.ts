/**
 * The photos a build shows in photostream/, id → k (the k-th shown, in photostream order): the
 * build asks it once per photo of the order (listed twice?) and once per set member (shown?).
 *
 * A Map<string, number> did this: at 1,000,000 photos its `has` took 1.2 s of the photostream's
 * loop and its `get` 0.9 s of the sets' (of a 4.3 s build before the mount comes up; bench/RESULTS.md
 * "mountfast"): every id a new string to hash, every probe a cache miss into a table of 40 MB that
 * also kept each id's string alive. Flickr's ids are decimal numbers below 2^53 (numericId), so
 * those are found by number in an open-addressed table of two typed arrays (~16 bytes a photo, no
 * string kept); any other id (the layout allows letters: names.ts isSafeId) goes to a Map. A
 * number stands for exactly one string (no leading zero), so both answer as the Map did.
 */
import { numericId } from '../catalog/decimal-id.js'

/** Slots per photo at most: at ≤ 50% full a probe seldom goes past its first slot. */
const SLOTS_PER_PHOTO = 2

export class ShownPhotos {
  /** Of the k-th shown photo: its id's number (NaN when it has none: then it is in #others). */
  readonly #keys: Float64Array
  /** k + 1 of the photo whose number hashed to this slot or was moved on to it; 0: empty. */
  readonly #slots: Int32Array
  readonly #mask: number
  readonly #others = new Map<string, number>()
  #size = 0
  /**
   * The last id `get` did not find, its number and the empty slot its probe ended at: the build
   * asks `get` of each photo of the order and then adds it, and the add then neither parses nor probes.
   */
  #missed: { id: string; key: number; slot: number } = { id: '', key: NaN, slot: -1 }

  /** Room for `capacity` photos: never more are added (a build adds at most its photostream's length). */
  constructor(capacity: number) {
    let slots = 16
    while (slots < SLOTS_PER_PHOTO * capacity) slots *= 2
    this.#keys = new Float64Array(capacity)
    this.#slots = new Int32Array(slots)
    this.#mask = slots - 1
  }

  get size(): number {
    return this.#size
  }

  /**
   * k of photo `id`, or undefined when it is not shown (yet). `near`: a k that `id`'s may well be
   * next to (a set's previous member: an album is often a run of the photostream, either way), tried
   * before the table: its neighbours' numbers are beside its own in memory, a slot seldom is
   * (the sets' lookups were ~0.5 s of cache misses at 1,000,000 photos). The answer is the same.
   */
  get(id: string, near = -2): number | undefined {
    const key = numericId(id)
    if (key === undefined) return this.#others.get(id)
    const keys = this.#keys
    if (near + 1 < this.#size && keys[near + 1] === key) return near + 1
    if (near >= 1 && keys[near - 1] === key) return near - 1
    // Two members swapped in an album (a, c, b, d of a run a, b, c, d) step by two.
    if (near + 2 < this.#size && keys[near + 2] === key) return near + 2
    if (near >= 2 && keys[near - 2] === key) return near - 2
    const slots = this.#slots
    for (let slot = slotOf(key) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const s = slots[slot] as number
      if (s === 0) {
        const missed = this.#missed
        missed.id = id
        missed.key = key
        missed.slot = slot
        return undefined
      }
      if (keys[s - 1] === key) return s - 1
    }
  }

  /** Shows `id`, which is not shown yet, as the next k (returned). */
  add(id: string): number {
    const k = this.#size++
    const missed = this.#missed
    // Nothing was added since that miss, so its slot is still the first empty one of its probe.
    if (missed.id === id && missed.slot >= 0) {
      this.#keys[k] = missed.key
      this.#slots[missed.slot] = k + 1
      missed.slot = -1
      return k
    }
    const key = numericId(id)
    if (key === undefined) {
      this.#keys[k] = NaN
      this.#others.set(id, k)
      return k
    }
    this.#keys[k] = key
    let slot = slotOf(key) & this.#mask
    while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask
    this.#slots[slot] = k + 1
    return k
  }
}

/** A well-mixed 32-bit hash of an integer below 2^53 (murmur3's finaliser over its two halves). */
function slotOf(key: number): number {
  let h = (key >>> 0) ^ Math.imul(Math.floor(key / 4294967296), 0x9e3779b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}
