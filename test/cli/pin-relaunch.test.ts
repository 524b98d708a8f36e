/**
 * A pin of a big mirror, and a first pin, runs in a child given glibc's malloc setting
 * (src/cli/pin-relaunch.ts): the command as given, the setting in its environment, its exit code
 * and the signal that stops it passed back; a small mirror's pin, and one whose user set the
 * variable, run where they are. The child dies with its parent: a pin killed with SIGKILL leaves
 * nothing running, and the next pin takes DEST's lock over.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { BIG_MANIFEST_BYTES, relaunchPin } from '../../src/cli/pin-relaunch.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { MALLOC_RETURNS_LARGE_BLOCKS } from '../../src/util/malloc-env.js'
import { pidAlive } from '../../src/util/process.js'
import { runCli, spawnCli } from '../support/cli.js'
import { BIN, tempDir } from '../support/repo.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'

void describe('pin of a big mirror: relaunched with the malloc setting', () => {
  let work: string
  let big: string
  let small: string
  /** Stands for bin/flickrfs: writes what it was given and its MALLOC_ variables, then exits with its code or waits to be stopped. */
  let script: string

  before(async () => {
    work = await tempDir()
    big = join(work, 'big')
    small = join(work, 'small')
    for (const [dest, bytes] of [[big, BIG_MANIFEST_BYTES], [small, BIG_MANIFEST_BYTES - 1]] as const) {
      await mkdir(join(dest, '.flickrfs'), { recursive: true })
      await writeFile(join(dest, '.flickrfs', 'manifest'), '')
      await truncate(join(dest, '.flickrfs', 'manifest'), bytes)
    }
    script = join(work, 'stand-in.cjs')
    await writeFile(script, `
const { writeFileSync } = require('node:fs')
const [out, code] = [process.env.STAND_IN_OUT, process.env.STAND_IN_CODE]
const malloc = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')))
writeFileSync(out, JSON.stringify({ args: process.argv.slice(2), malloc }))
if (code === 'wait') setTimeout(() => {}, 60_000)
else process.exitCode = Number(code)
`)
  })
  after(() => removeDir(work))

  const env = (out: string, code: string): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, STAND_IN_OUT: out, STAND_IN_CODE: code }
    for (const k of Object.keys(MALLOC_RETURNS_LARGE_BLOCKS)) delete e[k]
    return e
  }

  void it('runs the same command in a child with the setting, and gives back its exit code', async () => {
    const out = join(work, 'big.json')
    const exit = relaunchPin([process.execPath, script, 'pin', '--concurrency', '4', big], env(out, '7'))
    assert.ok(exit !== undefined, 'a big mirror is relaunched')
    assert.equal(await exit, 7)
    const seen = JSON.parse(await readFile(out, 'utf8')) as { args: string[]; malloc: Record<string, string> }
    assert.deepEqual(seen.args, ['pin', '--concurrency', '4', big])
    assert.deepEqual(seen.malloc, MALLOC_RETURNS_LARGE_BLOCKS)
  })

  void it('passes SIGTERM on to the child and reports it as the way the child ended', async () => {
    const out = join(work, 'stopped.json')
    const listeners = process.listenerCount('SIGTERM')
    const exit = relaunchPin([process.execPath, script, 'pin', big], env(out, 'wait'))
    assert.ok(exit !== undefined)
    // Once the child runs (it has written its file), a SIGTERM to this process reaches it.
    for (let i = 0; i < 200 && !(await readFile(out, 'utf8').then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 25))
    process.emit('SIGTERM', 'SIGTERM')
    assert.equal(await exit, 'SIGTERM')
    assert.equal(process.listenerCount('SIGTERM'), listeners, 'the handler is gone with the child')
  })

  void it('relaunches a first pin too: a folder never pinned to the end (no manifest), whatever it holds', async () => {
    for (const [name, dest] of [['new', join(work, 'nothing')], ['interrupted', join(work, 'interrupted')]] as const) {
      // An interrupted first pin left its catalog and lock behind, but no manifest.
      if (name === 'interrupted') {
        await mkdir(join(dest, '.flickrfs'), { recursive: true })
        await writeFile(join(dest, '.flickrfs', 'catalog.sqlite'), '')
      }
      const out = join(work, `${name}.json`)
      const exit = relaunchPin([process.execPath, script, 'pin', dest], env(out, '0'))
      assert.ok(exit !== undefined, `a ${name} DEST is relaunched`)
      assert.equal(await exit, 0)
      assert.deepEqual((JSON.parse(await readFile(out, 'utf8')) as { malloc: Record<string, string> }).malloc, MALLOC_RETURNS_LARGE_BLOCKS)
    }
  })

  void it('leaves a small mirror and a user\'s own setting to run here', () => {
    assert.equal(relaunchPin([process.execPath, script, 'pin', small], env(join(work, 'x'), '0')), undefined)
    assert.equal(relaunchPin([process.execPath, script, 'pin', big], { ...env(join(work, 'x'), '0'), MALLOC_MMAP_THRESHOLD_: '65536' }), undefined)
  })

  void it('bin/flickrfs exits as the relaunched pin did: a usage error in it is one line and exit 2', () => {
    // A pin with an unknown option: the child says so and exits 2; the parent adds nothing.
    const r = spawnSync(process.execPath, [BIN, 'pin', '--no-such-option', big], { encoding: 'utf8', env: env(join(work, 'y'), '0') })
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stderr.match(/no-such-option/g)?.length, 1, r.stderr)
  })
})

