/**
 * Child process for the batch-boundary kill -9 test: downloads many originals at once through a
 * slow network and prints `recorded <id>` as each ensure() resolves (its record committed); the
 * parent kills it mid-stream.
 * argv: root, media entries as JSON.
 */
import { MediaClient } from '../../src/flickr/index.js'
import { OriginalStore } from '../../src/store/index.js'
import type { MediaEntry } from '../../src/catalog/types.js'
import { eachLimit } from '../../src/util/pool.js'
import { observed } from './helpers.js'

const [root, entries] = process.argv.slice(2)
const list = JSON.parse(entries ?? '[]') as MediaEntry[]
const origin = new URL(list[0]?.url ?? 'http://127.0.0.1').origin
const store = await OriginalStore.open(root ?? '', observed(new MediaClient({ origins: [origin] }), { chunkDelayMs: 5 }))
await eachLimit(list, 12, async (m) => {
  await store.ensure(m)
  process.stdout.write(`recorded ${m.id}\n`)
})
