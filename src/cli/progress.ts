/**
 * Progress output for long jobs. On a terminal: one bar redrawn in place with counts, bytes, rate
 * and ETA. Otherwise: a plain line now and then (logs, CI). Quiet (cron): nothing at all; failures
 * are reported by the command itself.
 */
export interface ProgressState {
  phase: string
  doneItems: number
  totalItems: number
  doneBytes: number
  totalBytes: number
}

export interface Progress {
  update(state: ProgressState): void
  /** A line that must be seen (a warning, a phase change under -v). */
  line(text: string): void
  done(): void
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = bytes
  let u = 0
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

export function createProgress(
  mode: 'bar' | 'lines' | 'quiet',
  out: NodeJS.WritableStream,
  now: () => number = Date.now,
): Progress {
  const started = now()
  let lastLineAt = 0
  let lastState: ProgressState | undefined
  let drawn = false

  const describe = (s: ProgressState): string => {
    const elapsed = Math.max(0.001, (now() - started) / 1000)
    const rate = s.doneBytes / elapsed
    const eta = s.totalBytes > s.doneBytes && rate > 0 ? (s.totalBytes - s.doneBytes) / rate : NaN
    return `${s.phase}: ${s.doneItems}/${s.totalItems} items, ${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)}, ${formatBytes(rate)}/s, ETA ${formatDuration(eta)}`
  }

  return {
    update(state) {
      lastState = state
      if (mode === 'quiet') return
      if (mode === 'lines') {
        if (now() - lastLineAt >= 5000) {
          lastLineAt = now()
          out.write(describe(state) + '\n')
        }
        return
      }
      const width = 24
      const frac = state.totalItems > 0 ? Math.min(1, state.doneItems / state.totalItems) : 0
      const filled = Math.round(frac * width)
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled)
      out.write(`\r\x1b[K[${bar}] ${describe(state)}`)
      drawn = true
    },
    line(text) {
      if (mode === 'quiet') return
      if (drawn) out.write('\r\x1b[K')
      out.write(text + '\n')
      if (drawn && lastState) this.update(lastState)
    },
    done() {
      if (mode === 'bar' && drawn) out.write('\r\x1b[K')
      if (mode !== 'quiet' && lastState) out.write(describe(lastState) + '\n')
      drawn = false
    },
  }
}