void describe('a relaunched first pin killed with SIGKILL (e2e)', () => {
  let fake: FakeFlickr
  let work: string

  before(async () => {
    fake = await startFake({ seed: 41, photos: 60, videos: 2, sets: 3, collections: 1, commentedFraction: 0.05 })
    work = await tempDir()
  })
  after(async () => {
    fake.faults.clear()
    await fake.close()
    await removeDir(work)
  })

  /** The pid DEST's lock names, once there is one and its holder has written it (it is made empty, then written). */
  const lockHolder = async (dest: string): Promise<number | undefined> => {
    const text = await readFile(join(dest, '.flickrfs', 'lock'), 'utf8').catch(() => undefined)
    try {
      return text === undefined ? undefined : (JSON.parse(text) as { pid: number }).pid
    } catch {
      return undefined
    }
  }

  void it('ends its child with it, and the next pin takes the lock over and completes', async () => {
    const dest = join(work, 'dest')
    const env = cliEnv(fake, join(work, 'config'))
    for (const k of Object.keys(MALLOC_RETURNS_LARGE_BLOCKS)) delete env[k]
    // Slow originals: the pin is still downloading when it is killed.
    fake.faults.mediaLatencyMs = 300
    const parent = spawnCli(['pin', '-q', dest], env)
    const done = runCli([], env, parent)
    let child: number | undefined
    for (let i = 0; i < 1000 && child === undefined && parent.exitCode === null; i++) {
      child = await lockHolder(dest)
      if (child === undefined) await delay(10)
    }
    assert.ok(child !== undefined && parent.exitCode === null, 'the pin took DEST\'s lock and runs')
    assert.notEqual(child, parent.pid, 'the lock is held by the relaunched child')
    assert.match(readFileSync(`/proc/${child}/environ`, 'latin1'), /(^|\0)MALLOC_MMAP_THRESHOLD_=131072\0/)
    parent.kill('SIGKILL')
    assert.equal((await done).signal, 'SIGKILL')
    for (let i = 0; i < 250 && pidAlive(child); i++) await delay(20)
    assert.equal(pidAlive(child), false, 'the child ended with its parent')
    fake.faults.mediaLatencyMs = 0
    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
    assert.equal((await readFile(join(dest, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n').filter(Boolean).length, fake.account.photostream.length)
  })
})
