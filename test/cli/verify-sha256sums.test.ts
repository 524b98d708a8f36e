/**
 * photostream/SHA256SUMS of a pinned DEST against the real `sha256sum -c`: it lists every original,
 * sorted, in the format sha256sum reads; `flickrfs verify` fails on exactly the files sha256sum
 * fails on (a corrupted original, a wrong line); a pin that changes nothing leaves the file and its
 * mtime alone, and a pin after a wrong line writes it again without downloading anything.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { sha256 } from '../support/files.js'
import { tempDir } from '../support/repo.js'
import { run } from '../support/run.js'

const skip = (await run('sha256sum', ['--version'])).code === 0 ? false : 'sha256sum (coreutils) is not installed'

/** The file names `sha256sum -c` reports as failed (`<name>: FAILED` or `<name>: FAILED open or read`). */
function failedNames(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /: FAILED/.test(l)).map((l) => l.slice(0, l.indexOf(': FAILED'))).sort()
}

/** The file names `flickrfs verify` reports as bad. */
function verifyBadNames(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^(missing|size-mismatch|hash-mismatch|sums-mismatch): /.test(l)).map((l) => /photostream\/(\S+)/.exec(l)?.[1] ?? l).sort()
}

void describe('SHA256SUMS and verify agree with sha256sum -c', { skip }, () => {
  let fake: FakeFlickr
  let work: string
  let dest: string
  let photostream: string
  let env: NodeJS.ProcessEnv
  const sums = (): string => join(photostream, 'SHA256SUMS')
  const check = (): ReturnType<typeof run> => run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: photostream })

  before(async () => {
    fake = await startFake({ seed: 41, photos: 12, videos: 2, sets: 2, collections: 1 })
    work = await tempDir('flickrfs-sums-')
    dest = join(work, 'dest')
    photostream = join(dest, 'photostream')
    env = cliEnv(fake, join(work, 'config'))
    const pinned = await runCli(['pin', '-q', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  void test('a complete pin lists every original, sorted by name, with its hash; sha256sum -c and verify both pass', async () => {
    const originals = (await readdir(photostream)).filter((n) => /^\d+\.[a-z0-9]+$/.test(n)).sort()
    assert.equal(originals.length, 14)
    let want = ''
    for (const name of originals) want += `${sha256(await readFile(join(photostream, name)))}  ${name}\n`
    assert.equal(await readFile(sums(), 'utf8'), want)
    const ok = await check()
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.equal(ok.stdout.split('\n').filter((l) => l.endsWith(': OK')).length, 14)
    const verified = await runCli(['verify', dest], env)
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    assert.match(verified.stdout, /Verified 14 originals: 14 ok/)
  })

  void test('a pin that changes nothing leaves SHA256SUMS and its mtime alone', async () => {
    const before = await stat(sums())
    const bytes = await readFile(sums())
    await new Promise((r) => setTimeout(r, 1100))
    const again = await runCli(['pin', '-q', dest], env)
    assert.equal(again.code, 0, again.stderr)
    const after = await stat(sums())
    assert.equal(after.mtimeMs, before.mtimeMs)
    assert.equal(after.ino, before.ino, 'not even rewritten')
    assert.ok((await readFile(sums())).equals(bytes))
  })

  void test('a corrupted original: sha256sum -c and verify both fail, on that file alone', async () => {
    const name = (await readdir(photostream)).filter((n) => n.endsWith('.jpg')).sort()[0] ?? assert.fail('a jpg')
    const path = join(photostream, name)
    const bytes = await readFile(path)
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x01
    await writeFile(path, bytes)
    const checked = await check()
    assert.equal(checked.code, 1, checked.stdout)
    assert.deepEqual(failedNames(checked.stdout), [name])
    const verified = await runCli(['verify', dest], env)
    assert.equal(verified.code, 1, verified.stdout)
    assert.deepEqual(verifyBadNames(verified.stdout), [name])
    assert.match(verified.stdout, /hash-mismatch: /)

    // verify dropped the bad file's record (its hash stays known): SHA256SUMS still lists it, and
    // both still fail on it until a pin fetches it again.
    const still = await runCli(['verify', dest], env)
    assert.equal(still.code, 1)
    assert.deepEqual(verifyBadNames(still.stdout), [name])
    fake.resetCounts()
    const repaired = await runCli(['pin', '-q', dest], env)
    assert.equal(repaired.code, 0, repaired.stderr)
    assert.equal(fake.counts()['media:GET'], 1, 'only the damaged original is fetched again')
    assert.equal((await check()).code, 0)
    assert.equal((await runCli(['verify', dest], env)).code, 0)
  })

  void test('a wrong line in SHA256SUMS: both fail on that file; the next pin writes the list again without a download', async () => {
    const text = await readFile(sums(), 'utf8')
    const lines = text.split('\n')
    const victim = lines[3] ?? assert.fail('4 lines')
    const name = victim.slice(66)
    lines[3] = `${'0'.repeat(64)}  ${name}`
    await writeFile(sums(), lines.join('\n'))
    const checked = await check()
    assert.equal(checked.code, 1)
    assert.deepEqual(failedNames(checked.stdout), [name])
    const verified = await runCli(['verify', dest], env)
    assert.equal(verified.code, 1, verified.stdout)
    assert.deepEqual(verifyBadNames(verified.stdout), [name])
    assert.match(verified.stdout, /sums-mismatch: .* lists another hash/)
    fake.resetCounts()
    const pinned = await runCli(['pin', '-q', dest], env)
    assert.equal(pinned.code, 0, pinned.stderr)
    assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'the original was fine: nothing is downloaded')
    assert.equal(await readFile(sums(), 'utf8'), text)
    assert.equal((await check()).code, 0)
    assert.equal((await runCli(['verify', dest], env)).code, 0)
  })

  void test('verify of a DEST without SHA256SUMS says how to get one and exits 1', async () => {
    const text = await readFile(sums())
    await rm(sums())
    const verified = await runCli(['verify', dest], env)
    assert.equal(verified.code, 1)
    assert.match(verified.stdout, /SHA256SUMS is missing\. Run `flickrfs pin .*`: it writes it from the index, without downloading anything\./)
    assert.match(verified.stdout, /14 ok/)
    await writeFile(sums(), text)
  })
})
