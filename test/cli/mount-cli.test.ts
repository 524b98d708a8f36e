/**
 * The mount command's smaller promises: its help shows durations and sizes as the flags take them,
 * a refused mount creates no cache folder, a non-empty mountpoint is counted in words that agree,
 * and the log of a --background mount has a time on every line and says when it was asked to
 * refresh and when it unmounted.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { formatSize, parseSize } from '../../src/cli/units.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { fuseUnusableReason } from '../support/mounts.js'

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false)
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

void describe('flickrfs mount, the small things', () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 43, photos: 12, videos: 1, sets: 2, collections: 1, meanPhotoBytes: 8_000, meanVideoBytes: 20_000 })
    lab = await MountLab.create('flickrfs-mount-cli-')
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void test('--help shows the refresh default as a duration and the cache size as binary units', async () => {
    const help = await lab.cli(['mount', '--help'], env)
    assert.equal(help.exit.code, 0, help.err)
    assert.match(help.out, /--refresh <duration>[\s\S]*\(default:\s+15m\)/)
    assert.doesNotMatch(help.out, /900000/)
    assert.match(help.out, /20G is 20 GiB/)
    // What --cache-size reads is what the mount shows back.
    for (const [flag, shown] of [['20G', '20 GiB'], ['20GiB', '20 GiB'], ['1.5T', '1.5 TiB'], ['500M', '500 MiB']]) {
      assert.equal(formatSize(parseSize('--cache-size')(flag ?? '')), shown)
    }
  })

  void test('a refused mount creates no cache folder, in the foreground or with --background', async () => {
    const one = await lab.mkdir('one-entry')
    await writeFile(join(one, 'keep.txt'), 'x')
    const cases: Array<[string, string[], RegExp]> = [
      [join(lab.dir, 'missing'), [], /does not exist/],
      [join(lab.dir, 'missing'), ['--background'], /does not exist/],
      [one, [], /is not empty \(1 entry\)/],
      [one, ['--background'], /is not empty \(1 entry\)/],
    ]
    for (const [i, [mnt, flags, why]] of cases.entries()) {
      const cache = join(lab.dir, `never-${i}`)
      const p = await lab.cli(['mount', mnt, '--cache', cache, ...flags], env)
      assert.notEqual(p.exit.code, 0, p.err)
      assert.match(p.err, why)
      assert.equal(await exists(cache), false, `flickrfs mount ${flags.join(' ')} ${mnt} created ${cache}`)
    }
  })

  void test('an online mount without a key or token says --offline serves a pinned cache', async () => {
    const mnt = await lab.mkdir('no-creds')
    const bare = { PATH: process.env.PATH, HOME: await lab.mkdir('bare-home'), FLICKRFS_CONFIG_DIR: await lab.mkdir('bare-config') }
    const p = await lab.cli(['mount', mnt, '--cache', join(lab.dir, 'no-creds-cache')], bare)
    assert.notEqual(p.exit.code, 0, p.err)
    assert.equal(p.err.trim().split('\n').length, 1, p.err)
    assert.match(p.err.trim(), /^flickrfs: No Flickr API key: .* To serve what a pinned --cache holds without Flickr, add --offline\.$/)
  })

  void test('mount.log has a time on every line and tells the start, an asked refresh and the unmount', async (t) => {
    const skip = await fuseUnusableReason()
    if (skip) return t.skip(skip)
    const cache = join(lab.dir, 'cache-bg')
    const mnt = await lab.mkdir('bg')
    lab.track(mnt)
    const bg = await lab.cli(['mount', mnt, '--cache', cache, '--cache-size', '20G', '--background'], env)
    assert.equal(bg.exit.code, 0, bg.err)
    const pid = Number(/\(pid (\d+)\)/.exec(bg.out)?.[1])
    const logPath = join(cache, '.flickrfs', 'mount.log')
    const log = (): Promise<string> => readFile(logPath, 'utf8')

    // A fresh cache: the mount is up at once and its first catalog fills the tree in.
    await waitUntil('the first catalog is in', async () => /first catalog complete: 13 items/.test(await log()), 30_000)
    const asked = await lab.cli(['refresh', mnt], env)
    assert.equal(asked.exit.code, 0, asked.err)
    await waitUntil('the refresh is logged', async () => /refreshed: 13 items, nothing changed/.test(await log()), 30_000)
    assert.equal((await lab.cli(['unmount', mnt], env)).exit.code, 0)
    await waitUntil('the detached mount exits', () => Promise.resolve(!alive(pid)), 10_000)

    const lines = (await log()).split('\n').filter((l) => l !== '')
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z flickrfs: /, `a line without its time: ${l}`)
    const text = lines.join('\n')
    assert.match(text, /flickrfs: mounted the first catalog as it comes in at .*unpinned originals bounded to 20 GiB\); refreshes every 15m/)
    assert.match(text, /flickrfs: refresh asked \(SIGHUP\)\n.*flickrfs: refreshed: 13 items, nothing changed/)
    assert.match(text, new RegExp(`flickrfs: unmounted ${mnt}$`))
  })
})
