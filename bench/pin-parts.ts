/**
 * What a pin after a small change holds at once at the end of its tree write, part by part, when
 * its catalog is read lazily (pin.ts PIN_LAZY_CATALOG_FROM_PHOTOS): for an account too big to pin
 * here in the time (a first pin of 1,000,000 items writes ~3 million files). In this process:
 *
 *   node --import tsx --expose-gc bench/pin-parts.ts ROOT [--index-page N]
 *
 * ROOT holds a saved catalog with listing pages (bench/pin-big.ts's DIR/seed, or memory.ts
 * --offline-only --seed's cache). The parts, each kept while the next is made, with RSS and the
 * V8 heap after a full GC:
 *   1. the catalog opened lazily (the listing pages, the id index, sets and collections);
 *   2. the store's index of one original per photo, read by StoreIndex.load (ROOT's catalog file is
 *      filled with a made-up record per photo first, once: run again then), in pages of
 *      --index-page N rows (0: every row at once, as before this branch; default: the default);
 *   3. the layout over the lazy view (what write-tree walks), its SHA256SUMS from that index;
 *   4. the manifest the last pin wrote (every sidecar with its version and lstat, every top-level
 *      folder), parsed as readManifest parses it, and the one this pin makes beside it (write-tree
 *      fills a new manifest while it reads the old one);
 *   5. the tree record's entries (TreeEntries) of every entry of the layout.
 * Not counted: the merge itself (lazy-merge.ts: the reported photos' buckets, ~100 MB at
 * 1,000,000 items in the mount's measure), write-tree's garbage per entry, the sqlite3 driver's
 * pool-thread copies outside the heap. So the sum is a lower bound of such a pin's peak.
 */
import { readFile } from 'node:fs/promises'
import { Catalog } from '../src/catalog/index.js'
import { buildLayout, PHOTO_METADATA_FORMAT } from '../src/layout/index.js'
import type { LayoutDir } from '../src/layout/types.js'
import { StoreIndex, openStoreKeyv, type StoreRecord } from '../src/store/store-index.js'
import type { Manifest, ManifestEntry } from '../src/pin/manifest.js'
import { TreeEntries } from '../src/pin/tree-record.js'

const MB = 1024 * 1024
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

async function rss(): Promise<{ rss: number; hwm: number }> {
  const status = await readFile('/proc/self/status', 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

let last = 0
async function mark(what: string): Promise<void> {
  gc?.()
  const { rss: r, hwm } = await rss()
  const heap = process.memoryUsage().heapUsed
  console.log(`${what.padEnd(58)} RSS ${(r / MB).toFixed(0).padStart(5)} MB (+${((r - last) / MB).toFixed(0).padStart(4)})  heap ${(heap / MB).toFixed(0).padStart(5)} MB  peak so far ${(hwm / MB).toFixed(0).padStart(5)} MB`)
  last = r
}

/** The layout's entries by folder, as write-tree meets them (on-demand folders through eachChild). */
function eachEntry(dir: LayoutDir, path: string, fn: (dir: string, name: string) => void): void {
  if (dir.eachChild !== undefined && dir.name === 'photostream') {
    dir.eachChild((name) => fn(path, name))
    return
  }
  for (const [name, child] of dir.children) {
    fn(path, name)
    if (child.kind === 'dir') eachEntry(child, path === '' ? name : `${path}/${name}`, fn)
  }
}

async function main(): Promise<void> {
  const root = process.argv[2]
  if (root === undefined) throw new Error('usage: bench/pin-parts.ts ROOT')
  await mark('node, the modules')
  const now = Date.now()
  const catalog = await Catalog.open(root, { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: 0 } })
  const view = catalog.view()
  await mark(`1. catalog opened lazily (${view.photoCount} photos, ${view.sets.length} sets)`)

  // 2. The real index, read as OriginalStore.open reads it (--index-page N: rows per page; 0: all
  // at once, as before pin-1m). Filled once with a record per photo when ROOT has fewer.
  const keyv = await openStoreKeyv(root)
  const pageArg = process.argv.indexOf('--index-page')
  const pageRows = pageArg === -1 ? undefined : Number(process.argv[pageArg + 1])
  const index = pageRows === undefined ? new StoreIndex(keyv) : new StoreIndex(keyv, pageRows === 0 ? 2 ** 31 : pageRows)
  await index.load()
  if (index.size < view.photoCount) {
    let batch: StoreRecord[] = []
    const fill = async (): Promise<void> => {
      await index.putMany(batch)
      batch = []
    }
    const ids: Array<[string, string]> = []
    view.eachPhoto((p) => ids.push([p.id, p.secret]))
    for (const [id, secret] of ids) {
      const m = view.media(id, secret)
      if (m === undefined || index.get(id) !== undefined) continue
      batch.push({ id: m.id, secret: m.secret, ext: m.ext, size: m.size, sha256: (m.id + m.secret).padEnd(64, '0').slice(0, 64), kind: 'original', completedAt: now, pinned: true, lastAccessMs: now })
      if (batch.length === 5000) await fill()
    }
    await fill()
    console.log('filled the store index; run again to measure')
    await keyv.disconnect()
    await catalog.close()
    return
  }
  await mark(`2. the store index (${index.size} records, ${pageRows === 0 ? 'all rows at once' : `pages of ${pageRows ?? 'the default'}`})`)
  const hashOf = (id: string): StoreRecord | undefined => index.get(id)

  const layout = buildLayout(view, { hashes: { generation: () => 1, hashOf, kept: () => [] } })
  await mark(`3. the layout (${layout.stats.photos} photos)`)

  // 4. The last pin's manifest as its JSON text, parsed; then this pin's, filled beside it.
  const makeManifest = (): Manifest => {
    const m: Manifest = { version: 1, top: {}, photostream: {}, sidecarVersions: [] }
    let n = 0
    eachEntry(layout.root, '', (dir, name) => {
      if (dir === '' && name !== 'photostream') m.top[name] = { kind: name.startsWith('Collection') ? 'collection' : 'set', id: name.split(' ')[1] ?? name }
      if (dir === 'photostream' && name.endsWith('.metadata')) {
        const id = name.split('.')[0] as string
        const entry: ManifestEntry = { kind: 'photo', id, c: [n, 4_000_000 + n, 1500, now - n, now - n + 0.123] }
        m.photostream[name] = entry
        m.sidecarVersions?.push(`chunk:${id.padEnd(40, 'f')} 1`)
        n++
      }
    })
    return m
  }
  let text: string | undefined = JSON.stringify(makeManifest())
  await mark(`4a. the last manifest's text (${(text.length / MB).toFixed(0)} MB)`)
  const previous = JSON.parse(text) as Manifest
  text = undefined
  await mark('4b. parsed, its text let go')
  const next = makeManifest()
  await mark('4c. and this pin\'s manifest beside it')

  const entries = new TreeEntries()
  let count = 0
  eachEntry(layout.root, '', (dir, name) => {
    entries.add(dir, name)
    count++
  })
  await mark(`5. the tree record's entries (${count})`)
  console.log(`held: ${[catalog, index.generation, layout.stats, previous.version, next.version, entries.chunks.length].length} parts`)
  await keyv.disconnect()
  await catalog.close()
}

await main()
