/**
 * Catalog benchmark: an account of 100,000 items and 2,000 sets served by the fake Flickr (in its
 * own process, so its CPU and memory are not counted as ours).
 *
 *   node --import tsx bench/catalog.ts [--items 100000] [--sets 2000] [--runs 3]
 *
 * Each run measures, with a baseline taken in the same run:
 *   first refresh   vs  the listing calls alone (photostream, set list, every set, tree) through the same client
 *   no-change refresh  vs  the same listing baseline
 *   load on restart (fresh process, Catalog.open)  vs  readFile + JSON.parse of the same data as one JSON file
 *   RSS after that load  vs  a bare `node --import tsx` process
 * The API rate limit is raised (ratePerSec 100000, burst 100000, 16 in flight): at the default
 * 1 call/s after a 3000 burst the ~9,000 calls of a first sync would take hours.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Catalog } from '../src/catalog/index.js'
import { photoSidecarSizer } from '../src/layout/index.js'
import { generateAccount, startFakeFlickr, type FakeCredentials } from '../src/fake-flickr/index.js'
import { FlickrClient, MediaClient } from '../src/flickr/index.js'
import { benchArgs, median } from './measure.js'

const self = fileURLToPath(import.meta.url)
const { args, number } = benchArgs()

function child(extra: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child ${extra.join(' ')} exited ${code}`))))
  })
}


async function serve(items: number, sets: number): Promise<void> {
  const videos = Math.round(items * 0.02)
  const account = generateAccount({ seed: 42, photos: items - videos, videos, sets, collections: 20, commentedFraction: 0.05 })
  const fake = await startFakeFlickr({ account })
  process.stdout.write(`${JSON.stringify({ origin: fake.origin, credentials: fake.credentials })}\n`)
  // Serve until the parent closes our stdin.
  await new Promise<void>((resolve) => process.stdin.on('end', resolve).resume())
  await fake.close()
}

async function loadOnce(root: string): Promise<void> {
  const t0 = performance.now()
  const catalog = await Catalog.open(root)
  const ms = performance.now() - t0
  const photos = catalog.snapshot().photos.size
  globalThis.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  process.stdout.write(JSON.stringify({ ms, rss, heapUsed, photos }))
  await catalog.close()
}

/** The baseline of a load: the same data as one JSON file, read and parsed, nothing else. */
async function parseOnce(jsonFile: string): Promise<void> {
  const t0 = performance.now()
  const data = JSON.parse(await readFile(jsonFile, 'utf8')) as { photos: unknown[] }
  const ms = performance.now() - t0
  globalThis.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  process.stdout.write(JSON.stringify({ ms, rss, heapUsed, photos: data.photos.length }))
}

/** The same data the catalog stores, as one JSON file (the load baseline). */
async function dumpJson(catalog: Catalog, file: string): Promise<void> {
  const s = catalog.snapshot()
  await writeFile(file, JSON.stringify({
    photos: [...s.photos.values()].map((p) => ({ r: p.raw, c: p.changedAtMs, m: s.comments.get(p.id), e: s.media.get(`${p.id}_${p.secret}`) })),
    photostream: s.photostream, sets: s.sets, collections: s.collections,
  }))
}

