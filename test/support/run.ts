/** Runs a command to completion and hands back its exit code and output, never throwing on failure. */
import { execFile } from 'node:child_process'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const t0 = performance.now()
  return new Promise((res) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024, cwd: opts.cwd, env: opts.env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      res({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

export function sh(script: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run('bash', ['-c', script], opts)
}
