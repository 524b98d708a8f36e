import type { RestCall } from '../src/fake-flickr/index.js'
import type { FlickrClient } from '../src/flickr/index.js'

/** scripts/replay-calls.mjs's replay, for bench/pin.ts. */
export function replay(api: Pick<FlickrClient, 'call'>, calls: ReadonlyArray<Pick<RestCall, 'method' | 'params' | 'arrivedMs' | 'answeredMs'>>): Promise<number>
