/**
 * The mount's store while its index loads. The mount comes up before the index is read (~6 s of
 * this thread at 1,000,000 originals, bench/RESULTS.md "mountup"): a listing needs only the
 * catalog. What needs the store waits for it, and nothing ever answers from a half-read index:
 *   - reads of originals (`read`), under the read's own deadline; the fast paths decline until
 *     the store is in, so every read takes the waiting path;
 *   - read-ahead (`prefetch`), which plans nothing until then (`prefetches` is false);
 *   - photostream/SHA256SUMS (`hashes`): its getattr, open and read wait in fs/ (`waitFor`, for
 *     `ready`); `hashes` itself must not be asked before (it would answer "no hash known").
 * A store that fails to open is every waiting read's error, and SHA256SUMS's, for good.
 */
import type { MediaEntry } from '../catalog/types.js'
import type { OriginalReader } from '../fs/index.js'
import type { OriginalHashes } from '../layout/index.js'
import type { OriginalStore } from '../store/index.js'

export class LoadingStore implements OriginalReader {
  /** Resolves once the store is open, its index read whole. */
  readonly ready: Promise<void>
  readonly #opening: Promise<OriginalStore>
  #store: OriginalStore | undefined

  constructor(
    opening: Promise<OriginalStore>,
    /** The store's bound on unpinned originals (its `maxBytes`), known before it opens. */
    readonly cacheMaxBytes: number | undefined,
  ) {
    this.#opening = opening
    this.ready = opening.then((store) => {
      this.#store = store
    })
    // Its failure is said by whoever waits (the mount's line, each read's error), never unhandled.
    this.ready.catch(() => undefined)
  }

  /** The open store, once its index is read. */
  opened(): Promise<OriginalStore> {
    return this.#opening
  }

  /** What photostream/SHA256SUMS is made of: only asked once `ready` has resolved (fs/ waits for it). */
  readonly hashes: OriginalHashes = {
    generation: () => this.#store?.generation ?? -1,
    hashOf: (id, secret) => this.#store?.knownRecord(id, secret),
  }

  read(m: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const store = this.#store
    return store !== undefined ? store.read(m, position, length, signal) : this.#opening.then((s) => s.read(m, position, length, signal))
  }

  readLocal(m: MediaEntry, position: number, length: number, done: (err: Error | null, data: Buffer | undefined) => void): boolean {
    return this.#store?.readLocal(m, position, length, done) ?? false
  }

  readLocalSync(m: MediaEntry, position: number, length: number, into: Buffer): number | undefined {
    return this.#store?.readLocalSync(m, position, length, into)
  }

  prefetch(m: MediaEntry, signal: AbortSignal, onFetched?: () => void): Promise<void> {
    const store = this.#store
    if (store !== undefined) return store.prefetch(m, signal, onFetched)
    // Never rejects (OriginalReader): a store that failed to open fetched nothing.
    return this.#opening.then((s) => s.prefetch(m, signal, onFetched), () => onFetched?.())
  }

  get prefetches(): boolean {
    return this.#store?.prefetches ?? false
  }

  /** Closes the store once it is open (a store that failed to open has nothing to close). */
  async close(): Promise<void> {
    const store = await this.#opening.catch(() => undefined)
    await store?.close()
  }
}
