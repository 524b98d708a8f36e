/**
 * bin/flickrfs starts a pin's tree check before commander has read the command line
 * (src/cli/early-pin.ts): DEST is the first argument that is neither an option nor the value of
 * one. The options that take a value must all be known there, or their value would be taken for
 * DEST (a check of the wrong folder, which pin does not take: slower, never wrong). For a DEST
 * pinned before it also makes the clients and asks the set list, which pin takes (the fake Flickr
 * over HTTP counts the calls).
 */
import { after, before, describe, it, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { buildProgram, main } from '../../src/cli/main.js'
import { claimEarlyClients, destOfPinArgs, lastSetCount, PIN_VALUE_OPTIONS, startEarlyPin } from '../../src/cli/early-pin.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'
import { lastPinPath, treeRecordPath } from '../../src/util/state-paths.js'
import { tempDir } from '../support/repo.js'

const io = { stdout: process.stdout, stderr: process.stderr }

void test('every option of pin that takes a value is known to the early DEST', async () => {
  const program = await buildProgram(io, ['pin'])
  const pin = program.commands.find((c) => c.name() === 'pin')
  assert.ok(pin !== undefined)
  const taking = [...program.options, ...pin.options].filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined)
  assert.ok(taking.includes('--concurrency') && taking.includes('--env-file'), `options with a value: ${taking.join(' ')}`)
  for (const flag of taking) assert.ok(PIN_VALUE_OPTIONS.has(flag), `${flag} takes a value`)
})

void test('DEST is the first argument that is neither an option nor an option\'s value', () => {
  assert.equal(destOfPinArgs(['/srv/m']), '/srv/m')
  assert.equal(destOfPinArgs(['-q', '--concurrency', '4', 'dest', 'extra']), 'dest')
  assert.equal(destOfPinArgs(['--concurrency=4', '--cookies', 'c.txt', '-qs', 'dest']), 'dest')
  assert.equal(destOfPinArgs(['--env-file', 'f', '--full-listing-every', '7d', '--api-rate', '2', 'd']), 'd')
  assert.equal(destOfPinArgs(['--', '-odd-name']), '-odd-name')
  assert.equal(destOfPinArgs(['--help']), undefined)
  assert.equal(destOfPinArgs([]), undefined)
})

class Capture extends Writable {
  text = ''
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString()
    cb()
  }
}

void describe('a pin of a DEST pinned before asks the set list as the process starts', () => {
  let fake: FakeFlickr
  let work: string
  let pinned: string
  let env: Record<string, string>
  const listCalls = (): number => fake.counts()['flickr.photosets.getList'] ?? 0
  const asked = async (): Promise<number> => {
    const deadline = Date.now() + 5_000
    while (listCalls() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    return listCalls()
  }

  before(async () => {
    fake = await startFakeFlickr({ account: generateAccount({ seed: 9, photos: 12, videos: 1, sets: 3, collections: 1 }) })
    work = await tempDir()
    pinned = join(work, 'pinned')
    // A record of a pin's tree (too small for the check's worker: only its presence counts here).
    await mkdir(join(pinned, '.flickrfs'), { recursive: true })
    await writeFile(treeRecordPath(pinned), 'x')
    env = {
      FLICKRFS_CONFIG_DIR: join(work, 'config'),
      FLICKRFS_API_ORIGIN: fake.origin,
      FLICKR_API_KEY: fake.credentials.apiKey,
      FLICKR_API_SECRET: fake.credentials.apiSecret,
      FLICKR_OAUTH_TOKEN: fake.credentials.oauthToken,
      FLICKR_OAUTH_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
    }
  })
  after(async () => {
    await fake.close()
    await rm(work, { recursive: true, force: true })
  })

  void it('before pin takes the clients, whose getSetList then answers with it; taken once, by the same env only', async () => {
    fake.resetCounts()
    await startEarlyPin(['-q', pinned], env)
    assert.equal(await claimEarlyClients({ ...env }), undefined, 'made from another env: not taken')
    assert.equal(await asked(), 1, 'its set list was asked all the same')
    fake.resetCounts()
    await startEarlyPin(['-q', pinned], env)
    assert.equal(await asked(), 1, 'the set list asked before anything took the clients')
    const clients = await claimEarlyClients(env)
    assert.ok(clients !== undefined)
    assert.deepEqual((await clients.client.getSetList()).map((s) => s.id), fake.account.sets.map((s) => s.id))
    assert.equal(listCalls(), 1, 'the list asked early, not again')
    assert.equal(await claimEarlyClients(env), undefined, 'taken once')
  })

  void it('is what `flickrfs pin` takes: its set list is not asked again', async () => {
    const dest = join(work, 'dest')
    const pin = async (): Promise<string> => {
      const out = new Capture()
      const err = new Capture()
      assert.equal(await main(['node', 'flickrfs', 'pin', dest], { stdout: out, stderr: err, env }), 0, err.text)
      return out.text
    }
    assert.match(await pin(), /^Pinned /m)
    // The whole pin and the no-change pin each leave the set count for the next one's early set list.
    assert.equal(lastSetCount(dest), fake.account.sets.length)
    fake.resetCounts()
    await startEarlyPin([dest], env)
    assert.match(await pin(), /^Checked .*nothing changed/m)
    assert.equal(listCalls(), 1, 'the set list asked once, as the process started')
    assert.equal(lastSetCount(dest), fake.account.sets.length)
  })

  void it('reads the last set count leniently: none from a file without one, a damaged file or a nonsense value', async () => {
    const dir = join(work, 'counts')
    await mkdir(join(dir, '.flickrfs'), { recursive: true })
    assert.equal(lastSetCount(dir), undefined, 'no file')
    for (const [text, want] of [['{"sets": 1714}', 1714], ['{"finishedAtMs": 1}', undefined], ['{"sets": -3}', undefined], ['{"sets": "12"}', undefined], ['{"se', undefined]] as const) {
      await writeFile(lastPinPath(dir), text)
      assert.equal(lastSetCount(dir), want, text)
    }
  })

  void it('asks nothing for a DEST never pinned, or when --api-rate or --env-file would make other clients', async () => {
    const fresh = join(work, 'fresh')
    await mkdir(fresh)
    for (const args of [[fresh], ['--api-rate', '2', pinned], [pinned, '--env-file=f']]) {
      fake.resetCounts()
      await startEarlyPin(args, env)
      assert.equal(await claimEarlyClients(env), undefined, args.join(' '))
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(listCalls(), 0, args.join(' '))
    }
  })
})
