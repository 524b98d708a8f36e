/**
 * Whether a folder can be written by this process: a read-only DEST (a backup disk mounted
 * read-only, a folder of another user) is served and checked as it is, and pin refuses it in one
 * line instead of failing halfway.
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode } from './fs-errors.js'

/** Why `dir` (or, when it does not exist yet, its nearest existing parent) cannot be written: EROFS, EACCES, EPERM; else undefined. */
export async function unwritableReason(dir: string): Promise<string | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await access(d, constants.W_OK)
      return undefined
    } catch (err) {
      const code = errnoCode(err)
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return code
      if (code !== 'ENOENT' || dirname(d) === d) return undefined
    }
  }
}
