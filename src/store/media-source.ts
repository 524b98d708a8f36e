/**
 * The part of src/flickr's MediaClient the store calls. Kept narrow so the store depends on what it
 * uses, not on the client's construction; MediaClient satisfies it structurally.
 */
export interface MediaResponse {
  status: 200 | 206
  /** Size of the whole original, whatever range was asked for. */
  size: number
  /** Offset of the first byte of `body`. */
  start: number
  body: ReadableStream<Uint8Array>
  /**
   * The same bytes without a web stream, when the source offers them (MediaClient does): read one
   * or the other, never both. A wrapper that replaces `body` must drop this.
   */
  chunks?: BodyChunks
  /** Where the redirects ended (MediaClient states it; a video's name may be in its path). */
  finalUrl?: string
  /** Content-Disposition's file name, when given. */
  filename?: string | null
}

/** A body read chunk by chunk: undefined at its end or once cancelled; throws what broke it. */
export interface BodyChunks {
  read(): Promise<Uint8Array | undefined>
  cancel(reason?: unknown): void
}

export interface MediaSource {
  /** `retries`: flickr/media-client.ts MediaTry. */
  get(url: string, opts?: { start?: number; signal?: AbortSignal; cookies?: string; retries?: number }): Promise<MediaResponse>
}
