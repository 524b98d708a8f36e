/**
 * pin writes the modes the mount shows (0644 files, 0755 directories) whatever the umask, so that
 * `rsync -a` of DEST and of the mount agree; DEST itself keeps the mode its owner gave it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { cliEnv, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { BIN, tempDir } from '../support/repo.js'

void test('a pin under umask 077 still writes 0644 files and 0755 directories', async () => {
  const fake = await startFake({ seed: 11, photos: 6, videos: 1, sets: 2, collections: 1 })
  const work = await tempDir('flickrfs-modes-')
  try {
    const dest = join(work, 'dest')
    await mkdir(dest, { mode: 0o700 })
    const env = cliEnv(fake, join(work, 'config'))
    const code = await new Promise<number | null>((res, rej) => {
      const child = spawn('sh', ['-c', `umask 077 && exec "${process.execPath}" "${BIN}" pin -q "${dest}"`], { env, stdio: 'inherit' })
      child.once('error', rej)
      child.once('close', res)
    })
    assert.equal(code, 0)
    const entries = await snapshot(dest)
    assert.ok(entries.size > 10, `pinned ${entries.size} entries`)
    for (const [path] of entries) {
      const st = await stat(join(dest, path)).catch(() => undefined)
      if (!st) continue
      const mode = st.mode & 0o777
      if (st.isDirectory()) assert.equal(mode, 0o755, `${path} is ${mode.toString(8)}`)
      else assert.equal(mode, 0o644, `${path} is ${mode.toString(8)}`)
    }
    assert.equal((await stat(dest)).mode & 0o777, 0o700, "DEST's own mode is the user's")
  } finally {
    await fake.close()
    await removeDir(work)
  }
})
