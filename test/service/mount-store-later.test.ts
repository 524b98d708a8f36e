/**
 * The mount comes up before the store's index is read (src/service/loading-store.ts): a listing of
 * photostream/ answers at once, while photostream/SHA256SUMS (stat and bytes), statfs and a read of
 * an original wait for the index and then answer whole, never from part of it. The store is held
 * shut by the serving process (serve-live.ts, `storeOpensAfter`) until the test lets it open: a real
 * store, real sqlite, a pinned DEST made by the real CLI, a real FUSE mount read by child processes.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { mediaName } from '../pin/helpers.js'
import { mediaGets, pinnedLab } from '../e2e/mount-helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { REPO } from '../support/repo.js'
import { run, type RunResult } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

const skip = await fuseUnusableReason()
const serveScript = fileURLToPath(new URL('./serve-live.ts', import.meta.url))

/** What the waiting ops are given before the store may open: they must all still be waiting then. */
const HELD_MS = 1500

void describe('a mount whose store index is not read yet', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let dest: string

  before(async () => {
    // 60 originals: SHA256SUMS (~80 bytes a line) is over one 4 KiB block, so statfs's blocks tell whether it counted it.
    ;({ fake, lab, env, dest } = await pinnedLab({ seed: 57, photos: 56, videos: 4, sets: 3, collections: 1, meanPhotoBytes: 20_000, meanVideoBytes: 40_000 }, { pinTimeoutMs: 120_000 }))
  })
  after(async () => {
    await lab?.cleanup()
    await fake?.close()
  })

  /** serve-live.ts serving `dest` at a new mountpoint, its store shut until `open()`. */
  async function serveHeld(name: string, mode: 'offline' | 'online'): Promise<{ mnt: string; open(): void; stop(): Promise<number | null>; err(): string }> {
    const mnt = await lab.mkdir(name)
    lab.track(mnt)
    const child = spawn(process.execPath, ['--import', 'tsx', serveScript, dest, mnt, mode], { cwd: REPO, env: { ...env, PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)))
    await waitUntil(`${mnt} is served`, () => {
      if (child.exitCode !== null) throw new Error(`serve-live exited: ${err}`)
      return Promise.resolve(out.includes('READY\n'))
    }, 60_000)
    return {
      mnt,
      open: () => child.stdin.write('open\n'),
      err: () => err,
      stop: async () => {
        // A stop waits for the store to open (to close it): let it, if the test did not get that far.
        child.stdin.write('open\n')
        child.kill('SIGTERM')
        const code = await exited
        await waitUntil(`${mnt} is unmounted`, async () => !(await isMounted(mnt)), 10_000)
        return code
      },
    }
  }

  /** A command on the mount, and whether it has finished yet. */
  function started(cmd: string, args: string[]): { done: Promise<RunResult>; finished: () => boolean } {
    let finished = false
    const done = run(cmd, args, { timeoutMs: 60_000 }).finally(() => (finished = true))
    return { done, finished: () => finished }
  }

  for (const mode of ['offline', 'online'] as const) {
    void it(`${mode}: lists photostream/ at once; SHA256SUMS, statfs and an original wait for the index, then answer whole`, async () => {
      const photostream = join(dest, 'photostream')
      const original = mediaName(fake.account, fake.account.photostream[0] as string)
      const served = await serveHeld(`mnt-${mode}`, mode)
      const gets = mediaGets(fake.counts())
      try {
        const ls = await run('ls', ['-f', join(served.mnt, 'photostream')], { timeoutMs: 20_000 })
        assert.equal(ls.code, 0, ls.stderr)
        assert.deepEqual(ls.stdout.split('\n').filter((n) => n !== '').sort(), ['.', '..', ...(await readdir(photostream))].sort())

        // The original first, on its own: a lookup of SHA256SUMS that waits holds photostream/'s
        // lock in the kernel (libfuse 2.9 has no parallel dirops), so no other name there is
        // looked up meanwhile; this one is, and its read waits in the store.
        const bytes = started('sha256sum', [join(served.mnt, 'photostream', original)])
        await new Promise((r) => setTimeout(r, HELD_MS))
        assert.equal(bytes.finished(), false, 'a read of an original waits for the store')
        const sums = started('cat', [join(served.mnt, 'photostream', 'SHA256SUMS')])
        const sumsSize = started('stat', ['-c', '%s', join(served.mnt, 'photostream', 'SHA256SUMS')])
        const fsBlocks = started('stat', ['-f', '-c', '%b %S', served.mnt])
        const waiting = [sums, sumsSize, fsBlocks, bytes]
        await new Promise((r) => setTimeout(r, HELD_MS))
        assert.deepEqual(waiting.map((w) => w.finished()), [false, false, false, false], 'each waits for the store')

        served.open()
        const [sumsR, sizeR, blocksR, bytesR] = await Promise.all(waiting.map((w) => w.done))
        for (const r of [sumsR, sizeR, blocksR, bytesR]) assert.equal(r?.code, 0, r?.stderr)
        const expected = await readFile(join(photostream, 'SHA256SUMS'), 'utf8')
        assert.ok(expected.split('\n').length > 60, 'every original is listed in DEST')
        assert.equal(sumsR?.stdout, expected)
        assert.equal(Number(sizeR?.stdout.trim()), Buffer.byteLength(expected))
        assert.equal(bytesR?.stdout.split(' ')[0], createHash('sha256').update(await readFile(join(photostream, original))).digest('hex'))
        // statfs counts every file's size, SHA256SUMS's whole.
        const files = await run('find', [served.mnt, '-type', 'f', '-printf', '%s\n'])
        const total = files.stdout.split('\n').filter((l) => l !== '').reduce((a, l) => a + Number(l), 0)
        const [blocks, frsize] = (blocksR?.stdout.trim().split(' ') ?? []).map(Number)
        assert.equal(blocks, Math.ceil(total / (frsize ?? 1)))
        // The original was on disk: nothing downloaded it again.
        assert.equal(mediaGets(fake.counts()), gets)
      } finally {
        assert.equal(await served.stop(), 0, served.err())
      }
    })
  }
})
