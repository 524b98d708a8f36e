/**
 * How a `flickrfs mount` process starts and ends, as a user or a service manager sees it: signals,
 * `flickrfs unmount`, --background, recovery after kill -9, refusals of bad mountpoints (one clear
 * line, no stack trace, no Flickr call), and one writer per cache folder (pin vs mount: LOCKED).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { pinnedLab } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import type { CliProc } from '../support/cli.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()

const apiCalls = (counts: Record<string, number>): number =>
  Object.entries(counts).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0)

/** A refusal as LAYOUT/STYLE want it: exactly one line on stderr, no stack trace, nonzero exit. */
function assertOneLineRefusal(p: CliProc, pattern: RegExp): void {
  assert.notEqual(p.exit?.code, 0, `should fail: ${p.err}`)
  assert.equal(p.exit?.signal, null)
  const lines = p.err.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected, got:\n${p.err}`)
  assert.match(lines[0] ?? '', /^flickrfs: /)
  assert.match(p.err, pattern)
  assert.doesNotMatch(p.err, /\n\s+at /, 'no stack trace')
}

void describe('mount lifecycle (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let dest: string

  before(async () => {
    ;({ fake, lab, env, dest } = await pinnedLab({ seed: 41, photos: 12, videos: 1, sets: 2, collections: 1, meanPhotoBytes: 8_000, meanVideoBytes: 20_000 }))
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('SIGINT unmounts, exits 0 and leaves the mountpoint empty', async () => {
    const mnt = await lab.mkdir('sigint')
    const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    assert.match(server.err, /mounted 13 items at .*; Ctrl-C or `flickrfs unmount \S+` unmounts$/m)
    const exit = await lab.stop(server, mnt, 'SIGINT')
    assert.deepEqual(exit, { code: 0, signal: null }, server.err)
    assert.deepEqual(await readdir(mnt), [])
  })

  void it('`flickrfs unmount MNT` ends the serving process with exit 0; unmounting a plain directory is refused', async () => {
    const mnt = await lab.mkdir('unmount')
    const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const u = await lab.cli(['unmount', mnt], env)
    assert.equal(u.exit.code, 0, u.err)
    assert.match(u.out, /unmounted/)
    assert.deepEqual(await server.wait(10_000), { code: 0, signal: null }, server.err)
    assert.equal(await isMounted(mnt), false)
    assert.deepEqual(await readdir(mnt), [])
    assertOneLineRefusal(await lab.cli(['unmount', mnt], env), /is not mounted/)
    assertOneLineRefusal(await lab.cli(['refresh', mnt], env), /No flickrfs mount .* is serving/)
  })

  void it('--background returns once mounted; the detached mount serves and `flickrfs unmount` ends it', async () => {
    const mnt = await lab.mkdir('background')
    lab.track(mnt)
    const bg = await lab.cli(['mount', mnt, '--cache', dest, '--offline', '--background'], env)
    assert.equal(bg.exit.code, 0, bg.err)
    assert.match(bg.out, /mounted at .* \(pid (\d+)\)/)
    const pid = Number(/\(pid (\d+)\)/.exec(bg.out)?.[1])
    assert.equal(await isMounted(mnt), true)
    assert.equal((await run('cmp', [join(mnt, 'photostream', 'metadata'), join(dest, 'photostream', 'metadata')])).code, 0)
    assert.equal((await lab.cli(['unmount', mnt], env)).exit.code, 0)
    await waitUntil('the detached mount process exits', () => Promise.resolve(!alive(pid)), 10_000)
  })

  void it('after kill -9 of the serving process, the next mount at the same place (and of the same cache) succeeds', async () => {
    const mnt = await lab.mkdir('kill9')
    const first = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    first.child.kill('SIGKILL')
    assert.equal((await first.wait(10_000)).signal, 'SIGKILL')
    // The lock file still names the dead process; the mount may be stale or auto-unmounted.
    const second = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const ls = await run('ls', [join(mnt, 'photostream')])
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /\.metadata$/m)
    assert.equal((await lab.stop(second, mnt)).code, 0, second.err)
  })

  void it('bad mountpoints are refused in one line, before any Flickr call, and the cache is left unlocked', async () => {
    const file = join(lab.dir, 'a-file')
    await writeFile(file, 'x')
    const full = await lab.mkdir('not-empty')
    await writeFile(join(full, 'keep.txt'), 'x')
    const cases: [string, RegExp][] = [
      [join(lab.dir, 'missing'), /does not exist/],
      [file, /not a directory/],
      [full, /not empty/],
    ]
    for (const [mnt, why] of cases) {
      // A fresh cache: a refusal must come before the (possibly long) first catalog fetch.
      const cache = join(lab.dir, `fresh-${cases.findIndex((c) => c[0] === mnt)}`)
      fake.resetCounts()
      const p = await lab.cli(['mount', mnt, '--cache', cache], env)
      assertOneLineRefusal(p, why)
      assert.equal(apiCalls(fake.counts()), 0, `${mnt}: no Flickr call for a bad mountpoint: ${JSON.stringify(fake.counts())}`)
    }
    assert.deepEqual(await readdir(full), ['keep.txt'])
    const again = await lab.mkdir('after-refusals')
    const ok = await lab.mount(again, ['--cache', dest, '--offline'], env)
    assert.equal((await lab.stop(ok, again)).code, 0)
  })

  void it('a mount and a pin of the same folder: the second is refused with LOCKED; once unmounted, pin runs', async () => {
    const mnt = await lab.mkdir('locked')
    const server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const pin = await lab.cli(['pin', '-q', dest], env)
    assertOneLineRefusal(pin, /lock/i)
    assert.match(pin.err, /mount at /, 'names who holds the lock')
    const other = await lab.mkdir('locked-2')
    const second = await lab.cli(['mount', other, '--cache', dest, '--offline'], env)
    assertOneLineRefusal(second, /lock/i)
    assert.equal(await isMounted(other), false)
    assert.equal((await lab.stop(server, mnt)).code, 0)
    const pinAfter = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinAfter.exit.code, 0, pinAfter.err)
    // And the other way round: a pin holding the folder refuses the mount.
    fake.faults.mediaLatencyMs = 0
    fake.faults.apiLatencyMs = 3_000
    const slowPin = lab.spawn(['pin', '-q', join(lab.dir, 'dest-2')], env)
    await mkdir(join(lab.dir, 'dest-2'), { recursive: true })
    await waitUntil('the pin holds the lock', async () => (await readdir(join(lab.dir, 'dest-2', '.flickrfs')).catch((): string[] => [])).includes('lock'), 20_000, 50)
    const m = await lab.cli(['mount', await lab.mkdir('locked-3'), '--cache', join(lab.dir, 'dest-2'), '--offline'], env)
    assertOneLineRefusal(m, /lock/i)
    fake.faults.apiLatencyMs = 0
    assert.equal((await slowPin.wait(60_000)).code, 0, slowPin.err)
  })
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
