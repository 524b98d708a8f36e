/**
 * Test-only: the live mount of a cache root in its own process (reading a mount from the process
 * that serves it deadlocks), its store opened only when the parent says so: a mount whose store
 * index takes as long to read as the test wants. Usage: serve-live.ts ROOT MNT [online] (online:
 * Flickr from the environment, as `flickrfs mount` finds it). Prints "READY" once mounted; the stdin
 * line "open" lets the store open; exits once unmounted (SIGTERM), with runUntilSignal's status.
 */
import { createInterface } from 'node:readline'
import { openFlickr } from '../../src/flickr/index.js'
import { startLiveMount } from '../../src/service/live-mount.js'
import { runServer, serveUntilSignal } from '../support/serve.js'

async function main(): Promise<number> {
  const [root, mountpoint, mode] = process.argv.slice(2)
  if (!root || !mountpoint) throw new Error('usage: serve-live.ts ROOT MNT [online]')
  let open!: () => void
  const storeOpensAfter = new Promise<void>((res) => (open = res))
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    if (line === 'open') open()
  })
  const flickr = mode === 'online' ? await openFlickr({ env: process.env }) : undefined
  const live = await startLiveMount({
    mountpoint,
    root,
    ...(flickr ? { remote: { api: flickr.client, media: flickr.media } } : {}),
    refreshEveryMs: 0,
    storeOpensAfter,
  })
  return serveUntilSignal(live.handle, rl, () => live.close())
}

runServer(main)
