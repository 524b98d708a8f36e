/**
 * Twin refreshes of one real catalog (test/catalog/lazy-merge.test.ts, full-merge.test.ts): the
 * same base copied to two temp roots and refreshed from the same answers of the fake Flickr, whole
 * (a catalog opened deferred) and lazily (opened as the online mount opens it, which merges); then
 * the two saved catalogs compared (the same head: chunks, pages, facts, marks, generation).
 */
import assert from 'node:assert/strict'
import { cp, rm } from 'node:fs/promises'
import KeyvSqlite from '@keyv/sqlite'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Catalog, catalogPath, type CatalogOpenOptions, type RefreshReport } from '../../src/catalog/index.js'
import type { CatalogApi } from '../../src/catalog/ports.js'
import { CatalogStore, type Head } from '../../src/catalog/persist.js'
import { photoSidecarSizer, PHOTO_METADATA_FORMAT } from '../../src/layout/metadata.js'
import { tempDir } from '../support/repo.js'
import { headOf, type Harness } from './harness.js'
import { assertViewOf } from './view-assert.js'

export const WEEK_MS = 7 * 86_400_000
/** Small pages, so that a new photo at the head shifts several of them. */
export const PAGE = 25
export const WRITER: CatalogOpenOptions = { sidecarSizer: photoSidecarSizer, listingPagePhotos: PAGE }
/** The changed photos a twin's merge takes at once: small, so that a change of a few photos is merged in several groups of buckets. */
export const MERGE_GROUP = 2

/** A copy of the catalog in `from` (no writer is saving meanwhile), in a root of its own. */
export async function copyRoot(t: TestContext, from: string): Promise<string> {
  const root = await tempDir('flickrfs-merge-')
  await cp(join(from, '.flickrfs'), join(root, '.flickrfs'), { recursive: true })
  t.after(() => rm(root, { recursive: true, force: true }))
  return root
}

/** Every chunk `head` names can be read (the merge wrote what its head names). */
export async function assertWhole(root: string, head: Head): Promise<void> {
  const store = await CatalogStore.open(root, { readOnly: true })
  try {
    const loaded = await store.load()
    assert.equal(loaded?.head.generation, head.generation)
    let pages = 0
    assert.ok(await store.eachListingPage(head, () => pages++))
    assert.equal(pages, head.chunks.listing?.length)
  } finally {
    await store.close()
  }
}

/** The chunks stored in `root`'s catalog (a chunk in parts once), read from the sqlite file itself. */
export async function storedChunks(root: string): Promise<Set<string>> {
  const db = new KeyvSqlite({ uri: `sqlite://${catalogPath(root)}` })
  try {
    const rows = (await db.query(`SELECT key FROM keyv WHERE key LIKE 'catalog:chunk:%'`)) as Array<{ key: string }>
    return new Set(rows.map((r) => r.key.split(':')[2] as string))
  } finally {
    await db.disconnect()
  }
}

/** Every chunk `head` names. */
export function namedChunks(head: Head): Set<string> {
  const c = head.chunks
  return new Set([...c.photos, c.photostream, c.sets, c.collections, ...(c.listing ?? [])])
}

/** `root` stores exactly the chunks its head names: nothing a merge wrote is left unnamed. */
export async function assertNoStrayChunks(root: string, what: string): Promise<void> {
  const head = await headOf(root)
  const stored = [...(await storedChunks(root))].map((k) => `chunk:${k}`).sort()
  assert.deepEqual(stored, [...namedChunks(head)].sort(), `${what}: the chunks stored are those the head names`)
}

export interface Twins {
  whole: { root: string; catalog: Catalog; report: RefreshReport }
  merged: { root: string; catalog: Catalog; report: RefreshReport }
}

/**
 * The catalog of `base` refreshed twice from the same answers: whole (a catalog opened deferred,
 * which refreshIfUnchanged asks and refresh() loads) and lazily (opened as the online mount opens
 * it, which merges). Both with the same clock, which does not move during a refresh.
 */
export async function refreshTwins(
  t: TestContext, h: Harness, base: string,
  { groupPhotos = MERGE_GROUP, bulkFrom = 0, client = h.client, ...opts }: { cookies?: string; fullListingEveryMs?: number; resolveAgain?: ReadonlySet<string>; groupPhotos?: number; bulkFrom?: number; client?: CatalogApi } = {},
): Promise<Twins> {
  h.tick()
  const asked = { fullListingEveryMs: WEEK_MS, ...opts }
  const run = async (root: string, lazy: boolean): Promise<{ root: string; catalog: Catalog; report: RefreshReport }> => {
    const catalog = await Catalog.open(root, { now: h.clock.now, ...WRITER, ...(lazy ? { lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, mergeGroupPhotos: groupPhotos, bulkMergeFromPhotos: bulkFrom } } : { deferLoad: true }) })
    t.after(() => catalog.close())
    const quick = await catalog.refreshIfUnchanged(client, asked)
    const report = quick?.unchanged?.report ??
      (await catalog.refresh(client, h.media, { ...asked, letGo: lazy, ...(quick?.answers !== undefined ? { answered: quick.answers } : {}) }))
    return { root, catalog, report }
  }
  const whole = await run(await copyRoot(t, base), false)
  const merged = await run(await copyRoot(t, base), true)
  return { whole, merged }
}

/** The merge saved the very catalog the whole refresh saved, and serves it. */
export async function assertSame(twins: Twins, what: string, expectMerged = true): Promise<void> {
  const { whole, merged } = twins
  assert.equal(whole.report.merged, undefined, what)
  assert.equal(merged.report.merged, expectMerged ? true : undefined, `${what}: merged`)
  const headW = await headOf(whole.root)
  const headM = await headOf(merged.root)
  assert.deepEqual(headM, headW, `${what}: the heads`)
  await assertWhole(merged.root, headM)
  if (expectMerged) await assertNoStrayChunks(merged.root, what)
  const pick = (r: RefreshReport): unknown => ({
    changed: r.changed, photos: r.photos, sets: r.sets, collections: r.collections, order: r.photostreamOrderChanged,
    commentsFetched: r.commentsFetched, resolved: r.media.resolved, unavailable: r.media.unavailable, generation: r.generation,
    listing: r.listing.mode, deletions: r.listing.deletions,
  })
  assert.deepEqual(pick(merged.report), pick(whole.report), `${what}: the reports`)
  await assertViewOf(merged.catalog.view(), whole.catalog.snapshot(), { atOnce: false, storesSizes: true })
}

/**
 * A first sync of the harness's account by a writer with listing pages; its root is the base of the
 * twins. `extra`: more of the writer's options (an older flickrfs's buckets).
 */
export async function firstSync(t: TestContext, h: Harness, extra: CatalogOpenOptions = {}): Promise<string> {
  const root = await tempDir('flickrfs-merge-base-')
  t.after(() => rm(root, { recursive: true, force: true }))
  const c = await Catalog.open(root, { now: h.clock.now, ...WRITER, ...extra })
  try {
    const first = await c.refresh(h.client, h.media, { fullListingEveryMs: WEEK_MS })
    assert.equal(first.listing.mode, 'full')
  } finally {
    await c.close()
  }
  return root
}
