#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (Node 20 does not expand globs,
// and `--test` with no files silently runs nothing), then checks that tests actually ran.
// It builds dist/ first: the tests that spawn bin/flickrfs run the compiled CLI, which must be
// this checkout's code, never an older build.
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const filter = process.argv.slice(2)

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}

let files = walk(join(root, 'test'))
if (filter.length > 0) files = files.filter((f) => filter.some((s) => f.includes(s)))
if (files.length === 0) {
  console.error('run-tests: no test files matched; refusing to report success')
  process.exit(1)
}

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' })
if (build.status !== 0) {
  console.error('run-tests: the build failed; not running tests against an old dist/')
  process.exit(1)
}
console.log(`run-tests: ${files.length} test files`)

// --test-force-exit: a file whose tests are over ends even with a handle left open. A suite whose
// `before` failed before it closed its fake server otherwise kept its file running, and the whole
// run waiting, for ever (seen under load: mount-offline's before hook failed, 12 minutes idle).
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
)
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4000)
})
child.on('close', (code) => {
  const pass = Number(/ℹ pass (\d+)/.exec(tail)?.[1] ?? 0)
  const fail = Number(/ℹ fail (\d+)/.exec(tail)?.[1] ?? 0)
  const skipped = Number(/ℹ skipped (\d+)/.exec(tail)?.[1] ?? 0)
  // A test cancelled (its suite's hook failed, or it outlived its parent) is not counted as failed by node.
  const cancelled = Number(/ℹ cancelled (\d+)/.exec(tail)?.[1] ?? 0)
  if (code === 0 && pass < files.length) {
    console.error(`run-tests: only ${pass} tests passed across ${files.length} files; expected at least one per file`)
    process.exit(1)
  }
  console.log(`${pass} passed, ${fail} failed, ${skipped} skipped${cancelled > 0 ? `, ${cancelled} cancelled` : ''}`)
  process.exit(code ?? 1)
})
