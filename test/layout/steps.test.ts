import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildLayout, buildLayoutInSteps, type Layout, type LayoutDir, type LayoutOptions } from '../../src/layout/index.js'
import { account } from './steps-account.js'
import { buildEagerLayout } from './eager-reference.js'
import { walk } from './tree.js'

/** What a mount shows of every node: its path, kind, inode, mtime, and a link's target. */
function shown(layout: Layout, under = ''): string[] {
  return walk(layout.root)
    .filter(([p]) => p === under || p.startsWith(`${under}/`) || under === '')
    .map(([p, n]) => `${p} ${n.kind} ${n.ino} ${n.mtimeMs}${n.kind === 'link' ? ` -> ${n.target}` : ''}`)
}

/** The root's link count as stat gives it (fs/stat.ts): 2 and one a directory below it. */
function rootLinks(root: LayoutDir): number {
  return 2 + (root.subdirCount ?? [...root.children.values()].filter((n) => n.kind === 'dir').length)
}

const LATEST = ['photo', 'set', 'nested collection', 'unsafe set', 'second of a set id', 'looping collection'] as const
const OPTIONS: Array<[string, LayoutOptions]> = [['default', {}], ['ignoreVideos', { ignoreVideos: true }], ['partial (first catalog)', { partial: true }]]

void describe('a layout built in steps (a mount serves photostream/ while the rest is built)', () => {
  for (const latest of LATEST) {
    for (const [what, opts] of OPTIONS) {
      void it(`shows photostream/ and the root as the whole tree has them before the rest, then the whole tree: newest ${latest}, ${what}`, async () => {
        const snap = account(latest)
        const whole = buildLayout(snap, opts)
        const steps = buildLayoutInSteps(snap, opts)
        const { layout } = steps
        assert.deepEqual(shown(layout, '/photostream'), shown(whole, '/photostream'), 'photostream/ with its final inode numbers')
        assert.equal(layout.root.mtimeMs, whole.root.mtimeMs, 'the root\'s mtime')
        assert.equal(rootLinks(layout.root), rootLinks(whole.root), 'the root\'s link count')
        assert.equal(layout.lookup('/Set 9000 - Set 0'), undefined, 'the set folders are not built yet')
        const building = layout.building
        assert.ok(building !== undefined)
        assert.equal(building.waits('/photostream', true), false)
        assert.equal(building.waits('/photostream/50000.jpg', false), false)
        assert.equal(building.waits('/', false), false, 'the root\'s attributes are answered at once')
        assert.equal(building.waits('/', true), true, 'its listing waits')
        assert.equal(building.waits('/Set 9000 - Set 0', false), true)
        assert.equal(building.waits('/photostreamx', false), true)
        let pauses = 0
        await steps.finish(async () => {
          pauses++
          await new Promise((resolve) => setImmediate(resolve))
        })
        assert.ok(pauses >= 1, 'the rest let the ops in at least once')
        assert.equal(layout.building, undefined)
        await building.done
        assert.deepEqual(shown(layout), shown(whole), 'every node, inode, mtime and link of the whole build')
        // What the root's folders make of its attributes, worked out as the build did before it had steps.
        const children = [...layout.root.children.values()]
        assert.equal(layout.root.mtimeMs, Math.max(...children.map((n) => n.mtimeMs)), 'the mtime given first is the latest of the root\'s folders')
        assert.equal(rootLinks(layout.root), 2 + children.filter((n) => n.kind === 'dir').length, 'the link count given first is the one the children make')
        // And the build of every node at once that the layout had before (eager-reference.ts).
        assert.deepEqual(shown(layout), shown(buildEagerLayout(snap, opts)), 'the eager build\'s tree')
        assert.deepEqual(layout.stats, whole.stats)
      })
    }
  }

  void it('stops building when the layout is no longer wanted, and lets the waiting ops go', async () => {
    const steps = buildLayoutInSteps(account('set'))
    const done = steps.layout.building?.done
    let asked = 0
    await steps.finish(() => Promise.resolve(), () => {
      asked++
      return false
    })
    assert.equal(asked, 1, 'asked at the first pause, and stopped there')
    assert.equal(steps.layout.building, undefined)
    await done
    assert.equal(steps.layout.lookup('/Set 9000 - Set 0')?.ino, 0, 'the rest was left unfinished: its inode numbers were never settled')
  })

  void it('fails the waiting ops when the rest cannot be built', async () => {
    const snap = account('photo')
    // A set whose members can be read once (the build sizes its arrays) and then not: the rest
    // throws where a catalog read would.
    const ids = snap.sets[3]?.photoIds ?? []
    let reads = 0
    Object.defineProperty(snap.sets[3], 'photoIds', {
      get: () => {
        if (reads++ > 0) throw new Error('gone')
        return ids
      },
    })
    const steps = buildLayoutInSteps(snap)
    const done = steps.layout.building?.done
    await assert.rejects(steps.finish(), /gone/)
    await assert.rejects(done as Promise<void>, /gone/)
    assert.ok(steps.layout.building !== undefined, 'the ops that wait for it keep failing')
  })
})
