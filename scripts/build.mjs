#!/usr/bin/env node
// Compiles src/ into dist/ (what bin/flickrfs runs): `npm run build`, and run by `prepare` (so
// `npm ci` and `npm pack` build), by scripts/run-tests.mjs and by bench/run.ts.
// Incremental, so a build with nothing changed costs about 2 s of CPU. It also leaves dist/ holding
// exactly what src/ compiles to: output whose source is gone is removed, and a missing output forces
// a full build. Last it touches dist/.built, the stamp bin/flickrfs compares with src/ in a checkout.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const src = join(root, 'src')
const dist = join(root, 'dist')
const buildInfo = join(dist, '.tsbuildinfo')

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  console.error('build: TypeScript is missing (a devDependency); run `npm ci` (without --omit=dev) first')
  process.exit(1)
}

const files = (dir) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [])
const sources = new Set(files(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => f.slice(0, -3)))

// tsc --incremental trusts its build info and would not re-emit an output deleted by hand.
if ([...sources].some((f) => !existsSync(join(dist, `${f}.js`)))) rmSync(buildInfo, { force: true })

const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (r.status !== 0) {
  console.error('build: tsc failed; dist/ is not up to date')
  process.exit(r.status ?? 1)
}

for (const f of files(dist)) {
  if (f.endsWith('.js') && !sources.has(f.slice(0, -3))) rmSync(join(dist, f))
}
writeFileSync(join(dist, '.built'), `${new Date().toISOString()}\n`)
