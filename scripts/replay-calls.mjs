// The REST calls of a recorded run, made again by a fresh Node process that does nothing else:
// what any Node program that makes those calls costs, its own start included. bench/pin.ts runs it
// after each no-change pin (the pin's own start is in the pin's time, so its calls alone are timed
// with one too). It takes FLICKRFS_BENCH_REPLAY, JSON of { origin, credentials, calls } (calls as the
// fake logs them: method, params, arrivedMs, answeredMs), and asks them through flickrfs's own client
// (dist/, built), as bench/pin.ts's in-process replay does: as many at a time as the client allows
// by default, each once every call answered before it arrived in the run is answered again (a set's
// members still wait for the set list). It writes nothing but the count of calls made.
// Plain JavaScript loading dist/ so that it starts as bin/flickrfs does, without tsx (hence in scripts/).
const { origin, credentials, calls } = JSON.parse(process.env.FLICKRFS_BENCH_REPLAY ?? '{}')
const { FlickrClient } = await import(new URL('../dist/flickr/index.js', import.meta.url).href)
const api = new FlickrClient({ ...credentials, apiOrigin: origin, ratePerSec: 1000 })
const sorted = [...calls].sort((x, y) => x.arrivedMs - y.arrivedMs)
const finish = []
const done = sorted.map((_, i) => new Promise((resolve) => (finish[i] = resolve)))
await Promise.all(sorted.map(async (c, i) => {
  await Promise.all(done.filter((_, j) => j !== i && sorted[j].answeredMs <= c.arrivedMs))
  await api.call(c.method, c.params)
  finish[i]()
}))
process.stdout.write(`${sorted.length}\n`)
