import { readFileSync } from 'node:fs'
import { errnoCode } from './fs-errors.js'

/**
 * Whether a process with this pid runs (EPERM: it does, owned by someone else). A zombie does not:
 * it has exited and only waits for its parent to read its status, and holds no lock. One whose
 * parent died is the init process's to reap, and some init processes never do (a container's or a
 * microVM's agent): a pin killed there with its child kept a lock until the machine restarted.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false
  }
  return !isZombie(pid)
}

/** Linux's state of the process, from /proc; false where there is none to read. */
function isZombie(pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return false
  }
  // "pid (comm) S …": the name may hold spaces and parentheses, so the state follows the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
}
