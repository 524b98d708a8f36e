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
import { NUMBERS_PER_ENTRY, startCheck, type Chunk } from '../../src/pin/tree-check.js'
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

  type Who = 'both' | 'worker' | 'two workers' | 'this and two workers'
  const WHO: readonly Who[] = ['both', 'worker', 'two workers', 'this and two workers']

  /**
   * The check's answer: this thread joining at once (it takes most chunks while the workers
   * start), or after the workers' answer (they took them all), with one worker or two.
   */
  const check = async (tree: { dest: string; chunks: Chunk[]; numbers: Float64Array }, who: Who): Promise<string> => {
    const c = startCheck(tree.dest, tree.chunks, tree.numbers, { workerFrom: 0, workers: who.includes('two') ? 2 : 1 })
    assert.equal(c.workers, who.includes('two') ? 2 : 1)
    if (who === 'worker' || who === 'two workers') {
      const alone = await c.worker
      assert.equal(await c.finish(), alone, 'nothing was left for this thread')
    }
    return c.finish()
  }

  void it('a tree as recorded passes, however the chunks were shared', async () => {
    const tree = await makeTree('same')
    for (const who of WHO) assert.equal(await check(tree, who), '', who)
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
      for (const who of WHO) assert.equal(await check(tree, who), path, `${rel} found (${who})`)
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
    const c = startCheck(tree.dest, tree.chunks, tree.numbers, { workerFrom: 0, workers: 2 })
    await c.cancel()
    // A finish after a cancel checks nothing more: no difference is made up.
    assert.equal(await c.finish(), '')
  })
})
