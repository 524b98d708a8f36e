/**
 * A non-root mount that fusermount refuses must say fusermount's own reason in its one-line error.
 * libfuse 2.9 runs fusermount with our fds 0-2, which Node marks close-on-exec, so without
 * mountFlickrfs asking fusermount again the reason went to /dev/null and the error said nothing.
 * Runs serve-mount.ts as a dedicated unprivileged user; needs root (to create that user) and su.
 */
import assert from 'node:assert/strict'
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { fusermountOptions } from '../../src/fs/mount.js'
import { fusermountMountMessage } from '../../src/fs/mountpoint.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { REPO, tempDir } from '../support/repo.js'
import { run } from '../support/run.js'

const USER = 'fusetest'
const serveScript = fileURLToPath(new URL('./serve-mount.ts', import.meta.url))

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root to create the unprivileged user it mounts as'
  for (const tool of ['useradd', 'su', 'id', 'fusermount']) {
    if ((await run('bash', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is not installed`
  }
  return undefined
}

const skip = await skipReason()

/** su's shell, with the arguments quoted for it. */
function asUser(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  return run('su', [USER, '-s', '/bin/sh', '-c', `cd ${REPO} && exec ${quoted}`], { timeoutMs: 60_000 })
}

void describe("fusermount's reason in a failed mount's error", { skip }, () => {
  let dir: string
  let uid: number
  before(async () => {
    if ((await run('id', ['-u', USER])).code !== 0) {
      const made = await run('useradd', ['-M', '-s', '/bin/sh', USER])
      assert.equal(made.code, 0, `useradd ${USER}: ${made.stderr}`)
    }
    uid = Number((await run('id', ['-u', USER])).stdout.trim())
    dir = await tempDir('flickrfs-fusermsg-')
    await chmod(dir, 0o755)
  })
  after(async () => {
    // The mount must never have come up; if it did, the assertions below say so.
    if (!dir) return
    if (await isMounted(join(dir, 'mnt'))) await run('fusermount', ['-u', '-z', join(dir, 'mnt')])
    await rm(dir, { recursive: true, force: true })
  })

  void test('the error line carries what fusermount said, with no stack trace', async () => {
    // Which refusal this machine gives the user decides the expected words: fusermount checks
    // /dev/fuse first, then allow_other against /etc/fuse.conf, then the mountpoint's owner.
    const canOpenFuse = (await asUser(['sh', '-c', 'exec 3<>/dev/fuse'])).code === 0
    const conf = await readFile('/etc/fuse.conf', 'utf8').catch(() => '')
    const userAllowOther = /^\s*user_allow_other\b/m.test(conf)
    let expected: RegExp
    let mntOwnedByUser = true
    if (!canOpenFuse) expected = /fusermount3?: failed to open \/dev\/fuse: Permission denied/
    else if (!userAllowOther) expected = /fusermount3?: option allow_other only allowed if 'user_allow_other' is set in \/etc\/fuse\.conf/
    else {
      mntOwnedByUser = false
      expected = /fusermount3?: user has no write access to mountpoint/
    }

    const mnt = join(dir, 'mnt')
    const backing = join(dir, 'backing')
    await mkdir(mnt)
    await mkdir(backing)
    if (mntOwnedByUser) await chown(mnt, uid, uid)
    const spec = join(dir, 'spec.json')
    await writeFile(spec, JSON.stringify({ mountpoint: mnt, backingDir: backing, tree: {}, options: { allowOther: true } }))

    const res = await asUser([process.execPath, '--import', 'tsx', serveScript, spec])
    assert.equal(res.code, 3, `serve-mount should fail to mount; stdout=${res.stdout} stderr=${res.stderr}`)
    assert.equal(await isMounted(mnt), false)
    const lines = res.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `one line, no stack trace: ${res.stderr}`)
    assert.match(lines[0]!, /^ERROR FUSE could not mount flickrfs at /)
    assert.match(lines[0]!, expected, `fusermount's words missing: ${lines[0]}`)
  })
})

// The re-run behind that message, as the user running the tests: it must report fusermount's words
// when fusermount refuses, and when fusermount mounts after all it must leave nothing mounted.
void describe('the fusermount re-run after a failed mount', { skip: await fuseUnusableReason() }, () => {
  let dir: string
  before(async () => {
    dir = await tempDir('flickrfs-fusermsg-')
  })
  after(async () => {
    if (!dir) return
    if (await isMounted(join(dir, 'mnt'))) await run('fusermount', ['-u', '-z', join(dir, 'mnt')])
    await rm(dir, { recursive: true, force: true })
  })

  void test('a refusal comes back as fusermount said it', async () => {
    const missing = join(dir, 'no-such-dir')
    const said = await fusermountMountMessage(missing, fusermountOptions({ allowOther: false, autoUnmount: true }))
    assert.match(said ?? '', new RegExp(`^fusermount3?: failed to access mountpoint ${missing}: No such file or directory$`))
  })

  for (const autoUnmount of [true, false]) {
    void test(`a re-run that mounts is unmounted again (auto_unmount ${autoUnmount})`, async () => {
      const mnt = join(dir, 'mnt')
      await mkdir(mnt, { recursive: true })
      const t0 = performance.now()
      const said = await fusermountMountMessage(mnt, fusermountOptions({ allowOther: false, autoUnmount }))
      assert.equal(said, undefined)
      assert.ok(performance.now() - t0 < 5_000, 'the re-run did not wait on fusermount\'s auto_unmount helper')
      assert.equal(await isMounted(mnt), false)
    })
  }
})
