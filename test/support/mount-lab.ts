/**
 * A temp dir that owns every child process and mountpoint a test file (or benchmark) starts, so
 * `cleanup()` in after() leaves no process, mount or temp dir behind, whatever failed.
 *
 * Mounts are always served by child processes: this process only reads them through other child
 * processes (find, cmp, rsync, tar, python3) or fs/promises, because reading a mount from the
 * process that serves it deadlocks. `MountLab` itself runs the real CLI (`flickrfs mount`);
 * test/fs/harness.ts builds on it to serve hand-built trees.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CliProc, spawnCli, type Exit } from './cli.js'
import { forceUnmount, isMounted, mountedType } from './mounts.js'
import { BIN, tempDir } from './repo.js'
import { waitUntil } from './wait.js'

interface Owned {
  child: ChildProcess
  running: boolean
  exited: Promise<unknown>
}

export class MountLab {
  private readonly children: Owned[] = []
  private readonly mounts = new Set<string>()
  /** Extra node flags for every CLI child (a benchmark's --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs: string[] = []
  /** The CLI every child runs (a benchmark may point it at another checkout to compare). */
  bin = BIN
  protected constructor(readonly dir: string) {}

  static async create(prefix = 'flickrfs-e2e-mount-'): Promise<MountLab> {
    return new MountLab(await tempDir(prefix))
  }

  /** DIR/name, created (with parents) if missing. */
  async mkdir(name: string): Promise<string> {
    const p = join(this.dir, name)
    await mkdir(p, { recursive: true })
    return p
  }

  /** Makes `child` ours: cleanup() stops it unless `exited` has settled by then. */
  protected adopt(child: ChildProcess, exited: Promise<unknown>): void {
    const owned: Owned = { child, running: true, exited }
    const done = (): void => {
      owned.running = false
    }
    exited.then(done, done)
    this.children.push(owned)
  }

  /** Watches a mountpoint that something else mounts (the demo, a fixture server), so cleanup unmounts it. */
  track(mnt: string): void {
    this.mounts.add(resolve(mnt))
  }

  spawn(args: string[], env: NodeJS.ProcessEnv): CliProc {
    const p = new CliProc(spawnCli(args, env, { bin: this.bin, nodeArgs: this.nodeArgs }))
    this.adopt(p.child, p.exited)
    return p
  }

  /** Runs a CLI command to completion. */
  async cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliProc & { exit: Exit }> {
    const p = this.spawn(args, env)
    await p.wait(timeoutMs)
    return p as CliProc & { exit: Exit }
  }

  /**
   * `flickrfs mount MNT …flags` in a child; resolves once /proc/mounts shows it, rejects (with the
   * child's stderr) when the child exits first or the mount does not appear in time.
   */
  async mount(mnt: string, flags: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000, opts: { partial?: boolean } = {}): Promise<CliProc> {
    this.track(mnt)
    const p = this.spawn(['mount', mnt, ...flags], env)
    // Both: the child says it has mounted (a stale entry of a killed mount may still be listed at
    // the same place), and the kernel lists the mount.
    await waitUntil(`${mnt} is mounted`, async () => {
      if (p.exit) throw new Error(`flickrfs mount exited (${JSON.stringify(p.exit)}) before mounting: ${p.err}`)
      return /^flickrfs: mounted /m.test(p.err) && (await mountedType(mnt)) === 'fuse.flickrfs'
    }, timeoutMs)
    // A fresh cache mounts at once and fills in; unless asked for that, wait for the whole tree.
    if (opts.partial !== true && /^flickrfs: Fetching the catalog for the first time/m.test(p.err)) {
      await waitUntil(`the first catalog of ${mnt}`, () => {
        if (p.exit) throw new Error(`flickrfs mount exited (${JSON.stringify(p.exit)}) during its first catalog: ${p.err}`)
        return Promise.resolve(/^flickrfs: first catalog complete/m.test(p.err))
      }, timeoutMs)
    }
    return p
  }

  /** SIGTERM to a serving child, then waits for it and for the mount to go. */
  async stop(p: CliProc, mnt: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    p.child.kill(signal)
    const exit = await p.wait(20_000)
    await waitUntil(`${mnt} is unmounted`, async () => !(await isMounted(mnt)), 10_000)
    return exit
  }

  /** SIGTERM to every child still running, SIGKILL after 5 s, then every mount cleared and the dir removed. */
  async cleanup(): Promise<void> {
    const running = (): Owned[] => this.children.filter((c) => c.running)
    for (const c of running()) c.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise((r) => (timer = setTimeout(r, 5000)))
    await Promise.all(running().map((c) => Promise.race([c.exited, grace])))
    clearTimeout(timer)
    for (const c of running()) c.child.kill('SIGKILL')
    for (const m of this.mounts) await forceUnmount(m)
    await rm(this.dir, { recursive: true, force: true })
  }
}
