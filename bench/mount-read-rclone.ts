/**
 * Mount benchmark against a reference: sequential `dd bs=1M` of a 100 MB file through flickrfs's
 * FUSE layer (served from a child process, as in bench/mount-read.ts) and through
 * `rclone mount --vfs-cache-mode full --read-only` of the same local folder, and of the file itself.
 * Skipped (exit 0) when rclone is not installed or FUSE is unusable.
 *
 * Each run mounts both afresh (rclone with an empty cache dir each time) and measures, per mount:
 *   - first read, cold: page cache dropped (`echo 1 > /proc/sys/vm/drop_caches`, needs root) just
 *     before, so the backing file comes from disk, as a first read of a new original would;
 *   - first read, backing warm: a second fresh mount with the backing file in the page cache, so only
 *     the filesystem's own path is measured (what bench/mount-read.ts calls "first read");
 *   - again: a second read on the same mount (kernel page cache and/or rclone's VFS cache).
 * No warm-up read: any data read would fill the kernel's cache for that mount (and rclone's VFS
 * cache), so the "first read" would not be one; both mounts are only waited for (mounted, and a
 * stat of the file answered) before timing. The order flickrfs/rclone alternates between runs.
 *   node --import tsx bench/mount-read-rclone.ts [RUNS]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FixtureLab } from '../test/fs/harness.js'
import { forceUnmount, fuseUnusableReason, isMounted } from '../test/support/mounts.js'
import { run } from '../test/support/run.js'
import { ddMBps, median } from './measure.js'

const RUNS = Number(process.argv[2] ?? 3)
const SIZE = 100 * 1024 * 1024
/** The name in the backing folder, which is also what flickrfs's fixture reads for original 'big', ext 'mov'. */
const FILE = 'big.mov'

async function dropPageCache(): Promise<void> {
  await run('sync', [])
  await writeFile('/proc/sys/vm/drop_caches', '1\n')
}

async function rcloneInstalled(): Promise<boolean> {
  return (await run('rclone', ['version'])).code === 0
}

/** A mount whose file has answered stat with its full size; stop() unmounts and ends the server. */
interface Mounted {
  file: string
  stop(): Promise<void>
}

