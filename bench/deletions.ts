/**
 * A refresh after photos were deleted on Flickr: its API calls and time, this checkout against
 * another one (--base: the build before deletions were searched for, which lists the whole
 * photostream after any deletion and loads the catalog whole), in the same run on the same fake.
 *
 *   node --import tsx bench/deletions.ts --base OTHER_CHECKOUT [--items 100000] [--sets items/50]
 *     [--deleted 1,10,100]   (or with `newest` among them: a round of its own, below)
 *
 * The fake (in this process: its counters are the call counts) serves a generated account; its
 * catalog is seeded as a first sync leaves it (catalog-state.ts syncedStateOf, with listing pages),
 * once, into two roots, A (this checkout) and B (--base). Then, for each K of --deleted in turn, K
 * photos at random places are deleted on the fake, and each root is refreshed as a mount or a pin
 * refreshes a catalog it reads lazily (refreshIfUnchanged, then refresh with its answers; read
 * lazily from 0 photos, so a merge is tried at any size): A then B. Both catalogs must hold the
 * same photostream after each round. `newest` is a round of its own: a photo is edited (so it is the
 * one changed last; both roots take the edit in first, not measured), then deleted alone: what a
 * build whose marks need the newest photo's record cannot merge. The limiter is raised (calls, not waiting, are measured); "at
 * Flickr's rate" is the time the calls take at 1 call/s once the burst is spent.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CatalogStore } from '../src/catalog/persist.js'
import { prng } from '../src/fake-flickr/generate.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../src/fake-flickr/index.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../src/layout/index.js'
import { syncedStateOf } from './catalog-state.js'
import { benchArgs } from './measure.js'

const { number, text } = benchArgs()
const WEEK_MS = 7 * 86_400_000

type CatalogModule = typeof import('../src/catalog/index.js')

interface Way {
  name: string
  root: string
  catalog: CatalogModule
}

interface Outcome {
  calls: Record<string, number>
  ms: number
  mode: string
  merged: boolean
  deleted: number
  stream: string
}

const sum = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0)

async function refreshOnce(way: Way, fake: FakeFlickr, client: FlickrClient, media: MediaClient): Promise<Outcome> {
  const opts = { fullListingEveryMs: WEEK_MS, apiConcurrency: 32, mediaConcurrency: 64 }
  fake.resetCounts()
  const t0 = performance.now()
  const c = await way.catalog.Catalog.open(way.root, { sidecarSizer: photoSidecarSizer, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: 0 } })
  let report
  try {
    const quick = await c.refreshIfUnchanged(client, opts)
    report = quick?.unchanged?.report ?? (await c.refresh(client, media, { ...opts, letGo: true, ...(quick?.answers !== undefined ? { answered: quick.answers } : {}) }))
  } finally {
    await c.close()
  }
  const ms = performance.now() - t0
  const calls = Object.fromEntries(Object.entries(fake.counts()).filter(([k]) => k.startsWith('flickr.')))
  // The photostream saved: its ids in order, read from the head's chunk alone (not the whole catalog).
  const store = await CatalogStore.open(way.root, { readOnly: true })
  let stream = ''
  try {
    const head = await store.readHead()
    const lists = head === undefined ? undefined : await store.readLists(head)
    stream = lists?.photostream.join(',') ?? ''
  } finally {
    await store.close()
  }
  return { calls, ms, mode: report.listing.mode, merged: report.merged === true, deleted: report.photos.deleted, stream }
}

async function main(): Promise<void> {
  const base = text('base')
  if (base === undefined) throw new Error('--base OTHER_CHECKOUT is needed (the build to compare with)')
  const items = number('items', 100_000)
  const sets = number('sets', Math.round(items / 50))
  const rounds = (text('deleted') ?? '1,10,100').split(',').map((k) => (k === 'newest' ? k : Number(k)))
  const baseCatalog = (await import(join(resolve(base), 'src/catalog/index.ts'))) as CatalogModule
  const fake = await startFakeFlickr({ account: generateAccount({ seed: 42, photos: items, videos: 0, sets, collections: 20, commentedFraction: 0.05 }) })
  const work = await mkdtemp(join(tmpdir(), 'flickrfs-bench-deletions-'))
  try {
    const client = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
    const media = new MediaClient({ origins: [fake.origin] })
    const seed = join(work, 'seed')
    const store = await CatalogStore.open(seed)
    await store.save(syncedStateOf(fake.account, fake.origin, Date.now()), Date.now(), undefined, { sizer: photoSidecarSizer })
    await store.close()
    const ways: Way[] = [
      { name: 'this checkout', root: join(work, 'a'), catalog: await import('../src/catalog/index.js') },
      { name: `base (${base})`, root: join(work, 'b'), catalog: baseCatalog },
    ]
    for (const w of ways) await cp(seed, w.root, { recursive: true })
    const rand = prng(20261203)
    console.log(`deletions bench: ${items} items, ${sets} sets, ${Math.ceil(items / 500)} pages of 500`)
    console.log('| deleted | build | API calls | by method | time | at 1 call/s | listing | merged |')
    console.log('|---|---|---|---|---|---|---|---|')
    const pick = (): string => fake.account.photostream[Math.floor(rand() * fake.account.photostream.length)] as string
    for (const round of rounds) {
      const k = round === 'newest' ? 1 : round
      if (round === 'newest') {
        const last = fake.account.editPhoto(pick(), { title: 'changed last' })
        for (const w of ways) await refreshOnce(w, fake, client, media)
        fake.account.deletePhoto(last.id)
      } else for (let i = 0; i < k; i++) fake.account.deletePhoto(pick())
      const outcomes: Outcome[] = []
      for (const w of ways) {
        const o = await refreshOnce(w, fake, client, media)
        outcomes.push(o)
        const byMethod = Object.entries(o.calls).sort().map(([m, n]) => `${m.replace(/^flickr\./, '')} ${n}`).join(', ')
        console.log(`| ${round === 'newest' ? '1, changed last' : k} | ${w.name} | **${sum(o.calls)}** | ${byMethod} | ${(o.ms / 1000).toFixed(2)} s | ${(sum(o.calls) / 60).toFixed(1)} min | ${o.mode} | ${o.merged ? 'yes' : 'no'} |`)
        if (o.deleted !== k) throw new Error(`${w.name} took in ${o.deleted} deletions, not ${k}`)
      }
      if (outcomes[0]?.stream !== outcomes[1]?.stream || outcomes[0]?.stream !== fake.account.photostream.join(',')) throw new Error(`after ${k} deletions the two catalogs or the fake's photostream differ`)
    }
  } finally {
    await fake.close()
    await rm(work, { recursive: true, force: true })
  }
}

await main()
