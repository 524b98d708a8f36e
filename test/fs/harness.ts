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
  /** The reads of `slowMs` originals held in their delay now, and the most held at once so far. */
  slowReads(): Promise<{ held: number; peak: number }>
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
    /** Writes `line` to the child and resolves to the line of its next answer starting with `tag`. */
    const ask = (line: string, tag: string): Promise<string> => {
      const before = out.split(tag).length
      child.stdin.write(`${line}\n`)
      return new Promise<string>((res, rej) => {
        const t0 = Date.now()
        const tick = (): void => {
          const parts = out.split(tag)
          if (parts.length > before) return res(tag + (parts[before]?.split('\n')[0] ?? ''))
          if (Date.now() - t0 > 10_000) return rej(new Error(`${line}: not answered`))
          setTimeout(tick, 20)
        }
        tick()
      })
    }
    const served: Served = {
      child,
      mnt: spec.mountpoint,
      stdout: () => out,
      stderr: () => err,
      exited,
      swapTree: async (tree) => {
        const p = join(this.dir, `tree-${++this.n}.json`)
        await writeFile(p, JSON.stringify({ tree }))
        await ask(`tree ${p}`, 'TREE')
      },
      slowReads: async () => {
        const answer = await ask('held', 'HELD')
        const [held, peak] = (/HELD (\d+) (\d+)/.exec(answer) ?? []).slice(1).map(Number)
        return { held: held ?? -1, peak: peak ?? -1 }
      },
    }
    if (!opts.expectFailure) await waitFor('READY')
    return served
  }
}
