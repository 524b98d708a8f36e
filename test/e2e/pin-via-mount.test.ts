/**
 * `flickrfs pin DEST` while `flickrfs mount --cache DEST MNT` serves DEST: the pin hands the job to
 * the mount over DEST's control socket instead of failing on the lock the mount holds. Real CLI
 * processes, a real FUSE mount, the fake Flickr over HTTP.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { assertSamePaths, cliEnv, danglingLinks, expectedTree, mediaName, snapshot, startFake } from '../pin/helpers.js'
import { sha256 } from '../support/files.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { frames, runCliInPty } from '../support/pty.js'
import { BIN } from '../support/repo.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'
import { q } from './mount-helpers.js'

const skip = await fuseUnusableReason()

/**
 * Every entry of a pinned tree (state folder left out): kind, size, link target, file bytes'
 * sha256, and the mtime of originals (the photo's own time; a metadata file is dated by the
 * catalog refresh that first saw its change, which differs between two catalogs).
 */
async function treeOf(dest: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const [rel, e] of await snapshot(dest)) {
    const bytes = e.kind === 'file' ? sha256(await readFile(join(dest, rel))) : ''
    const mtime = e.kind === 'file' && /^photostream\/\d+\.\w+$/.test(rel) ? Math.floor(e.mtimeMs / 1000) : ''
    out.set(rel, `${e.kind} ${e.kind === 'dir' ? 0 : e.size} ${e.target ?? ''} ${bytes} ${mtime}`)
  }
  return out
}

function assertSameTree(actual: Map<string, string>, expected: Map<string, string>): void {
  assertSamePaths(actual.keys(), expected.keys())
  for (const [rel, want] of expected) assert.equal(actual.get(rel), want, rel)
}

/** The file names in MNT/photostream, listed by a child process like every read of a mount in these tests. */
async function listedThroughMount(mnt: string): Promise<string[]> {
  const r = await run('ls', ['-1', join(mnt, 'photostream')])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.split('\n').filter((n) => n !== '')
}

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at /, 'no stack trace')

