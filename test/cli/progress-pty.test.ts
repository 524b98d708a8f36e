/**
 * `flickrfs pin` on a real pseudo-terminal at 80 and 200 columns against the fake (slowed so the
 * run lasts a few seconds): the status line never outgrows the terminal (a wrapped line cannot be
 * cleared in place), is redrawn at most ~10 times a second, shows no rate or ETA while the listing
 * still grows the totals, and a run that changes nothing says so in one line.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, removeDir, startFake } from '../pin/helpers.js'
import { frames, mostFramesWithin, runCliInPty, widestRow, type PtyRun } from '../support/pty.js'
import { tempDir } from '../support/repo.js'

const ITEMS = 200
const SETS = 8

void describe('pin progress on a terminal', () => {
  let fake: FakeFlickr
  let work: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    fake = await startFake({ seed: 31, photos: ITEMS - 4, videos: 4, sets: SETS, collections: 2 })
    work = await tempDir('flickrfs-progress-')
    env = cliEnv(fake, join(work, 'config'))
  })
  after(async () => {
    await fake.close()
    await removeDir(work)
  })

  const slowPin = async (cols: number): Promise<PtyRun> => {
    fake.faults.apiLatencyMs = 15
    fake.faults.mediaLatencyMs = 80
    try {
      return await runCliInPty(['pin', '--concurrency', '2', join(work, `dest-${cols}`)], env, cols)
    } finally {
      fake.faults.clear()
    }
  }

  const checkRun = (run: PtyRun, cols: number): void => {
    const shown = frames(run)
    const where = `at ${cols} columns:\n${shown.slice(-3).map((f) => f.text).join('\n')}`
    assert.equal(run.code, 0, run.text)
    assert.ok(shown.length >= 10, `${shown.length} status lines drawn ${where}`)
    // Up to the last clear: every status line (the summary after it is a plain line, free to wrap).
    const drawn = run.text.slice(0, run.text.lastIndexOf('\r\x1b[K'))
    assert.ok(widestRow(drawn) <= cols, `a row of ${widestRow(drawn)} characters ${where}`)
    for (const f of shown) assert.ok(f.text.length < cols, `"${f.text}" is ${f.text.length} wide ${where}`)

    const listing = shown.filter((f) => f.text.startsWith('Listing'))
    assert.ok(listing.length > 0, `a listing phase is shown ${where}`)
    for (const f of listing) assert.doesNotMatch(f.text, /ETA|\/s\b|\[[#-]+\]/, `no bar, rate or ETA while listing: "${f.text}"`)
    assert.ok(shown.some((f) => /\d+\/\d+ items/.test(f.text)), `a downloading line ${where}`)

    const most = mostFramesWithin(shown)
    const seconds = ((shown.at(-1)?.t ?? 0) - (shown[0]?.t ?? 0)) / 1000
    assert.ok(most <= 12, `${most} redraws within one second ${where}`)
    assert.ok(shown.length <= 10 * seconds + 3, `${shown.length} redraws in ${seconds.toFixed(1)} s`)
    assert.match(run.text, new RegExp(`Pinned ${ITEMS} items into .*: ${ITEMS} downloaded`))
  }

  void test('at 80 columns the line fits, is throttled, and shows no ETA while listing', async () => {
    checkRun(await slowPin(80), 80)
  })

  void test('at 200 columns the downloading line gets a bar, a rate and an ETA once they mean something', async () => {
    const run = await slowPin(200)
    checkRun(run, 200)
    const shown = frames(run)
    const firstDownload = shown.find((f) => /\d+\/\d+ items/.test(f.text))
    const withEta = shown.filter((f) => /ETA \d+:\d\d/.test(f.text))
    assert.ok(withEta.length > 0, `an ETA appears in a long enough download:\n${shown.map((f) => `${f.t} ${f.text}`).join('\n')}`)
    for (const f of withEta) {
      assert.match(f.text, /^\[[#-]{30}\] \d+\/\d+ items {2}[\d.]+ [KMG]?B\/[\d.]+ [KMG]?B {2}[\d.]+ [KMG]?B\/s {2}ETA/)
      assert.ok(f.t - (firstDownload?.t ?? 0) >= 2500, `no ETA before the download has run ~3 s (${f.t - (firstDownload?.t ?? 0)} ms)`)
    }
  })

  void test('after the last original, the line counts the comments still to fetch and how long they take at the limit', async () => {
    // A first sync's comments come last, at the key's rate (hours at Flickr's): the limiter here is
    // Flickr's shape, faster (a burst of 5, then 8 calls a second), and the originals come at once.
    const run = await runCliInPty(['pin', join(work, 'dest-calls')], { ...env, FLICKRFS_API_BURST: '5', FLICKRFS_API_RATE: '8' }, 100)
    assert.equal(run.code, 0, run.text)
    const shown = frames(run)
    const commented = fake.account.commented().length
    const left = shown.flatMap((f) => {
      const m = new RegExp(`^(?:\\[[#-]+\\] )?${ITEMS}/${ITEMS} items {2}comments (\\d+)/(\\d+)(.*)$`).exec(f.text)
      return m ? [{ done: Number(m[1]), total: Number(m[2]), rest: m[3] ?? '', text: f.text }] : []
    })
    const where = shown.slice(-8).map((f) => f.text).join('\n')
    assert.ok(left.length >= 3, `${left.length} lines with every original down and comments left:\n${where}`)
    for (const l of left) {
      assert.equal(l.total, commented, l.text)
      assert.ok(l.done < l.total, l.text)
      assert.doesNotMatch(l.text, /\/s\b|ETA/, 'no download rate once nothing downloads')
    }
    assert.ok((left.at(-1)?.done ?? 0) > (left[0]?.done ?? 0), `the count moves:\n${where}`)
    assert.ok(left.some((l) => /, (under a minute|about \d+ min) at Flickr's limit/.test(l.rest)), `an estimate at the key's budget:\n${where}`)
    assert.match(run.text, new RegExp(`Pinned ${ITEMS} items into .*: ${ITEMS} downloaded`))
  })

  void test('a run that changes nothing says what it checked in one line, with no rate or ETA', async () => {
    const dest = join(work, 'dest-80')
    const run = await runCliInPty(['pin', dest], env, 80)
    assert.equal(run.code, 0, run.text)
    // What stays on the screen: everything after the status line's last clear.
    const text = run.text.slice(run.text.lastIndexOf('\r\x1b[K') + 4)
    assert.equal(text.trim(), `Checked ${ITEMS} items, ${SETS} sets: nothing changed; ${/(\d+ API calls?)/.exec(text)?.[1]}, ${/(\d+:\d\d)\.\s*$/.exec(text)?.[1]}.`)
    assert.doesNotMatch(run.text, /ETA|\/s\b/)
  })
})