async function run(items: number, sets: number): Promise<Record<string, number>> {
  const fakeProc = spawn(process.execPath, ['--import', 'tsx', self, '--serve', '--items', String(items), '--sets', String(sets)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolve) => createInterface({ input: fakeProc.stdout }).once('line', resolve))
  const { origin, credentials } = JSON.parse(line) as { origin: string; credentials: FakeCredentials }
  const root = await mkdtemp(join(tmpdir(), 'flickrfs-bench-catalog-'))
  try {
    const client = new FlickrClient({ ...credentials, apiOrigin: origin, ratePerSec: 100_000, burst: 100_000, concurrency: 16 })
    const media = new MediaClient()
    const opts = { apiConcurrency: 32, mediaConcurrency: 64 }

    const listing = async (): Promise<number> => {
      const t0 = performance.now()
      const userId = (await client.testLogin()).id
      const [, list] = await Promise.all([client.getPhotostream(['url_o']), client.getSetList(), client.getCollectionTree()])
      let i = 0
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (i < list.length) await client.getSetPhotos(String(list[i++]?.id), userId)
      }))
      return performance.now() - t0
    }

    // As the mount and pin open it: a writable catalog saves its sidecars' lengths.
    const catalog = await Catalog.open(root, { sidecarSizer: photoSidecarSizer })
    const t0 = performance.now()
    const first = await catalog.refresh(client, media, opts)
    const firstMs = performance.now() - t0
    const rssAfterRefresh = process.memoryUsage().rss
    const t1 = performance.now()
    const second = await catalog.refresh(client, media, opts)
    const noChangeMs = performance.now() - t1
    if (second.changed || second.media.resolved > 0) throw new Error('no-change refresh changed something')
    const listingMs = await listing()
    const jsonFile = join(root, 'baseline.json')
    await dumpJson(catalog, jsonFile)
    await catalog.close()

    type Measured = { ms: number; rss: number; heapUsed: number; photos: number }
    const load = JSON.parse(await child(['--load', root])) as Measured
    const parse = JSON.parse(await child(['--parse', jsonFile])) as Measured
    if (load.photos !== items || parse.photos !== items) throw new Error(`loaded ${load.photos}/${parse.photos} photos, expected ${items}`)
    const bareRss = Number(await child(['--bare']))
    return {
      firstMs, listingMs, noChangeMs, loadMs: load.ms, jsonParseMs: parse.ms, rss: load.rss, heapUsed: load.heapUsed,
      jsonRss: parse.rss, jsonHeapUsed: parse.heapUsed, bareRss, rssAfterRefresh,
      apiCallsFirst: Object.values(first.clientCalls).reduce((a, b) => a + b, 0),
    }
  } finally {
    fakeProc.stdin.end()
    await new Promise((r) => fakeProc.on('exit', r))
    await rm(root, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  if (args[0] === '--serve') return serve(number('items', 100_000), number('sets', 2000))
  if (args[0] === '--load') return loadOnce(args[1] as string)
  if (args[0] === '--parse') return parseOnce(args[1] as string)
  if (args[0] === '--bare') {
    process.stdout.write(String(process.memoryUsage().rss))
    return
  }
  const items = number('items', 100_000)
  const sets = number('sets', 2000)
  const runs = number('runs', 3)
  const results: Record<string, number>[] = []
  for (let r = 0; r < runs; r++) {
    const res = await run(items, sets)
    results.push(res)
    console.error(`run ${r + 1}: ${JSON.stringify(res)}`)
  }
  const m = (k: string): number => median(results.map((x) => x[k] as number))
  const mb = (b: number): string => `${(b / 1048576).toFixed(0)} MB`
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
  console.log(`catalog bench: ${items} items, ${sets} sets, median of ${runs} runs`)
  console.log(`first refresh      ${s(m('firstMs'))}  baseline listing calls alone ${s(m('listingMs'))}  ratio ${(m('firstMs') / m('listingMs')).toFixed(2)}`)
  console.log(`no-change refresh  ${s(m('noChangeMs'))}  baseline listing calls alone ${s(m('listingMs'))}  ratio ${(m('noChangeMs') / m('listingMs')).toFixed(2)}`)
  console.log(`load on restart    ${s(m('loadMs'))}  baseline JSON.parse of one file ${s(m('jsonParseMs'))}  ratio ${(m('loadMs') / m('jsonParseMs')).toFixed(2)}`)
  console.log(`RSS after load     ${mb(m('rss'))}  baseline bare node ${mb(m('bareRss'))}  ratio ${(m('rss') / m('bareRss')).toFixed(2)}`)
  console.log(`                   baseline JSON.parse of one file ${mb(m('jsonRss'))}  ratio ${(m('rss') / m('jsonRss')).toFixed(2)}`)
  console.log(`heap used after load ${mb(m('heapUsed'))}  baseline JSON.parse of one file ${mb(m('jsonHeapUsed'))}  ratio ${(m('heapUsed') / m('jsonHeapUsed')).toFixed(2)}`)
  console.log(`RSS after refresh  ${mb(m('rssAfterRefresh'))} (refresh process); API calls in first refresh ${m('apiCallsFirst')}`)
}

await main()
