/** Writes a TreeSpec as a real directory tree (what `pin` would write), to compare the mount with. */
import { chmod, copyFile, lutimes, mkdir, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_MTIME_MS, type TreeSpec } from './fixture.js'

export async function writeReference(spec: TreeSpec, dir: string, backingDir: string, top = true): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const [name, n] of Object.entries(spec)) {
    const p = join(dir, name)
    const t = (n.mtimeMs ?? DEFAULT_MTIME_MS) / 1000
    if ('dir' in n) {
      await writeReference(n.dir, p, backingDir, false)
      await chmod(p, 0o755)
      await utimes(p, t, t)
    } else if ('many' in n) {
      await mkdir(p)
      for (let i = 0; i < n.many.count; i++) {
        await writeFile(join(p, `${i}.txt`), n.many.text, { mode: 0o644 })
        await utimes(join(p, `${i}.txt`), t, t)
      }
      await chmod(p, 0o755)
      await utimes(p, t, t)
    } else if ('text' in n) {
      await writeFile(p, n.text)
      await chmod(p, 0o644)
      await utimes(p, t, t)
    } else if ('original' in n) {
      await copyFile(join(backingDir, `${n.original}.${n.ext}`), p)
      await chmod(p, 0o644)
      await utimes(p, t, t)
    } else {
      await symlink(n.link, p)
      await lutimes(p, t, t)
    }
  }
  if (top) {
    await chmod(dir, 0o755)
    await utimes(dir, DEFAULT_MTIME_MS / 1000, DEFAULT_MTIME_MS / 1000)
  }
}
