/**
 * `flickrfs demo` as a first-time user runs it: no account, no key. It mounts the built-in sample
 * account (files read, Ctrl-C unmounts with exit 0), or pins it with --pin.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEMO_ACCOUNT } from '../../src/cli/demo.js'
import { limiterStatePath } from '../../src/flickr/index.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()
const ITEMS = DEMO_ACCOUNT.photos + DEMO_ACCOUNT.videos

void describe('flickrfs demo (e2e)', () => {
  let lab: MountLab
  let env: NodeJS.ProcessEnv

  before(async () => {
    lab = await MountLab.create('flickrfs-e2e-demo-')
    // Nothing from the user's real environment: the demo needs no credentials at all.
    env = { PATH: process.env.PATH, HOME: await lab.mkdir('home'), XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') }
  })
  after(async () => {
    await lab?.cleanup()
  })

  void it('demo MNT mounts the sample account, files read, SIGINT unmounts with exit 0', { skip }, async () => {
    const mnt = await lab.mkdir('demo-mnt')
    lab.track(mnt)
    const demo = lab.spawn(['demo', mnt], env)
    await waitUntil('the demo is mounted', async () => {
      if (demo.exit) throw new Error(`demo exited early: ${demo.out}${demo.err}`)
      return /^Mounted at /m.test(demo.out) && (await isMounted(mnt))
    }, 90_000, 200)
    const order = JSON.parse(await readFile(join(mnt, 'photostream', 'metadata'), 'utf8')) as { photos: string[] }
    assert.equal(order.photos.length, ITEMS)
    const names = (await readdir(join(mnt, 'photostream'))).filter((n) => n !== 'metadata' && n !== 'SHA256SUMS' && !n.endsWith('.metadata'))
    assert.equal(names.length, ITEMS)
    // An original, downloaded on first read through a child process, has the size stat promised.
    const file = join(mnt, 'photostream', names[0] ?? '')
    const size = await run('stat', ['-c', '%s', file])
    const read = await run('sh', ['-c', `wc -c < '${file}'`])
    assert.equal(read.code, 0, read.stderr)
    assert.equal(Number(read.stdout), Number(size.stdout))
    assert.ok(Number(size.stdout) > 0)
    demo.child.kill('SIGINT')
    assert.deepEqual(await demo.wait(20_000), { code: 0, signal: null }, demo.out + demo.err)
    assert.equal(await isMounted(mnt), false)
    assert.deepEqual(await readdir(mnt), [])
  })

  void it('demo DIR --pin pins the sample account into DIR', async () => {
    const dir = join(lab.dir, 'demo-pin')
    const p = await lab.cli(['demo', dir, '--pin'], env, 120_000)
    assert.equal(p.exit.code, 0, p.out + p.err)
    assert.match(p.out, new RegExp(`Done: ${ITEMS} items, ${ITEMS} originals downloaded`))
    const entries = await readdir(join(dir, 'photostream'))
    assert.equal(entries.filter((n) => n.endsWith('.metadata')).length, ITEMS)
    assert.equal(entries.length, 2 * ITEMS + 2, 'originals, sidecars, metadata and SHA256SUMS')
    assert.ok((await readdir(dir)).includes('Not in any set') || (await readdir(dir)).some((n) => n.startsWith('Set ')))
    // Again into the folder it pinned: fine.
    const again = await lab.cli(['demo', dir, '--pin'], env, 120_000)
    assert.equal(again.exit.code, 0, again.out + again.err)
  })

  void it('demo --pin neither draws on nor writes the API budget kept in the user\'s config folder', async () => {
    // The fake's key with a bucket left empty and slowed to 1/8 (0.1 calls/s): a demo drawing on it
    // would take minutes for its ~40 calls.
    const configDir = join(env.HOME ?? '', '.config', 'flickrfs')
    await mkdir(configDir, { recursive: true, mode: 0o700 })
    const budget = limiterStatePath(configDir, 'fake-api-key')
    const now = Date.now()
    const drained = JSON.stringify({ v: 1, tokens: 0, updatedAtMs: now, slowFactor: 0.125, slowUntilMs: now + 600_000, slowedAtMs: now, burst: 600, ratePerSec: 0.8 })
    await writeFile(budget, drained, { mode: 0o600 })
    const started = Date.now()
    const p = await lab.cli(['demo', join(lab.dir, 'demo-budget'), '--pin'], env, 120_000)
    assert.equal(p.exit.code, 0, p.out + p.err)
    assert.ok(Date.now() - started < 60_000, `the demo took ${Date.now() - started} ms`)
    assert.equal(await readFile(budget, 'utf8'), drained, 'the user\'s budget file is left as it was')
  })

  void it('demo DIR --pin leaves a folder of the user\'s alone: one line, exit 1, nothing written', async () => {
    const dir = await lab.mkdir('precious')
    await writeFile(join(dir, 'thesis.txt'), 'mine')
    const p = await lab.cli(['demo', dir, '--pin'], env, 60_000)
    assert.equal(p.exit.code, 1, p.out + p.err)
    assert.match(p.err, /^flickrfs: .*precious is not empty \("thesis\.txt"\): the demo pins its sample account only into an empty or new folder\. Choose another one\.$/m)
    assert.doesNotMatch(p.err, /\n\s+at /, 'no stack trace')
    assert.deepEqual(await readdir(dir), ['thesis.txt'])
  })
})
