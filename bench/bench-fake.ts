/**
 * The fake Flickr as bench/memory.ts and bench/pin-big.ts run it: a generated account served in a
 * process of its own, which seeds a catalog as synced and changes its account when asked on stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { catalogPath } from '../src/catalog/index.js'
import { CatalogStore } from '../src/catalog/persist.js'
import { photoSidecarSizer } from '../src/layout/index.js'
import { generateAccount, startFakeFlickr, type FakeAccount, type FakeCredentials } from '../src/fake-flickr/index.js'
import { prng } from '../src/fake-flickr/generate.js'
import type { FakeSet } from '../src/fake-flickr/account.js'
import { dropOriginals, syncedStateOf } from './catalog-state.js'

/** The benches' account: 5% commented, 2 KB photos, 2% videos of 4 KB unless `videos: false`, 20 collections. */
export function benchAccount(items: number, sets: number, opts: { videos?: boolean } = {}): FakeAccount {
  const videos = opts.videos === false ? 0 : Math.round(items * 0.02)
  return generateAccount({ seed: 42, photos: items - videos, videos, sets, collections: 20, commentedFraction: 0.05, meanPhotoBytes: 2_000, meanVideoBytes: 4_000 })
}

/** What an active account does between two refreshes: one change of the benches' --change. */
export const CHANGE = { edited: 50, uploaded: 10, commented: 20, setsRenamed: 1 }

/**
 * The `n`th CHANGE (from 0): each edits other photos and renames another set; `deleted` photos are
 * deleted too (after the rest, so that a change without them is the same as before they existed).
 * `edited`: how many photos it edits (a bulk edit: bench/pin-big.ts --edits), CHANGE's 50 by default.
 */
export function changeAccount(account: FakeAccount, n: number, deleted = 0, edited = CHANGE.edited): void {
  const rand = prng(2026_12_02 + n)
  const some = (): string => account.photostream[Math.floor(rand() * account.photostream.length)] as string
  for (let i = 0; i < edited; i++) account.editPhoto(some(), { title: `edited ${n}.${i}` })
  for (let i = 0; i < CHANGE.commented; i++) account.addComment(some(), `comment ${n}.${i}`)
  for (let i = 0; i < CHANGE.uploaded; i++) account.addPhoto({ title: `uploaded ${n}.${i}` })
  for (let i = 0; i < CHANGE.setsRenamed; i++) {
    account.renameSet((account.sets[(n + i) % account.sets.length] as FakeSet).id, `renamed ${n}.${i}`)
  }
  for (let i = 0; i < deleted; i++) account.deletePhoto(some())
}

/**
 * The account saved into DIR as a first sync from the fake at `origin` would leave it
 * (catalog-state.ts syncedStateOf, with listing pages). Kept when DIR holds a catalog.
 */
export async function seedSynced(dir: string, account: FakeAccount, origin: string, unresolved: readonly string[] = [], relisted = false): Promise<void> {
  if (await stat(catalogPath(dir)).then(() => true, () => false)) return
  const t0 = performance.now()
  const store = await CatalogStore.open(dir)
  try {
    const state = syncedStateOf(account, origin, Date.now())
    dropOriginals(state, unresolved)
    // `relisted`: as a refresh that listed the photostream for those items just now leaves it (src/catalog/incremental.ts relistDue).
    if (relisted && state.listing !== undefined) state.listing = { ...state.listing, relisted: { atMs: Date.now(), count: 1, failing: unresolved.length } }
    await store.save(state, Date.now(), undefined, { sizer: photoSidecarSizer })
  } finally {
    await store.close()
  }
  console.error(`seeded ${dir} as synced from ${origin} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

/**
 * The fake's process: serves `account` on `port`, writes `{origin, credentials}` as its first
 * line, then answers "seed DIR" with "seeded" and "change" with "changed" (after `change`), until
 * stdin closes.
 */
export async function serveBenchFake(account: FakeAccount, port: number, change: () => void, opts: { unresolved?: number; relisted?: boolean } = {}): Promise<void> {
  const fake = await startFakeFlickr({ account, port })
  // --unresolved N: N photos spread over the photostream whose originals cannot be had (an HTML
  // page), and which a seeded catalog holds with no original (items that failed last time).
  const unresolved = spreadIds(account, opts.unresolved ?? 0)
  for (const id of unresolved) fake.faults.hostile[id] = 'html200'
  process.stdout.write(`${JSON.stringify({ origin: fake.origin, credentials: fake.credentials })}\n`)
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line.startsWith('seed ')) {
      void seedSynced(line.slice(5), account, fake.origin, unresolved, opts.relisted === true).then(() => process.stdout.write('seeded\n'))
      return
    }
    if (line !== 'change') return
    change()
    process.stdout.write('changed\n')
  })
  await new Promise<void>((resolve) => lines.on('close', resolve))
  await fake.close()
}

/** `n` photo ids spread evenly over the photostream. */
export function spreadIds(account: FakeAccount, n: number): string[] {
  return Array.from({ length: n }, (_, i) => account.photostream[Math.floor(((i + 0.5) * account.photostream.length) / n)] as string)
}

/**
 * What a bench was given that its flickrfs children get too: glibc's malloc settings (MALLOC_MMAP_THRESHOLD_,
 * MALLOC_ARENA_MAX…), FLICKRFS_LAZY_CATALOG_FROM (from how many photos a catalog is read lazily), DEBUG, and
 * scripts/memory-trace.mjs's FLICKRFS_MEMORY_* (with `--node-args "--import …/scripts/memory-trace.mjs"`:
 * a trace of the run's memory, and heap snapshots at moments the debug log names).
 * The rest of a child's environment is test/pin/helpers.ts `cliEnv`'s.
 */
export function passedOn(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_') || k.startsWith('FLICKRFS_LAZY') || k.startsWith('FLICKRFS_MEMORY_') || k === 'DEBUG'))
}

/** The bench's side of serveBenchFake: the process started with `nodeArgs`, its origin and credentials, and `ask`. */
export interface BenchFake {
  proc: ChildProcess & { stdin: NonNullable<ChildProcess['stdin']> }
  origin: string
  credentials: FakeCredentials
  /** Writes `what` and waits for the line `answer` (any other line rejects). */
  ask: (what: string, answer: string) => Promise<void>
}

export async function startBenchFake(nodeArgs: readonly string[]): Promise<BenchFake> {
  const proc = spawn(process.execPath, [...nodeArgs], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: proc.stdout })
  const first = await new Promise<string>((resolve) => lines.once('line', resolve))
  const { origin, credentials } = JSON.parse(first) as { origin: string; credentials: FakeCredentials }
  const ask = (what: string, answer: string): Promise<void> => new Promise((resolve, reject) => {
    lines.once('line', (l) => (l === answer ? resolve() : reject(new Error(`the fake answered ${l} to ${what}`))))
    proc.stdin.write(`${what}\n`)
  })
  return { proc, origin, credentials, ask }
}
