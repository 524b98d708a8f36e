/**
 * What a user sees when things go wrong, through the real CLI: hostile titles stay inside DEST,
 * failed items are listed at the end with a non-zero exit, transcodes get a note, an unwritable or
 * full DEST is one clear line (no stack trace) and a later run completes.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { lstat, mkdir, readFile, realpath, writeFile } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, changedPaths, cliEnv, errorLines, dirName, expectedTree, mediaName, removeDir, snapshot, startFake } from '../pin/helpers.js'
import { runCli, spawnCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

const run = promisify(execFile)
const noStack = (s: string): void => assert.doesNotMatch(s, /\n\s+at |Error:/, `no stack trace: ${s}`)

void describe('pin with hostile titles (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 51, photos: 30, videos: 2, sets: 12, collections: 2, oddTitles: true, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('makes safe names, writes nothing outside DEST and every link resolves inside it', async () => {
    await mkdir(join(work, 'outer', 'inner'), { recursive: true })
    await writeFile(join(work, 'outer', 'passwd'), 'decoy\n')
    const dest = join(work, 'outer', 'inner', 'dest')
    const outside = await snapshot(work)
    const r = await runCli(['pin', dest], cliEnv(fake, join(work, 'outer', 'inner', 'config')))
    assert.equal(r.code, 0, r.stderr)
    const afterRun = await snapshot(work)
    const leaked = changedPaths(outside, afterRun, { ignoreDirs: true }).filter((p) => !p.slice(1).startsWith(join('outer', 'inner') + sep))
    assert.deepEqual(leaked, [])

    const a = fake.account
    const want = expectedTree(a)
    assertSamePaths((await snapshot(dest)).keys(), want.entries.keys())
    const root = await realpath(dest)
    for (const [p, e] of await snapshot(dest)) {
      for (const part of p.split('/')) {
        assert.ok(part !== '.' && part !== '..' && Buffer.byteLength(part) <= 255, `unsafe name ${JSON.stringify(part)}`)
        // eslint-disable-next-line no-control-regex
        assert.doesNotMatch(part, /[\u0000-\u001f\u007f]/)
      }
      if (e.kind === 'link') assert.ok((await realpath(join(dest, p))).startsWith(root + sep), p)
    }
    // Titles that are empty after cleaning give the bare id name.
    const empty = a.sets.find((s) => s.title.trim() === '')
    assert.ok(empty !== undefined && (await lstat(join(dest, `Set ${empty.id}`))).isDirectory())
    // datetaken 0000-00-00 00:00:00: the original's mtime is the upload date.
    const zero = a.photostream.find((id) => a.requirePhoto(id).datetaken === '0000-00-00 00:00:00') ?? ''
    const st = await lstat(join(dest, 'photostream', mediaName(a, zero)))
    assert.equal(Math.floor(st.mtimeMs / 1000), a.requirePhoto(zero).dateupload)
    assert.ok(a.sets.some((s) => Buffer.byteLength(dirName('Set', s.id, s.title)) === 255), 'fixture has a name cut at 255 bytes')
  })
})

void describe('pin failures as the user sees them (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  before(async () => {
    fake = await startFake({ seed: 52, photos: 12, videos: 2, sets: 2, collections: 1, meanPhotoBytes: 3_000, meanVideoBytes: 6_000 })
    work = await tempDir()
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void it('lists a failed item at the end (exit 1), notes transcodes, and the next run with --cookies fixes both', async () => {
    const a = fake.account
    const dest = join(work, 'dest')
    const env = cliEnv(fake, join(work, 'config'))
    const bad = a.photostream.find((id) => a.requirePhoto(id).media === 'photo') ?? ''
    const server = a.requirePhoto(bad).server
    a.requirePhoto(bad).server = 'gone'
    fake.faults.videoOriginal404 = true
    let r = await runCli(['pin', dest], env)
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.trim().split('\n')
    assert.match(lines.at(-2) ?? '', /^1 item\(s\) failed; everything else is done\. Run pin again/)
    assert.match(lines.at(-1) ?? '', new RegExp(`^  ${bad}: original: .*404`))
    // The closing line does not claim the failed item as pinned.
    const total = a.photostream.length
    assert.match(r.stdout, new RegExp(`^Pinned ${total - 1} of ${total} items \\(1 failed, listed below\\) into `, 'm'))
    noStack(r.stderr)
    const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
    for (const id of videos) assert.match(r.stdout, new RegExp(`^Note: video ${id} is stored as the "HD MP4" transcode`, 'm'))
    // Everything but the failed photo (its file, sidecar and links) is in place.
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(a, { transcodes: new Set(videos), omit: new Set([bad]) }).entries.keys())

    a.requirePhoto(bad).server = server
    await writeFile(join(work, 'cookies.txt'), 'cookie_accid=1234\ncookie_epass=secretvalue\n')
    r = await runCli(['pin', '--cookies', join(work, 'cookies.txt'), dest], env)
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /Note:/)
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
    for (const id of a.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(a, id)))).equals(a.originalBytes(id)), id)
  })

  void it('cookies that no longer open the originals: the note says so, and the same cookies ask again only once a day', async () => {
    const a = fake.account
    const dest = join(work, 'dest-stale')
    const env = cliEnv(fake, join(work, 'config'))
    const videos = a.photostream.filter((id) => a.requirePhoto(id).media === 'video')
    const cookies = async (name: string, epass: string): Promise<string> => {
      const file = join(work, name)
      await writeFile(file, `cookie_accid=1234\ncookie_epass=${epass}\n`, { mode: 0o600 })
      return file
    }
    const stale = await cookies('stale.txt', 'expired')
    const sizes = (): number => fake.counts()['flickr.photos.getSizes'] ?? 0
    fake.faults.videoOriginal404 = true
    fake.faults.expiredCookies = true
    try {
      let r = await runCli(['pin', dest], env)
      assert.equal(r.code, 0, r.stderr)
      // The first run with cookies asks for every original again; the note says the cookies did not open them.
      fake.resetCounts()
      r = await runCli(['pin', '--cookies', stale, dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(sizes(), videos.length, 'each video asked again')
      const note = new RegExp(`^Note: ${videos.length} video\\(s\\) are still stored as transcodes although --cookies was given: .*may have expired.*` +
        'With other cookies they are asked for at the next run; with the same ones, by the first run in 24 h or later:$', 'm')
      assert.match(r.stdout, note)
      for (const id of videos) assert.match(r.stdout, new RegExp(`^  video ${id}: the "HD MP4" transcode$`, 'm'))
      assert.doesNotMatch(r.stdout + r.stderr, /expired\n|epass=|1234/, 'the cookies never shown')
      // The same cookies an hour later (a cron job): not asked again, and nothing to do.
      fake.resetCounts()
      r = await runCli(['pin', '--cookies', stale, dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(sizes(), 0, 'not asked again with the same cookies')
      assert.match(r.stdout, /^Checked \d+ items, .*: nothing changed/m)
      assert.match(r.stdout, note)
      // Other cookies that work: asked at once, the originals replace the transcodes.
      fake.faults.expiredCookies = false
      fake.resetCounts()
      r = await runCli(['pin', '--cookies', await cookies('fresh.txt', 'fresh'), dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(sizes(), videos.length)
      assert.doesNotMatch(r.stdout, /Note:/)
      assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
    } finally {
      fake.faults.videoOriginal404 = false
      fake.faults.expiredCookies = false
    }
  })

  void it('names at most 20 transcodes in its note, and status lists them all', async () => {
    const many = await startFakeFlickr({ account: generateAccount({ seed: 77, photos: 3, videos: 23, sets: 1, meanPhotoBytes: 1_000, meanVideoBytes: 2_000 }) })
    try {
      many.faults.videoOriginal404 = true
      const dest = join(work, 'dest-many-videos')
      const env = cliEnv(many, join(work, 'config-many'))
      const r = await runCli(['pin', dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.split('\n').filter((l) => /^Note: video \d+ is stored as the "HD MP4" transcode/.test(l)).length, 20, r.stdout)
      assert.match(r.stdout, new RegExp(`^Note: … and 3 more videos stored as a transcode \\(flickrfs status ${dest} lists them all\\)\\.$`, 'm'))
      const status = await runCli(['status', dest], env)
      assert.equal(status.stdout.split('\n').filter((l) => /^ +video \d+ is stored as the "HD MP4" transcode$/.test(l)).length, 23, status.stdout)
    } finally {
      await many.close()
    }
  })

  void it('a run that fails again says when the records are listed afresh; --full-listing-every 0 lists them now', async () => {
    const a = fake.account
    const dest = join(work, 'dest-again')
    const env = cliEnv(fake, join(work, 'config'))
    const bad = a.photostream.filter((id) => a.requirePhoto(id).media === 'photo').at(-1) ?? ''
    const server = a.requirePhoto(bad).server
    const failedLine = (r: { stderr: string }): string => r.stderr.trim().split('\n').at(-2) ?? ''
    a.requirePhoto(bad).server = 'gone'
    try {
      let r = await runCli(['pin', dest], env)
      assert.equal(r.code, 1, r.stderr)
      assert.match(failedLine(r), /^1 item\(s\) failed; everything else is done\. Run pin again to retry them; the next run also lists their records afresh from Flickr:$/)
      const first = (await runCli(['status', dest], env)).stdout
      assert.match(first, /Last pin: .*1 failure\(s\); the next pin lists their records afresh from Flickr$/m)
      // and why, as the pin said it.
      assert.match(first, new RegExp(`^  ${bad} failed: original: .*404`, 'm'))
      // The next run lists the photostream for its record (still broken); the one after that waits an hour for it (less 10 min of slack).
      r = await runCli(['pin', dest], env)
      assert.equal(r.code, 1, r.stderr)
      const wait = /; a run in (\d+) min or later also lists their records afresh from Flickr \(the next one if more items fail by then; --full-listing-every 0 lists everything now\):$/.exec(failedLine(r))
      assert.ok(wait !== null, r.stderr)
      assert.ok(Number(wait[1]) >= 48 && Number(wait[1]) <= 50, wait[0])
      noStack(r.stderr)
      // status says the same, as a time.
      const status = await runCli(['status', dest], env)
      const at = /Last pin: .*1 failure\(s\); their records are listed afresh from Flickr by the first pin after (\S+) \(the next one if more items fail by then\)$/m.exec(status.stdout)
      assert.ok(at !== null, status.stdout)
      const inMin = (Date.parse(at[1] ?? '') - Date.now()) / 60_000
      assert.ok(inMin > 45 && inMin <= 50, `${at[1]}: ${inMin} min from now`)
      // Fixed on Flickr: within the hour the record held is tried again, and fails as the message said ...
      a.requirePhoto(bad).server = server
      r = await runCli(['pin', dest], env)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`^  ${bad}: original: .*404`, 'm'))
      // ... and a full listing takes the fixed record now.
      r = await runCli(['pin', '--full-listing-every', '0', dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.ok((await readFile(join(dest, 'photostream', mediaName(a, bad)))).equals(a.originalBytes(bad)))
    } finally {
      a.requirePhoto(bad).server = server
    }
  })

  void it('an unwritable DEST is one clear line, exit non-zero, no stack trace', async () => {
    const env = cliEnv(fake, join(work, 'config'))
    await writeFile(join(work, 'a-file'), 'x')
    for (const dest of [join(work, 'a-file'), join(work, 'a-file', 'dest')]) {
      const r = await runCli(['pin', dest], env)
      assert.notEqual(r.code, 0)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^flickrfs: .*a-file/)
      noStack(r.stderr)
    }
  })

  void it('a token of another account than DEST holds stops the pin in one line before anything is changed', async () => {
    const dest = join(work, 'dest-other-account')
    const env = cliEnv(fake, join(work, 'config'))
    let r = await runCli(['pin', '-q', dest], env)
    assert.equal(r.code, 0, r.stderr)
    const before = await snapshot(dest, { withState: true })
    const other = await startFakeFlickr({ account: generateAccount({ seed: 78, userId: '99999999@N00', photos: 4, videos: 0, sets: 1 }) })
    try {
      const otherEnv = cliEnv(other, join(work, 'config-other'))
      for (const args of [['pin', '-q', dest], ['pin', '-q', '--full-listing-every', '0', '--delete-unknown', dest]]) {
        r = await runCli(args, otherEnv)
        assert.notEqual(r.code, 0, r.stdout)
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.match(r.stderr, new RegExp(`^flickrfs: ${dest} holds the Flickr account \\S+ \\(12345678@N00\\), but the token given is another account's \\(Flickr answered with photos of 99999999@N00\\)\\. Nothing was changed\\.`))
        noStack(r.stderr)
      }
      assert.deepEqual(changedPaths(before, await snapshot(dest, { withState: true })).filter((p) => !p.replace(/^[-+~]/, '').startsWith('.flickrfs')), [], 'DEST as it was')
      // The right token still pins it.
      r = await runCli(['pin', dest], env)
      assert.equal(r.code, 0, r.stderr)
    } finally {
      await other.close()
    }
  })

  void it('a DEST /proc refuses to create is one clear line, not a hang (Node\'s recursive mkdir spins there)', async () => {
    const env = cliEnv(fake, join(work, 'config'))
    for (const dest of ['/proc/flickrfs-no-such', '/proc/flickrfs-no-such/dest']) {
      const child = spawnCli(['pin', dest], env)
      const hang = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const r = await runCli([], env, child).finally(() => clearTimeout(hang))
      assert.equal(r.code, 1, `${r.stderr} (killed after 20 s: ${r.signal ?? 'no'})`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^flickrfs: .*\/proc\/flickrfs-no-such/)
      noStack(r.stderr)
    }
  })
})

void describe('pin on a full disk (e2e)', () => {
  let fake: FakeFlickr
  let work: string
  let mnt: string
  let mounted = false
  before(async () => {
    // About 3 MB of originals for a 2 MB filesystem.
    fake = await startFakeFlickr({ account: generateAccount({ seed: 53, photos: 30, videos: 0, sets: 2, collections: 1, meanPhotoBytes: 100_000 }) })
    work = await tempDir()
    mnt = join(work, 'mnt')
    await mkdir(mnt)
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt])
      mounted = true
    } catch {
      mounted = false
    }
  })
  after(async () => {
    await fake.close()
    if (mounted) await run('umount', [mnt]).catch(() => undefined)
    await removeDir(work)
  })

  void it('says "no space" in one line, exits non-zero, and a run on a bigger disk completes', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here (needs root and mount permission)')
      return
    }
    const dest = join(mnt, 'dest')
    const env = cliEnv(fake, join(work, 'config'))
    let r = await runCli(['pin', dest], env)
    assert.notEqual(r.code, 0)
    assert.equal(errorLines(r.stderr).length, 1, r.stderr)
    assert.match(errorLines(r.stderr)[0] ?? '', /^flickrfs: No space left/)
    noStack(r.stderr)

    await run('mount', ['-o', 'remount,size=20m', mnt])
    r = await runCli(['pin', dest], env)
    assert.equal(r.code, 0, r.stderr)
    const a = fake.account
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(a).entries.keys())
    for (const id of a.photostream) assert.ok((await readFile(join(dest, 'photostream', mediaName(a, id)))).equals(a.originalBytes(id)), id)
  })
})
