/**
 * ROOT/.flickrfs/lock: created exclusively, re-entrant within one process (the CLI may hold it
 * around a whole pin while the catalog refreshes inside), removed when the last holder releases.
 */
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { test } from 'node:test'
import { acquireRootLock, lockPath } from '../../src/catalog/index.js'
import { exists } from '../support/files.js'
import { tempDir } from '../support/repo.js'

void test('the lock names its holder, nests within a process and goes with the last release', async (t) => {
  const root = await tempDir('flickrfs-lock-')
  t.after(() => rm(root, { recursive: true, force: true }))
  const outer = await acquireRootLock(root, 'pin')
  const info = JSON.parse(await readFile(lockPath(root), 'utf8')) as { pid: number; purpose: string }
  assert.deepEqual({ pid: info.pid, purpose: info.purpose }, { pid: process.pid, purpose: 'pin' })
  const inner = await acquireRootLock(root, 'catalog refresh')
  await inner.release()
  await inner.release() // twice is harmless
  assert.equal(await exists(lockPath(root)), true, 'still held by the outer holder')
  await outer.release()
  assert.equal(await exists(lockPath(root)), false)
  const again = await acquireRootLock(root, 'mount')
  assert.equal(await exists(lockPath(root)), true)
  await again.release()
})
