// Memory over time of a Node process, for finding what a run holds at its peak: loaded with
// `NODE_OPTIONS="--import /abs/path/bench/memory-trace.mjs"` and FLICKRFS_MEMORY_TRACE=FILE, it
// appends one JSON line to FILE every FLICKRFS_MEMORY_TRACE_MS (default 250) ms and at exit:
// wall clock ms, and RSS, V8 heap total/used, external and array buffers in MB (process.memoryUsage),
// plus the old and large-object spaces' sizes. With FLICKRFS_MEMORY_TRACE_GC_MS=N it also makes a
// full GC every N ms and records the heap used right after it ("live": what the run really holds;
// this costs time, so such a run's wall time says nothing). bench/pin.ts --trace-memory DIR
// [--trace-gc N] sets these for its flickrfs runs. FLICKRFS_MEMORY_SNAPSHOTS=MS,MS,… writes a heap
// snapshot (FILE.<ms>.heapsnapshot, for Chrome's DevTools) that many ms after start; an entry
// `TEXT+MS` instead takes it MS ms after the process first writes TEXT to stderr (a debug line,
// e.g. `downloads done+5000` with DEBUG=flickrfs:pin).
// Plain JavaScript so that it loads before anything else, without tsx (hence in scripts/).
import { openSync, writeSync } from 'node:fs'
import { getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8'
import { runInNewContext } from 'node:vm'

const file = process.env.FLICKRFS_MEMORY_TRACE
if (file) {
  const fd = openSync(file, 'a')
  const mb = (n) => Math.round(n / 1048576)
  const sample = () => {
    const m = process.memoryUsage()
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)]))
    writeSync(fd, `${JSON.stringify({
      t: Date.now(), rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers), old: spaces.old_space, lo: spaces.large_object_space, code: spaces.code_space,
    })}\n`)
  }
  setInterval(sample, Number(process.env.FLICKRFS_MEMORY_TRACE_MS ?? 250)).unref()
  const snapshot = (name) => {
    const t0 = performance.now()
    writeHeapSnapshot(`${file}.${name}.heapsnapshot`)
    writeSync(fd, `${JSON.stringify({ t: Date.now(), snapshot: name, ms: Math.round(performance.now() - t0) })}\n`)
  }
  const onText = []
  for (const at of (process.env.FLICKRFS_MEMORY_SNAPSHOTS ?? '').split(',').filter((x) => x !== '')) {
    const m = /^(.*)\+(\d+)$/.exec(at)
    if (m === null) setTimeout(() => snapshot(at), Number(at)).unref()
    else onText.push({ text: m[1], ms: Number(m[2]), name: at.replace(/[^\w+]/g, '_') })
  }
  if (onText.length > 0) {
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = (chunk, ...rest) => {
      for (const o of onText) {
        if (!o.fired && String(chunk).includes(o.text)) {
          o.fired = true
          setTimeout(() => snapshot(o.name), o.ms).unref()
        }
      }
      return write(chunk, ...rest)
    }
  }
  const gcMs = Number(process.env.FLICKRFS_MEMORY_TRACE_GC_MS ?? 0)
  if (gcMs > 0) {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc')
    setInterval(() => {
      const t0 = performance.now()
      gc()
      writeSync(fd, `${JSON.stringify({ t: Date.now(), live: mb(process.memoryUsage().heapUsed), gcMs: Math.round(performance.now() - t0) })}\n`)
    }, gcMs).unref()
  }
  process.on('exit', sample)
}
