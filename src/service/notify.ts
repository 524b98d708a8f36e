/**
 * The readiness signal of a systemd `Type=notify` service. systemd passes a unix datagram socket in
 * NOTIFY_SOCKET; Node cannot send on one, so `systemd-notify` (which systemd always ships) sends
 * the message for us. Being a child process, it needs `NotifyAccess=all` in the unit
 * (contrib/flickrfs.service). It also waits until systemd has taken the message (BARRIER=1), so the
 * message is never lost to the child exiting first.
 */
import { execFile } from 'node:child_process'
import createDebug from '../util/debug.js'

const log = createDebug('flickrfs:notify')

/**
 * Sends READY=1 with a STATUS line when a service manager asked for it (NOTIFY_SOCKET set);
 * otherwise does nothing. Never throws: a failure is said through `say`, and the mount serves on.
 */
export function notifyReady(env: Record<string, string | undefined>, status: string, say: (line: string) => void): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve()
  return new Promise((res) => {
    execFile('systemd-notify', ['--ready', `--status=${status}`], { env: { ...process.env, ...env }, timeout: 10_000 }, (err, _out, stderr) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemd-notify is not installed' : (stderr.trim() || err.message)
        say(`NOTIFY_SOCKET is set but the readiness signal could not be sent (${why}); the mount serves anyway`)
      } else {
        log('READY=1 sent to %s', env.NOTIFY_SOCKET)
      }
      res()
    })
  })
}
