/** The real CLI (bin/flickrfs) as a child process whose output is collected. */
import { spawn, type ChildProcess } from 'node:child_process'
import { BIN, REPO } from './repo.js'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface CliResult extends Exit {
  stdout: string
  stderr: string
}

/**
 * `node [nodeArgs] bin args…` from the checkout. `bin` may name another checkout's CLI (a benchmark
 * comparing two); `nodeArgs` carries flags NODE_OPTIONS refuses, like --cpu-prof.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, opts: { bin?: string; nodeArgs?: string[] } = {}): ChildProcess {
  return spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? BIN, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** One CLI child: its output so far, and its exit once it has closed. */
export class CliProc {
  out = ''
  err = ''
  readonly exited: Promise<Exit>
  exit: Exit | undefined
  /** The process's own end ('exit'), which can come before 'close' when a child of it keeps its output open. */
  #ended: Exit | undefined
  constructor(readonly child: ChildProcess) {
    child.once('exit', (code, signal) => (this.#ended = { code, signal }))
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (this.err += d.toString()))
    this.exited = new Promise((res) => {
      child.once('close', (code, signal) => {
        this.exit = { code, signal }
        res(this.exit)
      })
    })
  }
  get pid(): number {
    return this.child.pid ?? -1
  }
  /** Waits for exit, failing (and killing the child) when it takes longer than `timeoutMs`. */
  async wait(timeoutMs = 30_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        // Which of the two it was: the process still running, or gone with its output held open.
        const ended = this.#ended === undefined ? 'still running' : `the process ended (code ${this.#ended.code}, signal ${this.#ended.signal}) but its output stayed open`
        rej(new Error(`flickrfs ${this.child.spawnargs.slice(2).join(' ')} did not exit within ${timeoutMs} ms (${ended}); stderr: ${this.err}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Runs a CLI command (or waits for `child`, spawned earlier) to completion; rejects only when it cannot start. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, child = spawnCli(args, env)): Promise<CliResult> {
  const p = new CliProc(child)
  return new Promise((res, rej) => {
    child.once('error', rej)
    void p.exited.then((exit) => res({ ...exit, stdout: p.out, stderr: p.err }))
  })
}
