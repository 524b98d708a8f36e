/**
 * The real CLI on a real pseudo-terminal of a given width (python3's pty module: Node has none
 * without a native addon), with every chunk it wrote and when, and a small reading of what a
 * terminal would show: the lines drawn in place with `\r\x1b[K`, and how wide any row got.
 */
import { execFile } from 'node:child_process'
import { BIN, REPO } from './repo.js'

export interface PtyChunk {
  /** Milliseconds since the child started. */
  t: number
  text: string
}

export interface PtyRun {
  code: number
  chunks: PtyChunk[]
  /** Everything written, in order. */
  text: string
}

const DRIVER = `
import base64, fcntl, json, os, pty, struct, sys, termios, time
cols = int(sys.argv[1])
argv = sys.argv[2:]
t0 = time.monotonic()
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, cols, 0, 0))
    os.execvp(argv[0], argv)
chunks = []
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    chunks.append([round((time.monotonic() - t0) * 1000, 1), base64.b64encode(data).decode()])
_, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'chunks': chunks}))
`

/**
 * `flickrfs args…` on a pty `cols` wide; stdout and stderr both go to the terminal, as for a user.
 * `bin` may name another checkout's CLI (to compare before and after).
 */
export function runCliInPty(args: string[], env: NodeJS.ProcessEnv, cols: number, opts: { timeoutMs?: number; bin?: string } = {}): Promise<PtyRun> {
  const timeoutMs = opts.timeoutMs ?? 120_000
  return new Promise((res, rej) => {
    execFile('python3', ['-c', DRIVER, String(cols), process.execPath, opts.bin ?? BIN, ...args], { cwd: REPO, env: { ...env, TERM: 'xterm' }, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`pty driver failed: ${err.message}\n${stderr}`))
      const parsed = JSON.parse(stdout) as { code: number; chunks: Array<[number, string]> }
      const chunks = parsed.chunks.map(([t, b64]) => ({ t, text: Buffer.from(b64, 'base64').toString('utf8') }))
      res({ code: parsed.code, chunks, text: chunks.map((c) => c.text).join('') })
    })
  })
}

export interface Frame {
  /** When the chunk holding it arrived. */
  t: number
  text: string
}

/** Each status line drawn in place (`\r\x1b[K` then text), with the arrival time of its first byte. */
export function frames(run: PtyRun): Frame[] {
  // Offsets into the whole output where each chunk starts: a clear split across two reads still counts.
  const starts: number[] = []
  let offset = 0
  for (const c of run.chunks) {
    starts.push(offset)
    offset += c.text.length
  }
  const timeAt = (pos: number): number => {
    let i = 0
    while (i + 1 < starts.length && (starts[i + 1] ?? Infinity) <= pos) i++
    return run.chunks[i]?.t ?? 0
  }
  const out: Frame[] = []
  const clear = '\r\x1b[K'
  for (let at = run.text.indexOf(clear); at !== -1; at = run.text.indexOf(clear, at + clear.length)) {
    const from = at + clear.length
    const next = run.text.indexOf(clear, from)
    const raw = run.text.slice(from, next === -1 ? undefined : next)
    // A status line is redrawn, never ended: text that ends with a newline is a line printed for
    // good (a -v detail, the summary), not a frame.
    if (raw === '' || raw.includes('\n')) continue
    const text = raw.split('\r')[0] ?? ''
    if (text !== '') out.push({ t: timeAt(from), text })
  }
  return out
}

/**
 * The widest row a terminal would have had to show, replaying the output: `\r` and `\n` return
 * to column 0, `\x1b[K` clears, any other escape sequence takes no room.
 */
export function widestRow(text: string): number {
  let col = 0
  let widest = 0
  // eslint-disable-next-line no-control-regex
  const token = /\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\r\n\x1b]/gu
  for (const m of text.matchAll(token)) {
    const s = m[0]
    if (s === '\r' || s === '\n') col = 0
    else if (!s.startsWith('\x1b')) widest = Math.max(widest, ++col)
  }
  return widest
}

/** The most frames that arrived within any `windowMs`. */
export function mostFramesWithin(fs: Frame[], windowMs = 1000): number {
  let most = 0
  let start = 0
  for (let end = 0; end < fs.length; end++) {
    while ((fs[end]?.t ?? 0) - (fs[start]?.t ?? 0) >= windowMs) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}
