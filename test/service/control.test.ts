/**
 * The mount's control channel (src/service/control.ts) on real unix sockets in real temp folders:
 * one request, messages streamed back until the server ends the exchange; a root too deep for a
 * socket path; what a client that is not ours gets; and no answer where no server listens.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { dialControl, listenControl, type ControlServer } from '../../src/service/control.js'
import { controlSocketPath } from '../../src/util/state-paths.js'
import { removeDir } from '../pin/helpers.js'
import { tempDir } from '../support/repo.js'
import { run } from '../support/run.js'

async function talk(root: string, request: object): Promise<unknown[]> {
  const client = await dialControl(root)
  assert.ok(client, 'a server answers')
  const got: unknown[] = []
  await client.exchange(request, (m) => got.push(m))
  return got
}

void describe('control channel', () => {
  let work: string
  const servers: ControlServer[] = []

  before(async () => {
    work = await tempDir('flickrfs-control-')
  })
  after(async () => {
    for (const s of servers) await s.close()
    await removeDir(work)
  })

  void it('streams the handler\'s messages back and ends; the socket is 0600 in a 0700 folder', async () => {
    const root = join(work, 'root')
    servers.push(await listenControl(root, async (req, conn) => {
      const n = (req as { count: number }).count
      for (let i = 0; i < n; i++) conn.send({ type: 'tick', i })
      await new Promise((r) => setTimeout(r, 20))
      conn.send({ type: 'done', gone: conn.gone })
    }))
    const got = await talk(root, { count: 3 })
    assert.deepEqual(got, [{ type: 'tick', i: 0 }, { type: 'tick', i: 1 }, { type: 'tick', i: 2 }, { type: 'done', gone: false }])
    assert.equal((await stat(controlSocketPath(root))).mode & 0o777, 0o600)
    assert.equal((await stat(join(root, '.flickrfs', 'control'))).mode & 0o777, 0o700)
  })

  void it('works for a root deeper than a socket path may be long', async () => {
    const root = join(work, 'd'.repeat(60), 'e'.repeat(60), 'root')
    await mkdir(root, { recursive: true })
    assert.ok(Buffer.byteLength(controlSocketPath(root)) > 108, 'too long to bind as it is')
    servers.push(await listenControl(root, (req, conn) => {
      conn.send({ type: 'echo', req })
      return Promise.resolve()
    }))
    assert.ok((await stat(controlSocketPath(root))).isSocket(), 'the socket is where the client looks')
    assert.deepEqual(await talk(root, { hello: 1 }), [{ type: 'echo', req: { hello: 1 } }])
  })

  void it('a handler failure comes back as one error message; a line that is not JSON is refused', async () => {
    const root = join(work, 'failing')
    servers.push(await listenControl(root, () => Promise.reject(Object.assign(new Error('nope, oauth_token=abc123 stays hidden'), { code: 'LOCKED' }))))
    const [err] = (await talk(root, {})) as Array<{ type: string; code: string; message: string }>
    assert.equal(err?.type, 'error')
    assert.equal(err?.code, 'LOCKED')
    assert.ok(!err?.message.includes('abc123'), err?.message)

    const raw = await new Promise<string>((res, rej) => {
      let text = ''
      const s = createConnection(controlSocketPath(root), () => s.write('not json\n'))
      s.setEncoding('utf8')
      s.on('data', (d: string) => (text += d))
      s.on('error', rej)
      s.on('close', () => res(text))
    })
    assert.match(raw, /"type":"error","code":"USAGE"/)
  })

  void it('no server: no socket, or a socket nobody listens on (its process died)', async () => {
    const root = join(work, 'none')
    await mkdir(join(root, '.flickrfs', 'control'), { recursive: true, mode: 0o700 })
    assert.equal(await dialControl(root), undefined)
    // python binds and exits without removing the file, as a killed mount leaves it.
    const py = await run('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', controlSocketPath(root)])
    assert.equal(py.code, 0, py.stderr)
    assert.ok((await stat(controlSocketPath(root))).isSocket())
    assert.equal(await dialControl(root), undefined)
  })
})
