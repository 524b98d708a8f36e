/**
 * A mirror written by the original flickrmirrorer (run unmodified against the fake Flickr, see
 * bench/flickrmirrorer.ts) is taken over by `flickrfs pin`: photo originals already there are
 * adopted (hashed here, not downloaded again), sidecars are rewritten in our format, and the tool's
 * own folders (`Albums/`, `Collections/`, `Not in any album/`) are left alone. The run says what it
 * adopted. Skipped, with the reason, where the tool or Debian's python3-flickrapi is not at hand
 * (FLICKRMIRRORER_PY or FLICKRMIRRORER_GIT_DIR; the tool's code is never kept in this repository).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateAccount, startFakeFlickr } from '../../src/fake-flickr/index.js'
import { endpointOf, locateTool, mirrorerAccountOptions, runMirrorer } from '../../bench/flickrmirrorer.js'
import { changedPaths, cliEnv, mediaName, snapshot } from '../pin/helpers.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/repo.js'

void describe('pin takes over a flickrmirrorer mirror (e2e, the original tool)', async () => {
  const tool = await locateTool()
  const skip = 'unavailable' in tool ? `the original tool cannot run here: ${tool.unavailable}` : false

  void test('adopts the photo originals, rewrites their sidecars, leaves the tool\'s folders alone, and says so', { skip, timeout: 180_000 }, async () => {
    if ('unavailable' in tool) return
    const fake = await startFakeFlickr({ account: generateAccount(mirrorerAccountOptions(40)), namedVideoPaths: true })
    const work = await tempDir('flickrfs-test-adopt-')
    try {
      const dest = join(work, 'mirror')
      const made = await runMirrorer(tool, endpointOf(fake), dest)
      assert.equal(made.code, 0, made.stderr)
      const a = fake.account
      const photos = a.photostream.filter((id) => a.requirePhoto(id).media !== 'video')
      const videos = a.photostream.length - photos.length
      const toolFolders = async (): Promise<Map<string, unknown>> =>
        new Map([...(await snapshot(dest))].filter(([p]) => /^(Albums|Collections|Not in any album)(\/|$)/.test(p)))
      const before = await toolFolders()
      assert.ok(before.size > 0, 'the tool wrote its own folders')

      fake.resetCounts()
      const r = await runCli(['pin', dest], cliEnv(fake, join(work, 'config')))
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\\(${photos.length} of them adopted: found in DEST without a record`), r.stdout)
      // The tool names videos <id>_<secret>.<fmt>, we name them <id>.<ext>: only they are fetched.
      assert.equal(fake.counts()['media:GET'] ?? 0, videos, 'only the originals not already there are downloaded')
      for (const id of photos) {
        const sidecar = JSON.parse(await readFile(join(dest, 'photostream', `${mediaName(a, id)}.metadata`), 'utf8')) as { id: string; flickrfs?: { size?: number } }
        assert.equal(sidecar.id, id)
        assert.equal(sidecar.flickrfs?.size, a.requirePhoto(id).bytes, `${id}: the sidecar is ours now`)
      }
      assert.deepEqual(changedPaths(before as never, (await toolFolders()) as never), [], 'the tool\'s folders are left alone')
      const v = await runCli(['verify', dest], cliEnv(fake, join(work, 'config')))
      assert.equal(v.code, 0, v.stdout + v.stderr)
    } finally {
      await fake.close()
      await rm(work, { recursive: true, force: true })
    }
  })

  after(() => ('unavailable' in tool ? undefined : tool.cleanup()))
})
