/**
 * Test-only: serves one mount in its own process (reading a mount from the process that serves it
 * deadlocks). Usage: serve-mount.ts SPEC.json. Prints "READY" once mounted; a stdin line
 * "tree FILE.json" swaps the tree (answers "TREE"), "held" answers "HELD <slow reads held now> <most at once>"; exits with runUntilSignal's status.
 */
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { mountFlickrfs } from '../../src/fs/index.js'
import { buildTree, FileOriginalReader, type ServeSpec } from './fixture.js'
import { serveUntilSignal } from '../support/serve.js'

async function main(): Promise<number> {
  const specPath = process.argv[2]
  if (!specPath) throw new Error('usage: serve-mount.ts SPEC.json')
  const spec = JSON.parse(await readFile(specPath, 'utf8')) as ServeSpec
  const originals = new FileOriginalReader(spec.backingDir, spec.slowMs, new Set(spec.fail ?? []))
  const handle = await mountFlickrfs({
    mountpoint: spec.mountpoint,
    tree: await buildTree(spec.tree, spec.backingDir),
    originals,
    ...spec.options,
  })
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    const [cmd, arg] = line.split(' ')
    if (cmd === 'held') process.stdout.write(`HELD ${originals.calls.slowHeld} ${originals.calls.slowHeldPeak}\n`)
    if (cmd === 'tree' && arg) {
      readFile(arg, 'utf8')
        .then((text) => buildTree((JSON.parse(text) as ServeSpec).tree, spec.backingDir))
        .then((tree) => {
          handle.setTree(tree)
          process.stdout.write('TREE\n')
        })
        .catch((err: unknown) => process.stderr.write(`tree swap failed: ${String(err)}\n`))
    }
  })
  return serveUntilSignal(handle, rl)
}

main().then(
  (code) => {
    process.stdout.write(`EXIT ${code}\n`)
    process.exitCode = code
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string }
    process.stderr.write(`ERROR ${e.code ?? ''} ${e.message ?? String(err)}\n`)
    process.exitCode = 3
  },
)
