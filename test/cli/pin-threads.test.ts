/**
 * bin/flickrfs gives a pin 16 threads in libuv's pool (its fsyncs share journal commits, see
 * bin/flickrfs), keeps a size the user set, and leaves other commands at libuv's 4. Counted as the
 * threads of the real CLI child at its exit (a CommonJS preload: it touches no thread pool), whose
 * pool has started by then (the compiled CLI is read through it). The commands fail early, on
 * purpose: no credentials, no DEST; the pool is the same size either way.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../support/repo.js'
import { runCli, spawnCli } from '../support/cli.js'

/** The threads of `flickrfs args…` at its exit, with `env` added. */
async function threadsOf(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const out = join(dir, 'threads')
  const preload = join(dir, 'count-threads.cjs')
  await writeFile(preload, `process.on('exit', () => { const fs = require('node:fs'); fs.writeFileSync(${JSON.stringify(out)}, String(fs.readdirSync('/proc/self/task').length)) })\n`)
  const full = { PATH: process.env.PATH, HOME: dir, FLICKRFS_CONFIG_DIR: join(dir, 'config'), ...env }
  const r = await runCli(args, full, spawnCli(args, full, { nodeArgs: ['--require', preload] }))
  assert.notEqual(r.code, 0, 'the command stops early (no credentials, no DEST)')
  return Number(await readFile(out, 'utf8'))
}

void test('a pin runs 16 threads in libuv\'s pool unless UV_THREADPOOL_SIZE says otherwise; other commands keep 4', async () => {
  const dir = await tempDir('flickrfs-pin-threads-')
  try {
    const dest = join(dir, 'nosuch')
    const pin = await threadsOf(dir, ['pin', dest])
    const pinAt4 = await threadsOf(dir, ['pin', dest], { UV_THREADPOOL_SIZE: '4' })
    const pinAt6 = await threadsOf(dir, ['pin', dest], { UV_THREADPOOL_SIZE: '6' })
    const status = await threadsOf(dir, ['status', dest])
    assert.equal(pin - pinAt4, 12, `pin: ${pin} threads, with a pool of 4: ${pinAt4}`)
    assert.equal(pinAt6 - pinAt4, 2, 'the size the user set is kept')
    assert.equal(status, pinAt4, 'status keeps libuv\'s default pool')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
