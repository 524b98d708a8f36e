import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
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

  void it('killed between batches of records: every record has its whole file, every reported one is recorded, the rest is adopted or fetched', async () => {
    const root = join(w.tmp, 'killed-batch')
    await mkdir(root)
    const entries = Array.from({ length: 240 }, (_, i) => w.addPhoto(20_000 + i * 97))
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'batch-child.ts'), root, JSON.stringify(entries)], { stdio: ['ignore', 'pipe', 'ignore'] })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    const reported = new Set<string>()
    let buffered = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the child recorded only ${reported.size} originals in 30 s`)), 30_000)
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) if (line.startsWith('recorded ')) reported.add(line.slice('recorded '.length))
        if (reported.size >= 60) {
          clearTimeout(timer)
          child.kill('SIGKILL')
          resolve()
        }
      })
    })
    assert.equal(await exited, 'SIGKILL')
    assert.ok(reported.size < entries.length, 'killed before the end')

    const source = observed(w.client)
    const store = await OriginalStore.open(root, source)
    // Nothing it said was recorded is lost, and nothing recorded is missing or short on disk.
    for (const id of reported) assert.ok([...entries].some((m) => m.id === id && store.info(m.id, m.secret) !== undefined), `${id} is recorded`)
    const v = await store.verify()
    assert.ok(v.checked >= reported.size)
    assert.equal(v.ok, v.checked, JSON.stringify(v.results.filter((r) => r.status !== 'ok')))
    // Every file under a final name is whole, recorded or not.
    const onDisk = (await readdir(join(root, 'photostream'))).filter((n) => !n.startsWith('.'))
    const unrecorded = entries.filter((m) => onDisk.includes(`${m.id}.${m.ext}`) && store.info(m.id, m.secret) === undefined)
    for (const name of onDisk) {
      const m = entries.find((e) => `${e.id}.${e.ext}` === name)
      assert.ok(m, `${name} is one of the originals`)
      assert.deepEqual(await readFile(join(root, 'photostream', name)), w.bytesOf(m.id), `${name} is whole`)
    }
    // The next run adopts the files the kill left unrecorded and downloads only what is not on disk.
    w.fake.resetCounts()
    let adopted = 0
    for (const m of entries) if ((await store.ensure(m)).adopted === true) adopted++
    assert.equal(adopted, unrecorded.length)
    // (A .part the kill left whole needs no request at all.)
    const gets = w.fake.counts()['media:GET'] ?? 0
    assert.ok(gets <= entries.length - onDisk.length && gets > 0, `${gets} GETs for ${entries.length - onDisk.length} originals not on disk`)
    assert.equal((await store.verify()).ok, entries.length)
    await store.close()
  })
  void it('a completed original removes the .parts a killed run left of its older versions, and no other', async () => {
    const root = join(w.tmp, 'stale-parts')
    const tmp = join(root, '.flickrfs', 'tmp')
    await mkdir(tmp, { recursive: true })
    const m = w.addPhoto(30_000)
    const other = w.addPhoto(20_000)
    // Older secrets of m (replaced on Flickr since), and what is not a part of m's to remove: another
    // id's, a name whose secret has a "_" (m.id_x is then the id), a file that is no .part.
    const stale = [`${m.id}_oldsecret1.part`, `${m.id}_oldsecret2.part`]
    const kept = [`${other.id}_oldsecret.part`, `${m.id}_x_y.part`, `${m.id}_oldsecret1.partial`, 'notes.txt']
    for (const name of [...stale, ...kept]) await writeFile(join(tmp, name), 'left by a killed run')
    const store = await OriginalStore.open(root, observed(w.client))
    await store.ensure(m)
    assert.deepEqual((await readdir(tmp)).sort(), [...kept].sort())
    // The other id's completion removes its own older version, and only that.
    await store.ensure(other)
    assert.deepEqual((await readdir(tmp)).sort(), kept.slice(1).sort())
    await store.close()
  })
})
