/**
 * Child process for the kill -9 test: downloads one original through a slow network and never
 * finishes on its own; the parent kills it mid-body.
 * argv: root, media entry as JSON.
 */
import { MediaClient } from '../../src/flickr/index.js'
import { OriginalStore } from '../../src/store/index.js'
import type { MediaEntry } from '../../src/catalog/types.js'
import { observed } from './helpers.js'

const [root, entry] = process.argv.slice(2)
const media = JSON.parse(entry ?? '{}') as MediaEntry
const store = await OriginalStore.open(root ?? '', observed(new MediaClient({ origins: [new URL(media.url).origin] }), { chunkDelayMs: 20 }))
await store.ensure(media)
