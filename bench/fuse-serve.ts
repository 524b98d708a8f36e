/**
 * Shared by the bench-only FUSE servers (fuse-floor.ts, trivial-read-server.ts): a mount callback that
 * says READY, and an unmount on SIGTERM/SIGINT done as flickrfs does it (fusermount first, which
 * detaches the mount for good; fuse_native_unmount alone can leave it listed).
 */
import { execFile } from 'node:child_process'
import type { FuseInstance } from '../src/fs/fuse-binding.js'

interface Unmounter {
  fuse_native_unmount(mnt: string, thread: Buffer): void
}

/** Mounts `fuse`, printing `ready()` once up, or the error and exit 3. */
export function mountOrExit(fuse: FuseInstance, ready: () => string): void {
  fuse.mount((err) => {
    if (err) {
      process.stderr.write(`mount failed: ${err.message}\n`)
      process.exit(3)
    }
    process.stdout.write(`${ready()}\n`)
  })
}

/** On SIGTERM or SIGINT: `before()`, then fusermount -u (-uz if that fails), then the binding's own unmount. */
export function unmountOnSignals(mnt: string, fuse: FuseInstance, binding: Unmounter, before: () => void = () => undefined): void {
  const release = (): void => {
    try {
      if (fuse._thread) binding.fuse_native_unmount(mnt, fuse._thread)
    } catch (err) {
      process.stderr.write(`unmount: ${String(err)}\n`)
    }
  }
  const stop = (): void => {
    before()
    execFile('fusermount', ['-u', mnt], (err) => {
      if (err) execFile('fusermount', ['-uz', mnt], () => release())
      else release()
    })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
