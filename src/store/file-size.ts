import { stat } from 'node:fs/promises'
import { isEnoent } from '../util/fs-errors.js'

/** Size of the regular file at `path`; undefined when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path)
    return st.isFile() ? st.size : undefined
  } catch (err) {
    if (isEnoent(err)) return undefined
    throw err
  }
}
