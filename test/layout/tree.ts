import assert from 'node:assert/strict'
import path from 'node:path'
import type { LayoutDir, LayoutNode } from '../../src/layout/index.js'

/** Every node below `dir` with its absolute path, depth first in readdir order. */
export function walk(dir: LayoutDir, dirPath = ''): Array<[string, LayoutNode]> {
  const out: Array<[string, LayoutNode]> = []
  for (const node of dir.children.values()) {
    const p = `${dirPath}/${node.name}`
    out.push([p, node])
    if (node.kind === 'dir') out.push(...walk(node, p))
  }
  return out
}

/** Where a relative symlink at `linkPath` points, as the kernel would resolve it. */
export function resolveLink(linkPath: string, target: string): string {
  return path.posix.resolve(path.posix.dirname(linkPath), target)
}

export function names(dir: LayoutNode | undefined): string[] {
  if (dir === undefined || dir.kind !== 'dir') throw new Error('not a dir')
  return [...dir.children.keys()]
}

/**
 * The bytes of a file the layout makes, as fs/ and pin/ read them: through `load` when it has one
 * (a sidecar, whose record may come later), awaited; else `data`.
 */
export async function loadBytes(node: LayoutNode | undefined, what = node?.name ?? 'no node'): Promise<Buffer> {
  assert.ok(node?.kind === 'file' && node.content.type === 'bytes', `${what}: a file of bytes`)
  const content = node.content
  return content.load !== undefined ? await content.load() : content.data
}
