/**
 * One signal always ends a mount, in bounded time, even when unmounting itself hangs. fusermount
 * is replaced, through PATH, by a script whose unmounts never answer (libfuse mounts with its own
 * fusermount, by absolute path, so mounting is untouched): first only the plain `-u`, then the lazy
 * `-u -z` too.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import type { CliProc, Exit } from '../support/cli.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

const skip = await fuseUnusableReason()

void describe('a mount whose unmount hangs still stops (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let realFusermount = ''
  const sleepers: string[] = []

  /** A PATH folder whose fusermount hangs the unmounts `hangs` matches and runs the real one otherwise. */
  async function hangingFusermount(name: string, hangs: 'plain' | 'all'): Promise<string> {
    const dir = await lab.mkdir(name)
    const pids = join(dir, 'pids')
    sleepers.push(pids)
    const hang = hangs === 'all' ? '[ "$1" = "-u" ]' : '[ "$1" = "-u" ] && [ "$2" != "-z" ]'
    const script = [
      '#!/bin/sh',
      `if ${hang}; then echo $$ >> '${pids}'; exec sleep 60; fi`,
      `exec '${realFusermount}' "$@"`,
      '',
    ].join('\n')
    await writeFile(join(dir, 'fusermount'), script)
    await chmod(join(dir, 'fusermount'), 0o755)
    return dir
  }

  before(async () => {
    fake = await startFake({ seed: 41, photos: 6, videos: 0, sets: 1, collections: 0, meanPhotoBytes: 5_000 })
    lab = await MountLab.create()
    const which = await run('sh', ['-c', 'command -v fusermount'])
    assert.equal(which.code, 0, 'fusermount is installed')
    realFusermount = which.stdout.trim()
  })
  after(async () => {
    for (const file of sleepers) {
      const pids = await readFile(file, 'utf8').catch(() => '')
      for (const pid of pids.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
    await fake?.close()
    await lab?.cleanup()
  })

  async function mountWith(name: string, hangs: 'plain' | 'all'): Promise<{ mnt: string; server: CliProc }> {
    const shim = await hangingFusermount(`${name}-bin`, hangs)
    const env = cliEnv(fake, await lab.mkdir(`${name}-config`), {
      PATH: `${shim}:${process.env.PATH ?? ''}`,
      XDG_CACHE_HOME: await lab.mkdir(`${name}-xdg`),
      XDG_RUNTIME_DIR: await lab.mkdir(`${name}-run`),
    })
    const mnt = await lab.mkdir(name)
    const server = await lab.mount(mnt, ['--cache', await lab.mkdir(`${name}-cache`), '--refresh', '0'], env)
    return { mnt, server }
  }

  /** SIGTERM to the mount, and its exit with how long after the signal it came. */
  async function sigterm(server: CliProc, timeoutMs: number): Promise<{ exit: Exit; ms: number }> {
    const t0 = performance.now()
    server.child.kill('SIGTERM')
    const exit = await server.wait(timeoutMs)
    return { exit, ms: performance.now() - t0 }
  }

  void it('a plain unmount that does not answer is detached lazily after 3 s, and the mount exits 0', async () => {
    const { mnt, server } = await mountWith('plain', 'plain')
    const { exit, ms } = await sigterm(server, 12_000)
    process.stdout.write(`# stopped ${Math.round(ms)} ms after SIGTERM\n`)
    assert.deepEqual(exit, { code: 0, signal: null }, server.err)
    assert.match(server.err, /SIGTERM: unmounting .* did not finish within 3 s; detaching it lazily/)
    assert.match(server.err, /detached .* lazily/)
    assert.ok(ms > 2_500 && ms < 10_000, `stopped ${Math.round(ms)} ms after SIGTERM`)
    assert.equal(await isMounted(mnt), false)
  })

  void it('when even the lazy detach hangs, the mount says where it was and exits 1 after 15 s; the kernel drops the mount', async () => {
    const { mnt, server } = await mountWith('all', 'all')
    const { exit, ms } = await sigterm(server, 30_000)
    assert.deepEqual(exit, { code: 1, signal: null }, server.err)
    assert.match(server.err, /still stopping 15 s after SIGTERM, while unmounting; exiting now/)
    assert.doesNotMatch(server.err, /\n\s+at /, 'no stack trace')
    assert.ok(ms > 14_000 && ms < 25_000, `exited ${Math.round(ms)} ms after SIGTERM`)
    // auto_unmount: fusermount's watcher unmounts once the last copy of its socket from libfuse
    // closes, and only if the connection is dead by then (ENOTCONN); exitingWithMount (src/fs/
    // mountpoint.ts) closes that socket after every /dev/fuse copy. 1-198 ms on 2 busy cores: a
    // timeout here means the mount was left up (a holder of /dev/fuse, or that order lost).
    const dropMs = await waitUntil('the kernel drops the mount', async () => !(await isMounted(mnt)), 30_000)
    process.stdout.write(`# exited ${Math.round(ms)} ms after SIGTERM; the kernel dropped the mount ${dropMs} ms later\n`)
  })
})
