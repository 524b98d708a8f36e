/**
 * Runs a command as a child under GNU time and hands back its wall time, CPU time (user + system,
 * of the child and everything it waited for) and peak RSS. Without /usr/bin/time (Debian package
 * `time`) only the wall time is known and the others are NaN.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const GNU_TIME = '/usr/bin/time'

export interface ChildUsage {
  code: number | null
  signal: NodeJS.Signals | null
  wallMs: number
  userMs: number
  sysMs: number
  maxRssKb: number
  stdout: string
  stderr: string
}

export async function runMeasured(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<ChildUsage> {
  const haveTime = existsSync(GNU_TIME)
  const dir = await mkdtemp(join(tmpdir(), 'flickrfs-bench-usage-'))
  const usageFile = join(dir, 'usage')
  try {
    const [file, argv] = haveTime ? [GNU_TIME, ['-o', usageFile, '-f', '%e %U %S %M', cmd, ...args]] : [cmd, args]
    const child = spawn(file, argv, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    const t0 = performance.now()
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, s) => resolve([c, s]))
    })
    const wallMs = performance.now() - t0
    clearTimeout(timer)
    let userMs = NaN
    let sysMs = NaN
    let maxRssKb = NaN
    if (haveTime) {
      // GNU time writes "Command exited with non-zero status N" first when the command fails.
      const last = (await readFile(usageFile, 'utf8').catch(() => '')).trim().split('\n').at(-1) ?? ''
      const [, u, s, m] = last.split(' ').map(Number)
      userMs = (u ?? NaN) * 1000
      sysMs = (s ?? NaN) * 1000
      maxRssKb = m ?? NaN
    }
    return { code, signal, wallMs, userMs, sysMs, maxRssKb, stdout, stderr }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Peak and current RSS (bytes) and CPU (ms) of a live process, from /proc. */
export async function usageOf(pid: number): Promise<{ peak: number; rss: number; cpuMs: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  const ticks = Number(fields[11]) + Number(fields[12])
  return { peak: kb('VmHWM'), rss: kb('VmRSS'), cpuMs: ticks * 10 }
}
