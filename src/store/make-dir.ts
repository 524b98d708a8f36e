import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { destWriteError, errnoCode } from '../util/fs-errors.js'
import { exists } from '../util/fs.js'

/**
 * `mkdir -p` whose error says what is really wrong. Node's recursive mkdir reports ENOENT on a
 * read-only filesystem (the EROFS is lost on the way), which would send the user looking for a
 * missing folder; creating the first missing level on its own gives the real errno.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    return
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw destWriteError(err, dir)
  }
  let missing = dir
  for (;;) {
    const parent = dirname(missing)
    if (parent === missing || (await exists(parent))) break
    missing = parent
  }
  try {
    await mkdir(missing)
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw destWriteError(err, missing)
  }
  try {
    await mkdir(dir, { recursive: true })
  } catch (err) {
    throw destWriteError(err, dir)
  }
}
