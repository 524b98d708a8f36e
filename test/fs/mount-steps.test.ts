/**
 * A mount that comes up with photostream/ built and the rest of the tree not (buildLayoutInSteps,
 * as a flickrfs mount starts): photostream/ and the root's attributes are served at once; the
 * root's listing and everything in the set folders wait for the rest, and then show the whole
 * tree, with the inode numbers a build of it all at once gives.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { buildLayout } from '../../src/layout/index.js'
import { account } from '../layout/steps-account.js'
import { walk } from '../layout/tree.js'
import { MountLab } from '../support/mount-lab.js'
import { fuseUnusableReason } from '../support/mounts.js'
import { REPO } from '../support/repo.js'
import { run } from '../support/run.js'

const skip = await fuseUnusableReason()
const serveScript = fileURLToPath(new URL('./serve-steps.ts', import.meta.url))

/** A MountLab that serves the steps account (serve-steps.ts). */
class StepsLab extends MountLab {
  static override async create(): Promise<StepsLab> {
    const lab = await MountLab.create('flickrfs-steps-')
    return Object.setPrototypeOf(lab, StepsLab.prototype) as StepsLab
  }

  /** Serves at `mnt`; `go()` lets the rest be built; `said(text)` waits for a line of the server's. */
  serve(mnt: string): { go(): void; said(text: string): Promise<void>; stderr(): string } {
    const child = spawn(process.execPath, ['--import', 'tsx', serveScript, mnt], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    this.adopt(child, exited)
    this.track(mnt)
    const said = async (text: string): Promise<void> => {
      for (let waited = 0; !out.includes(text); waited += 20) {
        if (waited > 30_000 || child.exitCode !== null) throw new Error(`no ${text} from the server; stdout=${out} stderr=${err}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    return { go: () => child.stdin.write('go\n'), said, stderr: () => err }
  }
}

/** Runs `cmd` as a child; whether it has exited yet. */
function started(cmd: string, args: string[]): { done: () => boolean; result: ReturnType<typeof run> } {
  let exited = false
  const result = run(cmd, args)
  void result.finally(() => (exited = true))
  return { done: () => exited, result }
}

void describe('a mount whose tree is built in steps', { skip }, () => {
  let lab: StepsLab
  before(async () => {
    lab = await StepsLab.create()
  })
  after(async () => {
    await lab.cleanup()
  })

  void it('serves photostream/ and the root\'s attributes at once, and the rest once it is built, with the numbers of a whole build', async () => {
    const whole = buildLayout(account('nested collection'))
    const mnt = await lab.mkdir('mnt')
    const server = lab.serve(mnt)
    await server.said('READY')

    // The root's attributes as the whole tree has them: link count (2 + its folders) and mtime.
    const folders = [...whole.root.children.values()].filter((n) => n.kind === 'dir').length
    const st = await run('stat', ['-c', '%h %Y %i', mnt])
    assert.equal(st.stdout.trim(), `${2 + folders} ${Math.floor(whole.root.mtimeMs / 1000)} 1`)
    const ls = await run('ls', ['-f', join(mnt, 'photostream')])
    assert.equal(ls.code, 0, ls.stderr)
    const names = ls.stdout.trim().split('\n').filter((n) => n !== '.' && n !== '..')
    const photostream = whole.lookup('/photostream')
    assert.ok(photostream?.kind === 'dir')
    assert.deepEqual(names, [...photostream.children.keys()])

    // The root's listing and a set folder's link wait for the rest.
    const set = [...whole.root.children.values()].find((n) => n.name.startsWith('Set '))
    assert.ok(set?.kind === 'dir')
    const [linkName, link] = [...set.children.entries()].find(([, n]) => n.kind === 'link') ?? []
    assert.ok(link?.kind === 'link' && linkName !== undefined)
    const rootLs = started('ls', ['-f', mnt])
    const readlink = started('readlink', [join(mnt, set.name, linkName)])
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(rootLs.done(), false, 'the root\'s listing waits for the set folders')
    assert.equal(readlink.done(), false, 'a set folder\'s link waits for its folder')

    server.go()
    const listed = await rootLs.result
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual(listed.stdout.trim().split('\n').filter((n) => n !== '.' && n !== '..'), [...whole.root.children.keys()])
    assert.equal((await readlink.result).stdout.trim(), link.target)
    await server.said('WHOLE')

    // Every inode number through the mount is the whole build's.
    const found = await run('find', [mnt, '-mindepth', '1', '-printf', '%i /%P\\n'])
    assert.equal(found.code, 0, found.stderr)
    const expected = walk(whole.root).map(([p, n]) => `${n.ino} ${p}`).sort()
    assert.deepEqual(found.stdout.trim().split('\n').sort(), expected)
    assert.equal(server.stderr(), '')
  })
})
