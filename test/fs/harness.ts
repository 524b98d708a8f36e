/**
 * Parent side of the mount tests: a MountLab that serves hand-built trees through serve-mount.ts in
 * a child process, talks to it, and reads the mount only through other child processes or
 * fs/promises (never from the serving process).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MountLab } from '../support/mount-lab.js'
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

/** A MountLab whose mounts serve fixture trees (test/fs/fixture.ts) with originals from DIR/backing. */
export class FixtureLab extends MountLab {
  static override async create(prefix = 'flickrfs-fs-'): Promise<FixtureLab> {
    return new FixtureLab(await tempDir(prefix))
  }
  /** Where the originals of `{ original: id, ext }` nodes are read from: <id>.<ext>. */
  get backing(): string {
    return join(this.dir, 'backing')
  }
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
    this.adopt(child, exited)
    this.track(spec.mountpoint)
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
    if (!opts.expectFailure) await waitFor('READY')
    return served
  }
}
