/**
 * What the `flickrfs mount` e2e tests and benchmarks share besides test/support/mount-lab.ts: a
 * pinned DEST in a new lab, how to quote for bash, list a tree with find, and count the fake's
 * media GETs.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr, GenerateOptions } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { run } from '../support/run.js'

export interface PinnedLab {
  fake: FakeFlickr
  lab: MountLab
  /** The CLI's environment: config, cache and runtime folders in the lab, the fake's token. */
  env: NodeJS.ProcessEnv
  /** `flickrfs pin -q DEST` of the fake's account, done. */
  dest: string
}

/**
 * A fake with `gen`'s account, a new lab, and DEST pinned by the real CLI: where most mount tests
 * start. A pin that fails closes the fake and removes the lab before it throws.
 */
export async function pinnedLab(gen: GenerateOptions, opts: { prefix?: string; pinTimeoutMs?: number } = {}): Promise<PinnedLab> {
  const fake = await startFake(gen)
  const lab = await MountLab.create(opts.prefix)
  try {
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    const dest = join(lab.dir, 'dest')
    const pinned = await lab.cli(['pin', '-q', dest], env, opts.pinTimeoutMs)
    assert.equal(pinned.exit.code, 0, pinned.err)
    return { fake, lab, env, dest }
  } catch (err) {
    try {
      await lab.cleanup()
    } finally {
      await fake.close()
    }
    throw err
  }
}

/** Quotes one argument for bash. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** `find` of a tree: relative path → "kind size target" (kind f/d/l; size of files only). */
export async function findListing(root: string, opts: { sizes?: boolean } = {}): Promise<Map<string, { kind: string; size: number; target: string }>> {
  const r = await run('find', [root, '-mindepth', '1', '-not', '-path', `${root}/.flickrfs`, '-not', '-path', `${root}/.flickrfs/*`, '-printf', '%y\\0%s\\0%l\\0%P\\0'])
  if (r.code !== 0) throw new Error(`find ${root} failed: ${r.stderr}`)
  const parts = r.stdout.split('\0')
  const out = new Map<string, { kind: string; size: number; target: string }>()
  for (let i = 0; i + 3 < parts.length; i += 4) {
    const kind = parts[i] ?? ''
    out.set(parts[i + 3] ?? '', { kind, size: opts.sizes === false || kind !== 'f' ? 0 : Number(parts[i + 1]), target: parts[i + 2] ?? '' })
  }
  return out
}

/** Count of media GETs the fake has answered (originals and video files). */
export function mediaGets(counts: Record<string, number>): number {
  return counts['media:GET'] ?? 0
}
