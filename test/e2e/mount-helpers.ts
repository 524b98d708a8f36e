/**
 * Shared parts of the `flickrfs mount` e2e tests and benchmarks. The mount is always served by a
 * child process (bin/flickrfs mount); this process only reads it through other child processes
 * (find, cmp, rsync, tar, python3) or fs/promises, because reading a mount from the process that
 * serves it deadlocks. Every mount started here is unmounted and its process killed by `cleanup()`.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CliProc, spawnCli, type Exit } from '../support/cli.js'
import { forceUnmount, isMounted, mountedType } from '../support/mounts.js'
import { BIN, tempDir } from '../support/repo.js'
import { run } from '../support/run.js'

/** Quotes one argument for bash. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<number> {
  const t0 = Date.now()
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return Date.now() - t0
}

/**
 * Tracks every child and mountpoint of a test file, so `cleanup()` in after() leaves no process,
 * mount or temp dir behind, whatever failed.
 */
export class MountLab {
  private readonly procs: CliProc[] = []
  private readonly mounts = new Set<string>()
  /** Extra node flags for every CLI child (a benchmark's --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs: string[] = []
  /** The CLI every child runs (a benchmark may point it at another checkout to compare). */
  bin = BIN
  private constructor(readonly dir: string) {}

  static async create(prefix = 'flickrfs-e2e-mount-'): Promise<MountLab> {
    return new MountLab(await tempDir(prefix))
  }

  async mkdir(name: string): Promise<string> {
    const p = join(this.dir, name)
    await mkdir(p, { recursive: true })
    return p
  }

  spawn(args: string[], env: NodeJS.ProcessEnv): CliProc {
    const p = new CliProc(spawnCli(args, env, { bin: this.bin, nodeArgs: this.nodeArgs }))
    this.procs.push(p)
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
  async mount(mnt: string, flags: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliProc> {
    this.mounts.add(resolve(mnt))
    const p = this.spawn(['mount', mnt, ...flags], env)
    // Both: the child says it has mounted (a stale entry of a killed mount may still be listed at
    // the same place), and the kernel lists the mount.
    await waitUntil(`${mnt} is mounted`, async () => {
      if (p.exit) throw new Error(`flickrfs mount exited (${JSON.stringify(p.exit)}) before mounting: ${p.err}`)
      return /^flickrfs: mounted /m.test(p.err) && (await mountedType(mnt)) === 'fuse.flickrfs'
    }, timeoutMs)
    return p
  }

  /** Watches a mountpoint that something else (the demo) mounts, so cleanup unmounts it. */
  track(mnt: string): void {
    this.mounts.add(resolve(mnt))
  }

  /** SIGTERM to a serving child, then waits for it and for the mount to go. */
  async stop(p: CliProc, mnt: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    p.child.kill(signal)
    const exit = await p.wait(20_000)
    await waitUntil(`${mnt} is unmounted`, async () => !(await isMounted(mnt)), 10_000)
    return exit
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) if (!p.exit) p.child.kill('SIGTERM')
    const grace = new Promise((r) => setTimeout(r, 5000))
    await Promise.all(this.procs.filter((p) => !p.exit).map((p) => Promise.race([p.exited, grace])))
    for (const p of this.procs) if (!p.exit) p.child.kill('SIGKILL')
    for (const m of this.mounts) await forceUnmount(m)
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** `find` of a tree: relative path → "kind size target" (kind f/d/l; size of files only). */
export async function findListing(root: string, opts: { sizes?: boolean } = {}): Promise<Map<string, { kind: string; size: number; target: string }>> {
  const r = await run('find', [root, '-mindepth', '1', '-not', '-path', `${root}/.flickrfs`, '-not', '-path', `${root}/.flickrfs/*`, '-printf', '%y\\0%s\\0%l\\0%P\\0'])
  if (r.code !== 0) throw new Error(`find ${root} failed: ${r.stderr}`)
  const parts = r.stdout.split('\0')
  const out = new Map<string, { kind: string; size: number; target: string }>()
  for (let i = 0; i + 3 < parts.length; i += 4) {
    const kind = parts[i] ?? ''
    out.set(parts[i + 3] ?? '', { kind, size: opts.sizes === false || kind !== 'f' ? 0 : Number(parts[i + 1]), target: parts[i + 2] ?? '' })
  }
  return out
}

/** Count of media GETs the fake has answered (originals and video files). */
export function mediaGets(counts: Record<string, number>): number {
  return counts['media:GET'] ?? 0
}
