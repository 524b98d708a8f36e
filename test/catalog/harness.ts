/**
 * A catalog wired to the real FlickrClient and MediaClient talking HTTP to the fake Flickr, in a
 * real temp root. The catalog's wall clock is a counter the test moves, so "changedAtMs moved"
 * and "stayed put" are exact comparisons.
 */
import { rm } from 'node:fs/promises'
import type { TestContext } from 'node:test'
import { Catalog, type CatalogOpenOptions, type CatalogSnapshot } from '../../src/catalog/index.js'
import { generateAccount, startFakeFlickr, type FakeFlickr, type GenerateOptions } from '../../src/fake-flickr/index.js'
import { FlickrClient, MediaClient } from '../../src/flickr/index.js'

import { testClients } from '../support/clients.js'
import { tempDir } from '../support/repo.js'

export interface Harness {
  fake: FakeFlickr
  client: FlickrClient
  media: MediaClient
  root: string
  catalog: Catalog
  clock: { ms: number; now: () => number }
  /** Moves the catalog's clock forward (so a later refresh stamps a different time). */
  tick(ms?: number): number
  reopen(opts?: CatalogOpenOptions): Promise<Catalog>
  /** Sum of the fake's REST method counts (excluding media and oauth). */
  apiCalls(): number
  mediaRequests(): number
}

export async function harness(t: TestContext, account: GenerateOptions = {}, clientOpts: { maxRetries?: number } = {}): Promise<Harness> {
  const fake = await startFakeFlickr({ account: generateAccount({ seed: 7, ...account }) })
  const root = await tempDir('flickrfs-catalog-')
  const { api: client, media } = testClients(fake, clientOpts)
  const clock = { ms: 1_700_000_000_000, now: () => clock.ms }
  const opened: Catalog[] = []
  const open = async (opts: CatalogOpenOptions = {}): Promise<Catalog> => {
    const c = await Catalog.open(root, { now: clock.now, ...opts })
    opened.push(c)
    return c
  }
  const h: Harness = {
    fake,
    client,
    media,
    root,
    catalog: await open(),
    clock,
    tick: (ms = 60_000) => (clock.ms += ms),
    reopen: open,
    apiCalls: () => Object.entries(fake.counts()).filter(([k]) => k.startsWith('flickr.')).reduce((n, [, v]) => n + v, 0),
    mediaRequests: () => Object.entries(fake.counts()).filter(([k]) => k === 'media:GET' || k === 'media:HEAD' || k === 'media:play').reduce((n, [, v]) => n + v, 0),
  }
  t.after(async () => {
    for (const c of opened) await c.close()
    await fake.close()
    await rm(root, { recursive: true, force: true })
  })
  return h
}

export async function refresh(h: Harness, opts: Parameters<Catalog['refresh']>[2] = {}): ReturnType<Catalog['refresh']> {
  h.tick()
  return h.catalog.refresh(h.client, h.media, opts)
}

/**
 * A snapshot as plain data, to compare two with deepEqual: its originals are a MediaByPhoto
 * (src/catalog/media-map.ts), loaded or refreshed, whose insides depend on how it was filled; as
 * a ReadonlyMap by `${id}_${secret}` they are the same, which is what is compared.
 */
export function comparable(snap: CatalogSnapshot): CatalogSnapshot {
  return { ...snap, media: new Map(snap.media) }
}
