/**
 * pidAlive (src/util/process.ts): a running process is alive, a gone one is not, and neither is a
 * zombie (exited, its status not read by its parent), which holds no lock: where the init process
 * never reaps orphans, a pin's relaunched child killed with its parent stays one for good.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { pidAlive } from '../../src/util/process.js'

void describe('pidAlive', () => {
  void it('is true for this process and false for a pid that is gone', async () => {
    assert.equal(pidAlive(process.pid), true)
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    const pid = child.pid as number
    await new Promise((done) => child.once('exit', done))
    // Node reaps its own children: the pid is free once 'exit' is told.
    assert.equal(pidAlive(pid), false)
  })

  void it('is false for a zombie', { skip: process.platform !== 'linux' && 'zombies are read from /proc (Linux)' }, async () => {
    // The shell starts a short sleep, then becomes a long one that never reaps it: a zombie with a live parent.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      const pid = Number(await new Promise<string>((done) => parent.stdout.once('data', (d: Buffer) => done(d.toString()))))
      let state = ''
      for (let i = 0; i < 100 && state !== 'Z'; i++) {
        await delay(20)
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      }
      assert.equal(state, 'Z', 'the sleep exited and was not reaped')
      assert.equal(pidAlive(pid), false)
    } finally {
      parent.kill('SIGKILL')
    }
  })
})
