import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { FlickrfsError } from '../../src/errors/flickrfs-error.js'
import { openStoreKeyv, OriginalStore } from '../../src/store/index.js'
import { startWorld, type World } from './helpers.js'
import { exists } from '../support/files.js'

const run = promisify(execFile)
/** Runs `mount` with these args; returns why not when this machine does not allow it. */
async function tryMount(args: string[]): Promise<string | undefined> {
  try {
    await run('mount', args)
    return undefined
  } catch (err) {
    return `mount ${args.join(' ')} is not permitted here (${(err as Error).message.split('\n')[0]})`
  }
}

void describe('OriginalStore filesystem errors', () => {
  let w: World
  const mounted: string[] = []
  before(async () => { w = await startWorld() })
  after(async () => {
    for (const m of mounted.reverse()) await run('umount', [m]).catch(() => run('umount', ['-l', m]))
    await w.close()
  })

  void it('a full disk gives NO_SPACE naming the path, and leaves no file under its final name', async (t) => {
    const root = join(w.tmp, 'tiny')
    await mkdir(root)
    // The sqlite index lives elsewhere: this is about the originals filling the disk.
    const why = await tryMount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', root])
    if (why !== undefined) return t.skip(why)
    mounted.push(root)
    const store = await OriginalStore.open(root, w.client)
    const m = w.addPhoto(3_000_000)
    await assert.rejects(store.ensure(m), (err: unknown) => {
      assert.ok(err instanceof FlickrfsError)
      assert.equal(err.code, 'NO_SPACE')
      assert.match(err.message, new RegExp(`${m.id}_${m.secret}\\.part`))
      assert.match(err.message, /Free some space/)
      return true
    })
    assert.equal(await exists(store.pathOf(m)), false)
    // What is left is a resumable prefix: the bytes that fit.
    const parts = await readdir(join(root, '.flickrfs', 'tmp'))
    assert.deepEqual(parts, [`${m.id}_${m.secret}.part`])
    assert.ok((await stat(join(root, '.flickrfs', 'tmp', parts[0] ?? ''))).size < 3_000_000)
    assert.equal(store.info(m.id, m.secret), undefined)
    await store.close()
  })

  void it('a read-only destination gives DEST naming the path', async (t) => {
    const rw = join(w.tmp, 'rw')
    const ro = join(w.tmp, 'ro')
    await mkdir(rw)
    await mkdir(ro)
    // Tests run as root, for whom chmod does not stop writes: a read-only bind mount does.
    const why = (await tryMount(['--bind', rw, ro])) ?? (mounted.push(ro), await tryMount(['-o', 'remount,bind,ro', ro]))
    if (why !== undefined) return t.skip(why)
    await assert.rejects(OriginalStore.open(ro, w.client), (err: unknown) => {
      assert.ok(err instanceof FlickrfsError)
      assert.equal(err.code, 'DEST')
      assert.match(err.message, /EROFS/)
      assert.ok(err.message.includes(ro))
      return true
    })
    // A destination that turns read-only under a running store (the index was opened before).
    const rwRoot = join(w.tmp, 'rw2')
    const roRoot = join(w.tmp, 'ro2')
    await mkdir(rwRoot)
    await mkdir(roRoot)
    await run('mount', ['--bind', rwRoot, roRoot])
    mounted.push(roRoot)
    // The index is elsewhere: a file open for writing (sqlite) would keep the remount from happening.
    const index = await openStoreKeyv(join(w.tmp, 'index-elsewhere'))
    const store = await OriginalStore.open(roRoot, w.client, { index })
    await store.ensure(w.addPhoto(1000))
    await run('mount', ['-o', 'remount,bind,ro', roRoot])
    const m = w.addPhoto(50_000)
    await assert.rejects(store.ensure(m), (err: unknown) => {
      assert.ok(err instanceof FlickrfsError)
      assert.equal(err.code, 'DEST')
      assert.match(err.message, /EROFS/)
      assert.ok(err.message.includes(roRoot))
      return true
    })
    assert.equal(await exists(store.pathOf(m)), false)
    await store.close()
    await index.disconnect()
  })

  void it('a file where a folder belongs gives DEST, not a crash', async () => {
    const root = join(w.tmp, 'blocked')
    await mkdir(root)
    await writeFile(join(root, 'photostream'), 'not a folder')
    const store = await OriginalStore.open(root, w.client)
    const m = w.addPhoto(1000)
    await assert.rejects(store.ensure(m), (err: unknown) => {
      assert.ok(err instanceof FlickrfsError)
      assert.equal(err.code, 'DEST')
      assert.ok(err.message.includes(join(root, 'photostream')), err.message)
      return true
    })
    await store.close()
  })
})
