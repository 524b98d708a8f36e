/**
 * The README's Cron section, run the way cron runs it: the crontab's own `VAR=value` lines and
 * nothing else in the environment (`env -i`), the command through `/bin/sh -c`. The lines come
 * from README.md itself, so the README and this test cannot drift apart; only `flickrfs` (this
 * checkout's bin), DEST and the env file's path are replaced by local ones, and the env file is the
 * README's example with the fake Flickr's values in place of the placeholders.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { applyEnvFile, parseEnvFile } from '../../src/flickr/index.js'
import type { FakeFlickr } from '../../src/fake-flickr/index.js'
import { removeDir, startFake } from '../pin/helpers.js'
import { BIN, REPO, tempDir } from '../support/repo.js'
import { run } from '../support/run.js'

const README_DEST = '/srv/backup/flickr'
const README_ENV_FILE = '/etc/flickrfs.env'

/** The body of every fenced block of README.md's "## Cron" section with this info string. */
async function cronSectionBlocks(lang: string): Promise<string[]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8')
  const section = /^## Cron\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1]
  assert.ok(section, 'README.md has a "## Cron" section')
  return [...section.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1] as string)
}

/** A crontab: its environment lines and the commands of its job lines (five time fields dropped). */
function parseCrontab(text: string): { env: string[]; commands: string[] } {
  const env: string[] = []
  const commands: string[] = []
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue
    if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) env.push(line.replace(/\s*=\s*/, '='))
    else {
      const m = /^(?:\S+\s+){5}(.+)$/.exec(line)
      assert.ok(m, `a cron job line: ${line}`)
      commands.push(m[1] as string)
    }
  }
  return { env, commands }
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

