/**
 * What a pin after a small change holds at once at the end of its tree write, part by part, when
 * its catalog is read lazily (pin.ts PIN_LAZY_CATALOG_FROM_PHOTOS): for an account too big to pin
 * here in the time (a first pin of 1,000,000 items writes ~3 million files). In this process:
 *
 *   node --import tsx --expose-gc bench/pin-parts.ts ROOT [--index-page N] [--json-manifest] [--dest DIR]
 *
 * ROOT holds a saved catalog with listing pages (bench/pin-big.ts's DIR/seed, or memory.ts
 * --offline-only --seed's cache). The parts, each kept while the next is made, with RSS and the
 * V8 heap after a full GC:
 *   1. the catalog opened lazily (the listing pages, the id index, sets and collections);
 *   2. the store's index of one original per photo, read by StoreIndex.load (ROOT's catalog file is
 *      filled with a made-up record per photo first, once: run again then), in pages of
 *      --index-page N rows (0: every row at once, as before this branch; default: the default);
 *   3. the layout over the lazy view (what write-tree walks), its SHA256SUMS from that index;
 *   4. the manifest the last pin wrote (every photostream/ entry, each sidecar with its version,
 *      the catalog's version of its row, and an lstat; every top-level folder), read as
 *      readManifest reads it (its bytes in one buffer, looked up in place: pin/manifest.ts), and the
 *      one this pin makes beside it (written to a file as write-tree walks the tree, as pin-run.ts
 *      does). --json-manifest: both as flickrfs kept them before (manifest.json, version 1: the
 *      text parsed into an object per entry, and the next one built as such objects); before
 *      session 17 this bench counted only the sidecars' entries (1,000,000 of the 2,000,000);
 *   5. the tree record's entries (TreeEntries) of every entry of the layout, as the pin keeps them
 *      (in a part file in DEST's temp folder: in --dest, or in a temp folder without it);
 *   6. with --dest DIR: the record written (writeTreeRecord) once the layout and the manifests are
 *      let go, as the pin writes it after the tree; the peak is reset first (clear_refs), so the
 *      line "peak while the record was written" is that step's own. DIR is made once as the
 *      layout's tree of empty files, folders and links (3.3 million entries at 1,000,000 items:
 *      ~2 minutes, ~3.3 million inodes; a marker file says it is complete), for the record to lstat.
 * Not counted: the merge itself (lazy-merge.ts: the reported photos' buckets, ~100 MB at
 * 1,000,000 items in the mount's measure), write-tree's own garbage per entry (part 5's walk
 * stands for part of it: the RSS it leaves is not held, the heap is), the sqlite3 driver's
 * pool-thread copies outside the heap. So the sum is a lower bound of such a pin's peak.
 */
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Catalog } from '../src/catalog/index.js'
import { buildLayout, PHOTO_METADATA_FORMAT } from '../src/layout/index.js'
import type { Layout, LayoutDir, LayoutNode } from '../src/layout/types.js'
import { StoreIndex, openStoreKeyv, type StoreRecord } from '../src/store/store-index.js'
import { Manifest, ManifestWriter, type CheckedFile, type ManifestEntry } from '../src/pin/manifest.js'
import { TreeEntries, writeTreeRecord } from '../src/pin/tree-record.js'
import { treeRecordPath } from '../src/util/state-paths.js'
import { benchArgs, ownRss, resetPeak } from './measure.js'

const MB = 1024 * 1024
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

let last = 0
function mark(what: string): void {
  gc?.()
  const { rss: r, hwm } = ownRss()
  const { heapUsed: heap, arrayBuffers } = process.memoryUsage()
  console.log(`${what.padEnd(58)} RSS ${(r / MB).toFixed(0).padStart(5)} MB (+${((r - last) / MB).toFixed(0).padStart(4)})  heap ${(heap / MB).toFixed(0).padStart(5)} MB  buffers ${(arrayBuffers / MB).toFixed(0).padStart(4)} MB  peak so far ${(hwm / MB).toFixed(0).padStart(5)} MB`)
  last = r
}

type Kind = LayoutNode['kind']

/** The layout's entries by folder, as write-tree meets them (on-demand folders through eachChild). */
function eachEntry(dir: LayoutDir, path: string, fn: (dir: string, name: string, kind: Kind) => void): void {
  if (dir.eachChild !== undefined && dir.name === 'photostream') {
    dir.eachChild((name, child) => fn(path, name, child.kind))
    return
  }
  for (const [name, child] of dir.children) {
    fn(path, name, child.kind)
    if (child.kind === 'dir') eachEntry(child, path === '' ? name : `${path}/${name}`, fn)
  }
  // As write-tree lets go of a folder once written (where the layout can).
  dir.release?.()
}

