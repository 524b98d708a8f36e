/** The fixture reader the mount tests serve originals from passes the OriginalReader contract. */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { originalReaderContract } from '../support/original-reader-contract.js'
import { tempDir } from '../support/repo.js'
import { FileOriginalReader, mediaOf } from './fixture.js'

originalReaderContract('FileOriginalReader (test/fs/fixture.ts)', async () => {
  const dir = await tempDir('flickrfs-reader-fixture-')
  // The reader keeps a reference: media added to it later are slow too.
  const slowMs: Record<string, number> = {}
  let n = 0
  const add = async (bytes: Buffer): Promise<ReturnType<typeof mediaOf>> => {
    const id = String(1000 + n++)
    await writeFile(join(dir, `${id}.jpg`), bytes)
    return mediaOf(id, 'jpg', bytes.length)
  }
  return {
    reader: new FileOriginalReader(dir, slowMs),
    add,
    addStalled: async (bytes) => {
      const m = await add(bytes)
      slowMs[m.id] = 600_000
      return m
    },
    close: () => rm(dir, { recursive: true, force: true }),
  }
})
