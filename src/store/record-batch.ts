/**
 * Group commit of download records. Each completed download's file is already fsynced and renamed
 * to its final name when it comes here; `commit` then makes the renames durable (one fsync of the
 * directory) and writes the records (one sqlite transaction) for every download that came in since
 * the last commit began. One commit runs at a time; what arrives during it waits for the next, so
 * the batches grow with the load and a lone download is recorded at once.
 *
 * A crash loses at most the batch in flight: its files are under their final names without records,
 * and the next run adopts them (hashes them) or downloads them again. A record never exists before
 * its directory entry is on disk.
 */
export class RecordBatch<R> {
  private pending: Array<{ record: R; resolve: () => void; reject: (err: unknown) => void }> = []
  private running: Promise<void> | undefined

  constructor(
    private readonly commit: (records: R[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once `record` is committed; rejects with the commit's failure. */
  add(record: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ record, resolve, reject })
      this.kick()
    })
  }

  /** Resolves when nothing is pending or being committed. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  private kick(): void {
    if (this.running !== undefined || this.pending.length === 0) return
    const batch = this.pending.slice(0, this.maxBatch)
    this.pending = this.pending.slice(batch.length)
    this.running = this.commit(batch.map((b) => b.record)).then(
      () => { for (const b of batch) b.resolve() },
      (err: unknown) => { for (const b of batch) b.reject(err) },
    ).finally(() => {
      this.running = undefined
      this.kick()
    })
  }
}