/**
 * DEST as the layout's tree of empty files (folders as folders, links as links to '.'), made once
 * (a marker file says it is complete): what writeTreeRecord lstats. Its entries' sizes and targets
 * are not the real ones; their number, names and kinds are, which is what the record holds.
 */
function makeTree(root: LayoutDir, dest: string): void {
  const marker = join(dest, '.flickrfs', 'pin-parts-tree')
  if (existsSync(marker)) return
  rmSync(dest, { recursive: true, force: true })
  mkdirSync(join(dest, '.flickrfs', 'tmp'), { recursive: true })
  writeFileSync(join(dest, '.flickrfs', 'manifest'), '')
  let made = 0
  const t0 = Date.now()
  eachEntry(root, '', (dir, name, kind) => {
    if (dir === '' && name === '.') return
    const path = dir === '' ? join(dest, name) : join(dest, dir, name)
    if (kind === 'dir') mkdirSync(path)
    else if (kind === 'link') symlinkSync('.', path)
    else closeSync(openSync(path, 'w'))
    if (++made % 500_000 === 0) console.log(`  made ${made} entries in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  })
  writeFileSync(marker, String(made))
}

function rootOf(layout: Layout | undefined): LayoutDir {
  if (layout === undefined) throw new Error('the layout was let go')
  return layout.root
}

async function main(): Promise<void> {
  const { args, has, text } = benchArgs()
  const root = args[0]
  if (root === undefined) throw new Error('usage: bench/pin-parts.ts ROOT')
  mark('node, the modules')
  const now = Date.now()
  const catalog = await Catalog.open(root, { readOnly: true, lazy: { sidecarFormat: PHOTO_METADATA_FORMAT, fromPhotos: 0 } })
  const view = catalog.view()
  mark(`1. catalog opened lazily (${view.photoCount} photos, ${view.sets.length} sets)`)

  // 2. The real index, read as OriginalStore.open reads it (--index-page N: rows per page; 0: all
  // at once, as before pin-1m). Filled once with a record per photo when ROOT has fewer.
  const keyv = await openStoreKeyv(root)
  const pageArg = text('index-page')
  const pageRows = pageArg === undefined ? undefined : Number(pageArg)
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
  mark(`2. the store index (${index.size} records, ${pageRows === 0 ? 'all rows at once' : `pages of ${pageRows ?? 'the default'}`})`)
  const hashOf = (id: string): StoreRecord | undefined => index.get(id)

  let layout: Layout | undefined = buildLayout(view, { hashes: { generation: () => 1, hashOf, kept: () => [] } })
  mark(`3. the layout (${layout.stats.photos} photos)`)
  // What the layout keeps of a walk (as write-tree walks it) is the layout's, not part 4's.
  let walked = 0
  eachEntry(rootOf(layout), '', () => void walked++)
  mark(`3b. the layout walked once (${walked} entries)`)

  // 4. The last pin's manifest, read as readManifest reads it; then this pin's, made beside it.
  // Every photostream/ entry as write-tree records it: sidecars with their row's version and an lstat.
  const rows = catalog.photoVersions()
  const eachManifestEntry = (top: (name: string, e: ManifestEntry) => void, entry: (name: string, id: string, version?: string, c?: CheckedFile) => void): void => {
    let n = 0
    eachEntry(rootOf(layout), '', (dir, name) => {
      if (dir === '' && name !== 'photostream') top(name, { kind: name.startsWith('Collection') ? 'collection' : 'set', id: name.split(' ')[1] ?? name })
      if (dir !== 'photostream') return
      const id = name.split('.')[0] as string
      if (!name.endsWith('.metadata')) return entry(name, id)
      entry(name, id, `${rows(id) ?? ''} ${PHOTO_METADATA_FORMAT}`, [0, 4_000_000 + n, 1500, now - n, now - n + 0.123])
      n++
    })
  }
  // In a function of their own: an async function keeps its locals (a manifest's bytes) to its end.
  let held: unknown[] = await (async (): Promise<unknown[]> => {
    if (has('json-manifest')) {
      interface JsonManifest { version: 1; top: Record<string, ManifestEntry>; photostream: Record<string, ManifestEntry>; sidecarVersions: string[] }
      const makeJson = (): JsonManifest => {
        const m: JsonManifest = { version: 1, top: {}, photostream: {}, sidecarVersions: [] }
        const versions = new Map<string, number>()
        eachManifestEntry((name, e) => (m.top[name] = e), (name, id, version, c) => {
          if (version === undefined || c === undefined) return void (m.photostream[name] = { kind: 'photo', id })
          let v = versions.get(version)
          if (v === undefined) versions.set(version, (v = versions.size))
          m.photostream[name] = { kind: 'photo', id, c: [v, c[1], c[2], c[3], c[4]] }
        })
        m.sidecarVersions = [...versions.keys()]
        return m
      }
      let text: string | undefined = JSON.stringify(makeJson())
      mark(`4a. the last manifest.json's text (${(text.length / MB).toFixed(0)} MB)`)
      const previous = JSON.parse(text) as JsonManifest
      text = undefined
      mark(`4b. parsed (${Object.keys(previous.photostream).length} entries), its text let go`)
      const next = makeJson()
      mark('4c. and this pin\'s manifest beside it, as objects')
      return [previous, next]
    } else {
      const fill = (w: ManifestWriter): void => eachManifestEntry((name, e) => (w.top[name] = e), (name, id, version, c) => {
        w.add(name, 'photo', id, version === undefined || c === undefined ? undefined : [w.versionIndex(version), c[1], c[2], c[3], c[4]])
      })
      // The writer's chunks are garbage once the bytes are joined (as the file readManifest reads).
      const lastBytes = (): Buffer => {
        const made = new ManifestWriter(undefined)
        fill(made)
        return made.bytes()
      }
      let bytes: Buffer | undefined = lastBytes()
      const size = bytes.length
      mark(`4a. the last manifest's bytes (${(size / MB).toFixed(0)} MB)`)
      const previous = Manifest.fromBytes(bytes, 'the last manifest')
      bytes = undefined
      mark(`4b. read as readManifest reads it (${previous.size} entries, ${previous.sidecarVersions.length} versions)`)
      let found = 0
      eachManifestEntry(() => undefined, (name) => void (found += previous.find(name) === -1 ? 0 : 1))
      if (found !== previous.size) throw new Error(`found ${found} of ${previous.size} entries`)
      // This pin's, written to a file as write-tree walks the tree (pin-run.ts ManifestWriter.open).
      const dest = await mkdtemp(join(tmpdir(), 'flickrfs-pin-parts-'))
      await mkdir(join(dest, '.flickrfs', 'tmp'), { recursive: true })
      const next = await ManifestWriter.open(dest)
      fill(next)
      mark('4c. and this pin\'s manifest beside it, written as it goes')
      await next.discard()
      await rm(dest, { recursive: true, force: true })
      return [previous]
    }
  })()

  // On disk as the pin keeps them (TreeEntries.open): in --dest, made first, or in a temp folder.
  const destArg = text('dest')
  const dest = destArg ?? (await mkdtemp(join(tmpdir(), 'flickrfs-pin-parts-')))
  if (destArg === undefined) await mkdir(join(dest, '.flickrfs', 'tmp'), { recursive: true })
  else makeTree(rootOf(layout), dest)
  const entries = await TreeEntries.open(dest)
  let count = 0
  eachEntry(rootOf(layout), '', (dir, name) => {
    entries.add(dir, name)
    count++
  })
  mark(`5. the tree record's entries (${count})`)
  console.log(`held: ${[catalog, index.generation, layout.stats, ...held, entries].length} parts`)

  // 6. The record, written once the tree is (pin-run.ts): the layout and both manifests are
  // garbage by then; the catalog, the store index and the record's entries are held.
  if (destArg === undefined) {
    console.log('6. not measured: the record needs a DEST whose entries exist (--dest DIR)')
    await entries.discard()
    await rm(dest, { recursive: true, force: true })
  } else {
    held = []
    layout = undefined
    mark('6a. the layout and the manifests let go (what the record starts from)')
    resetPeak()
    const t0 = process.cpuUsage()
    await writeTreeRecord(dest, 'pin-parts', entries, { originals: 0, files: count, ignored: { photos: 0, videos: 0 } })
    const cpu = process.cpuUsage(t0)
    const { hwm } = ownRss()
    const size = existsSync(treeRecordPath(dest)) ? statSync(treeRecordPath(dest)).size : 0
    mark(`6b. the record written (${(size / MB).toFixed(0)} MB, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU)`)
    console.log(`peak while the record was written: ${(hwm / MB).toFixed(0)} MB (${size === 0 ? 'NO RECORD' : 'record written'})`)
    await entries.discard()
  }
  await keyv.disconnect()
  await catalog.close()
}

await main()
