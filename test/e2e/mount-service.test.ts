/**
 * `flickrfs mount` as contrib/flickrfs.service runs it: the unit's own ExecStartPre/ExecStart (only
 * `flickrfs` and %h made local), a notify socket like systemd's that must receive READY=1 once the
 * mount serves, and a stop by one SIGTERM that must end the process with exit 0 within the 10 s a
 * service manager allows, even while another process holds its cwd inside the mount.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { cliEnv, startFake } from '../pin/helpers.js'
import { MountLab } from '../support/mount-lab.js'
import { waitUntil } from '../support/wait.js'
import type { CliProc } from '../support/cli.js'
import { fuseUnusableReason, isMounted } from '../support/mounts.js'
import { BIN, REPO } from '../support/repo.js'
import { run, sh } from '../support/run.js'

const skip = await fuseUnusableReason(['python3', 'systemd-notify'])
const UNIT = join(REPO, 'contrib', 'flickrfs.service')

/** The unit's [Service] settings; a key given twice keeps every value. */
async function serviceSection(): Promise<Map<string, string[]>> {
  const text = await readFile(UNIT, 'utf8')
  const out = new Map<string, string[]>()
  let section = ''
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) section = header[1] as string
    else if (section === 'Service') {
      const eq = line.indexOf('=')
      const k = line.slice(0, eq)
      out.set(k, [...(out.get(k) ?? []), line.slice(eq + 1)])
    }
  }
  return out
}

/**
 * A stand-in for systemd's notify socket: a unix datagram socket (which Node cannot bind) in
 * python3, printing each message it gets as one JSON line, and closing the fds systemd-notify
 * passes for its BARRIER=1 as systemd does.
 */
class NotifyListener {
  readonly messages: string[] = []
  private constructor(readonly path: string, readonly child: ChildProcess) {}
  static async start(path: string): Promise<NotifyListener> {
    const script = [
      'import json, os, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("LISTENING", flush=True)',
      'while True:',
      '    msg, fds, _, _ = socket.recv_fds(s, 4096, 8)',
      '    for fd in fds: os.close(fd)',
      '    print(json.dumps(msg.decode()), flush=True)',
    ].join('\n')
    const child = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] })
    const l = new NotifyListener(path, child)
    let buf = ''
    let listening = false
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line === 'LISTENING') listening = true
        else l.messages.push(JSON.parse(line) as string)
      }
    })
    await waitUntil('the notify socket listens', () => {
      if (child.exitCode !== null) throw new Error('the python3 notify listener exited')
      return Promise.resolve(listening)
      // python3's start took over 10 s on a loaded 2-core machine (load average 20).
    }, 60_000, 20)
    return l
  }
  stop(): void {
    this.child.kill('SIGKILL')
  }
}

/** A process whose cwd is `dir` (inside the mount), once the kernel says so. */
async function holdCwd(dir: string): Promise<ChildProcess> {
  const holder = spawn('sleep', ['120'], { cwd: dir, stdio: 'ignore' })
  await waitUntil('the holder sits in the mount', async () => (await readlink(`/proc/${holder.pid}/cwd`).catch(() => '')) === dir, 10_000, 20)
  return holder
}

