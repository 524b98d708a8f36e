/**
 * The LAYOUT.md contract between `flickrfs pin DEST` and `flickrfs mount --cache DEST`: after a
 * complete pin, `diff -r` and `rsync -a --dry-run --itemize-changes` between the mount and DEST
 * report nothing; a backup made with `rsync -a` from the mount equals DEST, a second rsync copies
 * nothing, and inode numbers survive a remount (restic/borg use them).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { mediaGets, pinnedLab } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import type { CliProc } from '../support/cli.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

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
    ;({ fake, lab, env, dest } = await pinnedLab({ seed: 23, photos: 50, videos: 3, sets: 6, collections: 2, commentedFraction: 0.3, oddTitles: true, meanPhotoBytes: 15_000, meanVideoBytes: 60_000 }))
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
    let env: NodeJS.ProcessEnv
    ;({ fake, lab, env, dest } = await pinnedLab({ seed: 29, photos: 40, videos: 2, sets: 5, collections: 2, commentedFraction: 0.3, oddTitles: true, meanPhotoBytes: 15_000, meanVideoBytes: 60_000 }))
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

  void it('a sidecar read before its original is pin\'s byte for byte, fetches nothing, and stays so once the original is read', async () => {
    const name = await anOriginal()
    const inMount = join(mnt, sidecarOf(name))
    const pinned = await readFile(join(dest, sidecarOf(name)), 'utf8')
    // Another process reads the mount (never the one serving it; this test process serves nothing).
    const before = await run('cat', [inMount])
    assert.equal(before.code, 0, before.stderr)
    assert.equal(before.stdout, pinned)
    // (Its mtime is when this mount's own catalog saw the record, not the pin's catalog.)
    assert.equal((await run('stat', ['-c', '%s', inMount])).stdout.trim(), String(Buffer.byteLength(pinned)))
    assert.equal(mediaGets(fake.counts()), 0, 'reading a sidecar downloads nothing')
    const original = await run('cmp', [join(mnt, 'photostream', name), join(dest, 'photostream', name)])
    assert.equal(original.code, 0, original.stdout + original.stderr)
    await writeFile('/proc/sys/vm/drop_caches', '3')
    assert.equal((await run('cat', [inMount])).stdout, pinned)
  })

  void it('SHA256SUMS: stat and read agree at every moment; once the kernel asks again it lists the originals read since', async () => {
    const sums = join(mnt, 'photostream', 'SHA256SUMS')
    const pinnedLines = new Set((await readFile(join(dest, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n').filter((l) => l !== ''))
    const statAndRead = async (): Promise<{ size: number; mtime: number; text: string }> => {
      const st = (await run('stat', ['-c', '%s %Y', sums])).stdout.trim().split(' ').map(Number)
      const text = (await run('cat', [sums])).stdout
      assert.equal(Buffer.byteLength(text), st[0], 'the size stat said is the size read')
      for (const line of text.split('\n').filter((l) => l !== '')) assert.ok(pinnedLines.has(line), `${line} is pin's line`)
      return { size: st[0] ?? -1, mtime: st[1] ?? -1, text }
    }
    const first = await statAndRead()
    // Two more originals read (and so downloaded and verified) through the mount.
    const more = (await readdir(join(dest, 'photostream'))).filter((n) => /^\d+\.jpg$/.test(n) && !first.text.includes(`  ${n}\n`)).slice(0, 2)
    assert.equal(more.length, 2)
    for (const n of more) assert.equal((await run('cmp', [join(mnt, 'photostream', n), join(dest, 'photostream', n)])).code, 0)
    // Within the attribute timeout the kernel keeps the size it was told, and so the mount keeps
    // serving that version whole (never new bytes cut at the old size).
    const within = await statAndRead()
    assert.equal(within.text, first.text)
    // When the kernel asks again (here: its caches dropped, as after the attribute timeout), the
    // longer file shows, with a newer mtime, and a read gets all of it.
    await writeFile('/proc/sys/vm/drop_caches', '3')
    // Read-ahead may still be fetching what follows the originals read above: let it finish.
    let last = -1
    await waitUntil('no download in flight', () => {
      const now = mediaGets(fake.counts())
      const still = now === last
      last = now
      return Promise.resolve(still)
    }, 30_000, 500)
    const gets = mediaGets(fake.counts())
    const later = await statAndRead()
    assert.ok(later.size > first.size, `${later.size} > ${first.size}`)
    for (const n of more) assert.match(later.text, new RegExp(`^[0-9a-f]{64}  ${n.replace('.', '\\.')}$`, 'm'))
    assert.ok(later.mtime >= first.mtime)
    assert.equal(mediaGets(fake.counts()), gets, 'SHA256SUMS is made from the store: reading it fetches nothing')
  })
})
