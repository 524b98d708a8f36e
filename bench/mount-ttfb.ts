/**
 * Time to first byte of an uncached original through `flickrfs mount` (fresh cache, the fake's
 * media answering after a configured latency) against: the configured latency, `curl` of the same
 * original straight from the fake (its time to first byte), and `head -c 1` of a local file (the
 * cost of the measuring process itself). Also one 20 MB original: the first byte must not wait for
 * the whole download.
 *   node --import tsx bench/mount-ttfb.ts [RUNS] [LATENCY_MS]   (median of RUNS runs of 10 files; 3, 50)
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mediaServerPath } from '../src/fake-flickr/records.js'
import { cliEnv, mediaName, startFake } from '../test/pin/helpers.js'
import { MountLab } from '../test/support/mount-lab.js'
import { fuseUnusableReason } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 3)
const LATENCY_MS = Number(process.argv[3] ?? 50)
const PER_RUN = 10

async function firstByteMs(path: string): Promise<number> {
  const r = await run('head', ['-c', '1', path])
  if (r.code !== 0 || r.stdout.length !== 1) throw new Error(`head -c 1 ${path}: ${r.stderr}`)
  return r.ms
}

async function curlTtfbMs(url: string): Promise<number> {
  const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{time_starttransfer}', url])
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.stderr}`)
  return Number(r.stdout) * 1000
}

async function main(): Promise<void> {
  const skip = await fuseUnusableReason()
  if (skip) return void console.log(`skipped: ${skip}`)
  const lab = await MountLab.create('flickrfs-bench-ttfb-')
  const fake = await startFake({ seed: 9, photos: RUNS * PER_RUN * 2 + 10, videos: 0, sets: 2, collections: 0, meanPhotoBytes: 2_000_000 })
  try {
    const big = fake.account.addPhoto({ title: 'big', originalformat: 'jpg', bytes: 20_000_000 })
    const env = cliEnv(fake, await lab.mkdir('config'), { XDG_RUNTIME_DIR: await lab.mkdir('run'), FLICKRFS_API_RATE: '100000' })
    const mnt = await lab.mkdir('mnt')
    const server = await lab.mount(mnt, ['--cache', await lab.mkdir('cache'), '--refresh', '0'], env)
    fake.faults.mediaLatencyMs = LATENCY_MS
    const local = join(lab.dir, 'local.bin')
    await writeFile(local, 'x'.repeat(4096))
    const ids = fake.account.photostream.filter((id) => id !== big.id)
    const r: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (r[k] ??= []).push(v)
    for (let i = 0; i < RUNS; i++) {
      const viaMount: number[] = []
      const viaCurl: number[] = []
      const spawnCost: number[] = []
      for (let j = 0; j < PER_RUN; j++) {
        const a = ids[(i * PER_RUN + j) * 2] ?? ''
        const b = ids[(i * PER_RUN + j) * 2 + 1] ?? ''
        viaMount.push(await firstByteMs(join(mnt, 'photostream', mediaName(fake.account, a))))
        viaCurl.push(await curlTtfbMs(fake.origin + mediaServerPath(fake.account.requirePhoto(b))))
        spawnCost.push(await firstByteMs(local))
      }
      add('mount', median(viaMount))
      add('curl', median(viaCurl))
      add('local', median(spawnCost))
    }
    const bigMs = await firstByteMs(join(mnt, 'photostream', mediaName(fake.account, big.id)))
    const whole = await run('cat', [join(mnt, 'photostream', mediaName(fake.account, big.id))])
    await lab.stop(server, mnt)
    const m = (k: string): number => median(r[k] ?? [])
    console.log(`media latency configured: ${LATENCY_MS} ms; originals ~2 MB`)
    console.log(`first byte through the mount (head -c 1, uncached): ${m('mount').toFixed(1)} ms = x${(m('mount') / LATENCY_MS).toFixed(2)} the latency`)
    console.log(`curl straight from the fake (time_starttransfer): ${m('curl').toFixed(1)} ms; head -c 1 of a local file: ${m('local').toFixed(1)} ms`)
    console.log(`flickrfs overhead over curl: ${(m('mount') - m('curl') - m('local')).toFixed(1)} ms (mount - curl - local spawn)`)
    console.log(`20 MB original: first byte ${bigMs.toFixed(1)} ms, whole file (now cached or downloading) ${whole.ms.toFixed(1)} ms`)
    console.log(`runs (medians of ${PER_RUN} files): ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x * 10) / 10)])))}`)
  } finally {
    fake.faults.mediaLatencyMs = 0
    await lab.cleanup()
    await fake.close()
  }
}

await main()