async function waitForFile(path: string, isUp: () => Promise<boolean>, what: () => string): Promise<void> {
  const t0 = Date.now()
  for (;;) {
    if (await isUp()) {
      const st = await stat(path).catch(() => undefined)
      if (st?.size === SIZE) return
    }
    if (Date.now() - t0 > 30_000) throw new Error(`mount did not come up: ${what()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function stopChild(child: ChildProcess, mnt: string): Promise<void> {
  const exited = new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res()
    else child.once('exit', () => res())
  })
  await run('fusermount', ['-u', '-z', mnt])
  child.kill('SIGTERM')
  const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))])
  if (!done) child.kill('SIGKILL')
  await forceUnmount(mnt)
}

async function mountFlickrfs(ws: FixtureLab, name: string): Promise<Mounted> {
  const mnt = await ws.mkdir(name)
  const s = await ws.serve({ mountpoint: mnt, tree: { photostream: { dir: { [FILE]: { original: 'big', ext: 'mov' } } } } })
  const file = join(mnt, 'photostream', FILE)
  const stop = (): Promise<void> => stopChild(s.child, mnt)
  try {
    await waitForFile(file, () => isMounted(mnt), () => s.stderr())
  } catch (err) {
    await stop()
    throw err
  }
  return { file, stop }
}

async function mountRclone(ws: FixtureLab, source: string, name: string, config: string): Promise<Mounted> {
  const mnt = await ws.mkdir(name)
  // A new cache dir per mount: a cache left by an earlier mount would make its "first read" a cache hit.
  const cacheDir = await mkdtemp(join(ws.dir, `rclone-cache-${name}-`))
  const child = spawn(
    'rclone',
    ['mount', source, mnt, '--vfs-cache-mode', 'full', '--read-only', '--cache-dir', cacheDir, '--config', config],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  const stop = (): Promise<void> => stopChild(child, mnt)
  try {
    await waitForFile(join(mnt, FILE), () => isMounted(mnt), () => `rclone exit=${child.exitCode} stderr=${err}`)
  } catch (e) {
    await stop()
    throw e
  }
  return { file: join(mnt, FILE), stop }
}

async function main(): Promise<void> {
  if (!(await rcloneInstalled())) {
    console.log('rclone not installed, skipped')
    return
  }
  const skip = await fuseUnusableReason()
  if (skip) {
    console.log(`skipped: ${skip}`)
    return
  }
  const ws = await FixtureLab.create('flickrfs-bench-rclone-')
  const mounts: Mounted[] = []
  const mount = async (m: Promise<Mounted>): Promise<Mounted> => {
    const got = await m
    mounts.push(got)
    return got
  }
  const unmount = async (m: Mounted): Promise<void> => {
    mounts.splice(mounts.indexOf(m), 1)
    await m.stop()
  }
  try {
    await mkdir(ws.backing, { recursive: true })
    const backingFile = join(ws.backing, FILE)
    await writeFile(backingFile, randomBytes(SIZE))
    // Empty config: rclone must never read a user's config; the source is a plain local path.
    const config = join(ws.dir, 'rclone.conf')
    await writeFile(config, '')
    const results: Record<string, number[]> = {}
    const add = (k: string, v: number): void => void (results[k] ??= []).push(v)
    const kinds = {
      flickrfs: (n: string) => mountFlickrfs(ws, n),
      rclone: (n: string) => mountRclone(ws, ws.backing, n, config),
    }
    for (let i = 0; i < RUNS; i++) {
      await dropPageCache()
      add('backing cold', await ddMBps(backingFile, SIZE))
      add('backing warm', await ddMBps(backingFile, SIZE))
      const order = i % 2 === 0 ? (['flickrfs', 'rclone'] as const) : (['rclone', 'flickrfs'] as const)
      for (const kind of order) {
        const m1 = await mount(kinds[kind](`${kind}-cold-${i}`))
        await dropPageCache()
        add(`${kind} first cold`, await ddMBps(m1.file, SIZE))
        add(`${kind} again`, await ddMBps(m1.file, SIZE))
        await unmount(m1)
        // The backing file is now in the page cache (it was just read through this mount).
        await ddMBps(backingFile, SIZE)
        const m2 = await mount(kinds[kind](`${kind}-warm-${i}`))
        add(`${kind} first, backing warm`, await ddMBps(m2.file, SIZE))
        await unmount(m2)
      }
    }
    const med = (k: string): number => median(results[k] ?? [])
    const rclone = (await run('rclone', ['version'])).stdout.split('\n')[0] ?? ''
    console.log(`flickrfs vs ${rclone} mount --vfs-cache-mode full, dd bs=1M of 100 MB, MB/s, median of ${RUNS} runs`)
    for (const [k, v] of Object.entries(results)) {
      console.log(`${k.padEnd(30)} ${med(k).toFixed(1).padStart(9)}   runs: ${v.map((x) => x.toFixed(1)).join(', ')}`)
    }
    const ratio = (a: string, b: string): string => `${(med(a) / med(b)).toFixed(2)}`
    console.log(`flickrfs/rclone  first cold ${ratio('flickrfs first cold', 'rclone first cold')}` +
      `  first backing warm ${ratio('flickrfs first, backing warm', 'rclone first, backing warm')}` +
      `  again ${ratio('flickrfs again', 'rclone again')}`)
    console.log(`flickrfs/backing first cold ${ratio('flickrfs first cold', 'backing cold')}` +
      `  first backing warm ${ratio('flickrfs first, backing warm', 'backing warm')}` +
      `  again ${ratio('flickrfs again', 'backing warm')}`)
    console.log(`rclone/backing   first cold ${ratio('rclone first cold', 'backing cold')}` +
      `  first backing warm ${ratio('rclone first, backing warm', 'backing warm')}` +
      `  again ${ratio('rclone again', 'backing warm')}`)
  } finally {
    for (const m of mounts.splice(0)) await m.stop()
    await ws.cleanup()
  }
}

await main()
