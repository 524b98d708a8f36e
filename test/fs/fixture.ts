/**
 * Hand-built trees for the mount tests, and an OriginalReader backed by real files in a temp dir
 * (with configurable slow and failing media). Used inside the child process that serves a mount.
 */
import { open, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { MediaEntry } from '../../src/catalog/types.js'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import type { FsDir, FsFile, FsNode, FsTree, OriginalReader } from '../../src/fs/index.js'

export type NodeSpec =
  | { dir: TreeSpec; mtimeMs?: number; ino?: number }
  | { text: string; mtimeMs?: number; ino?: number }
  | { original: string; ext: string; size?: number; mtimeMs?: number; ino?: number }
  | { link: string; mtimeMs?: number; ino?: number }
  /** A directory of `count` small text files named 0.txt, 1.txt, … */
  | { many: { count: number; text: string }; mtimeMs?: number; ino?: number }

export interface TreeSpec {
  [name: string]: NodeSpec
}

export interface ServeSpec {
  mountpoint: string
  backingDir: string
  tree: TreeSpec
  options?: {
    attrTimeoutSec?: number
    negativeTimeoutSec?: number
    readTimeoutMs?: number
    autoUnmount?: boolean
    allowOther?: boolean
    fileHandles?: boolean
    syncLocalReads?: boolean
  }
  /** Media id → delay of every read, ms. */
  slowMs?: Record<string, number>
  /** Media ids whose reads fail (as a network error would). */
  fail?: string[]
}

export const DEFAULT_MTIME_MS = Date.UTC(2021, 4, 6, 7, 8, 9)

export function mediaOf(id: string, ext: string, size: number): MediaEntry {
  return { id, secret: 's' + id, size, ext, url: `http://127.0.0.1:1/${id}.${ext}`, kind: 'original' }
}

export async function buildTree(spec: TreeSpec, backingDir: string): Promise<FsTree> {
  let nextIno = 1
  const ino = (n: NodeSpec): number => n.ino ?? ++nextIno
  async function dir(name: string, s: TreeSpec, mtimeMs: number, dirIno: number): Promise<FsDir> {
    const children = new Map<string, FsNode>()
    for (const [childName, n] of Object.entries(s)) {
      const m = n.mtimeMs ?? DEFAULT_MTIME_MS
      if ('dir' in n) children.set(childName, await dir(childName, n.dir, m, ino(n)))
      else if ('many' in n) {
        const d = new Map<string, FsNode>()
        const data = Buffer.from(n.many.text)
        const dIno = ino(n)
        for (let i = 0; i < n.many.count; i++) {
          const f: FsFile = { kind: 'file', name: `${i}.txt`, mtimeMs: m, ino: ++nextIno, size: data.length, content: { type: 'bytes', data } }
          d.set(f.name, f)
        }
        children.set(childName, { kind: 'dir', name: childName, mtimeMs: m, ino: dIno, children: d })
      } else if ('text' in n) {
        const data = Buffer.from(n.text)
        children.set(childName, { kind: 'file', name: childName, mtimeMs: m, ino: ino(n), size: data.length, content: { type: 'bytes', data } })
      } else if ('original' in n) {
        const size = n.size ?? (await stat(join(backingDir, `${n.original}.${n.ext}`))).size
        children.set(childName, {
          kind: 'file',
          name: childName,
          mtimeMs: m,
          ino: ino(n),
          size,
          content: { type: 'original', media: mediaOf(n.original, n.ext, size) },
        })
      } else children.set(childName, { kind: 'link', name: childName, mtimeMs: m, ino: ino(n), target: n.link })
    }
    return { kind: 'dir', name, mtimeMs, ino: dirIno, children }
  }
  const root = await dir('', spec, DEFAULT_MTIME_MS, 1)
  return {
    root,
    lookup(path: string): FsNode | undefined {
      let node: FsNode = root
      for (const part of path.split('/')) {
        if (part === '') continue
        if (node.kind !== 'dir') return undefined
        const next: FsNode | undefined = node.children.get(part)
        if (!next) return undefined
        node = next
      }
      return node
    },
  }
}

/** Reads originals from `<backingDir>/<id>.<ext>` into a fresh buffer, like the store does. */
export class FileOriginalReader implements OriginalReader {
  /** Reads asked; reads now held by their `slowMs` delay, and the most held at once. */
  readonly calls = { reads: 0, slowHeld: 0, slowHeldPeak: 0 }
  // Kept open like a store would keep its cache files open; the serving process is short-lived.
  private readonly files = new Map<string, Promise<FileHandle>>()
  constructor(
    private readonly backingDir: string,
    private readonly slowMs: Record<string, number> = {},
    private readonly fail: ReadonlySet<string> = new Set(),
  ) {}

  async read(media: MediaEntry, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    this.calls.reads++
    const delay = this.slowMs[media.id]
    if (delay) {
      this.calls.slowHeld++
      this.calls.slowHeldPeak = Math.max(this.calls.slowHeldPeak, this.calls.slowHeld)
      await new Promise<void>((res, rej) => {
        const aborted = (): void => rej(new FlickrfsError('TIMEOUT', `read of ${media.id} aborted`))
        // Already aborted (the mount's deadline passed between two reads of one request): no wait.
        if (signal?.aborted) return aborted()
        const onAbort = (): void => {
          clearTimeout(t)
          aborted()
        }
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort)
          res()
        }, delay)
        signal?.addEventListener('abort', onAbort, { once: true })
      }).finally(() => this.calls.slowHeld--)
    }
    if (this.fail.has(media.id)) throw new FlickrfsError('NETWORK', `cannot download ${media.id}: connection refused`)
    let fh = this.files.get(media.id)
    if (!fh) {
      fh = open(join(this.backingDir, `${media.id}.${media.ext}`), 'r')
      this.files.set(media.id, fh)
      fh.catch(() => this.files.delete(media.id))
    }
    const buf = Buffer.allocUnsafe(length)
    const { bytesRead } = await (await fh).read(buf, 0, length, position)
    return buf.subarray(0, bytesRead)
  }
}
