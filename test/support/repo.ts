/** Where the checkout and its CLI are, and fresh temp dirs: what every suite that touches disk needs. */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const BIN = join(REPO, 'bin', 'flickrfs')

export async function tempDir(prefix = 'flickrfs-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}
