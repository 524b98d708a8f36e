/**
 * A mirror written by the original flickrmirrorer is taken over by `flickrfs pin`: photo originals
 * already there are adopted (hashed here, not downloaded again), sidecars are rewritten in our
 * format, and the tool's own folders (`Albums/`, `Collections/`, `Not in any album/`) are left
 * alone. The run says what it adopted.
 *
 * The mirror is test/fixtures/flickrmirrorer-mirror.json: what the unmodified tool wrote for a
 * generated account, recorded with `node --import tsx bench/flickrmirrorer.ts record-fixture FILE`
 * and replayed here against a fake of the same account (bench/mirrorer-fixture.ts), so this runs
 * everywhere. Where the tool itself can run (FLICKRMIRRORER_PY or FLICKRMIRRORER_GIT_DIR and Debian's
 * python3-flickrapi; its code is never kept in this repository), a second test records a fresh
 * mirror and checks the committed record still matches what the tool writes.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { locateTool, recordWithTool } from '../../bench/flickrmirrorer.js'
import { readFixture, replayMirror } from '../../bench/mirrorer-fixture.js'
import { changedPaths, cliEnv, danglingLinks, mediaName, snapshot } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/flickrmirrorer-mirror.json', import.meta.url))

void describe('pin takes over a flickrmirrorer mirror', async () => {
  const fixture = await readFixture(FIXTURE)
  const tool = await locateTool()
  const noTool = 'unavailable' in tool ? `the original tool cannot run here: ${tool.unavailable}` : false

  /** A fake of the recorded account, the tool's mirror of it replayed into `dest`, and a CLI environment. */
  const withMirror = async (body: (fake: FakeFlickr, dest: string, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> => {
    const fake = await startFakeFlickr({ account: generateAccount(fixture.account), namedVideoPaths: true })
    const work = await tempDir('flickrfs-test-adopt-')
    try {
      const dest = join(work, 'mirror')
      await replayMirror(fixture, dest, fake.account, fake.origin)
      await body(fake, dest, cliEnv(fake, join(work, 'config')))
    } finally {
      await fake.close()
      await rm(work, { recursive: true, force: true })
    }
  }

  void test('adopts the photo originals, rewrites their sidecars, leaves the tool\'s folders alone, and says so', { timeout: 180_000 }, async () => {
    await withMirror(async (fake, dest, env) => {
      const a = fake.account
      const photos = a.photostream.filter((id) => a.requirePhoto(id).media !== 'video')
      const videos = a.photostream.length - photos.length
      assert.ok(photos.length >= 50 && videos >= 1, 'the recorded account has photos and a video')
      const toolFolders = async (): Promise<Map<string, unknown>> =>
        new Map([...(await snapshot(dest))].filter(([p]) => /^(Albums|Collections|Not in any album)(\/|$)/.test(p)))
      const before = await toolFolders()
      assert.ok(before.size > 0, 'the tool wrote its own folders')

      fake.resetCounts()
      const r = await runCli(['pin', dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\\(${a.photostream.length} of them adopted: found in DEST without a record`), r.stdout)
      assert.equal(fake.counts()['media:GET'] ?? 0, 0, 'nothing the tool downloaded is downloaded again')
      for (const id of a.photostream.filter((v) => a.requirePhoto(v).media === 'video')) {
        // The tool names videos <id>_<secret>.<fmt>; that name now points at ours, the same bytes.
        const p = a.requirePhoto(id)
        const toolName = join(dest, 'photostream', `${id}_${p.originalsecret}.${mediaName(a, id).split('.').pop() ?? ''}`)
        assert.equal(await readlink(toolName), mediaName(a, id))
        assert.deepEqual(await readFile(join(dest, 'photostream', mediaName(a, id))), a.originalBytes(id))
      }
      for (const id of photos) {
        const sidecar = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, id)}.metadata`), 'utf8')) as { id: string; flickrfs?: { size?: number } }
        assert.equal(sidecar.id, id)
        assert.equal(sidecar.flickrfs?.size, a.requirePhoto(id).bytes, `${id}: the sidecar is ours now`)
      }
      assert.deepEqual(changedPaths(before as never, (await toolFolders()) as never), [], 'the tool\'s folders are left alone')
      assert.deepEqual(await danglingLinks(dest), [], 'every link the tool made still leads to its file')
      const v = await runCli(['verify', dest], env)
      assert.equal(v.code, 0, v.stdout + v.stderr)
    })
  })

  void test('a video under the tool\'s name that is not the original\'s size is downloaded, and the tool\'s file is kept as it was', { timeout: 180_000 }, async () => {
    await withMirror(async (fake, dest, env) => {
      const a = fake.account
      const video = a.photostream.find((id) => a.requirePhoto(id).media === 'video') ?? assert.fail('no video')
      const ours = mediaName(a, video)
      const toolName = join(dest, 'photostream', `${video}_${a.requirePhoto(video).originalsecret}.${ours.split('.').pop() ?? ''}`)
      const wrong = Buffer.alloc(a.originalBytes(video).length - 1, 7)
      await writeFile(toolName, wrong)

      fake.resetCounts()
      const r = await runCli(['pin', dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(fake.counts()['media:GET'] ?? 0, 1, `the video is downloaded: ${JSON.stringify(fake.counts())} ${r.stdout}`)
      assert.deepEqual(await readFile(join(dest, 'photostream', ours)), a.originalBytes(video))
      assert.deepEqual(await readFile(toolName), wrong, 'the tool\'s file is left as it was')
      assert.ok((await lstat(toolName)).isFile())
    })
  })

  void test('--delete-unknown then removes the tool\'s folders and names, unless they hold something else', { timeout: 180_000 }, async () => {
    await withMirror(async (fake, dest, env) => {
      assert.equal((await runCli(['pin', '-q', dest], env)).code, 0)
      const isTools = (p: string): boolean => /^(Albums|Collections|Not in any album)(\/|$)/.test(p) || /^photostream\/\d+_/.test(p)
      const ours = new Map([...(await snapshot(dest))].filter(([p]) => !isTools(p)))
      const tools = new Map([...(await snapshot(dest))].filter(([p]) => isTools(p)))

      await writeFile(join(dest, 'Collections', 'my notes.txt'), 'mine\n')
      const kept = await runCli(['pin', '--delete-unknown', dest], env)
      assert.equal(kept.code, 0, kept.stderr)
      assert.match(kept.stdout, /Kept flickrmirrorer's folders as they are: Collections\/my notes\.txt is not something flickrmirrorer writes/)
      assert.deepEqual(changedPaths(tools as never, new Map([...(await snapshot(dest))].filter(([p]) => isTools(p) && p !== 'Collections/my notes.txt')) as never).filter((p) => p !== '~Collections'), [], 'all of the tool\'s is kept')

      await rm(join(dest, 'Collections', 'my notes.txt'))
      const r = await runCli(['pin', '--delete-unknown', dest], env)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Removed flickrmirrorer's folders: Albums, Collections, Not in any album\./)
      assert.match(r.stdout, /Removed 1 name flickrmirrorer gave adopted videos/)
      assert.deepEqual([...(await snapshot(dest)).keys()].filter(isTools), [], 'the tool\'s folders, its video name and that sidecar are gone')
      assert.deepEqual(changedPaths(ours as never, (await snapshot(dest)) as never).filter((p) => p !== '~photostream'), [], 'flickrfs\'s own tree is untouched')
      assert.deepEqual(await danglingLinks(dest), [])
      assert.equal((await runCli(['verify', dest], env)).code, 0)
    })
  })

  void test('the recorded mirror is what the original tool writes today', { skip: noTool, timeout: 180_000 }, async () => {
    if ('unavailable' in tool) return
    const fresh = await recordWithTool(tool, fixture.account)
    assert.deepEqual(fresh.entries, fixture.entries, 'record it again: node --import tsx bench/flickrmirrorer.ts record-fixture test/fixtures/flickrmirrorer-mirror.json')
  })

  after(() => ('unavailable' in tool ? undefined : tool.cleanup()))
})
