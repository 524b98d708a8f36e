import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const MODULE = fileURLToPath(new URL('../../src/util/young-generation.ts', import.meta.url))

/**
 * The young generation's size (MB) in a fresh node after a churn of short-lived objects that keeps
 * enough alive for V8 to grow it, with or without capYoungGeneration(semiMb) called first.
 */
function youngAfterChurn(semiMb: number | null): number {
  const script = `
    const { getHeapSpaceStatistics } = await import('node:v8')
    const { capYoungGeneration } = await import(${JSON.stringify(MODULE)})
    if (${semiMb} !== null) capYoungGeneration(${semiMb})
    let keep = []
    for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 200000) keep = [] }
    await new Promise((r) => setTimeout(r, 50))
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    process.stdout.write(String(young.space_size / 1048576))
  `
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
  return Number(run.stdout)
}

void test('capYoungGeneration stops the young generation at two semi-spaces of the given size', () => {
  const free = youngAfterChurn(null)
  const capped = youngAfterChurn(2)
  // Without the cap V8 grows it well past 4 MB under this churn; with it, no more than 2 × 2 MB.
  assert.ok(free > 4, `uncapped young generation only reached ${free} MB: the churn no longer makes V8 grow it`)
  assert.ok(capped <= 4, `capped young generation reached ${capped} MB`)
})
