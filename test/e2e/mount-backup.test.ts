/**
 * The LAYOUT.md contract between `flickrfs pin DEST` and `flickrfs mount --cache DEST`: after a
 * complete pin, `diff -r` and `rsync -a --dry-run --itemize-changes` between the mount and DEST
 * report nothing; a backup made with `rsync -a` from the mount equals DEST, a second rsync copies
 * nothing, and inode numbers survive a remount (restic/borg use them).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { mediaGets } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import type { CliProc } from '../support/cli.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason(['rsync'])

// Permissions are compared too: the mount shows the 0644/0755 that pin writes (writes are refused
// by the `ro` mount option, not by mode bits).
const RSYNC_CMP = ['-a', '--dry-run', '--itemize-changes', '--exclude=/.flickrfs']

void describe('mount of a pinned DEST equals DEST (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let mnt: string
  let dest: string
  let server: CliProc

  before(async () => {
    fake = await startFake({ seed: 23, photos: 50, videos: 3, sets: 6, collections: 2, commentedFraction: 0.3, oddTitles: true, meanPhotoBytes: 15_000, meanVideoBytes: 60_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    mnt = await lab.mkdir('mnt')
    server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    fake.resetCounts()
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('diff -r and rsync --dry-run --itemize-changes between the mount and DEST report nothing', async () => {
    const diff = await run('diff', ['-r', '-x', '.flickrfs', mnt, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    const there = await run('rsync', [...RSYNC_CMP, `${mnt}/`, `${dest}/`])
    assert.equal(there.code, 0, there.stderr)
    assert.equal(there.stdout, '', 'mount → DEST')
    assert.equal(mediaGets(fake.counts()), 0, 'a pinned DEST is read from disk, not Flickr')
  })

  void it('rsync -a from the mount makes a backup equal to DEST, and a second rsync copies nothing', async () => {
    const backup = join(lab.dir, 'backup')
    const first = await run('rsync', ['-a', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000 })
    assert.equal(first.code, 0, first.stderr)
    const diff = await run('diff', ['-r', '-x', '.flickrfs', backup, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    const cmp = await run('rsync', [...RSYNC_CMP, `${backup}/`, `${dest}/`])
    assert.equal(cmp.stdout, '', 'backup → DEST: same names, kinds, link targets, sizes and mtimes')
    const second = await run('rsync', ['-a', '--stats', '--itemize-changes', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000 })
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout, /Number of regular files transferred: 0\b/)
    assert.doesNotMatch(second.stdout, /^[<>ch.*][fdLDS]/m, 'itemized changes on the second run')
    assert.equal(mediaGets(fake.counts()), 0)
  })

  void it('SIGTERM unmounts (exit 0, empty mountpoint) and inode numbers are the same after a remount', async () => {
    const before = await run('ls', ['-iR', mnt])
    assert.equal(before.code, 0, before.stderr)
    assert.match(before.stdout, /^\s*\d+ \S/m)
    const exit = await lab.stop(server, mnt, 'SIGTERM')
    assert.deepEqual(exit, { code: 0, signal: null }, server.err)
    assert.equal(await isMounted(mnt), false)
    assert.deepEqual(await readdir(mnt), [])
    server = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const again = await run('ls', ['-iR', mnt])
    assert.equal(again.stdout, before.stdout)
  })
})

void describe('sidecars of a mount with an empty cache (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let mnt: string
  let dest: string

  before(async () => {
    fake = await startFake({ seed: 29, photos: 40, videos: 2, sets: 5, collections: 2, commentedFraction: 0.3, oddTitles: true, meanPhotoBytes: 15_000, meanVideoBytes: 60_000 })
    lab = await MountLab.create()
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    mnt = await lab.mkdir('mnt')
    await lab.mount(mnt, ['--cache', await lab.mkdir('fresh'), '--refresh', '0'], env)
    fake.resetCounts()
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  const sidecarOf = (name: string): string => join('photostream', `${name}.metadata`)
  const anOriginal = async (): Promise<string> => {
    const name = (await readdir(join(dest, 'photostream'))).find((n) => /^\d+\.jpg$/.test(n))
    assert.ok(name, 'DEST has a jpg')
    return name
  }

  void it('a sidecar read before its original has its final size, is valid JSON without sha256, and fetches nothing', async () => {
    const name = await anOriginal()
    const inMount = join(mnt, sidecarOf(name))
    const pinned = await readFile(join(dest, sidecarOf(name)), 'utf8')
    // Another process reads the mount (never the one serving it; this test process serves nothing).
    const before = await run('cat', [inMount])
    assert.equal(before.code, 0, before.stderr)
    assert.equal(Buffer.byteLength(before.stdout), Buffer.byteLength(pinned), 'the size stat reported, and the size pin writes')
    assert.equal((await run('stat', ['-c', '%s', inMount])).stdout.trim(), String(Buffer.byteLength(pinned)))
    const shown = JSON.parse(before.stdout) as { flickrfs: Record<string, unknown> }
    const complete = JSON.parse(pinned) as { flickrfs: Record<string, unknown> }
    assert.equal(typeof complete.flickrfs.sha256, 'string')
    delete complete.flickrfs.sha256
    assert.deepEqual(shown, complete)
    assert.equal(mediaGets(fake.counts()), 0, 'reading a sidecar downloads nothing')

    // Once the original is read (and so downloaded), the same sidecar shows its sha256, although
    // the kernel had cached the earlier bytes: their mtime differs by 1 ms, so they are dropped.
    const original = await run('cmp', [join(mnt, 'photostream', name), join(dest, 'photostream', name)])
    assert.equal(original.code, 0, original.stdout + original.stderr)
    const after = await run('cat', [inMount])
    assert.equal(after.stdout, pinned)
  })
})
