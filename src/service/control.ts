/**
 * The control channel of a running mount: a unix socket at ROOT/.flickrfs/control/mount.sock, in a
 * folder only its owner may enter (0700), the socket itself 0600. Whoever holds the root lock (the
 * mount) listens; another flickrfs of the same user that finds the root locked (a nightly pin) can
 * hand it a job instead of failing. Only a process that can enter the folder can connect, so only
 * the mount's user (and root) can use it.
 *
 * The protocol is one JSON object a line. The client sends one request and then reads messages
 * until the server closes the connection; what the messages mean is the caller's business
 * (cli/pin-handoff.ts). Nothing secret is ever sent: requests carry flags, answers carry reports.
 *
 * A socket path is limited to 107 bytes; a deeper root is reached through /proc/self/fd/N/, an
 * open descriptor of the socket's folder (Linux resolves it like the folder itself).
 */
import { constants } from 'node:fs'
import { chmod, lstat, open, unlink, type FileHandle } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { dirname } from 'node:path'
import createDebug from '../util/debug.js'
import { asError, errorMessage } from '../util/abort.js'
import { confineState } from '../util/confine.js'
import { errnoCode } from '../util/fs-errors.js'
import { redact } from '../util/redact.js'
import { controlSocketPath, STATE_REL } from '../util/state-paths.js'

const log = createDebug('flickrfs:control')

/** Longest socket path bound or connected as it is (sun_path holds 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 100
/** How long a connection may take to send its request line. */
const REQUEST_WAIT_MS = 10_000
/** A request longer than this is not ours. */
const MAX_REQUEST_BYTES = 64 * 1024

/** One connection as the server's handler sees it. */
export interface ControlConnection {
  /** Sends one message; does nothing once the client has gone. */
  send(message: object): void
  /** True once the client has gone (it may have been stopped; the job may still finish). */
  readonly gone: boolean
}

/** Handles one request; the connection is closed when the returned promise settles. */
export type ControlHandler = (request: unknown, conn: ControlConnection) => Promise<void>

export interface ControlServer {
  readonly path: string
  close(): Promise<void>
}

/** The path to bind or connect: the real one when short enough, else through an open folder descriptor. */
async function address(path: string): Promise<{ path: string; dir?: FileHandle }> {
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return { path }
  const dir = await open(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY)
  return { path: `/proc/self/fd/${dir.fd}/${path.slice(dirname(path).length + 1)}`, dir }
}

/**
 * Listens on ROOT's control socket. The caller must hold ROOT's lock: a socket left by a mount
 * that died is removed first, and no live process can own it then.
 */
export async function listenControl(root: string, handler: ControlHandler): Promise<ControlServer> {
  const confined = await confineState(root)
  // Through the guard (a link planted at .flickrfs/control is refused); chmod for a folder that
  // an older run made with other bits.
  const dir = await confined.mkdirp(STATE_REL.control, 0o700)
  await chmod(dir, 0o700)
  const path = controlSocketPath(root)
  await unlink(path).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err
  })
  const server = createServer((socket) => serveConnection(socket, handler))
  const addr = await address(path)
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej)
      server.listen(addr.path, () => {
        server.off('error', rej)
        res()
      })
    })
  } finally {
    await addr.dir?.close()
  }
  await chmod(path, 0o600)
  // The mount must not stay alive for its socket.
  server.unref()
  log('listening on %s', path)
  return {
    path,
    close: () => closeServer(server, path),
  }
}

/**
 * Stops taking connections and removes the socket. A connection in progress (a pin running) keeps
 * going until its handler ends or the process does.
 */
async function closeServer(server: Server, path: string): Promise<void> {
  server.close()
  await unlink(path).catch(() => undefined)
}

/** Reads one request line, hands it to `handler`, and ends the connection when the handler is done. */
function serveConnection(socket: Socket, handler: ControlHandler): void {
  let buf = ''
  let started = false
  let gone = false
  socket.setEncoding('utf8')
  socket.on('error', (err) => log('control connection: %s', errorMessage(err)))
  socket.once('close', () => (gone = true))
  // A client that says nothing is not kept waiting on forever; once a job runs, silence is normal.
  socket.setTimeout(REQUEST_WAIT_MS, () => {
    if (!started) socket.destroy()
  })
  const conn: ControlConnection = {
    send(message) {
      if (gone || socket.destroyed) return
      socket.write(JSON.stringify(message) + '\n')
    },
    get gone() {
      return gone || socket.destroyed
    },
  }
  const fail = (message: string): void => {
    conn.send({ type: 'error', code: 'USAGE', message })
    socket.end()
  }
  socket.on('data', (chunk: string) => {
    if (started) return
    buf += chunk
    const nl = buf.indexOf('\n')
    if (nl < 0) {
      if (buf.length > MAX_REQUEST_BYTES) fail('The request to this mount is too long.')
      return
    }
    started = true
    socket.setTimeout(0)
    let request: unknown
    try {
      request = JSON.parse(buf.slice(0, nl))
    } catch {
      fail('The request to this mount is not one this flickrfs understands.')
      return
    }
    handler(request, conn).then(
      () => socket.end(),
      (err: unknown) => {
        const code = (err as { code?: unknown }).code
        conn.send({ type: 'error', code: typeof code === 'string' ? code : 'INTERNAL', message: redact(errorMessage(err)) })
        socket.end()
      },
    )
  })
}

/** An open connection to a mount's control socket. */
export interface ControlClient {
  /** Sends the request, then calls `onMessage` for each message until the server closes the connection. */
  exchange(request: object, onMessage: (message: unknown) => void): Promise<void>
}

/**
 * Connects to ROOT's control socket; undefined when no mount listens there (no socket, a socket
 * left by a mount that died, a folder that is not the user's own).
 */
export async function dialControl(root: string): Promise<ControlClient | undefined> {
  const path = controlSocketPath(root)
  const dir = await lstat(dirname(path)).catch(() => undefined)
  const uid = process.getuid?.()
  if (!dir?.isDirectory() || (uid !== undefined && uid !== 0 && dir.uid !== uid)) return undefined
  const addr = await address(path).catch(() => undefined)
  if (!addr) return undefined
  let socket: Socket
  try {
    socket = await new Promise<Socket>((res, rej) => {
      const s = createConnection(addr.path)
      s.once('connect', () => {
        s.off('error', rej)
        res(s)
      })
      s.once('error', rej)
    })
  } catch (err) {
    log('no mount answers on %s: %s', path, errorMessage(err))
    return undefined
  } finally {
    await addr.dir?.close()
  }
  return { exchange: (request, onMessage) => exchange(socket, request, onMessage) }
}

function exchange(socket: Socket, request: object, onMessage: (message: unknown) => void): Promise<void> {
  return new Promise((res, rej) => {
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          onMessage(JSON.parse(line))
        } catch (err) {
          socket.destroy()
          rej(err instanceof SyntaxError ? new Error('the mount sent a message that is not JSON') : asError(err))
          return
        }
      }
    })
    // A connection reset (the mount was killed) is the same as a close: the caller sees no answer.
    socket.on('error', (err) => log('control connection: %s', errorMessage(err)))
    socket.once('close', () => res())
    socket.write(JSON.stringify(request) + '\n')
  })
}
