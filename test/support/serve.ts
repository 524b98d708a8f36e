/**
 * The two ends every test server shares (test/fs/serve-*.ts, test/service/serve-live.ts: a mount
 * served in a child process, since reading a mount from the process that serves it deadlocks).
 */
import type { Interface } from 'node:readline'
import { runUntilSignal, type MountHandle } from '../../src/fs/index.js'

/**
 * Serves `handle` until a signal, saying READY once its signal handlers are in (the parent may
 * signal the moment it reads it, and a signal that comes first kills the process with the mount
 * still up); then `after()`, and the reader of stdin let go. runUntilSignal's status.
 */
export async function serveUntilSignal(handle: MountHandle, rl: Interface, after?: () => Promise<unknown>): Promise<number> {
  const stopped = runUntilSignal(handle)
  process.stdout.write('READY\n')
  const code = await stopped
  await after?.()
  rl.close()
  process.stdin.destroy()
  return code
}

/** Runs a test server's `main`: its status is the exit code; a failure says ERROR and exits 3. */
export function runServer(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`ERROR ${String(err)}\n`)
      process.exitCode = 3
    },
  )
}
