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
  /** Where the redirects ended (MediaClient states it; a video's name may be in its path). */
  finalUrl?: string
  /** Content-Disposition's file name, when given. */
  filename?: string | null
}

export interface MediaSource {
  get(url: string, opts?: { start?: number; signal?: AbortSignal; cookies?: string }): Promise<MediaResponse>
}
