/**
 * A catalog wired to the real FlickrClient and MediaClient talking HTTP to the fake Flickr, in a
 * real temp root. The catalog's wall clock is a counter the test moves, so "changedAtMs moved"
 * and "stayed put" are exact comparisons.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import type { TestContext } from 'node:test'
import KeyvSqlite from '@keyv/sqlite'
import { Catalog, catalogPath, type CatalogOpenOptions, type CatalogSnapshot } from '../../src/catalog/index.js'
import { CatalogStore, type Head } from '../../src/catalog/persist.js'
import { generateAccount, startFakeFlickr, type FakeAccount, type FakeFlickr, type GenerateOptions } from '../../src/fake-flickr/index.js'
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

export async function harness(t: TestContext, account: GenerateOptions = {}, clientOpts: { maxRetries?: number; pagesAhead?: number } = {}): Promise<Harness> {
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

/** One random change a user can make on Flickr, other than deleting a photo. */
export function randomChange(a: FakeAccount, rand: () => number, n: number): string {
  const pick = <T>(arr: readonly T[]): T => arr[Math.floor(rand() * arr.length)] as T
  const photo = (): string => pick(a.photostream)
  const set = () => pick(a.sets)
  const kind = Math.floor(rand() * 11)
  switch (kind) {
    case 0: return `edit ${a.editPhoto(photo(), { title: `edited ${n}`, tags: [`t${n}`] }).id}`
    case 1: return `comment ${a.addComment(photo(), `comment ${n}`).id}`
    case 2: return `upload ${a.addPhoto({ media: rand() < 0.3 ? 'video' : 'photo', title: `new ${n}` }).id}`
    case 3: {
      // Dated back, sometimes onto the very upload date of another item.
      const other = a.requirePhoto(photo())
      const p = a.addPhoto({ title: `dated back ${n}`, dateupload: other.dateupload - (rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 1000)) })
      return `upload dated back ${p.id}`
    }
    case 4: return `replace ${a.replaceOriginal(photo(), { bytes: 3000 + n }).id}`
    case 5: return `rename set ${a.renameSet(set().id, `set ${n}`).id}`
    case 6: {
      const s = set()
      const ids = [...s.photoIds].sort(() => rand() - 0.5)
      return `reorder set ${a.reorderSet(s.id, ids).id}`
    }
    case 7: {
      const s = set()
      a.addToSet(s.id, photo())
      return `add to set ${s.id}`
    }
    case 8: {
      const s = a.sets.find((x) => x.photoIds.length > 1)
      if (s === undefined) return 'nothing'
      a.removeFromSet(s.id, pick(s.photoIds))
      return `remove from set ${s.id}`
    }
    case 9: return `new set ${a.addSet({ title: `made ${n}`, photoIds: [photo(), photo()].filter((x, i, all) => all.indexOf(x) === i) }).id}`
    default: {
      a.orderSets([...a.sets].map((s) => s.id).sort(() => rand() - 0.5))
      return 'set order'
    }
  }
}

/** The head saved in ROOT's catalog, read as a reader would. */
/**
 * What an older flickrfs left: the head in `root` no longer says its listing pages hold record
 * hashes, so a full listing is not merged (full-merge.ts) until a whole save writes them again.
 * Call with no writer saving meanwhile.
 */
export async function forgetRecordHashes(root: string): Promise<void> {
  const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(root)}` })
  try {
    const rows = (await db.query(`SELECT value FROM keyv WHERE key = 'catalog:head'`)) as Array<{ value: string }>
    const head = JSON.parse(rows[0]?.value ?? '{}') as { pages: Record<string, unknown> }
    assert.equal(head.pages.recordHashes, true)
    delete head.pages.recordHashes
    await db.query(`UPDATE keyv SET value = ? WHERE key = 'catalog:head'`, JSON.stringify(head))
  } finally {
    await db.disconnect()
  }
}

export async function headOf(root: string): Promise<Head> {
  const store = await CatalogStore.open(root, { readOnly: true })
  try {
    return (await store.readHead()) as Head
  } finally {
    await store.close()
  }
}

/** Everything a full listing decides, without the change stamps (those differ by design). */
export function listingContent(snap: CatalogSnapshot): unknown {
  return {
    photostream: snap.photostream,
    photos: [...snap.photos.values()].map((p) => p.raw).sort((a, b) => String(a.id).localeCompare(String(b.id))),
    comments: [...snap.comments].sort(([a], [b]) => a.localeCompare(b)),
    media: [...snap.media].sort(([a], [b]) => a.localeCompare(b)),
    sets: snap.sets.map((s) => ({ id: s.id, raw: s.raw, photoIds: s.photoIds })),
    collections: JSON.parse(JSON.stringify(snap.collections, (k, v: unknown) => (k === 'changedAtMs' ? undefined : v))) as unknown,
  }
}

/** A second catalog of the harness's account in a temp root of its own: refreshed with defaults, each refresh is a full listing. */
export async function fullCatalog(t: { after: (fn: () => Promise<void>) => void }, h: Harness): Promise<Catalog> {
  const root = await tempDir('flickrfs-catalog-full-')
  const c = await Catalog.open(root, { now: h.clock.now })
  t.after(async () => {
    await c.close()
    await rm(root, { recursive: true, force: true })
  })
  return c
}
