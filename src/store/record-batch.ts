/**
 * Group commit of download records. Each completed download's file is already fsynced and renamed
 * to its final name when it comes here; `commit` then makes the renames durable (one fsync of the
 * directory) and writes the records (one sqlite transaction) for every download that came in since
 * the last commit began. One commit runs at a time; what arrives during it waits for the next, so
 * the batches grow with the load; a batch's first record waits `lingerMs` for company.
 *
 * A crash loses at most the batch in flight: its files are under their final names without records,
 * and the next run adopts them (hashes them) or downloads them again. A record never exists before
 * its directory entry is on disk.
 */
export class RecordBatch<R> {
  private pending: Array<{ record: R; resolve: () => void; reject: (err: unknown) => void }> = []
  private running: Promise<void> | undefined
  private lingering: NodeJS.Timeout | undefined

  /**
   * `lingerMs`: how long the first record of a batch waits for others before the batch is
   * committed (the downloads of a pin complete a few milliseconds apart; without the wait most
   * batches would hold one record).
   */
  constructor(
    private readonly commit: (records: R[]) => Promise<void>,
    private readonly lingerMs = 50,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once `record` is committed; rejects with the commit's failure. */
  add(record: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ record, resolve, reject })
      this.kick()
    })
  }


  private kick(): void {
    if (this.running !== undefined || this.pending.length === 0 || this.lingering !== undefined) return
    if (this.lingerMs > 0 && this.pending.length < this.maxBatch) {
      this.lingering = setTimeout(() => {
        this.lingering = undefined
        this.start()
      }, this.lingerMs)
      return
    }
    this.start()
  }

  private start(): void {
    if (this.running !== undefined || this.pending.length === 0) return
    const batch = this.pending.slice(0, this.maxBatch)
    this.pending = this.pending.slice(batch.length)
    this.running = this.commit(batch.map((b) => b.record)).then(
      () => { for (const b of batch) b.resolve() },
      (err: unknown) => { for (const b of batch) b.reject(err) },
    ).finally(() => {
      this.running = undefined
      // What came in meanwhile has waited a whole commit already.
      this.start()
    })
  }
}
