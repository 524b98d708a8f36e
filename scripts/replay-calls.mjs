// The REST calls of a recorded run, made again by a fresh Node process that does nothing else:
// what any Node program that makes those calls costs, its own start included. bench/pin.ts runs it
// after each no-change pin (the pin's own start is in the pin's time, so its calls alone are timed
// with one too), and replays the same calls from its own process with `replay` below. Run, it takes
// FLICKRFS_BENCH_REPLAY, JSON of { origin, credentials, calls } (calls as the fake logs them:
// method, params, arrivedMs, answeredMs), asks them through flickrfs's own client (dist/, built)
// and writes nothing but the count of calls made.
// Plain JavaScript loading dist/ so that it starts as bin/flickrfs does, without tsx (hence in scripts/).
import { pathToFileURL } from 'node:url'

/**
 * Asks `calls` again through `api` (a FlickrClient): as many at a time as the client allows by
 * default, each once every call answered before it arrived in the run is answered again (a set's
 * members still wait for the set list). Resolves to the number of calls made.
 */
export async function replay(api, calls) {
  const sorted = [...calls].sort((x, y) => x.arrivedMs - y.arrivedMs)
  const finish = []
  const done = sorted.map((_, i) => new Promise((resolve) => (finish[i] = resolve)))
  await Promise.all(sorted.map(async (c, i) => {
    await Promise.all(done.filter((_, j) => j !== i && sorted[j].answeredMs <= c.arrivedMs))
    await api.call(c.method, c.params)
    finish[i]()
  }))
  return sorted.length
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { origin, credentials, calls } = JSON.parse(process.env.FLICKRFS_BENCH_REPLAY ?? '{}')
  const { FlickrClient } = await import(new URL('../dist/flickr/index.js', import.meta.url).href)
  const made = await replay(new FlickrClient({ ...credentials, apiOrigin: origin, ratePerSec: 1000 }), calls)
  process.stdout.write(`${made}\n`)
}
