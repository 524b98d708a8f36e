import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { OriginalStore } from '../../src/store/index.js'
import { observed, startWorld, type World } from './helpers.js'
import { sha256 } from '../support/files.js'

const sizeOf = (p: string): Promise<number> => stat(p).then((s) => s.size, () => -1)

void describe('OriginalStore after kill -9', () => {
  let w: World
  before(async () => { w = await startWorld() })
  after(async () => { await w.close() })

  void it('resumes the .part a killed process left, asking only for the missing bytes', async () => {
    const root = join(w.tmp, 'killed')
    await mkdir(root)
    const m = w.addPhoto(8_000_000)
    const part = join(root, '.flickrfs', 'tmp', `${m.id}_${m.secret}.part`)
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'killed-child.ts'), root, JSON.stringify(m)], { stdio: 'ignore' })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    try {
      const deadline = Date.now() + 20_000
      while ((await sizeOf(part)) < 1_000_000) {
        assert.ok(Date.now() < deadline, 'the child never got 1 MB into its download')
        await new Promise((r) => setTimeout(r, 20))
      }
    } finally {
      child.kill('SIGKILL')
    }
    assert.equal(await exited, 'SIGKILL')
    const kept = await sizeOf(part)
    assert.ok(kept >= 1_000_000 && kept < 8_000_000, `${kept} bytes kept`)
    const source = observed(w.client)
    const store = await OriginalStore.open(root, source)
    assert.equal(await store.has(m), false)
    assert.equal(await sizeOf(store.pathOf(m)), -1, 'no file under the final name after the kill')
    w.fake.resetCounts()
    const r = await store.ensure(m)
    assert.deepEqual(source.starts, [kept])
    assert.equal(w.fake.counts()['media:bytes'], 8_000_000 - kept)
    assert.equal(r.sha256, sha256(w.bytesOf(m.id)))
    assert.deepEqual(await readFile(r.path), w.bytesOf(m.id))
    await store.close()
  })
})
