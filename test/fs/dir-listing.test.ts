/**
 * A folder made on demand with more entries than the listing cache keeps (photostream/ of a big
 * account) is listed a window at a time as fuse-native's readdir reads it (dir-listing.ts
 * wireListing): the names and stats the binding reads must be the whole listing's, entry by
 * entry, and the names of the windows already read must be let go. Read here in the binding's own
 * order (fuse-native.c: name i, then stat i, then name i + 1); test/fs/mount-lifecycle.test.ts
 * checks the stats' windows through a real mount.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { STAT_WINDOW, type StatWire } from '../../src/fs/dir-listing.js'
import { FsOps, type OpsContext } from '../../src/fs/ops.js'
import type { OriginalReader } from '../../src/fs/types.js'
import { buildLayout, type Layout } from '../../src/layout/index.js'
import { photoSpecs, setEntry, snapshot } from '../layout/fixture.js'
import { recorder } from './recorder.js'

const noReader: OriginalReader = { read: () => Promise.reject(new Error('no original is read here')) }

function layoutOf(photos: number): Layout {
  const specs = photoSpecs(photos)
  return buildLayout(snapshot({ photos: specs, sets: [setEntry('10', 'Ten', specs.slice(0, 50).map((p) => p.id))] }), { nodeCache: 10, linkCache: 10 })
}

/** readdir of `path` through FsOps, read as the binding reads it: every entry's name, mode and inode, and the names array after. */
async function listed(layout: Layout, path: string, ctx: Partial<OpsContext>): Promise<{ entries: Array<[string, number, number]>; names: string[] }> {
  const ops = new FsOps({ tree: () => layout, originals: noReader, owner: { uid: 1, gid: 1 }, readTimeoutMs: 10_000, closing: new AbortController().signal, attrTimeoutMs: 60_000, ...ctx }).fuseOps()
  const r = recorder()
  ops.readdir?.(path, r.cb)
  const [err, names, stats] = (await r.once) as [number, string[], StatWire[]]
  assert.equal(err, 0)
  assert.equal(stats.length, names.length)
  const entries: Array<[string, number, number]> = []
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string
    const st = stats[i] as StatWire
    entries.push([name, st.mode, st.ino])
  }
  return { entries, names }
}

void describe('listing a big folder a window at a time', () => {
  void test('the binding reads the whole listing, entry by entry, and each window read is let go', async () => {
    // 5,000 photos: photostream/ holds its fixed files and 10,000 photo files, over 3 windows.
    const layout = layoutOf(5_000)
    const whole = await listed(layout, '/photostream', {})
    const inWindows = await listed(layout, '/photostream', { listingEntries: 1_000 })
    assert.ok(whole.entries.length > 2 * STAT_WINDOW + 2, `${whole.entries.length} entries`)
    assert.deepEqual(inWindows.entries.slice(0, 2).map(([n]) => n), ['.', '..'])
    for (let i = 0; i < whole.entries.length; i++) assert.deepEqual(inWindows.entries[i], whole.entries[i], `entry ${i}`)
    assert.equal(inWindows.entries.length, whole.entries.length)
    // The names of the windows before the last are let go; the whole listing keeps its own.
    assert.equal(inWindows.names[STAT_WINDOW + 5], '')
    assert.equal(whole.names[STAT_WINDOW + 5], whole.entries[STAT_WINDOW + 5]?.[0])
    // A folder with fewer entries than the bound is listed whole, as before.
    const set = await listed(layout, '/Set 10 - Ten', { listingEntries: 1_000 })
    assert.deepEqual(set.entries, (await listed(layout, '/Set 10 - Ten', {})).entries)
    assert.ok(set.entries.length > 50 && set.names[5] !== '')
  })

  void test('eachChild with a range lists exactly the children at those places', () => {
    const layout = layoutOf(300)
    const dir = layout.lookup('/photostream')
    assert.ok(dir?.kind === 'dir' && dir.eachChild !== undefined)
    const all: Array<[string, number]> = []
    dir.eachChild((name, child) => all.push([name, child.ino]))
    assert.equal(all.length, dir.children.size)
    const fixed = all.length - 600
    assert.ok(fixed >= 1, `${fixed} fixed files`)
    for (const [from, to] of [[0, all.length], [0, 1], [fixed - 1, fixed + 1], [fixed, fixed + 1], [fixed + 1, fixed + 2], [fixed + 1, fixed + 4], [7, 8], [8, 130], [all.length - 1, all.length], [all.length - 3, all.length]] as const) {
      const got: Array<[string, number]> = []
      dir.eachChild((name, child) => got.push([name, child.ino]), from, to)
      assert.deepEqual(got, all.slice(from, to), `children ${from}…${to}`)
    }
  })
})
