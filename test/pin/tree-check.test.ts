/**
 * The tree check's threads (src/pin/tree-check.ts): worker threads and this one take folders'
 * chunks from one shared counter, so whichever claims the chunk with a difference must report it,
 * and a tree as recorded must pass whoever checked which part. The workers are forced here
 * (`workerFrom: 0`, one or two of them); a pin uses them from 20,000 entries.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstatSync } from 'node:fs'
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NUMBERS_PER_ENTRY, startCheck, type CheckSource, type Chunk } from '../../src/pin/tree-check.js'
import { tempDir } from '../support/repo.js'
import { removeDir } from './helpers.js'

const FOLDERS = 40
const FILES = 25

void describe('the tree check in several threads', () => {
  let work: string
  before(async () => {
    work = await tempDir()
  })
  after(async () => {
    await removeDir(work)
  })

  /** A fresh tree of FOLDERS folders of FILES files, and its record: one chunk per folder. */
  const makeTree = async (name: string): Promise<{ dest: string; chunks: Chunk[]; numbers: Float64Array }> => {
    const dest = join(work, name)
    const chunks: Chunk[] = []
    for (let f = 0; f < FOLDERS; f++) {
      await mkdir(join(dest, `f${f}`), { recursive: true })
      const names = Array.from({ length: FILES }, (_, i) => `${i}.txt`)
      for (const n of names) await writeFile(join(dest, `f${f}`, n), `${f}/${n}`)
      chunks.push([`f${f}`, names.join('/')])
    }
    const numbers = new Float64Array(new SharedArrayBuffer(FOLDERS * FILES * NUMBERS_PER_ENTRY * 8))
    let at = 0
    for (const [dir, names] of chunks) {
      for (const n of names.split('/')) {
        const st = lstatSync(join(dest, dir, n))
        numbers.set([st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs], at)
        at += NUMBERS_PER_ENTRY
      }
    }
    return { dest, chunks, numbers }
  }

  type Tree = { dest: string; chunks: Chunk[]; numbers: Float64Array }
  /** The record given as its chunks and numbers, or as a record file (a worker reads it, gated until go()). */
  type From = 'chunks' | 'file'
  /** A record file of `tree` as tree-record.ts writes one (its header says `entries`), and its size. */
  const recordFile = async (tree: Tree, entries = tree.numbers.length / NUMBERS_PER_ENTRY): Promise<{ file: string; size: number }> => {
    const header = Buffer.from(JSON.stringify({ key: 'k', counts: { n: 1 }, entries, chunks: tree.chunks }))
    const start = Math.ceil((4 + header.length) / 8) * 8
    const bytes = Buffer.alloc(start + tree.numbers.byteLength)
    bytes.writeUInt32LE(header.length, 0)
    header.copy(bytes, 4)
    Buffer.from(tree.numbers.buffer).copy(bytes, start)
    const file = join(work, `${tree.dest.split('/').pop() ?? ''}-record`)
    await writeFile(file, bytes)
    return { file, size: bytes.length }
  }
  const source = async (tree: Tree, from: From): Promise<CheckSource> => (from === 'chunks' ? { chunks: tree.chunks, numbers: tree.numbers } : recordFile(tree))

  type Who = 'both' | 'worker' | 'two workers' | 'this and two workers'
  const WHO: readonly Who[] = ['both', 'worker', 'two workers', 'this and two workers']
  const FROM: readonly From[] = ['chunks', 'file']

  /**
   * The check's answer: this thread joining at once (it takes most chunks while the workers
   * start), or after the workers' answer (they took them all), with one worker or two.
   */
  const check = async (tree: Tree, who: Who, from: From = 'chunks'): Promise<string> => {
    const c = startCheck(tree.dest, await source(tree, from), { workerFrom: 0, workers: who.includes('two') ? 2 : 1, gated: from === 'file' })
    assert.equal(c.workers, who.includes('two') ? 2 : 1)
    if (from === 'file') {
      assert.deepEqual(await c.fields, { key: 'k', counts: { n: 1 }, entries: FOLDERS * FILES }, 'the header read by a worker')
      c.go()
    }
    if (who === 'worker' || who === 'two workers') {
      const alone = await c.worker
      assert.equal(await c.finish(), alone, 'nothing was left for this thread')
    }
    return c.finish()
  }

  void it('a tree as recorded passes, however the chunks were shared', async () => {
    const tree = await makeTree('same')
    for (const who of WHO) for (const from of FROM) assert.equal(await check(tree, who, from), '', `${who}, from ${from}`)
  })

  void it('a difference in the first, a middle or the last chunk is found, by whichever thread took it', async () => {
    const tree = await makeTree('differs')
    const cases: Array<[string, (path: string) => Promise<void>]> = [
      ['f0/0.txt', (p) => writeFile(p, 'edited')],
      [`f${FOLDERS >> 1}/${FILES - 1}.txt`, (p) => rm(p)],
      [`f${FOLDERS - 1}/3.txt`, (p) => utimes(p, new Date(), new Date(2001, 0, 1))],
    ]
    for (const [rel, change] of cases) {
      const path = join(tree.dest, rel)
      const clean = lstatSync(path)
      await change(path)
      for (const who of WHO) for (const from of FROM) assert.equal(await check(tree, who, from), path, `${rel} found (${who}, from ${from})`)
      // Put back as a new file: its ino and ctime differ, so the record stays a record of the old one.
      await writeFile(path, rel)
      await utimes(path, clean.atime, clean.mtime)
      assert.equal(await check(tree, 'both'), path, `${rel} put back by hand is still not the recorded file`)
      const st = lstatSync(path)
      tree.numbers.set([st.ino, st.size, st.mode, st.mtimeMs, st.ctimeMs], tree.chunks.findIndex(([d]) => rel.startsWith(`${d}/`)) * FILES * NUMBERS_PER_ENTRY + Number(rel.split('/')[1]?.split('.')[0]) * NUMBERS_PER_ENTRY)
      assert.equal(await check(tree, 'both'), '', 'recorded again: as recorded')
    }
  })

  void it('cancel stops every thread and answers nothing', async () => {
    const tree = await makeTree('cancel')
    const c = startCheck(tree.dest, { chunks: tree.chunks, numbers: tree.numbers }, { workerFrom: 0, workers: 2 })
    await c.cancel()
    // A finish after a cancel checks nothing more: no difference is made up.
    assert.equal(await c.finish(), '')
  })

  void it('a gated worker reads the record but lstats nothing before go(); a cancel before go() stops it', async () => {
    const tree = await makeTree('gated')
    const path = join(tree.dest, 'f0/0.txt')
    await writeFile(path, 'edited before the check')
    const c = startCheck(tree.dest, await source(tree, 'file'), { workerFrom: 0, workers: 1, gated: true })
    assert.equal((await c.fields)?.key, 'k')
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Had it checked, it would have found f0/0.txt and stopped: it waits instead.
    let settled = false
    void c.worker.then(() => (settled = true))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(settled, false, 'the worker waits for go()')
    await c.cancel()
    assert.equal(await c.worker, '', 'cancelled before go(): it checked nothing')
  })

  void it('a file that is not a record answers "differs", with a worker or without one', async () => {
    const tree = await makeTree('not-a-record')
    const garbled = join(work, 'garbled-record')
    await writeFile(garbled, Buffer.from('\u0007\u0000\u0000\u0000{"key":'))
    for (const [workers, workerFrom] of [[1, 0], [0, Infinity]] as const) {
      const c = startCheck(tree.dest, await recordFile(tree, 7), { workerFrom, workers })
      assert.equal(await c.fields, undefined)
      assert.equal(await c.finish(), tree.dest, `${workers} workers`)
      assert.equal(await startCheck(tree.dest, { file: garbled, size: 11 }, { workerFrom, workers }).finish(), tree.dest, `garbled, ${workers} workers`)
      assert.equal(await startCheck(tree.dest, { file: join(work, 'no-such-record'), size: 99 }, { workerFrom, workers }).finish(), tree.dest, `missing, ${workers} workers`)
    }
  })

  void it('without a worker this thread reads the record and checks every entry', async () => {
    const tree = await makeTree('alone')
    const c = startCheck(tree.dest, await source(tree, 'file'), { workerFrom: Infinity })
    assert.equal(c.workers, 0)
    assert.equal((await c.fields)?.key, 'k')
    assert.equal(await c.finish(), '')
    await writeFile(join(tree.dest, `f${FOLDERS - 1}/${FILES - 1}.txt`), 'edited')
    assert.equal(await startCheck(tree.dest, await source(tree, 'file'), { workerFrom: Infinity }).finish(), join(tree.dest, `f${FOLDERS - 1}/${FILES - 1}.txt`))
  })
})
