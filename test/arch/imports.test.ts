/**
 * The dependency rules of docs/ARCHITECTURE.md and of each src/<folder>/README.md, checked against
 * the real import statements, so the docs cannot drift from the code: which folders each folder may
 * import, which single files are allowed across a boundary, and that only src/flickr imports
 * flickr-sdk, only src/fs imports fuse-native, and only src/cli/demo.ts imports the fake Flickr.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { REPO } from '../support/repo.js'

const SRC = join(REPO, 'src')

/** Folder → folders it may import. A `folder/file.ts` entry allows that one file only. */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  util: ['errors'],
  flickr: ['errors', 'util'],
  'fake-flickr': ['util'],
  layout: ['catalog', 'errors', 'util'],
  catalog: ['errors', 'flickr', 'util', 'layout/names.ts'],
  store: ['catalog', 'errors', 'util', 'layout/names.ts'],
  fs: ['catalog/types.ts', 'errors', 'util'],
  pin: ['catalog', 'errors', 'layout', 'store', 'util'],
  service: ['catalog', 'errors', 'fs', 'layout', 'store', 'util'],
  cli: ['catalog', 'errors', 'flickr', 'fs', 'layout', 'pin', 'service', 'store', 'util', 'fake-flickr/index.ts'],
}

/** Packages only one folder may import. */
const PACKAGE_OWNER: Record<string, string> = { 'flickr-sdk': 'flickr', 'fuse-native': 'fs' }

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await sourceFiles(p)))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Every module specifier of static imports, re-exports, dynamic `import('…')` and `require('…')`. */
function specifiers(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1] ?? '')
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1] ?? '')
  for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] ?? '')
  return out
}

interface Edge { file: string; folder: string; target: string }

async function edges(): Promise<{ internal: Edge[]; packages: Edge[] }> {
  const internal: Edge[] = []
  const packages: Edge[] = []
  for (const file of await sourceFiles(SRC)) {
    const rel = relative(SRC, file)
    const folder = rel.split('/')[0] ?? ''
    for (const spec of specifiers(await readFile(file, 'utf8'))) {
      if (spec.endsWith('/package.json')) continue
      if (spec.startsWith('.')) {
        const target = relative(SRC, join(file, '..', spec)).replace(/\.js$/, '.ts')
        if (target.split('/')[0] !== folder) internal.push({ file: rel, folder, target })
      } else {
        packages.push({ file: rel, folder, target: spec })
      }
    }
  }
  return { internal, packages }
}

void describe('src/ import rules (docs/ARCHITECTURE.md)', () => {
  void it('every src folder has a rule and a README saying what it owns', async () => {
    const folders = (await readdir(SRC, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()
    assert.deepEqual(folders, Object.keys(ALLOWED).sort())
    for (const f of folders) {
      const readme = await readFile(join(SRC, f, 'README.md'), 'utf8').catch(() => '')
      assert.ok(readme.length > 80, `src/${f}/README.md says what the folder owns`)
    }
  })

  void it('each folder imports only what its rule allows', async () => {
    const { internal } = await edges()
    assert.ok(internal.length > 50, `found the cross-folder imports (${internal.length})`)
    const broken = internal.filter(({ folder, target }) => {
      const allowed = ALLOWED[folder] ?? []
      return !allowed.some((a) => (a.endsWith('.ts') ? target === a : target.split('/')[0] === a))
    })
    assert.deepEqual(broken.map((e) => `${e.file} → ${e.target}`), [])
  })

  void it('flickr-sdk only in src/flickr, fuse-native only in src/fs', async () => {
    const { packages } = await edges()
    for (const [pkg, owner] of Object.entries(PACKAGE_OWNER)) {
      const users = packages.filter((e) => e.target === pkg || e.target.startsWith(`${pkg}/`))
      assert.ok(users.length > 0, `${pkg} is imported somewhere`)
      assert.deepEqual(users.filter((e) => e.folder !== owner).map((e) => e.file), [], `${pkg} outside src/${owner}`)
    }
  })
})