void describe('the README cron recipe under env -i /bin/sh', () => {
  let fake: FakeFlickr
  let work: string
  let secrets: string[]
  let envFile: string
  let crontab: { env: string[]; commands: string[] }

  before(async () => {
    fake = await startFake({ seed: 23, photos: 7, videos: 0, sets: 2, collections: 1, meanPhotoBytes: 4_000 })
    work = await tempDir('flickrfs-cron-')
    secrets = [fake.credentials.apiSecret, fake.credentials.oauthToken, fake.credentials.oauthTokenSecret]
    const values: Record<string, string> = {
      FLICKR_API_KEY: fake.credentials.apiKey,
      FLICKR_API_SECRET: fake.credentials.apiSecret,
      FLICKR_OAUTH_TOKEN: fake.credentials.oauthToken,
      FLICKR_OAUTH_TOKEN_SECRET: fake.credentials.oauthTokenSecret,
    }
    // The README's example file, each placeholder replaced by the fake's value in the same quoting.
    const [example] = (await cronSectionBlocks('sh')).filter((b) => b.startsWith(`# ${README_ENV_FILE}`))
    assert.ok(example, `README's Cron section shows ${README_ENV_FILE}`)
    const replaced = new Set<string>()
    const lines = example.split('\n').map((line) => line.replace(/^(export\s+)?([A-Z_]+)=(["']?)(.*)\3$/, (all, exp: string | undefined, key: string, quote: string) => {
      const v = values[key]
      if (v === undefined) return all
      replaced.add(key)
      return `${exp ?? ''}${key}=${quote}${v}${quote}`
    }))
    assert.deepEqual([...replaced].sort(), Object.keys(values).sort(), 'the README example sets the key pair and the token')
    assert.ok(lines.some((l) => l.startsWith('export ')) && lines.some((l) => /^[A-Z_]+=[^"']/.test(l)), 'the example mixes export and plain lines')
    // What only a test needs: the fake instead of Flickr, no rate limit, a config folder of its own.
    lines.push(`FLICKRFS_API_ORIGIN=${fake.origin}`, 'FLICKRFS_API_RATE=1000', `FLICKRFS_CONFIG_DIR=${join(work, 'config')}`)
    envFile = join(work, 'flickrfs.env')
    await writeFile(envFile, lines.join('\n') + '\n', { mode: 0o600 })
    await chmod(envFile, 0o600)
    const blocks = await cronSectionBlocks('cron')
    assert.equal(blocks.length, 1, 'one crontab in the Cron section')
    crontab = parseCrontab(blocks[0] as string)
    assert.equal(crontab.commands.length, 1, 'one job')
  })
  after(async () => {
    await fake?.close()
    if (work) await removeDir(work)
  })

  /** The README's job as cron would run it, with only flickrfs, DEST and the env file made local. */
  function cronRun(dest: string) {
    const cmd = (crontab.commands[0] as string)
    assert.match(cmd, /^flickrfs /)
    assert.ok(cmd.includes(README_DEST) && cmd.includes(README_ENV_FILE), cmd)
    const local = cmd.replace(/^flickrfs /, `${q(BIN)} `).replace(README_DEST, q(dest)).replace(README_ENV_FILE, q(envFile))
    return run('env', ['-i', ...crontab.env, '/bin/sh', '-c', local], { cwd: work })
  }

  void test('the job pins the account, prints nothing and exits 0', async () => {
    const dest = join(work, 'dest')
    const r = await cronRun(dest)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout + r.stderr, '', '-q prints nothing on success')
    const photostream = await readdir(join(dest, 'photostream'))
    for (const id of fake.account.photos.keys()) {
      assert.ok(photostream.some((n) => n.startsWith(`${id}.`) && !n.endsWith('.metadata')), `photo ${id} pinned`)
    }
    // and a second run, with nothing new, is just as quiet
    const again = await cronRun(dest)
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stdout + again.stderr, '')
  })

  void test('an env file others can read is refused in one line that says chmod 600 FILE, and no secret is shown', async () => {
    await chmod(envFile, 0o644)
    try {
      const r = await cronRun(join(work, 'dest-refused'))
      assert.notEqual(r.code, 0)
      assert.equal(r.stdout, '')
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`chmod 600 ${envFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
      for (const s of secrets) assert.ok(!r.stderr.includes(s), 'no secret in the message')
      await assert.rejects(readdir(join(work, 'dest-refused')), { code: 'ENOENT' }, 'nothing was written')
    } finally {
      await chmod(envFile, 0o600)
    }
  })

  void test('a missing env file and a bad line fail in one line, without the line or any secret in it', async () => {
    // flickrfs's own line, not Node 20's "node: FILE: not found" (exit 9), which it printed before
    // flickrfs ran, from the bin and from a first pin's relaunched child alike (nodejs/node#54232).
    const missing = await run('env', ['-i', '/bin/sh', '-c', `${q(BIN)} pin -q --env-file ${q(join(work, 'nope.env'))} ${q(join(work, 'd2'))}`])
    assert.equal(missing.code, 1, missing.stderr)
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr)
    assert.match(missing.stderr, /^flickrfs: Cannot read the env file \S*nope\.env: it does not exist\.$/m)
    const bad = join(work, 'bad.env')
    await writeFile(bad, `FLICKR_API_KEY=${fake.credentials.apiKey}\nFLICKR_API_SECRET ${fake.credentials.apiSecret}\n`, { mode: 0o600 })
    const r = await run('env', ['-i', '/bin/sh', '-c', `${q(BIN)} whoami --env-file ${q(bad)}`])
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /bad\.env line 2 is not KEY=VALUE/)
    assert.ok(!r.stderr.includes(fake.credentials.apiSecret), 'the bad line is not echoed')
  })
})

void describe('env file syntax', () => {
  void test('export, quotes, comments and blank lines, as a shell reads them; nothing expanded', () => {
    const text = [
      '\uFEFF# a comment',
      '',
      'A=plain',
      'export B=exported',
      '  export   C = spaced  ',
      `D='single # not a comment $HOME'`,
      'E="double \\"quoted\\" \\\\ \\$x" # trailing comment',
      'F=bare # trailing comment',
      'G=has#hash',
      'H=#not-a-comment',
      'I= # empty',
      'J=',
      'K=$HOME',
      'L=crlf\r',
    ].join('\n')
    assert.deepEqual(parseEnvFile(text, 'f'), {
      A: 'plain', B: 'exported', C: 'spaced', D: 'single # not a comment $HOME', E: 'double "quoted" \\ $x',
      F: 'bare', G: 'has#hash', H: '#not-a-comment', I: '', J: '', K: '$HOME', L: 'crlf',
    })
  })

  void test('a bad line is refused by number, never by its text', () => {
    const cases: [string, RegExp][] = [
      ['A=1\nexport SECRETVALUE\n', /^f line 2 is not KEY=VALUE/],
      ['A="SECRETVALUE\n', /^f line 1 has no closing "/],
      ["A='SECRETVALUE' tail\n", /^f line 1 has text after the closing quote/],
      ['1A=SECRETVALUE\n', /^f line 1 is not KEY=VALUE/],
    ]
    for (const [text, want] of cases) {
      assert.throws(() => parseEnvFile(text, 'f'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG')
        assert.match(err.message, want)
        assert.doesNotMatch(err.message, /SECRETVALUE/)
        return true
      })
    }
  })

  void test('a variable already in the environment wins over the file', () => {
    const env: Record<string, string | undefined> = { A: 'from-env', B: '' }
    assert.deepEqual(applyEnvFile(env, { A: 'file', B: 'file', C: 'file' }), ['B', 'C'])
    assert.deepEqual(env, { A: 'from-env', B: 'file', C: 'file' })
  })
})
