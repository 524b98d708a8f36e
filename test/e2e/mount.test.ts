/**
 * `flickrfs mount MNT` as a user runs it, against the fake Flickr, with a fresh cache: the whole
 * LAYOUT.md tree, exact sizes before any byte is fetched, byte-exact originals, symlinks that
 * resolve, what backup tools (rsync, tar --sparse, du) and viewers (mmap) see, one download for
 * parallel readers, and a refresh picking up changes. The mount is served by a child process.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, dirName, expectedTree, mediaName, startFake } from '../pin/helpers.js'
import { sha256 } from '../support/files.js'
import { findListing, mediaGets, q } from './mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { fuseUnusableReason } from '../support/mounts.js'
import type { CliProc } from '../support/cli.js'
import { run, sh } from '../support/run.js'

const skip = await fuseUnusableReason(['rsync', 'python3'])

void describe('flickrfs mount (e2e, fresh cache)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let mnt: string
  let dest: string
  let server: CliProc
  /** Originals no test has read yet, so each read-path test gets an uncached one. */
  const unread: string[] = []

  before(async () => {
    fake = await startFake({ seed: 11, photos: 40, videos: 4, sets: 5, collections: 2, commentedFraction: 0.2, meanPhotoBytes: 30_000, meanVideoBytes: 150_000 })
    lab = await MountLab.create()
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env)
    assert.equal(pinned.exit.code, 0, pinned.err)
    mnt = await lab.mkdir('mnt')
    server = await lab.mount(mnt, ['--refresh', '0'], env)
    fake.resetCounts()
    const a = fake.account
    const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
    const photos = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo')
    unread.push(...videos.map((id) => mediaName(a, id)), ...photos.map((id) => mediaName(a, id)))
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('shows exactly the LAYOUT.md tree, with exact sizes of every original before any download', async () => {
    const got = await findListing(mnt)
    const want = expectedTree(fake.account).entries
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    for (const [p, w] of want) {
      const e = got.get(p)
      assert.equal(e?.kind, { file: 'f', dir: 'd', link: 'l' }[w.kind], p)
      if (w.target !== undefined) assert.equal(e?.target, w.target, p)
      if (w.size !== undefined) assert.equal(e?.size, w.size, `${p}: size before download`)
    }
    // stat of every entry (find -printf %s above, stat -L through every link here) fetched nothing.
    const st = await sh(`find ${q(mnt)} -type l -exec stat -L -c %s {} + | wc -l`)
    assert.equal(st.code, 0, st.stderr)
    assert.ok(Number(st.stdout) > 40)
    assert.equal(mediaGets(fake.counts()), 0, `stat must not download: ${JSON.stringify(fake.counts())}`)
    assert.equal(fake.counts()['media:HEAD'] ?? 0, 0)
  })

  void it('every symlink resolves to an entry inside the mount', async () => {
    const broken = await run('find', ['-L', mnt, '-type', 'l'])
    assert.equal(broken.code, 0, broken.stderr)
    assert.equal(broken.stdout, '', 'find -L lists broken links')
    const real = await sh(`find ${q(mnt)} -type l -exec readlink -f {} +`)
    const targets = real.stdout.trim().split('\n')
    assert.ok(targets.length > 40)
    for (const t of targets) assert.ok(t.startsWith(mnt + '/'), `${t} is outside the mount`)
    assert.equal(mediaGets(fake.counts()), 0)
  })

  void it('parallel readers of one uncached original cause exactly one media GET', async () => {
    const name = unread.pop() ?? assert.fail('no unread original')
    const file = join(mnt, 'photostream', name)
    const out = await lab.mkdir('parallel')
    fake.resetCounts()
    fake.faults.mediaLatencyMs = 400
    try {
      const r = await sh(`for i in 1 2 3 4 5 6; do cat ${q(file)} > ${q(out)}/$i & done; wait; for i in 1 2 3 4 5 6; do cmp ${q(out)}/$i ${q(join(dest, 'photostream', name))} || exit 1; done`)
      assert.equal(r.code, 0, r.stderr + r.stdout)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
    assert.equal(mediaGets(fake.counts()), 1, JSON.stringify(fake.counts()))
  })

  void it('mmap of an uncached original (python3) reads the exact bytes', async () => {
    const name = unread.shift() ?? assert.fail('no unread original')
    const id = name.split('.')[0] ?? ''
    const r = await run('python3', ['-c', 'import mmap,sys,hashlib\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,access=mmap.ACCESS_READ)\nprint(len(m), hashlib.sha256(m[:]).hexdigest())', join(mnt, 'photostream', name)])
    assert.equal(r.code, 0, r.stderr)
    const want = fake.account.originalBytes(id)
    assert.equal(r.stdout.trim(), `${want.length} ${sha256(want)}`)
  })

  void it('tar --sparse archives every original whole, and du agrees with the apparent size', async () => {
    const du = await run('du', ['-s', '--block-size=1', join(mnt, 'photostream')])
    const apparent = await run('du', ['-s', '--block-size=1', '--apparent-size', join(mnt, 'photostream')])
    const used = Number(du.stdout.split('\t')[0])
    const size = Number(apparent.stdout.split('\t')[0])
    assert.ok(size > 1_000_000, `apparent size ${size}`)
    // st_blocks = ceil(size/512): du must not say 0 (tar --sparse and backup tools skip "holes").
    assert.ok(used >= size && used < size * 1.2, `du ${used} vs apparent ${size}`)

    const out = await lab.mkdir('untar')
    const r = await sh(`set -o pipefail; tar --sparse -C ${q(mnt)} -cf - photostream | tar -C ${q(out)} -xf - && diff -r -x '*.metadata' -x SHA256SUMS ${q(join(out, 'photostream'))} ${q(join(dest, 'photostream'))}`, { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const tv = await sh(`tar --sparse -C ${q(mnt)} -cf - photostream | tar -tvf - | awk '{s+=$3} END {print s}'`)
    const files = await sh(`find ${q(join(mnt, 'photostream'))} -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'`)
    assert.equal(Number(tv.stdout), Number(files.stdout), 'tar -tv sizes add up to the files\' sizes')
    unread.length = 0
  })

  void it('rsync -a makes a backup equal to a pin, sidecars included; SHA256SUMS lists what was verified; a second rsync copies nothing', async () => {
    const backup = join(lab.dir, 'backup')
    const first = await run('rsync', ['-a', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000 })
    assert.equal(first.code, 0, first.stderr)
    const got = await findListing(backup)
    const want = await findListing(dest)
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    // Sidecars follow from the catalog alone: whatever order rsync read them in, they are pin's.
    // SHA256SUMS is as the store knew it when rsync listed it (the kernel keeps that size for the
    // attribute timeout): every line it has is one of pin's, and a later run picks up the rest.
    const diff = await run('diff', ['-r', '-x', '.flickrfs', '-x', 'SHA256SUMS', backup, dest])
    assert.equal(diff.code, 0, diff.stdout + diff.stderr)
    const pinnedSums = new Set((await readFile(join(dest, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n'))
    for (const line of (await readFile(join(backup, 'photostream', 'SHA256SUMS'), 'utf8')).split('\n')) assert.ok(pinnedSums.has(line), line)
    // Names, kinds, link targets, sizes and permissions agree, and so do the times of originals.
    // Metadata files, directories and links to set directories take their times from their own
    // catalog (when it first saw each record), and this mount's catalog is not the pin's.
    const cmp = await run('rsync', ['-a', '--dry-run', '--itemize-changes', '--exclude=/.flickrfs', '--exclude=/photostream/SHA256SUMS', `${backup}/`, `${dest}/`])
    assert.equal(cmp.code, 0, cmp.stderr)
    const lines = cmp.stdout.split('\n').filter((l) => l !== '')
    assert.deepEqual(lines.filter((l) => !/^[.>][fdL]\.\.t\.+ /.test(l)), [], 'only times differ')
    assert.deepEqual(lines.filter((l) => /^[.>]f/.test(l) && !l.endsWith('metadata')), [], 'originals keep the same times')
    const second = await run('rsync', ['-a', '--stats', '--itemize-changes', `${mnt}/`, `${backup}/`], { timeoutMs: 60_000 })
    assert.equal(second.code, 0, second.stderr)
    // Only SHA256SUMS may have moved on, if the kernel's attribute timeout ran out between the runs.
    const changed = second.stdout.split('\n').filter((l) => /^[<>ch.*][fdLDS]/.test(l))
    assert.deepEqual(changed.filter((l) => !l.endsWith(' photostream/SHA256SUMS')), [], 'itemized changes on the second run')
    assert.match(second.stdout, new RegExp(`Number of regular files transferred: ${changed.length}\\b`))
  })

  void it('`flickrfs refresh MNT` picks up a new photo and a renamed set', async () => {
    const a = fake.account
    const set = a.sets[0] ?? assert.fail('fixture has sets')
    const oldDir = dirName('Set', set.id, set.title)
    const added = a.addPhoto({ title: 'added by the e2e test', originalformat: 'png', bytes: 12_345 })
    a.addToSet(set.id, added.id)
    a.renameSet(set.id, 'Renamed by e2e')
    const newDir = dirName('Set', set.id, 'Renamed by e2e')
    const r = await lab.cli(['refresh', mnt], env)
    assert.equal(r.exit.code, 0, r.err)
    assert.match(r.out, /asked the mount .* to refresh/)
    // New names are not in the kernel's dentry/attr cache (60 s), and readdir is never cached
    // under libfuse 2.9, so they show up as soon as the tree is rebuilt. A changed size of an
    // already-stat'ed file could take up to attr_timeout; not checked here.
    await waitUntil('the refreshed tree is served', async () => {
      const ls = await run('ls', ['-1', mnt])
      return ls.stdout.split('\n').includes(newDir)
    }, 30_000, 200)
    const root = (await run('ls', ['-1', mnt])).stdout.split('\n')
    assert.ok(!root.includes(oldDir), `${oldDir} should be gone after the rename`)
    const file = join(mnt, 'photostream', `${added.id}.png`)
    const st = await run('stat', ['-c', '%s', file])
    assert.equal(st.stdout.trim(), '12345', st.stderr)
    const links = (await run('ls', ['-1', join(mnt, newDir)])).stdout
    assert.match(links, new RegExp(`_${added.id}\\.png$`, 'm'))
    const bytes = await run('sha256sum', [file])
    assert.equal(bytes.stdout.split(' ')[0], sha256(a.originalBytes(added.id)))
    assert.match(server.err, /Refreshed: 45 items \(1 new/)
  })
})