void describe('flickrfs mount as a systemd service (contrib/flickrfs.service)', { skip }, () => {
  let fake: FakeFlickr
  let lab: MountLab
  let env: NodeJS.ProcessEnv
  let home: string
  let notify: NotifyListener
  const holders: ChildProcess[] = []

  before(async () => {
    fake = await startFake({ seed: 77, photos: 9, videos: 0, sets: 2, collections: 1, meanPhotoBytes: 4_000 })
    lab = await MountLab.create('flickrfs-e2e-service-')
    home = await lab.mkdir('home')
    env = cliEnv(fake, await lab.mkdir('config'), { HOME: home, XDG_CACHE_HOME: await lab.mkdir('cache'), XDG_RUNTIME_DIR: await lab.mkdir('run') })
    notify = await NotifyListener.start(join(lab.dir, 'notify.sock'))
  })
  after(async () => {
    for (const h of holders) h.kill('SIGKILL')
    notify?.stop()
    await lab?.cleanup()
    await fake?.close()
  })

  /** The unit's ExecStartPre and ExecStart with %h = `home` and flickrfs = this checkout's bin. */
  async function startAsTheUnit(): Promise<{ server: CliProc; mnt: string }> {
    const svc = await serviceSection()
    for (const pre of svc.get('ExecStartPre') ?? []) {
      const r = await sh(pre.replaceAll('%h', home))
      assert.equal(r.code, 0, `${pre}: ${r.stderr}`)
    }
    const [execStart] = svc.get('ExecStart') ?? []
    const words = (execStart ?? '').split(/\s+/).map((w) => w.replaceAll('%h', home))
    assert.equal(words[0], 'flickrfs', 'the unit runs flickrfs from PATH')
    assert.equal(words[1], 'mount')
    const mnt = words[2] as string
    // Its Environment= lines (each one NAME=value) as systemd would set them.
    const unitEnv = Object.fromEntries((svc.get('Environment') ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    const server = await lab.mount(mnt, words.slice(3), { ...env, ...unitEnv, NOTIFY_SOCKET: notify.path })
    return { server, mnt }
  }

  void it('the unit: Type=notify with NotifyAccess=all, a clean stop and Restart=on-failure; systemd-analyze accepts it', async () => {
    const svc = await serviceSection()
    assert.deepEqual(svc.get('Type'), ['notify'])
    assert.deepEqual(svc.get('NotifyAccess'), ['all'], 'READY=1 comes from systemd-notify, a child of flickrfs')
    assert.deepEqual(svc.get('Restart'), ['on-failure'])
    assert.deepEqual(svc.get('KillMode'), ['mixed'], 'SIGTERM to flickrfs itself')
    assert.ok(Number.parseInt(svc.get('TimeoutStopSec')?.[0] ?? '0', 10) >= 10)
    assert.deepEqual(svc.get('Environment'), ['MALLOC_MMAP_THRESHOLD_=131072'], "glibc gives back what it frees (read only at the process's start)")
    if ((await sh('command -v systemd-analyze')).code !== 0) return
    // verify looks commands up in systemd's own fixed PATH: point it at this checkout's bin.
    const unitDir = await lab.mkdir('units')
    const unitText = (await readFile(UNIT, 'utf8')).replace(/^ExecStart=flickrfs /m, `ExecStart=${BIN} `)
    const copy = join(unitDir, 'flickrfs.service')
    await writeFile(copy, unitText)
    const r = await run('systemd-analyze', ['verify', '--user', copy], { env: { ...process.env, XDG_RUNTIME_DIR: await lab.mkdir('analyze-run') } })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr.trim(), '', 'no warning about the unit')
  })

  void it('READY=1 once serving; one SIGTERM with a cwd held inside ends it within 10 s, exit 0, the holder named, nothing mounted', async () => {
    notify.messages.length = 0
    const { server, mnt } = await startAsTheUnit()
    await waitUntil('READY=1 arrives', () => Promise.resolve(notify.messages.some((m) => /^READY=1$/m.test(m))), 10_000, 20)
    assert.equal(await isMounted(mnt), true)
    const ready = notify.messages.find((m) => /^READY=1$/m.test(m)) ?? ''
    // A fresh cache is served at once, while its first catalog comes in.
    assert.match(ready, /^STATUS=Serving .*; the first catalog is coming in$/m)
    assert.match((await run('ls', [join(mnt, 'photostream')])).stdout, /\.metadata$/m, 'it serves once ready')

    const holder = await holdCwd(join(mnt, 'photostream'))
    holders.push(holder)
    const t0 = Date.now()
    server.child.kill('SIGTERM')
    const exit = await server.wait(10_000)
    const ms = Date.now() - t0
    process.stdout.write(`# one SIGTERM, busy mount: exited after ${ms} ms\n`)
    assert.deepEqual(exit, { code: 0, signal: null }, server.err)
    assert.ok(ms < 10_000)
    assert.match(server.err, new RegExp(`in use by pid ${holder.pid} \\(sleep: cwd\\)`), 'the log names the holder')
    assert.match(server.err, /detached .* lazily; still in use by pid \d+ \(sleep: cwd\)/)
    assert.equal(await isMounted(mnt), false)
    assert.equal(holder.exitCode, null, 'the holder itself is left running')
    holder.kill('SIGKILL')
    assert.deepEqual(await readdir(mnt), [])
    // and the service can start again at once
    const again = await startAsTheUnit()
    again.server.child.kill('SIGTERM')
    assert.deepEqual(await again.server.wait(10_000), { code: 0, signal: null }, again.server.err)
    assert.doesNotMatch(again.server.err, /lazily/, 'not busy: a plain unmount')
  })

  void it('a holder that lets go within the grace period gets a plain unmount; a second SIGTERM detaches at once', async () => {
    const first = await startAsTheUnit()
    const h1 = await holdCwd(join(first.mnt, 'photostream'))
    holders.push(h1)
    first.server.child.kill('SIGTERM')
    await waitUntil('the server reports the holder', () => Promise.resolve(/detaching it lazily in \d s/.test(first.server.err)), 10_000, 20)
    assert.equal(await isMounted(first.mnt), true, 'still serving during the grace period')
    h1.kill('SIGKILL')
    assert.deepEqual(await first.server.wait(10_000), { code: 0, signal: null }, first.server.err)
    assert.doesNotMatch(first.server.err, /detached .* lazily/)
    assert.equal(await isMounted(first.mnt), false)

    const second = await startAsTheUnit()
    const h2 = await holdCwd(join(second.mnt, 'photostream'))
    holders.push(h2)
    second.server.child.kill('SIGTERM')
    await waitUntil('the server reports the holder', () => Promise.resolve(/detaching it lazily in \d s/.test(second.server.err)), 10_000, 20)
    const t0 = Date.now()
    second.server.child.kill('SIGTERM')
    assert.deepEqual(await second.server.wait(10_000), { code: 0, signal: null }, second.server.err)
    const ms = Date.now() - t0
    process.stdout.write(`# second SIGTERM: exited ${ms} ms later\n`)
    assert.match(second.server.err, new RegExp(`detached .* lazily; still in use by pid ${h2.pid} \\(sleep: cwd\\)`))
    assert.equal(await isMounted(second.mnt), false)
    assert.ok(ms < 2_500, `the second signal does not wait out the grace period (${ms} ms)`)
  })
})