void describe('pin DEST while mount --cache DEST serves it (e2e)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 131, photos: 12, videos: 1, sets: 3, collections: 1, commentedFraction: 0.2, meanPhotoBytes: 8_000, meanVideoBytes: 12_000 })
    lab = await MountLab.create('flickrfs-e2e-pin-via-mount-')
    env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('xdg-cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  void it('runs in the mount: exit 0, the same tree as a pin without a mount, and the mount serves the new photos', async () => {
    const dest = await lab.mkdir('dest')
    const first = await lab.cli(['pin', '-q', dest], env)
    assert.equal(first.exit.code, 0, first.err)
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)

    // Flickr changes after the mount started: two new photos, one deleted, one retitled.
    const added = [fake.account.addPhoto({ title: 'new one' }), fake.account.addPhoto({ title: 'new two' })]
    const deleted = fake.account.photostream[3] as string
    const deletedName = mediaName(fake.account, deleted)
    fake.account.deletePhoto(deleted)
    fake.account.editPhoto(fake.account.photostream[0] as string, { title: 'renamed while mounted' })
    const before = await listedThroughMount(mnt)
    for (const p of added) assert.ok(!before.includes(mediaName(fake.account, p.id)), 'not served before the pin')

    fake.resetCounts()
    const r = await lab.cli(['pin', '-v', '--delete-unknown', dest], env)
    assert.equal(r.exit.code, 0, r.err)
    assert.match(r.err, /is served by the mount at .* \(pid \d+\); the pin runs in that mount/)
    assert.match(r.err, /^downloaded \d+\.\w+ \(\d+ bytes\)$/m, '-v details come back from the mount')
    assert.match(r.out, /^Pinned 14 items into .*: 2 downloaded .*, \d+ entries removed, /m)
    assert.match(r.err, new RegExp(`^removed photostream/${deletedName.replace('.', '\\.')}$`, 'm'), '-v says what is removed')
    assert.doesNotMatch(r.err, /in use by another flickrfs/)
    noStack(r.err)
    assert.equal(fake.counts()['media:GET'], added.length, 'only the new originals are fetched')
    // The mountpoint given instead of the cache: one line naming the folder to pin.
    const wrong = await lab.cli(['pin', mnt], env)
    assert.equal(wrong.exit.code, 1, wrong.err)
    assert.equal(wrong.err.trim().split('\n').length, 1, wrong.err)
    assert.match(wrong.err, new RegExp(`^flickrfs: ${mnt} is where a flickrfs mount \\(pid \\d+\\) shows its cache, ${dest}: pin that folder instead`))
    assert.ok(server.exit === undefined, 'the mount still serves')
    assert.match(server.err, /pin of .* asked by pid \d+: running it here/)

    // The same account pinned by a plain pin into a folder no mount serves.
    const ref = await lab.mkdir('ref')
    const plain = await lab.cli(['pin', '-q', '--delete-unknown', ref], env)
    assert.equal(plain.exit.code, 0, plain.err)
    assertSameTree(await treeOf(dest), await treeOf(ref))
    assert.ok(!(await readdir(join(dest, 'photostream'))).includes(deletedName), 'the deleted photo left DEST')

    // The mount serves the new tree: new photos listed and read byte for byte, the deleted one gone.
    const now = await listedThroughMount(mnt)
    assert.ok(!now.includes(deletedName), 'the deleted photo is no longer served')
    for (const p of added) {
      const name = mediaName(fake.account, p.id)
      assert.ok(now.includes(name), `${name} is served`)
      const c = await run('sh', ['-c', `cat ${q(join(mnt, 'photostream', name))} | sha256sum`])
      assert.equal(c.stdout.split(' ')[0], sha256(fake.account.originalBytes(p.id)), `${name} reads whole through the mount`)
    }
    const exit = await lab.stop(server, mnt)
    assert.equal(exit.code, 0, server.err)

    // With the mount gone, the pin runs here again and finds nothing to do.
    const alone = await lab.cli(['pin', dest], env)
    assert.equal(alone.exit.code, 0, alone.err)
    assert.match(alone.out, /^Checked 14 items, .*: nothing changed/m)
    assert.doesNotMatch(alone.err, /served by the mount/)
  })

  void it('works from cron: env -i, --env-file, -q prints nothing and exits 0', async () => {
    const dest = await lab.mkdir('dest-cron')
    const mnt = await lab.mkdir('mnt-cron')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    const envFile = join(lab.dir, 'flickrfs.env')
    await writeFile(envFile, [
      `FLICKR_API_KEY=${fake.credentials.apiKey}`,
      `FLICKR_API_SECRET=${fake.credentials.apiSecret}`,
      `export FLICKR_OAUTH_TOKEN="${fake.credentials.oauthToken}"`,
      `FLICKR_OAUTH_TOKEN_SECRET='${fake.credentials.oauthTokenSecret}'`,
      `FLICKRFS_API_ORIGIN=${fake.origin}`,
      'FLICKRFS_API_RATE=1000',
      `FLICKRFS_CONFIG_DIR=${join(lab.dir, 'cron-config')}`,
    ].join('\n') + '\n', { mode: 0o600 })
    // cron's environment: PATH and nothing else (no XDG_RUNTIME_DIR, no HOME of the mount's session).
    const job = `${q(BIN)} pin -q --env-file ${q(envFile)} ${q(dest)}`
    const r = await run('env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, '/bin/sh', '-c', job], { cwd: lab.dir, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout + r.stderr, '', '-q prints nothing on success')
    assert.match(server.err, /pin of .* asked by pid \d+: running it here/, 'the mount ran it')
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    for (const id of fake.account.photostream) {
      const bytes = await readFile(join(dest, 'photostream', mediaName(fake.account, id)))
      assert.ok(bytes.equals(fake.account.originalBytes(id)), id)
    }
    // The control socket is the user's alone.
    const sock = await stat(join(dest, '.flickrfs', 'control', 'mount.sock'))
    const dir = await stat(join(dest, '.flickrfs', 'control'))
    assert.equal(sock.mode & 0o777, 0o600)
    assert.equal(dir.mode & 0o777, 0o700)
    await lab.stop(server, mnt)

    // An --offline mount of the same DEST cannot pin for it: one clear line, nonzero, DEST untouched.
    const offline = await lab.mount(mnt, ['--cache', dest, '--offline'], env)
    const before = await treeOf(dest)
    const refused = await lab.cli(['pin', '-q', dest], env)
    assert.equal(refused.exit.code, 1, refused.err)
    assert.match(refused.err, /^flickrfs: The mount at .* is --offline and cannot pin\. Stop it \(flickrfs unmount .*\) and run the pin again, or mount without --offline\.\n$/)
    assertSameTree(await treeOf(dest), before)
    await lab.stop(offline, mnt)
  })

  void it('refuses a second pin cleanly, says so when the mount dies mid-pin, and a rerun completes', async () => {
    const dest = await lab.mkdir('dest-kill')
    const mnt = await lab.mkdir('mnt-kill')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    fake.faults.mediaLatencyMs = 400
    try {
      const slow = lab.spawn(['pin', '--concurrency', '1', dest], env)
      await waitUntil('the handed-off pin has stored an original', async () => {
        if (slow.exit) throw new Error(`the pin ended early: ${slow.err}`)
        const names = await readdir(join(dest, 'photostream')).catch(() => [] as string[])
        return names.some((n) => !n.endsWith('.metadata'))
      }, 30_000, 50)
      assert.match(slow.err, /the pin runs in that mount/)

      const second = await lab.cli(['pin', '-q', dest], env)
      assert.equal(second.exit.code, 1, second.err)
      assert.equal(second.err.trim().split('\n').length, 1, `one line: ${second.err}`)
      assert.match(second.err, /^flickrfs: A pin is already running in the mount of .*; wait for it to finish\.$/m)
      assert.equal(slow.exit, undefined, 'the first pin goes on')

      server.child.kill('SIGKILL')
      const exit = await slow.wait(30_000)
      assert.equal(exit.code, 1, slow.err)
      assert.match(slow.err, /flickrfs: The mount at .* \(pid \d+\) stopped before the pin of .* it was running finished\. Run the same pin again: it resumes/)
      noStack(slow.err)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
    const stored = (await readdir(join(dest, 'photostream'))).filter((n) => !n.endsWith('.metadata')).length
    assert.ok(stored >= 1 && stored < fake.account.photostream.length, `the kill came mid-pin (${stored} stored)`)

    // The killed mount left its lock and its socket: the rerun takes the lock over and runs here.
    fake.resetCounts()
    const again = await lab.cli(['pin', dest], env)
    assert.equal(again.exit.code, 0, again.err)
    assert.doesNotMatch(again.err, /served by the mount/)
    assert.ok((fake.counts()['media:GET'] ?? 0) <= fake.account.photostream.length - stored + 1, `stored originals are not fetched again (${fake.counts()['media:GET']} GETs)`)
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    for (const id of fake.account.photostream) {
      const bytes = await readFile(join(dest, 'photostream', mediaName(fake.account, id)))
      assert.ok(bytes.equals(fake.account.originalBytes(id)), id)
    }
  })

  /**
   * An original read through a --cache-size mount before a pin (a cache entry), then the pin
   * (handed to that mount, or on its own with the mount stopped), then a new photo read through the
   * mount: with the first original still evictable the two would not fit the bound, so the first
   * must have become pinned.
   */
  const boundedCacheScenario = async (name: string, pinWhileMounted: boolean): Promise<void> => {
    const dest = await lab.mkdir(`dest-${name}`)
    const mnt = await lab.mkdir(`mnt-${name}`)
    const read = fake.account.photostream[pinWhileMounted ? 0 : 1] as string
    const readName = mediaName(fake.account, read)
    const bound = Math.max(fake.account.requirePhoto(read).bytes, 9_000) + 100
    const mountBounded = (): ReturnType<typeof lab.mount> => lab.mount(mnt, ['--cache', dest, '--cache-size', String(bound), '--refresh', '0'], env)
    const inDest = (n: string): Promise<boolean> => stat(join(dest, 'photostream', n)).then(() => true, () => false)
    const cat = async (n: string): Promise<string> => {
      const c = await run('sh', ['-c', `cat ${q(join(mnt, 'photostream', n))} | sha256sum`])
      assert.equal(c.code, 0, c.stderr)
      return c.stdout.split(' ')[0] ?? ''
    }
    let server = await mountBounded()
    assert.equal(await cat(readName), sha256(fake.account.originalBytes(read)))
    await waitUntil(`${readName} is stored in DEST`, () => inDest(readName))
    if (!pinWhileMounted) await lab.stop(server, mnt)
    const r = await lab.cli(['pin', '-q', dest], env)
    assert.equal(r.exit.code, 0, r.err)
    if (pinWhileMounted) assert.match(server.err, /pin of .* asked by pid \d+/)
    else server = await mountBounded()

    const added = fake.account.addPhoto({ title: `after the pin (${name})`, bytes: 9_000 })
    const addedName = mediaName(fake.account, added.id)
    const asked = await lab.cli(['refresh', mnt], env)
    assert.equal(asked.exit.code, 0, asked.err)
    await waitUntil('the mount lists the new photo', async () => (await listedThroughMount(mnt)).includes(addedName))
    assert.equal(await cat(addedName), sha256(fake.account.originalBytes(added.id)))
    await waitUntil(`${addedName} is stored in DEST`, () => inDest(addedName))
    await new Promise((res) => setTimeout(res, 1000))
    assert.ok(await inDest(readName), `${readName}, which the pinned tree names, is still in DEST`)
    assert.deepEqual(await danglingLinks(dest), [], 'no link of the pinned tree dangles')
    await lab.stop(server, mnt)
  }

  void it('with --cache-size, the mount never evicts an original the pin left in DEST', () => boundedCacheScenario('bounded', true))

  void it('a pin of its own (no mount running) also keeps what a mount read before from being evicted later', () => boundedCacheScenario('bounded-alone', false))

  /**
   * `pin …args DEST` run against a fresh DEST's mount while its first catalog is still coming: the
   * API slow enough that it is, even on a loaded machine (at 300 ms a call it was sometimes complete
   * first at load average 20). The mount is left serving.
   */
  const pinWhileFilling = async (name: string, args: string[], apiLatencyMs = 800): Promise<{ dest: string; mnt: string; server: Awaited<ReturnType<MountLab['mount']>>; r: Awaited<ReturnType<MountLab['cli']>> }> => {
    const dest = await lab.mkdir(`dest-${name}`)
    const mnt = await lab.mkdir(`mnt-${name}`)
    fake.faults.apiLatencyMs = apiLatencyMs
    fake.resetCounts()
    try {
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env, 60_000, { partial: true })
      assert.doesNotMatch(server.err, /first catalog complete/, 'the pin is asked while the first catalog is still coming')
      const r = await lab.cli(['pin', ...args, dest], env)
      assert.equal(r.exit.code, 0, r.err)
      return { dest, mnt, server, r }
    } finally {
      fake.faults.apiLatencyMs = 0
    }
  }

  void it('a pin handed to a mount still fetching its first catalog downloads what it shows meanwhile, says so, and completes', async () => {
    // An API slow enough that the pin is handed over before the first listing page is in (sized from then on by the downloads).
    const { dest, mnt, server, r } = await pinWhileFilling('filling', [], 2_500)
    assert.match(r.err, /^flickrfs: the mount is still fetching its first catalog; the pin downloads what it shows meanwhile and goes on once that is in\.$/m)
    // And how far that catalog has come while the pin waits (a line at once, then a line a minute in a log).
    assert.match(r.err, /^waiting for the mount's first catalog: \d+ items? listed/m)
    // Every original was downloaded by this pin, most of them while the catalog still came in.
    const items = fake.account.photostream.length
    assert.match(r.out, new RegExp(`^Pinned ${items} items into .*: ${items} downloaded`, 'm'))
    assert.match(server.err, /first catalog complete/)
    const meanwhile = /downloaded (\d+) originals? \([^)]*\) while the first catalog came in; the pin goes on \((\d+) sized by their download, not a HEAD\)/.exec(server.err)
    assert.ok(meanwhile !== null, server.err)
    assert.ok(Number(meanwhile[1]) >= 1, `${meanwhile[1]} originals downloaded before the first catalog was in`)
    assert.ok(server.err.indexOf(meanwhile[0]) < server.err.search(/pin of .* asked by pid \d+: running it here/), 'before the pin proper')
    // Each original fetched once: the pin proper found those downloaded meanwhile in place.
    assert.equal(fake.counts()['media:GET'], items, JSON.stringify(fake.counts()))
    // And sized by that GET, not a HEAD before it, from the pin's arrival on.
    const sizedByGet = Number(meanwhile[2])
    assert.ok(sizedByGet >= 1, server.err)
    assert.equal(fake.counts()['media:HEAD'] ?? 0, items - sizedByGet, JSON.stringify(fake.counts()))
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    await lab.stop(server, mnt)
  })

  void it("a pin handed to a filling mount sizes its originals as many at a time as it downloads, not the catalog's 16 HEADs", async () => {
    const many = await startFake({ seed: 139, photos: 120, videos: 0, sets: 1, collections: 0, commentedFraction: 0, meanPhotoBytes: 300 })
    try {
      const manyEnv = cliEnv(many, await lab.mkdir('config-many'), { XDG_CACHE_HOME: await lab.mkdir('xdg-many'), XDG_RUNTIME_DIR: await lab.mkdir('run-many') })
      const dest = await lab.mkdir('dest-many')
      const mnt = await lab.mkdir('mnt-many')
      // The pin is handed over before the first listing page is in; each original's answer takes a while, so sizings overlap.
      many.faults.apiLatencyMs = 2_500
      many.faults.mediaLatencyMs = 300
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], manyEnv, 60_000, { partial: true })
      const r = await lab.cli(['pin', '-q', dest], manyEnv)
      assert.equal(r.exit.code, 0, r.err)
      assert.match(server.err, /while the first catalog came in; the pin goes on \(120 sized by their download, not a HEAD\)/)
      assert.equal(many.counts()['media:GET'], 120, JSON.stringify(many.counts()))
      const peak = many.counts()['media:peak'] ?? 0
      assert.ok(peak > 16 && peak <= 32, `media GETs open at once: ${peak} (the pin's 32 downloads, not 16)`)
      assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
    } finally {
      await many.close()
    }
  })

  void it("on an 80-column terminal, a pin waiting for a filling mount's comments says its originals down too, as a pin of its own does", async () => {
    // Half the photos commented: the first catalog's comments, last and at 8 calls a second, take several seconds.
    const chatty = await startFake({ seed: 137, photos: 100, videos: 0, sets: 2, collections: 0, commentedFraction: 0.5, meanPhotoBytes: 4_000 })
    try {
      const chattyEnv = cliEnv(chatty, await lab.mkdir('config-chatty'), {
        XDG_CACHE_HOME: await lab.mkdir('xdg-chatty'), XDG_RUNTIME_DIR: await lab.mkdir('run-chatty'), FLICKRFS_API_BURST: '5', FLICKRFS_API_RATE: '8',
      })
      const dest = await lab.mkdir('dest-chatty')
      const mnt = await lab.mkdir('mnt-chatty')
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], chattyEnv, 60_000, { partial: true })
      assert.doesNotMatch(server.err, /first catalog complete/, 'the pin is asked while the first catalog is still coming')
      const run = await runCliInPty(['pin', dest], chattyEnv, 80)
      assert.equal(run.code, 0, run.text)
      const shown = frames(run)
      const where = shown.map((f) => `${f.t} ${f.text}`).join('\n')
      // Each status line drawn fits (the notes between them are plain lines, free to wrap).
      for (const f of shown) assert.ok(f.text.length < 80, `"${f.text}" is ${f.text.length} wide`)
      const waiting = shown.filter((f) => /^(Mount's )?[Ff]irst catalog: comments \d+\/\d+/.test(f.text))
      assert.ok(waiting.length > 0, `a waiting line with comments left:\n${where}`)
      assert.ok(waiting.some((f) => / {2}\d+ originals? down( \([\d.]+ [KMG]?B\))?$/.test(f.text)), `a waiting line with the originals down:\n${where}`)
      assert.match(run.text, /Pinned 100 items into .*: 100 downloaded/)
      assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
    } finally {
      await chatty.close()
    }
  })

  void it('a pin that leaves videos out downloads nothing while the first catalog comes in, and no video after', async () => {
    const { dest, mnt, server, r } = await pinWhileFilling('filling-no-videos', ['--ignore-videos'])
    // The tree a filling mount shows does not say which original is a video: nothing meanwhile.
    assert.match(r.err, /^flickrfs: the mount is still fetching its first catalog; the pin goes on once that is in\.$/m)
    assert.doesNotMatch(server.err, /downloading the originals it shows meanwhile|while the first catalog came in/)
    const videos = fake.account.photostream.filter((id) => fake.account.requirePhoto(id).media === 'video')
    assert.ok(videos.length > 0, 'the account has a video')
    const stored = await readdir(join(dest, 'photostream'))
    for (const id of videos) assert.ok(!stored.includes(mediaName(fake.account, id)), `video ${id} left out`)
    const photo = fake.account.photostream.find((id) => fake.account.requirePhoto(id).media === 'photo') as string
    assert.ok(stored.includes(mediaName(fake.account, photo)), 'the photos are pinned')
    await lab.stop(server, mnt)
  })

  void it('a pin the mount runs waits out a network outage, says so to the pin that asked, and completes', async () => {
    const dest = await lab.mkdir('dest-outage')
    const mnt = await lab.mkdir('mnt-outage')
    // Flickr time at 100× (the retries' half minute ~0.3 s, the outage patience's 10 minutes 6 s),
    // in a config folder of its own: the shared limiter's file is kept in Flickr time.
    const scaled = cliEnv(fake, await lab.mkdir('config-outage'), {
      XDG_CACHE_HOME: await lab.mkdir('xdg-cache-outage'), XDG_RUNTIME_DIR: await lab.mkdir('run-outage'), FLICKRFS_TIME_SCALE: '100',
    })
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], scaled)
    fake.faults.mediaLatencyMs = 60
    fake.resetCounts()
    try {
      const pin = lab.spawn(['pin', '--concurrency', '2', dest], scaled)
      await waitUntil('the pin downloads', () => Promise.resolve((fake.counts()['media:GET'] ?? 0) >= 3), 30_000)
      fake.faults.unreachable = true
      // 150 s of Flickr time: five times the retries' half minute, a quarter of the patience.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      fake.faults.unreachable = false
      const exit = await pin.wait(60_000)
      assert.equal(exit.code, 0, pin.err)
      assert.ok((fake.counts().unreachable ?? 0) > 0, 'the outage met the pin')
      assert.match(pin.err, /^flickrfs: Flickr cannot be reached \(.+\): the pin the mount runs waits and tries again for up to 10 min\.$/m)
      assert.match(pin.err, /^flickrfs: Flickr can be reached again; the pin goes on\.$/m)
      assert.match(server.err, /Flickr cannot be reached .*the pin the mount runs waits/)
      const items = fake.account.photostream.length
      assert.match(pin.out, new RegExp(`^Pinned ${items} items into `, 'm'))
      assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    } finally {
      fake.faults.clear()
    }
    await lab.stop(server, mnt)
  })

  void it('one SIGTERM to the mount during a handed-off pin still ends it within 10 s with exit 0; the pin says so', async () => {
    const dest = await lab.mkdir('dest-term')
    const mnt = await lab.mkdir('mnt-term')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    fake.faults.mediaLatencyMs = 1000
    try {
      const slow = lab.spawn(['pin', '-q', '--concurrency', '1', dest], env)
      await waitUntil('the mount runs the pin', () => {
        if (slow.exit) throw new Error(`the pin ended early: ${slow.err}`)
        return Promise.resolve(/pin of .* asked by pid \d+: running it here/.test(server.err))
      }, 30_000, 50)
      const t0 = Date.now()
      const exit = await lab.stop(server, mnt)
      assert.ok(Date.now() - t0 < 10_000, `the mount ended in ${Date.now() - t0} ms`)
      assert.equal(exit.code, 0, server.err)
      assert.match(server.err, /Stopped while a pin was running; it ends here and the next one resumes\./)
      const pinExit = await slow.wait(30_000)
      assert.equal(pinExit.code, 1, slow.err)
      assert.match(slow.err, /^flickrfs: The mount at .* stopped before the pin of .* it was running finished\./)
      noStack(slow.err)
    } finally {
      fake.faults.mediaLatencyMs = 0
    }
    const again = await lab.cli(['pin', '-q', dest], env)
    assert.equal(again.exit.code, 0, again.err)
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
  })
  void it("a pin's failed download keeps its record's backoff through the mount's own refreshes", async () => {
    const dest = await lab.mkdir('dest-failing')
    const first = await lab.cli(['pin', '-q', dest], env)
    assert.equal(first.exit.code, 0, first.err)
    // Sized by its headers, then every body breaks off: a download failure, which only the last
    // pin's record holds (the catalog has its original).
    const bad = fake.account.addPhoto({ title: 'breaks off' })
    fake.faults.hostile[bad.id] = 'truncate'
    const mnt = await lab.mkdir('mnt-failing')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], env)
    const failedLine = (err: string): string => err.trim().split('\n').find((l) => /item\(s\) failed/.test(l)) ?? ''
    const waitAnHour = /; a run in \d+ min or later also lists their records afresh from Flickr/
    try {
      let r = await lab.cli(['pin', dest], env)
      assert.equal(r.exit.code, 1, r.err)
      assert.match(r.err, new RegExp(`^  ${bad.id}: download: `, 'm'))
      assert.match(failedLine(r.err), /the next run also lists their records afresh from Flickr/)
      // The next pin lists the photostream for the record; the one after it waits an hour ...
      r = await lab.cli(['pin', dest], env)
      assert.equal(r.exit.code, 1, r.err)
      assert.match(failedLine(r.err), waitAnHour)
      // ... and so it does after the mount's own refresh, which counts the pin's failure but leaves
      // its retry to the pin: a refresh that finds nothing changed, as before the failure.
      const unchanged = (): number => (server.err.match(/refreshed: \d+ items, nothing changed/g) ?? []).length
      const before = unchanged()
      fake.resetCounts()
      const asked = await lab.cli(['refresh', mnt], env)
      assert.equal(asked.exit.code, 0, asked.err)
      await waitUntil('the mount has refreshed', () => Promise.resolve(unchanged() > before), 30_000)
      assert.equal(fake.counts()['media:HEAD'] ?? 0, 0, 'the mount leaves the download to the pin')
      const status = await lab.cli(['status', dest], env)
      assert.match(status.out, /Last pin: .*1 failure\(s\); their records are listed afresh from Flickr by the first pin after \S+/m)
      r = await lab.cli(['pin', dest], env)
      assert.equal(r.exit.code, 1, r.err)
      assert.match(failedLine(r.err), waitAnHour)
      noStack(r.err)
    } finally {
      delete fake.faults.hostile[bad.id]
      fake.account.deletePhoto(bad.id)
    }
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })
  void it('a pin handed to a mount whose catalog is in and unchanged does not refresh that catalog whole', async () => {
    const dest = await lab.mkdir('dest-unchanged')
    const mnt = await lab.mkdir('mnt-unchanged')
    const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0'], { ...env, DEBUG: 'flickrfs:catalog' }, 60_000)
    await waitUntil('the first catalog is in', () => Promise.resolve(/first catalog complete/.test(server.err)), 60_000)
    const r = await lab.cli(['pin', '-q', dest], env)
    assert.equal(r.exit.code, 0, r.err)
    assertSamePaths((await snapshot(dest)).keys(), expectedTree(fake.account).entries.keys())
    // Asked what changed, as a pin of its own asks: a whole refresh built a second catalog beside the
    // one the mount holds loaded, the mount's peak (~410 MB at 100,000 items, bench/RESULTS.md "Session 51, handed").
    const during = server.err.slice(server.err.search(/pin of .* asked by pid \d+: running it here/))
    assert.match(during, /quick refresh: nothing changed/)
    assert.doesNotMatch(during, /refreshed: \{/)
    assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
  })
  void it("a pin the mount runs with its expired cookies says so, and to start the mount again with fresh ones", async () => {
    const dest = await lab.mkdir('dest-cookies')
    const mnt = await lab.mkdir('mnt-cookies')
    const cookies = join(await lab.mkdir('cookies'), 'cookies.txt')
    await writeFile(cookies, 'cookie_accid=acc9x7\ncookie_epass=s3cr3t\n', { mode: 0o600 })
    fake.faults.videoOriginal404 = true
    fake.faults.expiredCookies = true
    try {
      const server = await lab.mount(mnt, ['--cache', dest, '--refresh', '0', '--cookies', cookies], env, 60_000)
      await waitUntil('the first catalog is in', () => Promise.resolve(/first catalog complete/.test(server.err)), 60_000)
      const r = await lab.cli(['pin', dest], env)
      assert.equal(r.exit.code, 0, r.err)
      const videos = fake.account.photostream.filter((id) => fake.account.requirePhoto(id).media === 'video')
      assert.ok(videos.length > 0, 'the fixture has a video')
      assert.match(r.out, new RegExp(`^Note: ${videos.length} video\\(s\\) are still stored as transcodes although the mount at ${mnt} that ran this pin was started with --cookies: .*start the mount again with them; a pin's own --cookies is not passed on to it\\)\\. With other cookies they are asked for at the mount's next refresh; with the same ones, by the first run in 24 h or later:$`, 'm'))
      assert.doesNotMatch(r.out + r.err, /acc9x7|s3cr3t/, 'the cookies never shown')
      assert.equal((await lab.stop(server, mnt)).code, 0, server.err)
    } finally {
      fake.faults.videoOriginal404 = false
      fake.faults.expiredCookies = false
    }
  })
})
