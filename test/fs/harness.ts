/**
 * Parent side of the mount tests: starts serve-mount.ts in a child process, talks to it, and reads
 * the mount only through other child processes or fs/promises (never from the serving process).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { access, constants, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { forceUnmount } from '../support/mounts.js'
import { REPO, tempDir } from '../support/repo.js'
import type { ServeSpec, TreeSpec } from './fixture.js'

const serveScript = fileURLToPath(new URL('./serve-mount.ts', import.meta.url))

export interface Served {
  child: ChildProcess
  mnt: string
  stdout(): string
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Swaps the served tree and waits for the child to acknowledge. */
  swapTree(tree: TreeSpec): Promise<void>
}

export class Workspace {
  private constructor(readonly dir: string) {}
  static async create(prefix = 'flickrfs-fs-'): Promise<Workspace> {
    return new Workspace(await tempDir(prefix))
  }
  get backing(): string {
    return join(this.dir, 'backing')
  }
  async mountpoint(name = 'mnt'): Promise<string> {
    const p = join(this.dir, name)
    await mkdir(p, { recursive: true })
    return p
  }
  private served: Served[] = []
  private n = 0

  async serve(spec: Omit<ServeSpec, 'backingDir'>, opts: { expectFailure?: boolean } = {}): Promise<Served> {
    await mkdir(this.backing, { recursive: true })
    const specPath = join(this.dir, `spec-${++this.n}.json`)
    await writeFile(specPath, JSON.stringify({ ...spec, backingDir: this.backing }))
    const child = spawn(process.execPath, ['--import', 'tsx', serveScript, specPath], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    const waiters: { text: string; resolve: () => void }[] = []
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      for (const w of waiters.splice(0)) {
        if (out.includes(w.text)) w.resolve()
        else waiters.push(w)
      }
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    )
    const waitFor = (text: string, timeoutMs = 30_000): Promise<void> =>
      new Promise<void>((res, rej) => {
        if (out.includes(text)) return res()
        const t = setTimeout(() => rej(new Error(`timed out waiting for ${text}; stdout=${out} stderr=${err}`)), timeoutMs)
        waiters.push({ text, resolve: () => (clearTimeout(t), res()) })
        void exited.then(() => {
          clearTimeout(t)
          if (out.includes(text)) res()
          else rej(new Error(`server exited before ${text}; stdout=${out} stderr=${err}`))
        })
      })
    const served: Served = {
      child,
      mnt: spec.mountpoint,
      stdout: () => out,
      stderr: () => err,
      exited,
      swapTree: async (tree) => {
        const p = join(this.dir, `tree-${++this.n}.json`)
        await writeFile(p, JSON.stringify({ tree }))
        const before = out.split('TREE').length
        child.stdin.write(`tree ${p}\n`)
        await new Promise<void>((res, rej) => {
          const t0 = Date.now()
          const tick = (): void => {
            if (out.split('TREE').length > before) return res()
            if (Date.now() - t0 > 10_000) return rej(new Error('tree swap not acknowledged'))
            setTimeout(tick, 20)
          }
          tick()
        })
      },
    }
    this.served.push(served)
    if (!opts.expectFailure) await waitFor('READY')
    return served
  }

  /** Stops every server (SIGTERM, then SIGKILL) and clears every mount: nothing stale remains. */
  async cleanup(): Promise<void> {
    for (const s of this.served) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM')
        const done = await Promise.race([s.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))])
        if (!done) s.child.kill('SIGKILL')
      }
      await forceUnmount(s.mnt)
    }
    await rm(this.dir, { recursive: true, force: true })
  }
}

export async function exists(p: string): Promise<boolean> {
  return access(p, constants.F_OK).then(
    () => true,
    () => false,
  )
}
