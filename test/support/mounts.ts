/**
 * Whether this machine can mount at all, what the kernel has mounted where (read from /proc/mounts),
 * and how to leave nothing mounted.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fuseUsable } from '../../src/fs/index.js'
import { run, sh } from './run.js'

/** Why real mounts (read with `tools` besides the usual coreutils) cannot run here, or undefined when they can. */
export async function fuseUnusableReason(tools: string[] = []): Promise<string | undefined> {
  const usable = await fuseUsable()
  if (!usable.ok) return `FUSE is not usable here: ${usable.reason}`
  const missing: string[] = []
  for (const tool of tools) if ((await sh(`command -v ${tool}`)).code !== 0) missing.push(tool)
  return missing.length > 0 ? `not installed: ${missing.join(', ')}` : undefined
}

/** /proc/mounts escapes blanks and backslashes in paths as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** The fs type of whatever is mounted exactly at `mnt`, or undefined. */
export async function mountedType(mnt: string): Promise<string | undefined> {
  const want = resolve(mnt)
  let type: string | undefined
  for (const line of (await readFile('/proc/mounts', 'utf8')).split('\n')) {
    const [, path, fstype] = line.split(' ')
    if (path !== undefined && unescapeMountPath(path) === want) type = fstype
  }
  return type
}

export async function isMounted(mnt: string): Promise<boolean> {
  return (await mountedType(mnt)) !== undefined
}

/** Leaves nothing mounted at `mnt`: plain unmount, then lazy. */
export async function forceUnmount(mnt: string): Promise<void> {
  for (let i = 0; i < 5 && (await isMounted(mnt)); i++) {
    const r = await run('fusermount', ['-u', mnt])
    if (r.code !== 0) await run('fusermount', ['-u', '-z', mnt])
  }
}
